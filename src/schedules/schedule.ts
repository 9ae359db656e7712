import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical.js';
import { OperationSchema } from './operation.js';

const JsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.string().max(100_000),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(JsonValue).max(1000),
    z.record(z.string().max(128), JsonValue),
  ]),
);

const LatencySchema = z.number().positive().finite();

/** What a menu option id may look like: lower case letters, digits, `_ . : -`. */
export const OPTION_ID_PATTERN = /^[a-z0-9_.:-]{1,64}$/;

/** Option id of a search candidate that replayed a seed's whole sequence; never a stored step (see flatten-replays.ts). */
export const REPLAY_OPTION_ID = 'seed.replay';

/** Option id of a step that invented an optimization not on the menu (and of any step whose option id is not a valid one). */
export const INVENTED_OPTION_ID = 'invented';

/** One accepted optimization on the lineage from the root to the best candidate. */
export const StepSchema = z
  .object({
    /** Stable menu option id shared by every planner of a toolchain, e.g. "cpu.register_block". */
    optionId: z.string().regex(OPTION_ID_PATTERN, 'option ids are lower case: letters, digits, _ . : -'),
    optionLabel: z.string().min(1).max(200),
    plan: z.string().max(20_000),
    /** Structured knob changes where the planner has them, e.g. { MR: 6, NR: 32 }. */
    params: z.record(z.string().max(64), JsonValue).optional(),
    latencyBeforeMs: LatencySchema,
    latencyAfterMs: LatencySchema,
    /**
     * Set on a seed's step replayed here with the seed's others in one measurement: the seed and
     * the step's index in it. Steps replayed together share their latencies, the group's before
     * and after. Optional, so content stored before it existed keeps its hash and id.
     */
    replayOf: z
      .object({ scheduleId: z.string().min(1).max(64), stepIndex: z.number().int().nonnegative().max(255) })
      .strict()
      .optional(),
  })
  .strict();
export type Step = z.infer<typeof StepSchema>;

/** A tried step that did not survive: kept as negative evidence for later searches. */
export const NegativeStepSchema = z
  .object({
    optionId: StepSchema.shape.optionId,
    plan: z.string().max(20_000),
    params: z.record(z.string().max(64), JsonValue).optional(),
    outcome: z.enum(['failed', 'regressed']),
    /** The step index on the lineage it branched from (0 = from the baseline). */
    atStep: z.number().int().nonnegative(),
    latencyMs: LatencySchema.optional(),
  })
  .strict();
export type NegativeStep = z.infer<typeof NegativeStepSchema>;

/**
 * One measured candidate of the search a schedule came from, as planner parameters (a template's
 * knobs) and latency: what a cost model learns from (src/search/cost-model/). Kept for candidates
 * that were correct and carried parameters; exported and imported with the schedule.
 */
export const MeasurementSchema = z
  .object({
    params: z.record(z.string().max(64), JsonValue),
    latencyMs: LatencySchema,
  })
  .strict();
export type Measurement = z.infer<typeof MeasurementSchema>;

/** Most measurements a schedule keeps (a budget-64 search has 65, the baseline included). */
export const MAX_MEASUREMENTS = 4096;

/**
 * Retrieval tiers, nearest first: the same shape, the same structure, similar by embedding (all on
 * this hardware family), and transfer (the same structure measured on other hardware of the same
 * kind, offered only where the family itself has too few).
 */
export const ReuseTierSchema = z.enum(['exact', 'structure', 'similar', 'transfer']);
export type ReuseTier = z.infer<typeof ReuseTierSchema>;

/**
 * A schedule this one descends from: a seed of its search whose steps are on its lineage, with
 * the tier and distance it was retrieved at (unknown for a schedule flattened from before they
 * were recorded).
 */
export const DerivationSchema = z
  .object({
    scheduleId: z.string().min(1).max(64),
    tier: ReuseTierSchema.optional(),
    distance: z.number().nonnegative().finite().optional(),
  })
  .strict();
export type Derivation = z.infer<typeof DerivationSchema>;

/** How a kernel was judged correct: what a user re-checking it, or a later toolchain, compares against. */
export const CorrectnessEvidenceSchema = z
  .object({
    /** Independent checks it passed (seeded input sets, or calls checked). */
    trials: z.number().int().positive().max(1000),
    /** The rule an output had to meet, in words, e.g. "|out - ref| <= tol per element, ...". */
    toleranceRule: z.string().min(1).max(500),
    /** Largest error seen relative to the tolerance (1 = at the bound); null when the checker did not report it. */
    maxErrorRatio: z.number().nonnegative().finite().nullable(),
    /** What the reference was computed in, e.g. "f64" or "f32 (eager PyTorch, no reduced-precision reductions)". */
    referencePrecision: z.string().min(1).max(200),
  })
  .strict();
export type CorrectnessEvidence = z.infer<typeof CorrectnessEvidenceSchema>;

/** The toolchain versions a schedule was measured with, by tool, e.g. { compiler: "gcc 12.2.0" } or { cuda, torch, triton }. */
export const ToolchainVersionsSchema = z.record(z.string().min(1).max(32), z.string().max(128));
export type ToolchainVersions = z.infer<typeof ToolchainVersionsSchema>;

/** What a schedule's result rests on. */
export const EvidenceSchema = z
  .object({
    /** How its final kernel was judged correct; absent where the toolchain did not say. */
    correctness: CorrectnessEvidenceSchema.optional(),
    toolchain: ToolchainVersionsSchema,
  })
  .strict();
export type Evidence = z.infer<typeof EvidenceSchema>;

export const ProvenanceSchema = z
  .object({
    source: z.enum(['search', 'import', 'seed']),
    searchId: z.string().max(64).optional(),
    planner: z.string().max(64).optional(),
    note: z.string().max(2000).optional(),
  })
  .strict();

/** What a schedule says; its id and content hash are derived from this. */
export const ScheduleContentSchema = z
  .object({
    operation: OperationSchema,
    targetKey: z.string().regex(/^t-[0-9a-f]{16}$/, 'targetKey is a target key such as t-0123456789abcdef'),
    steps: z.array(StepSchema).max(256),
    negatives: z.array(NegativeStepSchema).max(1024).default([]),
    /** Optional (no default), so content stored before it existed keeps its hash and id. */
    measurements: z.array(MeasurementSchema).max(MAX_MEASUREMENTS).optional(),
    /** The schedules it descends from; optional (no default), so older content keeps its hash and id. */
    derivedFrom: z.array(DerivationSchema).max(64).optional(),
    /** How it was judged correct and with which toolchain; optional (no default), so older content keeps its hash. */
    evidence: EvidenceSchema.optional(),
    finalCode: z.string().max(1_000_000),
    baselineLatencyMs: LatencySchema,
    bestLatencyMs: LatencySchema,
    samplesUsed: z.number().int().nonnegative(),
    settings: z.record(z.string().max(64), JsonValue).default({}),
    models: z.array(z.string().max(128)).max(32).default([]),
    provenance: ProvenanceSchema,
    createdAt: z.iso.datetime(),
  })
  .strict()
  .refine((s) => s.bestLatencyMs <= s.baselineLatencyMs * 1.0000001 || s.steps.length === 0, {
    message: 'bestLatencyMs cannot be above baselineLatencyMs when the schedule has steps',
    path: ['bestLatencyMs'],
  });
export type ScheduleContent = z.infer<typeof ScheduleContentSchema>;
export type ScheduleContentInput = z.input<typeof ScheduleContentSchema>;

export type Schedule = ScheduleContent & {
  /** `sch_` + the first 24 hex digits of the content hash: equal content, equal id. */
  id: string;
  contentHash: string;
  /** baseline / best. */
  speedup: number;
};

export function scheduleContentHash(content: ScheduleContent): string {
  return sha256Hex(canonicalJson(content));
}

/** Completes validated content into a schedule with its derived id, hash and speedup. */
export function toSchedule(content: ScheduleContent): Schedule {
  const contentHash = scheduleContentHash(content);
  return { ...content, id: `sch_${contentHash.slice(0, 24)}`, contentHash, speedup: speedupOf(content) };
}

/**
 * baseline / best: how many times faster the best is than the baseline; null while either is
 * unknown or the best is not positive. Schedule content has both, validated positive, so its
 * speedup is always a number.
 */
export function speedupOf(latencies: { baselineLatencyMs: number; bestLatencyMs: number }): number;
export function speedupOf(latencies: { baselineLatencyMs: number | null; bestLatencyMs: number | null }): number | null;
export function speedupOf({
  baselineLatencyMs: base,
  bestLatencyMs: best,
}: {
  baselineLatencyMs: number | null;
  bestLatencyMs: number | null;
}): number | null {
  return base != null && best != null && best > 0 ? base / best : null;
}

/** One schedule used to seed one search, and what came of it. */
export const ReuseSchema = z
  .object({
    id: z.string().max(64),
    scheduleId: z.string().max(64),
    searchId: z.string().max(64),
    tier: ReuseTierSchema,
    distance: z.number().nonnegative().finite(),
    outcome: z.enum(['pending', 'replayed', 'failed', 'improved', 'not_improved']),
    /** Speedup of the search's best over what the search would have had without the seed's lineage, where measured. */
    gain: z.number().finite().optional(),
    createdAt: z.iso.datetime(),
  })
  .strict();
export type Reuse = z.infer<typeof ReuseSchema>;
