/**
 * A candidate is one node of a search's tree: a plan applied to its parent and the code that
 * implements it, with its evaluation. Every candidate but the baseline is one *sample*, the unit a
 * search's budget counts.
 */
import type { CorrectnessEvidence } from './schedule.js';

/** One node of a search's tree. */
export interface CandidateRecord {
  id: string;
  searchId: string;
  parentId: string | null;
  iteration: number;
  /** Sample number (1-based) within the search; 0 for the baseline. */
  sample: number;
  optionId: string | null;
  optionLabel: string | null;
  plan: string | null;
  params: Record<string, unknown> | null;
  code: string;
  correct: boolean;
  latencyMs: number | null;
  errorKind: string | null;
  output: string;
  feedback: string[];
  /**
   * Why a correct, timed result is not to be trusted unchecked (e.g. a speedup over the reference
   * above the suspicion threshold that its check could not confirm); a suspect candidate never
   * enters the beam.
   */
  suspect?: string;
  /** How a correct candidate was judged correct, where the toolchain said. */
  evidence?: CorrectnessEvidence;
  /** Whether it entered the beam. */
  admitted: boolean;
  /** The seed step it followed, when warm start forced it. */
  forcedFrom: { scheduleId: string; stepIndex: number } | null;
  model: string | null;
  createdAt: string;
}

/**
 * The samples of a search's tree that could not count, by why: the error kind of a failed one
 * ("failed" when it has none), "suspect" for a correct one above the suspicion threshold that its
 * check could not confirm. The baseline is not a sample.
 */
export function tallyFailedSamples(candidates: readonly CandidateRecord[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const c of candidates) {
    if (c.sample === 0) continue;
    const why = !c.correct ? (c.errorKind ?? 'failed') : c.suspect ? 'suspect' : null;
    if (why !== null) tally[why] = (tally[why] ?? 0) + 1;
  }
  return tally;
}
