/**
 * The knowledge base's store on libSQL: the Store contract and the search tables (SearchStore) on
 * one connection, each method one read or one unit of work over the repositories of this folder.
 */
import { randomUUID } from 'node:crypto';
import { SkbError, parseOrThrow } from '../errors.js';
import {
  ReuseSchema,
  ScheduleContentSchema,
  type Schedule,
  type ScheduleContent,
  type ScheduleContentInput,
} from '../schedule.js';
import type { SearchPatch, SearchRecord, SearchStore } from '../search.js';
import type { Store } from '../store.js';
import type { TargetRecord } from '../target-record.js';
import { openLibsqlConnection, type LibsqlStoreOptions } from './connection.js';
import { createRepositories, type Repositories } from './repositories.js';

/** The libSQL store, plus the search tables on the same connection. */
export type LibsqlStore = Store & {
  readonly searches: SearchStore;
  /**
   * Ends a search: applies `patch` to the search, writes the outcomes of its seeds (`patch.seeds`)
   * to their reuse records and, when given, stores its schedule (with its target and embedding) and
   * sets the search's scheduleId, all in ONE transaction: either the search is marked, its reuses
   * judged and its schedule stored, or nothing changed. `inserted` is false when equal
   * content was already stored (the search then refers to that schedule).
   */
  finishSearch(
    searchId: string,
    patch: SearchPatch,
    schedule?: {
      content: ScheduleContentInput;
      target?: TargetRecord;
      embedding: { embedderId: string; vector: Float32Array };
    },
  ): Promise<{ search: SearchRecord; schedule: Schedule | null; inserted: boolean }>;
};

/** Checks schedule contents (and their vectors) before any transaction opens. */
function parseContents(contents: ScheduleContentInput[], embeddings?: { vectors: Float32Array[] }): ScheduleContent[] {
  const parsed = contents.map((c, i) =>
    parseOrThrow(ScheduleContentSchema, c, `Schedule ${i + 1} of ${contents.length} is invalid`),
  );
  if (embeddings && embeddings.vectors.length !== parsed.length) {
    throw new SkbError(
      'BAD_INPUT',
      `Got ${embeddings.vectors.length} embedding vectors for ${parsed.length} schedules: give one vector per schedule, in the same order`,
    );
  }
  return parsed;
}

/** Opens (and migrates) the database at `options.url` and returns the store over it. */
export async function createLibsqlStore(options: LibsqlStoreOptions): Promise<LibsqlStore> {
  const connection = await openLibsqlConnection(options);
  const read = <T>(work: (kb: Repositories) => Promise<T>): Promise<T> =>
    connection.read((db) => work(createRepositories(db)));
  const write = <T>(work: (kb: Repositories) => Promise<T>): Promise<T> =>
    connection.write((tx) => work(createRepositories(tx)));

  const searches: SearchStore = {
    createSearch: (record) => write((kb) => kb.searches.create(record)),
    updateSearch: (id, patch) => write((kb) => kb.searches.update(id, patch)),
    getSearch: (id) => read((kb) => kb.searches.get(id)),
    listSearches: (filter, page) => read((kb) => kb.searches.list(filter, page)),
    searchesWithStatus: (statuses) => read((kb) => kb.searches.withStatus(statuses)),
    // An empty call opens no transaction.
    insertCandidates: async (records) =>
      records.length ? write((kb) => kb.searches.insertCandidates(records)) : undefined,
    markAdmitted: async (searchId, ids) =>
      ids.length ? write((kb) => kb.searches.markAdmitted(searchId, ids)) : undefined,
    listCandidates: (searchId) => read((kb) => kb.searches.candidates(searchId)),
    findBaseline: (key) => read((kb) => kb.baselines.get(key)),
    storeBaseline: (key, targetKey, baseline) => write((kb) => kb.baselines.put(key, targetKey, baseline)),
    claimSearchLease: (searchId, owner, ttlMs) => write((kb) => kb.leases.claim(searchId, owner, ttlMs, Date.now())),
    releaseSearchLease: (searchId, owner) => write((kb) => kb.leases.release(searchId, owner)),
    claimMemberLease: (member, owner, ttlMs) => write((kb) => kb.memberLeases.claim(member, owner, ttlMs, Date.now())),
    releaseMemberLease: (member, owner) => write((kb) => kb.memberLeases.release(member, owner)),
  };

  return {
    searches,

    upsertTargets: (targets) => write((kb) => kb.targets.upsert(targets)),
    getTarget: (key) => read((kb) => kb.targets.get(key)),
    listTargets: () => read((kb) => kb.targets.list()),

    async insertSchedules(contents, opts = {}) {
      const parsed = parseContents(contents, opts.embeddings);
      return write((kb) => kb.schedules.insert(parsed, opts));
    },

    async finishSearch(searchId, patch, schedule) {
      const contents = schedule ? parseContents([schedule.content]) : [];
      return write(async (kb) => {
        // The search row first: its merged seeds are what the reuses are judged by, and an unknown
        // search (NOT_FOUND) stops the work before a schedule is stored.
        let search = await kb.searches.update(searchId, patch);
        // The seeds' reuse records take the outcomes judged here in the same transaction, so no
        // crash leaves a finished search whose reuses stay pending.
        if (patch.seeds) await kb.reuses.judgeSeeds(searchId, search.seeds);
        if (!schedule) return { search, schedule: null, inserted: false };
        const result = await kb.schedules.insert(contents, {
          ...(schedule.target ? { targets: [schedule.target] } : {}),
          embeddings: { embedderId: schedule.embedding.embedderId, vectors: [schedule.embedding.vector] },
        });
        const stored = await kb.schedules.get(result.storedIds[0]!);
        if (!stored) throw new SkbError('INTERNAL', `The schedule of search ${searchId} was not stored`);
        search = await kb.searches.update(searchId, { scheduleId: stored.id });
        return { search, schedule: stored, inserted: result.inserted.length > 0 };
      });
    },

    getSchedule: (id) => read((kb) => kb.schedules.get(id)),
    scheduleChildren: (id) => read((kb) => kb.schedules.childrenOf(id)),
    addRevalidation: (record) => write((kb) => kb.revalidations.add(record)),
    listRevalidations: (scheduleId) => read((kb) => kb.revalidations.ofSchedule(scheduleId)),
    latestRevalidations: (ids) => read((kb) => kb.revalidations.latest(ids)),
    flattenSchedules: async (contents) => {
      const parsed = parseContents(contents);
      return read(async (kb) => (await kb.schedules.flatten(parsed)).contents);
    },
    listSchedules: (filter, page) => read((kb) => kb.schedules.page(filter, page)),
    allSchedules: (filter) => read((kb) => kb.schedules.all(filter)),
    deleteSchedule: (id) =>
      write(async (kb) => {
        const found = await kb.schedules.get(id);
        if (!found) return false;
        await kb.reuses.deleteOfSchedule(found.id);
        await kb.revalidations.deleteOfSchedule(found.id);
        await kb.seedPacks.noteDeleted(found.contentHash);
        return kb.schedules.delete(found.id);
      }),
    listOperations: () => read((kb) => kb.schedules.operations()),

    putEmbeddings: (embedderId, rows) => write((kb) => kb.schedules.putEmbeddings(embedderId, rows)),
    listEmbeddings: (embedderId) => read((kb) => kb.schedules.embeddings(embedderId)),
    embeddingSpaces: () => read((kb) => kb.schedules.spaces()),
    targetSourceCounts: () => read((kb) => kb.schedules.sourceCounts()),
    scheduleLabel: (id) => read((kb) => kb.schedules.label(id)),
    scheduleLabels: (ids) => read((kb) => kb.schedules.labels(ids)),
    schedulesByLabels: (labels) => read((kb) => kb.schedules.byLabels(labels)),
    listShapes: (group) => read((kb) => kb.schedules.shapes(group)),
    listMeasuredPoints: (query) => read((kb) => kb.schedules.measuredPoints(query)),

    async recordReuse(input) {
      const reuse = parseOrThrow(
        ReuseSchema,
        { ...input, id: input.id ?? `reu_${randomUUID()}`, createdAt: new Date().toISOString() },
        'Invalid reuse record',
      );
      return write(async (kb) => {
        if (!(await kb.schedules.exists(reuse.scheduleId))) {
          throw new SkbError('NOT_FOUND', `Cannot record a reuse of schedule ${reuse.scheduleId}: no such schedule`);
        }
        await kb.reuses.insert(reuse);
        return reuse;
      });
    },
    updateReuse: (id, patch) => write((kb) => kb.reuses.update(id, patch)),
    listReuses: (filter) => read((kb) => kb.reuses.list(filter)),
    reuseStats: (ids) => read((kb) => kb.reuses.stats(ids)),

    revision: () => read((kb) => kb.markers.revision()),
    revisions: () => read((kb) => kb.markers.revisions()),
    getMarker: (name) => read((kb) => kb.markers.get(name)),
    setMarker: (name, value) => write((kb) => kb.markers.set(name, value)),
    seedPacks: () => read((kb) => kb.seedPacks.list()),
    seedPackExclusions: (pack, hashes) => read((kb) => kb.seedPacks.excluded(pack, hashes)),
    recordSeedPack: (pack, hashes) => write((kb) => kb.seedPacks.record(pack, hashes)),

    close: () => connection.close(),
  };
}
