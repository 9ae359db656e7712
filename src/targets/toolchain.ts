/**
 * A toolchain knows how candidate code for an operation is built, checked against a reference and
 * timed on an executor. The search calls `evaluate` and nothing else; every toolchain (C,
 * KernelBench) answers with the same CandidateResult.
 */
import { z } from 'zod';
import { CorrectnessEvidenceSchema, type Fingerprint, type Operation, SkbError } from '../schedules/index.js';
import type { Executor } from './executor.js';

export const ErrorKindSchema = z.enum(['compile', 'runtime', 'timeout', 'wrong_answer', 'limit_exceeded']);
export type ErrorKind = z.infer<typeof ErrorKindSchema>;

/** Most characters of program or compiler output kept in a result. */
export const MAX_RESULT_OUTPUT_CHARS = 4096;

/** Why timing a candidate stopped: it took `runs`, the runs agreed, the budget ran out, or it was clearly slower than it had to be. */
export const TimingStopSchema = z.enum(['cap', 'stable', 'budget', 'slower']);
export type TimingStop = z.infer<typeof TimingStopSchema>;

export const CandidateResultSchema = z
  .object({
    /** Matched the reference within the tolerance (and ran to the end). */
    correct: z.boolean(),
    /** Median of the timed runs in milliseconds; null when the candidate was not timed. */
    latencyMs: z.number().nonnegative().nullable(),
    /** Every timed run, in order. */
    samplesMs: z.array(z.number().nonnegative()),
    /** (max - min) / median of the samples, in percent; null without samples. */
    spreadPct: z.number().nonnegative().nullable(),
    /** Why timing stopped where it did (absent when not timed, or from a fixed-count toolchain). */
    timingStop: TimingStopSchema.optional(),
    errorKind: ErrorKindSchema.nullable(),
    /** Compiler or program output that explains the result, trimmed to a few KB. */
    output: z.string().max(MAX_RESULT_OUTPUT_CHARS + 64),
    /** Short lines for the planner: achieved GFLOP/s, fraction of peak, what went wrong. */
    feedback: z.array(z.string()),
    /** How a correct result was judged correct (trials, tolerance rule, largest error against it, reference precision). */
    evidence: CorrectnessEvidenceSchema.optional(),
    /** Why this correct, timed result is not to be trusted unchecked; the search does not admit it. */
    suspect: z.string().max(500).optional(),
    /** `targetKey` of the fingerprint the candidate was measured on. */
    fingerprintKey: z.string().regex(/^t-[0-9a-f]{16}$/),
  })
  .strict();
export type CandidateResult = z.infer<typeof CandidateResultSchema>;

/**
 * How a candidate is timed: against a time budget rather than a fixed count, as
 * `triton.testing.do_bench` and TVM's `min_repeat_ms` do. At least `minRuns` timed runs are taken,
 * then timing stops as soon as the runs agree (spread at most `stableSpreadPct`), or the timed runs
 * have lasted `budgetMs`, or `runs` were taken. A toolchain that times a fixed count (KernelBench's
 * harness) sets `minRuns` to `runs`.
 */
export interface TimingSettings {
  /** Most untimed runs before measuring; warm-up also stops once it has lasted a quarter of `budgetMs`. */
  warmup: number;
  /** Most timed runs; the latency is the median of those taken. */
  runs: number;
  /** Fewest timed runs (3 or more: a median of fewer says little), or `runs` when that is smaller. */
  minRuns: number;
  /** Once `minRuns` are taken, no new timed run starts after the timed runs have lasted this long. */
  budgetMs: number;
  /** Once `minRuns` are taken, timing stops when (max - min) / median of the runs is at most this, in percent; 0 never. */
  stableSpreadPct: number;
}

/** A toolchain's defaults overridden by a request's timing, refused (BAD_INPUT) when out of range. */
export function timingSettings(defaults: TimingSettings, requested?: Partial<TimingSettings>): TimingSettings {
  const timing = { ...defaults, ...requested };
  const { warmup, runs, minRuns, budgetMs, stableSpreadPct } = timing;
  const problems = [
    Number.isInteger(warmup) && warmup >= 0 && warmup <= 1000 ? '' : `warmup from 0 to 1000 (got ${warmup})`,
    Number.isInteger(runs) && runs >= 1 && runs <= 1000 ? '' : `runs from 1 to 1000 (got ${runs})`,
    Number.isInteger(minRuns) && minRuns >= 3 && minRuns <= 1000 ? '' : `minRuns from 3 to 1000 (got ${minRuns})`,
    Number.isFinite(budgetMs) && budgetMs >= 0 && budgetMs <= 600_000
      ? ''
      : `budgetMs from 0 to 600000 (got ${budgetMs})`,
    Number.isFinite(stableSpreadPct) && stableSpreadPct >= 0 && stableSpreadPct <= 100
      ? ''
      : `stableSpreadPct from 0 to 100 (got ${stableSpreadPct})`,
  ].filter(Boolean);
  if (problems.length) throw new SkbError('BAD_INPUT', `Timing needs ${problems.join(', ')}`);
  return { ...timing, minRuns: Math.min(minRuns, runs) };
}

export interface EvaluateRequest {
  operation: Operation;
  /** Source code of each candidate, in the toolchain's language. */
  candidates: string[];
  executor: Executor;
  signal?: AbortSignal;
  timing?: Partial<TimingSettings>;
  /**
   * A candidate whose fastest timed run is above this many ms cannot enter the search's beam (its
   * parent's latency times the keep factor): timing stops after `minRuns`, or after one run when it
   * is above twice this, and the result reports what was measured. Toolchains that time a fixed
   * count ignore it.
   */
  stopAboveMs?: number;
  /** KernelBench: the problem to judge against; default the one generated for the operation. */
  problemSource?: string;
}

export interface SelfCheckResult {
  ok: boolean;
  /** What the tiny program printed, or why it failed. */
  output: string;
}

export interface Toolchain {
  readonly kind: 'c' | 'kernelbench';
  /** Evaluates every candidate; one result per candidate, in order. Never throws for a bad candidate. */
  evaluate(request: EvaluateRequest): Promise<CandidateResult[]>;
  /** The hardware and toolchain fingerprint of the machine behind `executor`. */
  fingerprint(executor: Executor): Promise<Fingerprint>;
  /** Builds and runs a tiny program on the executor: proves the toolchain works there. */
  selfCheck(executor: Executor): Promise<SelfCheckResult>;
  /**
   * What candidate code for an operation must satisfy here, as planners are shown it (for C the
   * entry point's prototype and contract; for KernelBench a `ModelNew` module matching the problem
   * source, `problemSource` or else the one generated for the operation).
   */
  contract(operation: Operation, problemSource?: string): string;
  /**
   * The operation a problem file computes, read on the executor's machine (KernelBench: traced with
   * torch.fx). BAD_INPUT naming the LLM planner when no template computes it; toolchains without
   * problem files leave it out.
   */
  recognize?(problemSource: string, executor: Executor, signal?: AbortSignal): Promise<Operation>;
  /** Stops what the toolchain keeps running between evaluations (KernelBench's warm workers). */
  close?(): Promise<void>;
}

/** Keeps the head and the tail of long output, which is where compilers and crashes say what happened. */
export function trimOutput(text: string, max = MAX_RESULT_OUTPUT_CHARS): string {
  if (text.length <= max) return text;
  const head = Math.floor(max * 0.6);
  const tail = max - head;
  return `${text.slice(0, head)}\n[... ${text.length - max} characters cut ...]\n${text.slice(text.length - tail)}`;
}

/** Median and spread ((max - min) / median, percent) of timing samples. */
export function summarizeSamples(samples: readonly number[]): { median: number | null; spreadPct: number | null } {
  if (samples.length === 0) return { median: null, spreadPct: null };
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const spreadPct = median > 0 ? ((sorted[sorted.length - 1]! - sorted[0]!) / median) * 100 : 0;
  return { median, spreadPct };
}
