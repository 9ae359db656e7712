import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { SkbError, type Store } from '../schedules/index.js';
import { createHnswIndex, type HnswIndex, type HnswOptions, type VectorIndex } from './vector-index.js';

/** Why an index was rebuilt from the store instead of loaded. */
export type RebuildReason = 'missing' | 'stale' | 'corrupt' | 'dimension';

/** An HNSW index kept on disk beside the store it derives from. */
export interface AnnIndex extends VectorIndex {
  readonly embedderId: string;
  /** The metadata file; the graph of each family sits beside it, under the name and checksum it lists. */
  readonly path: string;
  /** Null when the saved index was loaded; otherwise why it was rebuilt from the store. */
  readonly rebuiltBecause: RebuildReason | null;
  /** The store revision recorded when the index was last loaded, rebuilt or saved. */
  readonly revision: number;
  /**
   * Writes the graph and its metadata atomically (temporary files, then rename), recording
   * `revision`: the store revision that the index now reflects.
   */
  save(revision: number): void;
}

export interface OpenAnnIndexOptions {
  store: Store;
  embedderId: string;
  dim: number;
  dataDir: string;
  hnsw?: HnswOptions;
}

const MetaSchema = z
  .object({
    format: z.literal('skb-ann-index'),
    // Version 1 held one graph for every family; its files are rebuilt (and then removed) like corrupt ones.
    version: z.literal(2),
    embedderId: z.string(),
    dim: z.number().int().positive(),
    revision: z.number().int().nonnegative(),
    count: z.number().int().nonnegative(),
    graphs: z.array(
      z
        .object({
          family: z.string(),
          file: z.string().regex(/^[A-Za-z0-9._-]+\.hnsw$/),
          checksum: z.string().regex(/^[0-9a-f]{64}$/),
          labels: z.array(z.number().int().nonnegative()),
        })
        .strict(),
    ),
  })
  .strict();
type Meta = z.infer<typeof MetaSchema>;

/** File-name-safe form of an embedder id; the hash suffix keeps ids that sanitize alike apart. */
export function indexBaseName(embedderId: string): string {
  const safe = embedderId.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return `${safe}-${createHash('sha256').update(embedderId).digest('hex').slice(0, 8)}`;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * Opens the index of one embedding space under `<dataDir>/index/`. The saved index is used only
 * when its metadata names this embedder and dimension, records the store's current revision and
 * the graph file's checksum; otherwise (missing, stale, corrupt, other dimension) it is rebuilt
 * from the store's vectors and saved. It never fails on a damaged file: the store is the truth.
 */
export async function openAnnIndex(options: OpenAnnIndexOptions): Promise<AnnIndex> {
  const { store, embedderId, dim } = options;
  const dir = join(options.dataDir, 'index');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, indexBaseName(embedderId));
  const metaPath = `${base}.meta.json`;

  const revisionNow = await store.revision();
  let reason: RebuildReason | null = null;
  let inner: HnswIndex | null = null;
  let meta: Meta | null = null;
  try {
    meta = MetaSchema.parse(JSON.parse(readFileSync(metaPath, 'utf8')));
  } catch (error) {
    reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'corrupt';
  }
  if (meta) {
    if (meta.embedderId !== embedderId || meta.dim !== dim) reason = 'dimension';
    else if (meta.revision !== revisionNow) reason = 'stale';
    else {
      try {
        const saved = meta.graphs.map((g) => {
          const path = join(dir, g.file);
          if (sha256File(path) !== g.checksum) throw new Error(`checksum of ${g.file} differs`);
          return { family: g.family, path, labels: g.labels };
        });
        inner = createHnswIndex({ dim, saved, ...options.hnsw });
        if (inner.size !== meta.count)
          throw new Error(`${inner.size} live vectors where the metadata says ${meta.count}`);
      } catch (error) {
        inner = null;
        reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'corrupt';
      }
    }
  }

  let revision = revisionNow;
  if (!inner) {
    inner = createHnswIndex({ dim, ...options.hnsw });
    // Read before listing: a write that lands in between makes the recorded revision older, so the
    // next open rebuilds again rather than trusting an index that might miss it.
    revision = await store.revision();
    const rows = await store.listEmbeddings(embedderId);
    const wrong = rows.find((r) => r.vector.length !== dim);
    if (wrong) {
      throw new SkbError(
        'EMBEDDING_SPACE_MISMATCH',
        `The store holds vectors of dimension ${wrong.vector.length} for embedder ${embedderId}, which now produces dimension ${dim}; use the embedder configuration that wrote them, or another embedder id.`,
      );
    }
    inner.add(rows.map((r) => ({ label: r.label, targetFamily: r.targetFamily, vector: r.vector })));
  }

  const index: AnnIndex = {
    embedderId,
    path: metaPath,
    rebuiltBecause: reason,
    get revision() {
      return revision;
    },
    dim,
    get size() {
      return inner.size;
    },
    add: (entries) => inner.add(entries),
    remove: (label) => inner.remove(label),
    has: (label) => inner.has(label),
    search: (vector, k, family) => inner.search(vector, k, family),
    save(at) {
      const tmp = `${base}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      const graphs = inner.families().map((family, i) => ({ family, file: `${basename(base)}.${i}.hnsw` }));
      try {
        const newMeta: Meta = {
          format: 'skb-ann-index',
          version: 2,
          embedderId,
          dim,
          revision: at,
          count: inner.size,
          graphs: graphs.map(({ family, file }, i) => {
            inner.writeFamily(family, `${tmp}.${i}.hnsw`);
            return { family, file, checksum: sha256File(`${tmp}.${i}.hnsw`), labels: inner.labelsOf(family) };
          }),
        };
        writeFileSync(`${tmp}.meta.json`, JSON.stringify(newMeta));
        // Graphs first: a crash between the renames leaves a checksum mismatch, which forces a rebuild.
        for (const [i, { file }] of graphs.entries()) renameSync(`${tmp}.${i}.hnsw`, join(dir, file));
        renameSync(`${tmp}.meta.json`, metaPath);
        revision = at;
        removeUnlistedGraphs(base, new Set(graphs.map((g) => g.file)));
      } finally {
        for (const i of graphs.keys()) rmSync(`${tmp}.${i}.hnsw`, { force: true });
        rmSync(`${tmp}.meta.json`, { force: true });
      }
    },
  };
  if (reason) index.save(revision);
  return index;
}

/** Removes graph files of this index that the metadata no longer lists (a family that emptied, the version-1 file). */
function removeUnlistedGraphs(base: string, listed: Set<string>): void {
  const name = basename(base);
  for (const file of readdirSync(dirname(base))) {
    const ours =
      file === `${name}.hnsw` || (file.startsWith(`${name}.`) && /^\d+\.hnsw$/.test(file.slice(name.length + 1)));
    if (ours && !listed.has(file)) rmSync(join(dirname(base), file), { force: true });
  }
}
