import { z } from 'zod';
import type { CandidateRecord } from './candidate.js';
import type { Task } from './task.js';
import type { MeasuredBaseline } from './measured-baseline.js';
import { ReuseSchema, ReuseTierSchema } from './schedule.js';
import type { Page, PageRequest } from './store.js';

/** Warm start: which stored schedules seed a search, and how much of the search follows them. */
export const WarmStartConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** How many schedules to retrieve as seeds (0 = none). */
    seeds: z.number().int().min(0).max(16).default(3),
    /** Retrieval tiers a seed may come from. */
    tiers: z.array(ReuseTierSchema).min(1).max(4).default(['exact', 'structure', 'similar', 'transfer']),
    /** Share of each parent's plan slots forced to the next step of the seed its lineage follows; the rest explore. */
    guidedShare: z.number().min(0).max(1).default(0.5),
  })
  .strict();
export type WarmStartConfig = z.infer<typeof WarmStartConfigSchema>;

/** Settings of one beam search (Autocomp's knobs). Defaults: beam 4, 4 plans, 2 implementations. */
export const SearchConfigSchema = z
  .object({
    planner: z.enum(['template', 'llm']).default('template'),
    beamWidth: z.number().int().min(1).max(64).default(4),
    plansPerCandidate: z.number().int().min(1).max(64).default(4),
    implementationsPerPlan: z.number().int().min(1).max(16).default(2),
    iterations: z.number().int().min(1).max(100).default(8),
    /** Hard cap on samples (evaluated implementations). The baseline's own evaluation is not a sample. */
    budget: z.number().int().min(1).max(100_000).default(64),
    /** A child is admitted only if latency < parent latency * keep factor. */
    keepFactorEarly: z.number().positive().max(100).default(1.1),
    /** Iterations (after translate ones) that use keepFactorEarly. */
    earlyIterations: z.number().int().min(0).max(100).default(2),
    keepFactor: z.number().positive().max(100).default(1.0),
    /**
     * When an iteration admits no child, the fastest correct child slower than its parent by less
     * than this factor still takes the beam's last place, so a search can cross a valley (1 = never).
     */
    escapeFactor: z.number().min(1).max(100).default(1.3),
    /**
     * Share of plan slots that take a random legal move instead of the cost model's best; never 0,
     * so a wrong model cannot keep the search from a region it has not measured.
     */
    explore: z.number().min(0.05).max(1).default(0.25),
    /** none: keep everything; plan: children of one parent with the same plan text collapse; code: identical code collapses search-wide. */
    dedupe: z.enum(['none', 'plan', 'code']).default('code'),
    /** Stop after this many iterations without a new best (0 = never stop early). */
    earlyStopPatience: z.number().int().min(0).max(100).default(0),
    /** Translate iterations first (PyTorch input): reduced menu and a lenient admission factor. */
    translateIterations: z.number().int().min(0).max(10).default(0),
    translateKeepFactor: z.number().positive().max(1000).default(15),
    /** Probability that each menu option is kept in a plan sample's menu (menu dropout); options marked neverDropped (the composite moves) are always kept. */
    menuKeep: z.number().min(0.05).max(1).default(0.3),
    /** Probability that a plan sample asks for an optimization not on the menu. */
    inventProbability: z.number().min(0).max(1).default(0.1),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(1),
    /** Models of the LLM planner's ensemble (plan and code requests are split across them). */
    models: z.array(z.string().min(1).max(128)).max(16).default([]),
    /** Timing settings passed to the toolchain. */
    timing: z
      .object({
        warmup: z.number().int().min(0).max(1000),
        runs: z.number().int().min(1).max(1000),
        minRuns: z.number().int().min(3).max(1000),
        budgetMs: z.number().min(0).max(600_000),
        stableSpreadPct: z.number().min(0).max(100),
      })
      .strict()
      .partial()
      .default({}),
    /** Seeding from the knowledge base (on by default; a search with nothing to retrieve runs cold). */
    warmStart: WarmStartConfigSchema.default(WarmStartConfigSchema.parse({})),
  })
  .strict();
export type SearchConfig = z.infer<typeof SearchConfigSchema>;
export type SearchConfigInput = z.input<typeof SearchConfigSchema>;

export const SearchStatusSchema = z.enum(['queued', 'running', 'finished', 'cancelled', 'failed']);
export type SearchStatus = z.infer<typeof SearchStatusSchema>;

/**
 * One step of the best lineage of a search (root to best candidate): what a schedule is made of.
 * Recorded when the search finishes; a later step turns it into a stored schedule.
 */
export const LineageStepSchema = z
  .object({
    candidateId: z.string().min(1),
    optionId: z.string().min(1),
    optionLabel: z.string(),
    plan: z.string(),
    params: z.record(z.string(), z.unknown()).nullable(),
    latencyBeforeMs: z.number().nonnegative(),
    latencyAfterMs: z.number().nonnegative(),
  })
  .strict();
export type LineageStep = z.infer<typeof LineageStepSchema>;

/** A schedule that seeded a search: how it was found, and (once the search ends) what came of it. */
export const SearchSeedSchema = z
  .object({
    scheduleId: z.string().min(1).max(64),
    tier: ReuseTierSchema,
    distance: z.number().nonnegative().finite(),
    /** The reuse record of this seed (see Store.listReuses). */
    reuseId: z.string().min(1).max(64),
    outcome: ReuseSchema.shape.outcome,
    gain: z.number().finite().optional(),
  })
  .strict();
export type SearchSeed = z.infer<typeof SearchSeedSchema>;

/** One search as stored: its task, settings and where it stands. */
export interface SearchRecord {
  id: string;
  status: SearchStatus;
  task: Task;
  /** Key of the target's fingerprint at the time of the search. */
  targetKey: string | null;
  config: SearchConfig;
  samplesUsed: number;
  iteration: number;
  baselineLatencyMs: number | null;
  bestLatencyMs: number | null;
  bestCandidateId: string | null;
  /** The schedule stored when the search finished, if any. */
  scheduleId: string | null;
  /** Steps from the root to the best candidate, recorded when the search finishes (empty when nothing beat the baseline). */
  bestLineage: LineageStep[] | null;
  /** Schedules that seeded the search (empty when it ran cold), in the order they were retrieved. */
  seeds: SearchSeed[];
  error: string | null;
  /** A note for people about how the search ended, e.g. why no schedule was stored. */
  message: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A search that has just been created: queued, nothing measured, nothing stored yet. */
export function newSearchRecord(fields: {
  id: string;
  task: Task;
  config: SearchConfig;
  createdAt: string;
}): SearchRecord {
  return {
    id: fields.id,
    status: 'queued',
    task: fields.task,
    targetKey: null,
    config: fields.config,
    samplesUsed: 0,
    iteration: 0,
    baselineLatencyMs: null,
    bestLatencyMs: null,
    bestCandidateId: null,
    scheduleId: null,
    bestLineage: null,
    seeds: [],
    error: null,
    message: null,
    createdAt: fields.createdAt,
    updatedAt: fields.createdAt,
  };
}

/** Progress published while a search runs (GraphQL subscription, CLI progress bar). */
export interface ProgressEvent {
  searchId: string;
  type: 'started' | 'sample' | 'iteration' | 'finished' | 'cancelled' | 'failed';
  status: SearchStatus;
  iteration: number;
  iterations: number;
  samplesUsed: number;
  budget: number;
  baselineLatencyMs: number | null;
  bestLatencyMs: number | null;
  speedup: number | null;
  message?: string;
}

/** What may change on a stored search. */
export type SearchPatch = Partial<
  Pick<
    SearchRecord,
    | 'status'
    | 'targetKey'
    | 'samplesUsed'
    | 'iteration'
    | 'baselineLatencyMs'
    | 'bestLatencyMs'
    | 'bestCandidateId'
    | 'bestLineage'
    | 'error'
    | 'scheduleId'
    | 'seeds'
    | 'message'
  >
>;

/**
 * Persistence of searches and their candidates. Records are validated on the way in and when read
 * back; invalid ones are refused with BAD_INPUT.
 */
export interface SearchStore {
  /** Stores a new search; CONFLICT when its id is already stored. */
  createSearch(record: SearchRecord): Promise<void>;
  /** Applies the patch (and a fresh updatedAt) and returns the record as stored; NOT_FOUND for an unknown id. */
  updateSearch(id: string, patch: SearchPatch): Promise<SearchRecord>;
  /** The search, or null for an unknown id. */
  getSearch(id: string): Promise<SearchRecord | null>;
  /**
   * Newest first (creation time, then id), optionally of one status, 1 to 500 per page (BAD_INPUT
   * otherwise); `after` is the endCursor of the previous page, and totalCount counts every match.
   */
  listSearches(filter: { status?: SearchStatus }, page: PageRequest): Promise<Page<SearchRecord>>;
  /** Searches in any of these states, oldest first (resume after a restart). */
  searchesWithStatus(statuses: SearchStatus[]): Promise<SearchRecord[]>;
  /** Stores candidates in one write: all of them or none. A sample number stored twice is a CONFLICT. */
  insertCandidates(records: CandidateRecord[]): Promise<void>;
  /** Marks these candidates of a search as admitted to the beam; ids of other searches are left alone. */
  markAdmitted(searchId: string, ids: string[]): Promise<void>;
  /** Every candidate of a search, in sample order. */
  listCandidates(searchId: string): Promise<CandidateRecord[]>;
  /** The baseline measured before under this key (see `baselineKey`), or null. */
  findBaseline(key: string): Promise<MeasuredBaseline | null>;
  /** Stores a correct, measured baseline for later searches of the same task on the same target. */
  storeBaseline(key: string, targetKey: string, baseline: MeasuredBaseline): Promise<void>;
  /**
   * Takes or renews the lease under which replica `owner` runs a search, for `ttlMs` from now:
   * true when `owner` holds it afterwards (it was free, its own, or its holder's had lapsed).
   */
  claimSearchLease(searchId: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives a search's lease up, if `owner` holds it. */
  releaseSearchLease(searchId: string, owner: string): Promise<void>;
  /**
   * Takes or renews the lease under which search `owner` times on pool member `member` (a machine,
   * or one GPU of it, named the same by every replica), for `ttlMs` from now: true when `owner`
   * holds it afterwards.
   */
  claimMemberLease(member: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives a member's lease up, if `owner` holds it. */
  releaseMemberLease(member: string, owner: string): Promise<void>;
}
