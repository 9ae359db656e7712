import { Mutex } from 'async-mutex';
import {
  ScheduleContentSchema,
  SkbError,
  createLibsqlStore,
  describeIssues,
  exportJsonl,
  parseJsonl,
  pruneBest,
  type InsertResult,
  type LibsqlStore,
  type Schedule,
  type ScheduleContent,
  type Store,
  type TargetRecord,
} from '../schedules/index.js';
import type { Embedder } from '../embeddings/embedder.js';
import { openAnnIndex, type AnnIndex } from '../embeddings/ann-index.js';
import { checkVector, type HnswOptions } from '../embeddings/vector-index.js';
import type {
  ExportRequest,
  ImportReport,
  KnowledgeBase,
  RetrievalMatch,
  SeedReuse,
  SimilarQuery,
} from './knowledge-base.js';
import { retrieve } from './retrieve.js';
import { formatTritonConfigs } from './triton-configs.js';
import { createShapeCatalog } from './shape-catalog.js';

export interface OpenKnowledgeBaseOptions {
  /** SKB_DB_URL: `file:data/kb.db`, or a libsql:// / http(s):// server. */
  dbUrl: string;
  authToken?: string;
  /** Where `index/<embedder>.hnsw` lives (SKB_DATA_DIR). */
  dataDir: string;
  embedder: Embedder;
  /**
   * How long after a write the index is saved, in ms; writes in between share one save. 0 saves
   * after every write. Default 2000. Closing always saves; a crash before a save costs only a
   * rebuild on the next open (the saved revision no longer matches the store).
   */
  saveDelayMs?: number;
  hnsw?: HnswOptions;
}

/** The knowledge base over libSQL and HNSW, with a view of what lies underneath for tests and maintenance tools. */
export interface OpenedKnowledgeBase extends KnowledgeBase {
  /**
   * The libSQL store underneath, for tests that check or stage rows directly and for maintenance
   * scripts (benchmarks reading raw embeddings). The service itself never uses it: a schedule or
   * vector written here bypasses the index, which notices the new revision on the next `similar`
   * and rebuilds.
   */
  readonly store: LibsqlStore;
  /** The ANN index as currently loaded; replaced when another process changed the store. */
  readonly index: AnnIndex;
}

/**
 * Opens the knowledge base: the libSQL store (the truth) and the ANN index of `embedder`'s space
 * (derived, rebuilt from the store when missing, stale or damaged). Refuses to open when the
 * store holds vectors of this embedder id with another dimension, and embeds any schedule that
 * has no vector in this space yet. Writes are serialized, so the
 * index always reflects a known store revision; a change made by another process is noticed on
 * the next `similar` and the index is rebuilt.
 */
export async function openKnowledgeBase(options: OpenKnowledgeBaseOptions): Promise<OpenedKnowledgeBase> {
  const { embedder, dataDir } = options;
  const saveDelayMs = options.saveDelayMs ?? 2000;
  const store = await createLibsqlStore({ url: options.dbUrl, authToken: options.authToken });
  let index: AnnIndex;
  let knownRevision: number;
  try {
    const clash = (await store.embeddingSpaces()).find((s) => s.embedderId === embedder.id && s.dim !== embedder.dim);
    if (clash) {
      throw new SkbError(
        'EMBEDDING_SPACE_MISMATCH',
        `The database holds ${clash.count} vectors of embedder ${embedder.id} with dimension ${clash.dim}, but the embedder now produces dimension ${embedder.dim}; configure the dimension the database was built with, or use a new database.`,
        { embedderId: embedder.id, stored: clash.dim, embedder: embedder.dim },
      );
    }
    index = await openAnnIndex({ store, embedderId: embedder.id, dim: embedder.dim, dataDir, hnsw: options.hnsw });
    knownRevision = index.revision;
    if (await backfill(store, embedder, index)) {
      knownRevision = await store.revision();
      index.save(knownRevision);
    }
  } catch (error) {
    store.close();
    throw error;
  }

  const catalog = createShapeCatalog(store);
  /** The reuse revision the catalog's reuse outcomes were read at; -1 until the first check. */
  let knownReuseRevision = -1;
  let dirty = false;
  let saveTimer: NodeJS.Timeout | null = null;
  let closed = false;
  /** One write at a time: the index and `knownRevision` change only under this lock. */
  const writes = new Mutex();
  const serial = <T>(task: () => Promise<T>): Promise<T> => writes.runExclusive(task);

  function saveNow(): void {
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = null;
    if (!dirty) return;
    index.save(knownRevision);
    dirty = false;
  }

  function afterWrite(revision: number): void {
    knownRevision = revision;
    dirty = true;
    if (saveDelayMs === 0) {
      saveNow();
      return;
    }
    if (saveTimer) return;
    saveTimer = setTimeout(() => {
      saveTimer = null;
      // A failed save leaves `dirty` set, so close tries again; the store is unaffected either way.
      serial(async () => saveNow()).catch(() => undefined);
    }, saveDelayMs);
    saveTimer.unref();
  }

  async function refreshIfStale(): Promise<void> {
    const revisions = await store.revisions();
    if (revisions.reuses !== knownReuseRevision) {
      catalog.clearReuseStats();
      knownReuseRevision = revisions.reuses;
    }
    if (revisions.schedules === knownRevision) return;
    index = await openAnnIndex({ store, embedderId: embedder.id, dim: embedder.dim, dataDir, hnsw: options.hnsw });
    catalog.clear();
    knownRevision = index.revision;
    dirty = false;
  }

  function assertOpen(): void {
    if (closed) throw new SkbError('INTERNAL', 'The knowledge base is closed; open it again to use it.');
  }

  async function addSchedules(contents: ScheduleContent[], targets?: TargetRecord[]): Promise<InsertResult> {
    assertOpen();
    return serial(async () => {
      await refreshIfStale();
      // Vectors describe what is stored: the flat steps.
      const flat = await store.flattenSchedules(contents);
      const vectors = await embedder.embed(flat.map((c) => ({ operation: c.operation, steps: c.steps })));
      if (vectors.length !== contents.length) {
        throw new SkbError(
          'INTERNAL',
          `The embedder ${embedder.id} returned ${vectors.length} vectors for ${contents.length} schedules.`,
        );
      }
      for (const [i, v] of vectors.entries()) checkVector(v, embedder.dim, `The embedding of schedule ${i + 1}`);
      const result = await store.insertSchedules(contents, {
        targets,
        embeddings: { embedderId: embedder.id, vectors },
      });
      const ids = result.storedIds;
      // One read for the whole batch: every statement libSQL prepares costs native memory for good.
      const found = new Map((await store.scheduleLabels(ids)).map((f) => [f.scheduleId, f]));
      const entries = [];
      for (const [i, id] of ids.entries()) {
        const f = found.get(id);
        if (f && !index.has(f.label))
          entries.push({ label: f.label, targetFamily: f.targetFamily, vector: vectors[i]! });
      }
      index.add(entries);
      catalog.noteInserted(
        result.inserted.flatMap((s) => {
          const f = found.get(s.id);
          return f ? [{ schedule: s, label: f.label, targetFamily: f.targetFamily }] : [];
        }),
      );
      afterWrite(await store.revision());
      return result;
    });
  }

  /** The schedules an export writes (and, for a similar-to export, the retrieval that chose them). */
  async function exportSelection(
    request: ExportRequest,
  ): Promise<{ schedules: Schedule[]; matches: RetrievalMatch[] }> {
    const matches = request.similarTo ? await kb.similar(request.similarTo) : [];
    let schedules: Schedule[];
    if (!request.similarTo) schedules = await store.allSchedules(request.filter);
    else {
      const ids = matches.map((m) => m.schedule.id);
      schedules =
        ids.length === 0
          ? []
          : await store.allSchedules({
              ...request.filter,
              ids: request.filter.ids ? request.filter.ids.filter((id) => ids.includes(id)) : ids,
            });
    }
    return { schedules: request.pruned ? pruneBest(schedules) : schedules, matches };
  }

  const kb: OpenedKnowledgeBase = {
    store,
    embedder,
    searches: store.searches,
    get index() {
      return index;
    },
    addSchedules,

    async importJsonl(text: string): Promise<ImportReport> {
      assertOpen();
      const parsed = parseJsonl(text);
      const result = await addSchedules(parsed.contents, parsed.targets);
      return {
        imported: result.inserted.length,
        duplicates: result.duplicates.length,
        targets: parsed.targets.length,
        scheduleIds: result.storedIds,
      };
    },

    async exportJsonl(request: ExportRequest): Promise<string> {
      assertOpen();
      const { schedules } = await exportSelection(request);
      const used = new Set(schedules.map((s) => s.targetKey));
      const targets = (await store.listTargets()).filter((t) => used.has(t.key));
      return exportJsonl(schedules, targets, { embedderId: embedder.id });
    },

    async exportTritonConfigs(request: ExportRequest): Promise<string> {
      assertOpen();
      const { schedules, matches } = await exportSelection(request);
      const targets = new Map((await store.listTargets()).map((t) => [t.key, t]));
      const retrieval = new Map(matches.map((m) => [m.schedule.id, { tier: m.tier, score: m.score }]));
      return formatTritonConfigs(
        schedules.map((schedule) => {
          const match = retrieval.get(schedule.id);
          return { schedule, target: targets.get(schedule.targetKey), ...(match ? { retrieval: match } : {}) };
        }),
      ).text;
    },

    async rememberSearch({ searchId, patch, schedule, target }) {
      assertOpen();
      return serial(async () => {
        await refreshIfStale();
        if (!schedule)
          return { search: await store.finishSearch(searchId, patch).then((r) => r.search), schedule: null };
        const parsed = ScheduleContentSchema.safeParse(schedule);
        if (!parsed.success)
          throw new SkbError(
            'INTERNAL',
            `The schedule extracted from search ${searchId} is invalid: ${describeIssues(parsed.error.issues)}`,
          );
        const content = parsed.data;
        const [flat] = await store.flattenSchedules([content]);
        const [vector] = await embedder.embed([{ operation: content.operation, steps: flat!.steps }]);
        if (!vector)
          throw new SkbError(
            'INTERNAL',
            `The embedder ${embedder.id} returned no vector for the schedule of search ${searchId}.`,
          );
        checkVector(vector, embedder.dim, `The embedding of the schedule of search ${searchId}`);
        const done = await store.finishSearch(searchId, patch, {
          content,
          ...(target ? { target } : {}),
          embedding: { embedderId: embedder.id, vector },
        });
        const stored = done.schedule!;
        const found = await store.scheduleLabel(stored.id);
        if (found && !index.has(found.label))
          index.add([{ label: found.label, targetFamily: found.targetFamily, vector }]);
        if (done.inserted && found)
          catalog.noteInserted([{ schedule: stored, label: found.label, targetFamily: found.targetFamily }]);
        afterWrite(await store.revision());
        return { search: done.search, schedule: stored };
      });
    },

    async deleteSchedule(id: string): Promise<boolean> {
      assertOpen();
      return serial(async () => {
        await refreshIfStale();
        const found = await store.scheduleLabel(id);
        const deleted = await store.deleteSchedule(id);
        if (found) index.remove(found.label);
        catalog.noteDeleted(id);
        if (deleted) afterWrite(await store.revision());
        return deleted;
      });
    },

    async similar(query: SimilarQuery): Promise<RetrievalMatch[]> {
      assertOpen();
      // The check (one small query) waits for writes in flight, so it never mistakes our own write for another process's.
      await serial(refreshIfStale);
      return retrieve({ store, index, embedder, catalog }, query);
    },

    getSchedule: (id) => store.getSchedule(id),
    scheduleChildren: (id) => store.scheduleChildren(id),
    listSchedules: (filter, page) => store.listSchedules(filter, page),
    listOperations: () => store.listOperations(),
    getTarget: (key) => store.getTarget(key),
    listTargets: () => store.listTargets(),
    targetSourceCounts: () => store.targetSourceCounts(),
    registerTargets: (records) => store.upsertTargets(records),
    listReuses: (filter) => store.listReuses(filter),
    addRevalidation: (record) => store.addRevalidation(record),
    listRevalidations: (scheduleId) => store.listRevalidations(scheduleId),

    async recordSeeds(searchId: string, seeds: ReadonlyArray<SeedReuse>): Promise<void> {
      const written = new Set((await store.listReuses({ searchId })).map((r) => r.id));
      for (const seed of seeds) {
        if (written.has(seed.reuseId)) continue;
        await store.recordReuse({
          id: seed.reuseId,
          scheduleId: seed.scheduleId,
          searchId,
          tier: seed.tier,
          distance: seed.distance,
          outcome: 'pending',
        });
      }
    },

    async counts() {
      const [page, spaces] = await Promise.all([store.listSchedules({}, { first: 1 }), store.embeddingSpaces()]);
      return {
        schedules: page.totalCount,
        indexedVectors: spaces.find((s) => s.embedderId === embedder.id)?.count ?? 0,
      };
    },

    measuredPoints: (query) => store.listMeasuredPoints(query),
    getMarker: (name) => store.getMarker(name),
    setMarker: (name, value) => store.setMarker(name, value),
    seedPacks: () => store.seedPacks(),
    seedPackExclusions: (pack, hashes) => store.seedPackExclusions(pack, hashes),
    recordSeedPack: (pack, hashes) => store.recordSeedPack(pack, hashes),

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await serial(async () => saveNow());
      } finally {
        store.close();
      }
    },
  };
  return kb;
}

const BACKFILL_BATCH = 256;

/**
 * Embeds the schedules that have no vector in this embedder's space yet (stored while another
 * embedder was configured, or written by a tool that does not embed), so that switching
 * embedders does not leave the similar tier blind. Returns whether anything was added.
 */
async function backfill(store: Store, embedder: Embedder, index: AnnIndex): Promise<boolean> {
  const total = (await store.listSchedules({}, { first: 1 })).totalCount;
  const have = (await store.embeddingSpaces()).find((s) => s.embedderId === embedder.id)?.count ?? 0;
  if (have >= total) return false;
  const embedded = new Set((await store.listEmbeddings(embedder.id)).map((r) => r.scheduleId));
  const missing = (await store.allSchedules({})).filter((s) => !embedded.has(s.id));
  for (let i = 0; i < missing.length; i += BACKFILL_BATCH) {
    const batch = missing.slice(i, i + BACKFILL_BATCH);
    const vectors = await embedder.embed(batch.map((s) => ({ operation: s.operation, steps: s.steps })));
    for (const [j, v] of vectors.entries()) checkVector(v, embedder.dim, `The embedding of schedule ${batch[j]!.id}`);
    await store.putEmbeddings(
      embedder.id,
      batch.map((s, j) => ({ scheduleId: s.id, vector: vectors[j]! })),
    );
    const found = new Map((await store.scheduleLabels(batch.map((s) => s.id))).map((f) => [f.scheduleId, f]));
    const entries = [];
    for (const [j, s] of batch.entries()) {
      const f = found.get(s.id);
      if (f) entries.push({ label: f.label, targetFamily: f.targetFamily, vector: vectors[j]! });
    }
    index.add(entries);
  }
  return missing.length > 0;
}
