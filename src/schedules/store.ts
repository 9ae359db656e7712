import type { MeasuredPoint } from './measured-point.js';
import type { Operation } from './operation.js';
import type { Revalidation } from './revalidation.js';
import type { Reuse, Schedule, ScheduleContent } from './schedule.js';
import type { TargetRecord } from './target-record.js';

/** Filters of the `schedules` query and of export. All given fields must match. */
export interface ScheduleFilter {
  kind?: string;
  structureKey?: string;
  shapeKey?: string;
  /** Exact target key. */
  targetKey?: string;
  /** Hardware family of the target (see targetFamily). */
  targetFamily?: string;
  /** Inclusive ranges on named dimensions, e.g. { M: { min: 256, max: 1024 } }. */
  dims?: Record<string, { min?: number; max?: number }>;
  minSpeedup?: number;
  /** Restrict to these schedule ids (used for "similar to this operation" exports). */
  ids?: string[];
}

export interface PageRequest {
  first: number;
  after?: string | null;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor of the last item, or null when nothing follows. */
  endCursor: string | null;
  hasNextPage: boolean;
  totalCount: number;
}

export interface OperationSummary {
  operation: Operation;
  structureKey: string;
  shapeKey: string;
  scheduleCount: number;
  bestSpeedup: number;
}

export interface EmbeddingRow {
  scheduleId: string;
  /** Integer label of the schedule in ANN indexes (stable for the life of the row). */
  label: number;
  targetFamily: string;
  vector: Float32Array;
}

export interface EmbeddingSpace {
  embedderId: string;
  dim: number;
  count: number;
}

/** What ranking by shape needs of a stored schedule, read from indexed columns without the content. */
/** Which schedules' measured points to read (Store.listMeasuredPoints). */
export interface MeasuredPointsQuery {
  structureKey: string;
  targetFamily: string;
  /** Only schedules created before this ISO time: a resumed search trains on what its first run saw. */
  createdBefore?: string;
  /** Most schedules to read, newest kept (default 256). */
  limit?: number;
}

export interface ShapeRow {
  id: string;
  /** Integer label of the schedule in ANN indexes. */
  label: number;
  shapeKey: string;
  dims: Record<string, number>;
  speedup: number;
}

/** How often a schedule's reuses ended each way (Store.reuseStats). */
export interface ReuseStats {
  scheduleId: string;
  improved: number;
  replayed: number;
  failed: number;
  notImproved: number;
  pending: number;
}

export interface InsertResult {
  inserted: Schedule[];
  /** Ids of schedules whose content was already stored (deduplicated by content hash). */
  duplicates: string[];
  /** The id each given content is stored under, in input order (flattened content has a new id). */
  storedIds: string[];
}

/**
 * Schedules of one target that came from one source: `search`, found by a search of this database;
 * `import`, measured elsewhere and brought in; `seed`, offered by a seed pack (or written as seeds by a tool).
 */
export interface TargetSourceCount {
  targetKey: string;
  source: 'search' | 'import' | 'seed';
  count: number;
}

/** One seed pack as a database imported it. */
export interface SeedPackRecord {
  name: string;
  /** The newest version imported here. */
  version: number;
  importedAt: string;
  /** Schedules its versions offered, over all versions. */
  offered: number;
  /** Of those, how many this database holds now (a user may have deleted some). */
  stored: number;
}

/**
 * The knowledge base's source of truth. Every method that writes several rows does so in one
 * transaction: it commits whole or not at all.
 */
export interface Store {
  upsertTargets(targets: TargetRecord[]): Promise<void>;
  getTarget(key: string): Promise<TargetRecord | null>;
  listTargets(): Promise<TargetRecord[]>;

  /**
   * Inserts schedules (and the targets they refer to, when given) in one transaction, with their
   * embeddings when given (same order as `contents`). Content already stored is skipped and reported.
   * A schedule whose target is neither stored nor given is refused (BAD_INPUT) and nothing is written.
   */
  insertSchedules(
    contents: ScheduleContent[],
    options?: { targets?: TargetRecord[]; embeddings?: { embedderId: string; vectors: Float32Array[] } },
  ): Promise<InsertResult>;
  /** The schedule of this id, or of an id it had before its replay steps were flattened. */
  getSchedule(id: string): Promise<Schedule | null>;
  /** Schedules whose `derivedFrom` names `id` (its direct descendants), oldest first. */
  scheduleChildren(id: string): Promise<Schedule[]>;
  /** Keeps a re-measurement of a stored schedule (skb revalidate). */
  addRevalidation(record: Revalidation): Promise<void>;
  /** Every re-measurement of a schedule, oldest first. */
  listRevalidations(scheduleId: string): Promise<Revalidation[]>;
  /** The newest re-measurement of each of these schedules that has one. */
  latestRevalidations(scheduleIds: string[]): Promise<Map<string, Revalidation>>;
  /**
   * Contents as insertSchedules would store them: replay steps flattened against the stored
   * schedules and each other (see flatten-replays.ts). What embeddings are computed from.
   */
  flattenSchedules(contents: ScheduleContent[]): Promise<ScheduleContent[]>;
  /** Schedules in a deterministic order (creation time, then id), filtered and paginated. */
  listSchedules(filter: ScheduleFilter, page: PageRequest): Promise<Page<Schedule>>;
  /** Every schedule matching the filter, in the same order as listSchedules. */
  allSchedules(filter: ScheduleFilter): Promise<Schedule[]>;
  /** Deletes a schedule with its embeddings and reuse records. Returns false when it did not exist. */
  deleteSchedule(id: string): Promise<boolean>;
  listOperations(): Promise<OperationSummary[]>;

  /** Stores vectors of one embedding space; refuses (EMBEDDING_SPACE_MISMATCH) a dimension other than the space's. */
  putEmbeddings(embedderId: string, rows: Array<{ scheduleId: string; vector: Float32Array }>): Promise<void>;
  listEmbeddings(embedderId: string): Promise<EmbeddingRow[]>;
  embeddingSpaces(): Promise<EmbeddingSpace[]>;
  /** How many schedules each target holds, by where they came from (`provenance.source`). */
  targetSourceCounts(): Promise<TargetSourceCount[]>;
  /** Label and target family of a schedule, for index maintenance. */
  scheduleLabel(id: string): Promise<{ label: number; targetFamily: string } | null>;
  /** Labels and target families of many schedules in one read; unknown ids are left out, order is not kept. */
  scheduleLabels(ids: string[]): Promise<Array<{ scheduleId: string; label: number; targetFamily: string }>>;
  schedulesByLabels(labels: number[]): Promise<Schedule[]>;
  /**
   * Id, label, shape key, sizes and speedup of every schedule of one structure measured on one
   * hardware family, without reading or validating whole schedules (for ranking by shape).
   */
  listShapes(group: { structureKey: string; targetFamily: string }): Promise<ShapeRow[]>;
  /**
   * The measured points of every schedule of one structure on one hardware family (created before
   * `createdBefore`, when given), oldest first, reading only the parts of the content that hold
   * them: what a cost model trains on.
   */
  listMeasuredPoints(group: MeasuredPointsQuery): Promise<MeasuredPoint[]>;

  recordReuse(reuse: Omit<Reuse, 'id' | 'createdAt'> & { id?: string }): Promise<Reuse>;
  updateReuse(id: string, patch: Pick<Reuse, 'outcome'> & { gain?: number }): Promise<Reuse>;
  listReuses(filter: { scheduleId?: string; searchId?: string }): Promise<Reuse[]>;
  /** Outcome counts of the reuses of these schedules, in one read; schedules never reused are left out. */
  reuseStats(scheduleIds: string[]): Promise<ReuseStats[]>;

  /** Increases on every write that changes schedules or embeddings; ANN indexes record it to detect staleness. */
  revision(): Promise<number>;
  /** That revision and the reuse records' (increases on every write that changes them), in one read. */
  revisions(): Promise<{ schedules: number; reuses: number }>;
  /**
   * A marker the database keeps about itself, e.g. that the shipped seed schedules were imported
   * once (so a user who deleted them does not get them back); null when never set. Markers are
   * not schedule data: setting one leaves the revision as it is.
   */
  getMarker(name: string): Promise<number | null>;
  setMarker(name: string, value: number): Promise<void>;
  /** The seed packs this database imported, each at its newest version. */
  seedPacks(): Promise<SeedPackRecord[]>;
  /** Of these content hashes, those the pack must not import: it offered them before, or a user deleted them here. */
  seedPackExclusions(pack: string, hashes: string[]): Promise<Set<string>>;
  /** Records a pack version as imported with every content hash it offered (imported, already stored or excluded). */
  recordSeedPack(pack: { name: string; version: number }, hashes: string[]): Promise<void>;
  close(): void;
}
