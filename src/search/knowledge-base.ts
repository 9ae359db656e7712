import type {
  InsertResult,
  MeasuredPoint,
  MeasuredPointsQuery,
  Operation,
  OperationSummary,
  Page,
  PageRequest,
  Reuse,
  Revalidation,
  ReuseTier,
  Schedule,
  ScheduleContent,
  ScheduleContentInput,
  ScheduleFilter,
  SearchPatch,
  SearchRecord,
  SearchStore,
  SeedPackRecord,
  TargetRecord,
  TargetSourceCount,
} from '../schedules/index.js';
import type { Embedder } from '../embeddings/embedder.js';

/** One retrieved schedule, with why it was retrieved. */
export interface RetrievalMatch {
  schedule: Schedule;
  tier: ReuseTier;
  /** Tier-specific distance: 0 for exact, shape distance for structure, embedding distance for similar. */
  distance: number;
  /** Higher is better; comparable across tiers (exact > structure > similar at equal quality). */
  score: number;
  /** One line for people, e.g. "same structure; M x2, N same, K /2; 1.8x on that shape". */
  reason: string;
}

export interface SimilarQuery {
  operation: Operation;
  /** Target key; results are always restricted to that target's hardware family. */
  targetKey: string;
  k: number;
  tiers?: ReuseTier[];
}

export interface ExportRequest {
  filter: ScheduleFilter;
  /** Export the k schedules most similar to this operation (all tiers), intersected with `filter`. */
  similarTo?: SimilarQuery;
  /** Only the best schedule per (shape, target). */
  pruned: boolean;
}

/** What an export writes: JSON Lines (the exchange format) or Triton autotune configs (src/search/triton-configs.ts). */
export const EXPORT_FORMATS = ['jsonl', 'triton-configs'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ImportReport {
  imported: number;
  duplicates: number;
  targets: number;
  scheduleIds: string[];
}

/** One seed of a search whose pending reuse is recorded (KnowledgeBase.recordSeeds). */
export interface SeedReuse {
  reuseId: string;
  scheduleId: string;
  tier: ReuseTier;
  distance: number;
}

/**
 * The knowledge base service: the schedules, targets and reuses (truth), the embedder and the ANN
 * index (derived) kept in step. Callers read and write through these methods only; how and where
 * the data is stored is the implementation's business.
 */
export interface KnowledgeBase {
  readonly embedder: Embedder;
  /** The search and candidate tables, on the same database. */
  readonly searches: SearchStore;
  /** Embeds and stores schedules (one transaction) and adds them to the index. */
  addSchedules(contents: ScheduleContent[], targets?: TargetRecord[]): Promise<InsertResult>;
  /** Validates a whole JSONL file first; commits all of it or, on any bad line, nothing (IMPORT_FAILED, details.errors = [{ line, message }]). */
  importJsonl(text: string): Promise<ImportReport>;
  exportJsonl(request: ExportRequest): Promise<string>;
  /**
   * The Triton matmul schedules of the same selection as a Python list of `triton.Config`s, best
   * first (formatTritonConfigs); NOT_FOUND when none of the selected schedules is one.
   */
  exportTritonConfigs(request: ExportRequest): Promise<string>;
  deleteSchedule(id: string): Promise<boolean>;
  /**
   * Ends a search: embeds its schedule (when it has one), then marks the search with `patch` and
   * stores the schedule with its embedding and target in ONE transaction, then adds it to the index.
   * If anything fails before the commit, neither the search's status nor the schedule changed.
   */
  rememberSearch(request: {
    searchId: string;
    patch: SearchPatch;
    schedule: ScheduleContentInput | null;
    target?: TargetRecord;
  }): Promise<{ search: SearchRecord; schedule: Schedule | null }>;
  similar(query: SimilarQuery): Promise<RetrievalMatch[]>;
  /** The schedule of this id, or of an id it had before its replay steps were flattened. */
  getSchedule(id: string): Promise<Schedule | null>;
  /** Schedules whose `derivedFrom` names `id`, oldest first. */
  scheduleChildren(id: string): Promise<Schedule[]>;
  /** Schedules in a deterministic order (creation time, then id), filtered and paginated. */
  listSchedules(filter: ScheduleFilter, page: PageRequest): Promise<Page<Schedule>>;
  listOperations(): Promise<OperationSummary[]>;
  getTarget(key: string): Promise<TargetRecord | null>;
  listTargets(): Promise<TargetRecord[]>;
  /** How many schedules each target holds, by source (searches, imports, shipped seeds). */
  targetSourceCounts(): Promise<TargetSourceCount[]>;
  /** Stores (or refreshes) target records: the targets this service measures on. */
  registerTargets(records: TargetRecord[]): Promise<void>;
  listReuses(filter: { scheduleId?: string; searchId?: string }): Promise<Reuse[]>;
  /** Keeps a re-measurement of a stored schedule (skb revalidate). */
  addRevalidation(record: Revalidation): Promise<void>;
  /** Every re-measurement of a schedule, oldest first. */
  listRevalidations(scheduleId: string): Promise<Revalidation[]>;
  /** Records the pending reuse of each seed of a search; seeds whose reuse id is already stored are skipped (idempotent, for resumed searches). */
  recordSeeds(searchId: string, seeds: ReadonlyArray<SeedReuse>): Promise<void>;
  /** How many schedules the database holds, and the vectors of the active embedding space (for /health). */
  counts(): Promise<{ schedules: number; indexedVectors: number }>;
  /** Measured points of the schedules of one structure on one hardware family: what the cost model trains on. */
  measuredPoints(query: MeasuredPointsQuery): Promise<MeasuredPoint[]>;
  /** Database markers (e.g. that the shipped seeds were imported once); null when never set. Setting one leaves the schedules' revision as it is. */
  getMarker(name: string): Promise<number | null>;
  setMarker(name: string, value: number): Promise<void>;
  /** The seed packs imported into this database (the store's records, passed through). */
  seedPacks(): Promise<SeedPackRecord[]>;
  seedPackExclusions(pack: string, hashes: string[]): Promise<Set<string>>;
  recordSeedPack(pack: { name: string; version: number }, hashes: string[]): Promise<void>;
  close(): Promise<void>;
}
