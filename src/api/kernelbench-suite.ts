/**
 * A list of KernelBench problem files through the service, as `skb kernelbench` runs it: for each
 * problem, eager PyTorch and `torch.compile` (default mode) timed by the harness in one run, then a
 * cold search (warm start off); after every cold search, a warm search per problem whose seeds come
 * from the stored schedules of the *other* problems (the exact tier, which would hand a problem its
 * own cold schedule, is left out). Every phase's result is saved as it ends, so a run cut short
 * resumes where it stopped: a phase already done for the same source and settings is not run again.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  type CandidateRecord,
  OperationSchema,
  knobsOf,
  messageOf,
  type ReuseTier,
  type SearchRecord,
} from '../schedules/index.js';

/**
 * The kernel a search ended on, when one beat its baseline: its sample, the menu option of its
 * step and the template's knobs (null for a planner without knobs), so a results file says what
 * won without the database it was measured with.
 */
export const SuiteBestSchema = z.object({
  sample: z.number().int().positive(),
  optionId: z.string().nullable(),
  knobs: z.record(z.string(), z.unknown()).nullable(),
});
export type SuiteBest = z.infer<typeof SuiteBestSchema>;

/** One search's outcome as the suite reports it. */
export const SuiteSearchSchema = z.object({
  searchId: z.string(),
  status: z.string(),
  /** The best latency found, or the baseline's when nothing beat it. */
  bestMs: z.number().nullable(),
  baselineMs: z.number().nullable(),
  samples: z.number(),
  wallSeconds: z.number(),
  scheduleId: z.string().nullable(),
  seeds: z.number(),
  message: z.string().nullable(),
  /**
   * The samples that could not count, by why: the candidate's error kind, or "suspect" for a
   * correct one above the suspicion threshold that its check could not confirm. Results files of
   * runs before this field read as none.
   */
  failedSamples: z.record(z.string(), z.number().int().positive()).default({}),
  /** The winning kernel; null when the baseline was kept (and in results files from before the field). */
  best: SuiteBestSchema.nullable().default(null),
});
export type SuiteSearch = z.infer<typeof SuiteSearchSchema>;

export const SuiteProblemSchema = z.object({
  file: z.string(),
  /** sha256 of the problem's source: an edited file is measured again. */
  sourceHash: z.string(),
  operation: OperationSchema.nullable(),
  /** Why the problem could not be measured or searched (no template, a failed reference). */
  error: z.string().nullable(),
  eagerMs: z.number().nullable(),
  compileMs: z.number().nullable(),
  /** Why torch.compile gave no time (it failed or was wrong), when it did not. */
  compileError: z.string().nullable(),
  cold: SuiteSearchSchema.nullable(),
  warm: SuiteSearchSchema.nullable(),
});
export type SuiteProblem = z.infer<typeof SuiteProblemSchema>;

export const SuiteResultsSchema = z.object({
  version: z.literal(1),
  target: z.string(),
  budget: z.number(),
  problems: z.array(SuiteProblemSchema),
});
export type SuiteResults = z.infer<typeof SuiteResultsSchema>;

/** A search as the suite gets it: its record, wall time, the samples of its tree that failed (by why) and its winner. */
export interface SuiteSearchRun {
  record: SearchRecord;
  wallSeconds: number;
  failedSamples: Record<string, number>;
  best: SuiteBest | null;
}

/** What the suite needs of the service: searches, and the harness's eager and compiled timing. */
export interface SuiteDeps {
  /** Starts a search of the problem (its operation recognised by the target) and waits for its end. */
  search(
    problemSource: string,
    warm: { enabled: false } | { enabled: true; tiers: ReuseTier[] },
  ): Promise<SuiteSearchRun>;
  /** Eager PyTorch and torch.compile of the problem's Model, timed in one harness run each. */
  reference(
    problemSource: string,
  ): Promise<{ eagerMs: number | null; compileMs: number | null; compileError: string | null }>;
  /** Saves the results so far (after every phase). */
  save(results: SuiteResults): Promise<void>;
  /** A line of progress for people. */
  progress(line: string): void;
}

/** Retrieval tiers of the warm searches: every tier but `exact`, so no problem seeds itself. */
export const WARM_TIERS: ReuseTier[] = ['structure', 'similar', 'transfer'];

export function sourceHash(source: string): string {
  return createHash('sha256').update(source).digest('hex');
}

function searchOutcome({ record, wallSeconds, failedSamples, best }: SuiteSearchRun): SuiteSearch {
  return {
    searchId: record.id,
    status: record.status,
    bestMs: record.bestLatencyMs ?? record.baselineLatencyMs,
    baselineMs: record.baselineLatencyMs,
    samples: record.samplesUsed,
    wallSeconds: Math.round(wallSeconds * 10) / 10,
    scheduleId: record.scheduleId,
    seeds: record.seeds.length,
    message: record.error ?? record.message,
    failedSamples,
    best,
  };
}

/** The winner of a search's tree: its best candidate, unless that is the baseline itself. */
export function searchWinner(record: SearchRecord, candidates: readonly CandidateRecord[]): SuiteBest | null {
  const best = candidates.find((c) => c.id === record.bestCandidateId);
  if (!best || best.sample === 0) return null;
  return { sample: best.sample, optionId: best.optionId, knobs: knobsOf(best) };
}

/**
 * An entry of an earlier run for this file, kept when its source is unchanged; one that ended in
 * an error is measured again (the error may have been the target's, since mended).
 */
function previousEntry(previous: SuiteResults | null, file: string, hash: string): SuiteProblem | null {
  const entry = previous?.problems.find((p) => p.file === file);
  return entry && entry.sourceHash === hash && entry.error === null ? entry : null;
}

/**
 * Runs the suite over `problems` (file name and source, in order), resuming from `previous` when it
 * was made for the same target and budget, and returns the results (also saved after each phase).
 */
export async function runKernelBenchSuite(
  deps: SuiteDeps,
  problems: readonly { file: string; source: string }[],
  settings: { target: string; budget: number },
  previous: SuiteResults | null,
): Promise<SuiteResults> {
  const resumable = previous && previous.target === settings.target && previous.budget === settings.budget;
  const entries: SuiteProblem[] = problems.map((p) => {
    const hash = sourceHash(p.source);
    return (
      (resumable ? previousEntry(previous, p.file, hash) : null) ?? {
        file: p.file,
        sourceHash: hash,
        operation: null,
        error: null,
        eagerMs: null,
        compileMs: null,
        compileError: null,
        cold: null,
        warm: null,
      }
    );
  });
  const results: SuiteResults = { version: 1, ...settings, problems: entries };
  const done = (search: SuiteSearch | null) => search !== null && search.status === 'finished';

  for (const [i, p] of problems.entries()) {
    const entry = entries[i]!;
    if (entry.error !== null) continue;
    if (entry.eagerMs === null) {
      deps.progress(`${p.file}: timing eager and torch.compile`);
      try {
        Object.assign(entry, await deps.reference(p.source));
      } catch (error) {
        entry.error = messageOf(error);
      }
      await deps.save(results);
      if (entry.error !== null) continue;
    }
    if (!done(entry.cold)) {
      deps.progress(`${p.file}: cold search, budget ${settings.budget}`);
      const outcome = await searchOrError(deps, p.source, { enabled: false }, entry);
      if (outcome) {
        entry.cold = searchOutcome(outcome);
        entry.operation = outcome.record.task.operation;
      }
      await deps.save(results);
    }
  }
  for (const [i, p] of problems.entries()) {
    const entry = entries[i]!;
    if (entry.error !== null || !done(entry.cold) || done(entry.warm)) continue;
    deps.progress(`${p.file}: warm search, budget ${settings.budget}, seeds from the other problems`);
    const outcome = await searchOrError(deps, p.source, { enabled: true, tiers: WARM_TIERS }, entry);
    if (outcome) entry.warm = searchOutcome(outcome);
    await deps.save(results);
  }
  return results;
}

/** A search, or null with the entry's error set when it could not start (e.g. no template computes the problem). */
async function searchOrError(
  deps: SuiteDeps,
  source: string,
  warm: Parameters<SuiteDeps['search']>[1],
  entry: SuiteProblem,
): Promise<SuiteSearchRun | null> {
  try {
    return await deps.search(source, warm);
  } catch (error) {
    entry.error = messageOf(error);
    return null;
  }
}

/** Geometric mean of the positive values; null when there are none. */
export function geomean(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null && v > 0 && Number.isFinite(v));
  return xs.length ? Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length) : null;
}

/** Speedup over eager of a latency; null unless both exist. */
export function overEager(entry: SuiteProblem, ms: number | null | undefined): number | null {
  return entry.eagerMs !== null && ms != null && ms > 0 ? entry.eagerMs / ms : null;
}

/** Parses a results file of an earlier run; BAD_INPUT-style message when it is not one. */
export function parseSuiteResults(text: string): SuiteResults {
  return SuiteResultsSchema.parse(JSON.parse(text));
}
