import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SkbError, type Store } from '../schedules/index.js';
import { createHnswIndex, type HnswIndex, type HnswOptions, type VectorIndex } from './vector-index.js';

/** Why an index was rebuilt from the store instead of loaded. */
export type RebuildReason = 'missing' | 'stale' | 'corrupt' | 'dimension';

/** An HNSW index kept on disk beside the store it derives from. */
export interface AnnIndex extends VectorIndex {
  readonly embedderId: string;
  /** The graph file; its metadata sits beside it as `<path minus .hnsw>.meta.json`. */
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
    version: z.literal(1),
    embedderId: z.string(),
    dim: z.number().int().positive(),
    revision: z.number().int().nonnegative(),
    count: z.number().int().nonnegative(),
    checksum: z.string().regex(/^[0-9a-f]{64}$/),
    families: z.record(z.string(), z.array(z.number().int().nonnegative())),
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
  const path = `${base}.hnsw`;
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
        if (sha256File(path) !== meta.checksum) throw new Error('checksum differs');
        inner = createHnswIndex({ dim, loadFrom: path, families: meta.families, ...options.hnsw });
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
    path,
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
      try {
        inner.writeFile(`${tmp}.hnsw`);
        const families = inner.familyLabels();
        const newMeta: Meta = {
          format: 'skb-ann-index',
          version: 1,
          embedderId,
          dim,
          revision: at,
          count: inner.size,
          checksum: sha256File(`${tmp}.hnsw`),
          families,
        };
        writeFileSync(`${tmp}.meta.json`, JSON.stringify(newMeta));
        // Graph first: a crash between the renames leaves a checksum mismatch, which forces a rebuild.
        renameSync(`${tmp}.hnsw`, path);
        renameSync(`${tmp}.meta.json`, metaPath);
        revision = at;
      } finally {
        rmSync(`${tmp}.hnsw`, { force: true });
        rmSync(`${tmp}.meta.json`, { force: true });
      }
    },
  };
  if (reason) index.save(revision);
  return index;
}
