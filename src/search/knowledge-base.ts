import type { Operation, ReuseTier, Schedule, ScheduleContent, ScheduleContentInput, ScheduleFilter, SearchPatch, SearchRecord, Store, TargetRecord, InsertResult } from '../schedules/index.js';
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

export interface ImportReport {
  imported: number;
  duplicates: number;
  targets: number;
  scheduleIds: string[];
}

/** The knowledge base service: the store (truth), the embedder and the ANN index (derived) kept in step. */
export interface KnowledgeBase {
  readonly store: Store;
  readonly embedder: Embedder;
  /** Embeds and stores schedules (one transaction) and adds them to the index. */
  addSchedules(contents: ScheduleContent[], targets?: TargetRecord[]): Promise<InsertResult>;
  /** Validates a whole JSONL file first; commits all of it or, on any bad line, nothing (IMPORT_FAILED, details.errors = [{ line, message }]). */
  importJsonl(text: string): Promise<ImportReport>;
  exportJsonl(request: ExportRequest): Promise<string>;
  deleteSchedule(id: string): Promise<boolean>;
  /**
   * Ends a search: embeds its schedule (when it has one), then marks the search with `patch` and
   * stores the schedule with its embedding and target in ONE transaction, then adds it to the index.
   * If anything fails before the commit, neither the search's status nor the schedule changed.
   */
  rememberSearch(request: { searchId: string; patch: SearchPatch; schedule: ScheduleContentInput | null; target?: TargetRecord }): Promise<{ search: SearchRecord; schedule: Schedule | null }>;
  similar(query: SimilarQuery): Promise<RetrievalMatch[]>;
  close(): Promise<void>;
}
