/**
 * A revalidation: a stored schedule's final code measured again on a target of its hardware family
 * (after a compiler, driver or PyTorch upgrade, say), kept beside the original measurement.
 */
import { z } from 'zod';
import { CorrectnessEvidenceSchema, ToolchainVersionsSchema } from './schedule.js';

export const RevalidationStatusSchema = z.enum(['holds', 'slower', 'incorrect', 'failed']);
export type RevalidationStatus = z.infer<typeof RevalidationStatusSchema>;

export const RevalidationSchema = z
  .object({
    id: z.string().min(1).max(64),
    scheduleId: z.string().min(1).max(64),
    /** The target it was measured on now. */
    targetKey: z.string().regex(/^t-[0-9a-f]{16}$/),
    measuredAt: z.iso.datetime(),
    /**
     * holds: correct and no slower than the stored latency by more than the threshold; slower;
     * incorrect: a wrong answer now; failed: it no longer builds or runs.
     */
    status: RevalidationStatusSchema,
    /** What was measured now, or why not. */
    message: z.string().max(2000),
    correct: z.boolean(),
    latencyMs: z.number().positive().finite().nullable(),
    /** The schedule's stored bestLatencyMs, the figure compared against. */
    storedLatencyMs: z.number().positive().finite(),
    /** latencyMs / storedLatencyMs, where timed. */
    ratio: z.number().positive().finite().nullable(),
    /** Slowdown (percent) above which the status is `slower`. */
    slowerByPct: z.number().nonnegative().finite(),
    toolchain: ToolchainVersionsSchema,
    evidence: CorrectnessEvidenceSchema.optional(),
  })
  .strict();
export type Revalidation = z.infer<typeof RevalidationSchema>;

/** Slowdown (percent) a re-measurement may show and still hold: above timing noise, below a regression worth knowing. */
export const DEFAULT_SLOWER_BY_PCT = 25;

/** The status of a re-measurement of a schedule whose stored latency is `storedMs`. */
export function revalidationStatus(
  result: { correct: boolean; latencyMs: number | null; errorKind: string | null },
  storedMs: number,
  slowerByPct: number,
): RevalidationStatus {
  if (!result.correct) return result.errorKind === 'wrong_answer' ? 'incorrect' : 'failed';
  if (result.latencyMs === null) return 'failed';
  return result.latencyMs > storedMs * (1 + slowerByPct / 100) ? 'slower' : 'holds';
}
