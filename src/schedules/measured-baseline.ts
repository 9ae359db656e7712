/**
 * A task's baseline as measured once on one target: later searches of the same task on the same
 * target (same fingerprint, so the same compiler or PyTorch version) and with the same timing reuse
 * it instead of spending a minute re-timing a naive loop.
 */
import { z } from 'zod';
import { canonicalJson, sha256Hex } from './canonical.js';
import type { Operation } from './operation.js';
import type { SearchConfig } from './search.js';

export const MeasuredBaselineSchema = z
  .object({
    latencyMs: z.number().positive(),
    output: z.string(),
    feedback: z.array(z.string()),
    /** The search whose sample 0 measured it. */
    searchId: z.string().min(1),
    measuredAt: z.string().min(1),
  })
  .strict();
export type MeasuredBaseline = z.infer<typeof MeasuredBaselineSchema>;

/** What must match for a measured baseline to stand for a new one. */
export interface BaselineIdentity {
  targetKey: string;
  operation: Operation;
  code: string;
  /** The search's timing overrides (empty: the toolchain's defaults). */
  timing: SearchConfig['timing'];
  /** KernelBench only: the problem source the baseline runs against. */
  problemSource?: string;
}

/** The key a measured baseline is stored under: every field of its identity, hashed. */
export function baselineKey(identity: BaselineIdentity): string {
  return `b-${sha256Hex(canonicalJson(identity)).slice(0, 32)}`;
}
