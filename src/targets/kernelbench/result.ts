/**
 * Reading what harness.py printed: the `SKB_RESULT {json}` line is validated with zod, and every
 * way a run can end (the line, no line, a garbled line, a limit, a crash) becomes one outcome.
 */
import { z } from 'zod';
import {
  GpuFingerprintSchema,
  describeIssues,
  messageOf,
  type CorrectnessEvidence,
  type GpuFingerprint,
} from '../../schedules/index.js';
import type { ExecResult } from '../executor.js';
import { summarizeSamples, trimOutput, type CandidateResult } from '../toolchain.js';

export const RESULT_PREFIX = 'SKB_RESULT ';

const StatsSchema = z
  .object({
    mean: z.number().nonnegative(),
    median: z.number().nonnegative(),
    std: z.number().nonnegative(),
    min: z.number().nonnegative(),
    max: z.number().nonnegative(),
    samplesMs: z.array(z.number().nonnegative()).min(1),
  })
  .strict();

const TrialSchema = z
  .object({
    seed: z.number().int(),
    passed: z.boolean(),
    maxAbsDiff: z.number().nullable(),
    maxRelDiff: z.number().nullable(),
    /** Largest |new - ref| / (atol + rtol |ref|); absent from reports of harnesses before it. */
    maxErrRatio: z.number().nullable().optional(),
    mismatchFraction: z.number().min(0).max(1),
    problem: z.string().nullable(),
  })
  .strict();

/** The harness's report, protocol version 1. */
export const HarnessReportSchema = z
  .object({
    version: z.literal(1),
    ok: z.boolean(),
    errorKind: z.enum(['problem', 'compile', 'runtime', 'wrong_answer']).nullable(),
    phase: z.string().nullable(),
    message: z.string().nullable(),
    traceback: z.string().nullable(),
    fingerprint: GpuFingerprintSchema.nullable(),
    correctness: z
      .object({
        trials: z.number().int().positive(),
        passed: z.number().int().nonnegative(),
        atol: z.number().nullable(),
        rtol: z.number().nullable(),
        dtype: z.string().nullable(),
        maxAbsDiff: z.number().nullable(),
        maxRelDiff: z.number().nullable(),
        maxErrRatio: z.number().nullable().optional(),
        mismatchFraction: z.number().min(0).max(1),
        details: z.array(TrialSchema),
      })
      .strict()
      .nullable(),
    timing: z
      .object({
        warmup: z.number().int().nonnegative(),
        iters: z.number().int().positive(),
        l2FlushBytes: z.number().int().nonnegative(),
        candidate: StatsSchema.nullable(),
        reference: StatsSchema.nullable(),
      })
      .strict()
      .nullable(),
    /** Present after a --check run: its timed runs, each on fresh inputs compared with eager. */
    check: z
      .object({ runs: z.number().int().positive(), maxErrRatio: z.number().nullable() })
      .strict()
      .nullable()
      .optional(),
  })
  .strict()
  .refine((r) => r.ok === (r.errorKind === null), 'ok must be true exactly when errorKind is null')
  // A successful report carries the candidate's timing, except the fingerprint-only probe's, which
  // carries the fingerprint and nothing else.
  .refine(
    (r) =>
      !r.ok || r.timing?.candidate != null || (r.timing === null && r.correctness === null && r.fingerprint !== null),
    'a successful report carries the candidate timing (or, from --fingerprint-only, just the fingerprint)',
  );
export type HarnessReport = z.infer<typeof HarnessReportSchema>;

/** Why the line could not be used, or the report it holds. */
export type ParsedLine = { ok: true; report: HarnessReport } | { ok: false; reason: string };

/**
 * Finds the last `SKB_RESULT ` line of stdout and validates it. The harness points file
 * descriptor 1 at stderr before candidate code runs, so stdout holds only the harness's own line;
 * taking the last one still guards against anything that slipped through.
 */
export function parseHarnessLine(stdout: string): ParsedLine {
  const lines = stdout.split('\n').filter((l) => l.startsWith(RESULT_PREFIX));
  const line = lines[lines.length - 1];
  if (line === undefined) return { ok: false, reason: 'printed no SKB_RESULT line' };
  let json: unknown;
  try {
    json = JSON.parse(line.slice(RESULT_PREFIX.length));
  } catch (error) {
    return { ok: false, reason: `printed an SKB_RESULT line that is not JSON (${messageOf(error)})` };
  }
  const parsed = HarnessReportSchema.safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      reason: `printed an SKB_RESULT line of the wrong shape (${describeIssues(parsed.error.issues).slice(0, 300)})`,
    };
  return { ok: true, report: parsed.data };
}

/** A candidate's result before the fingerprint key is attached, with the KernelBench extras. */
export interface KernelBenchOutcome {
  result: Omit<CandidateResult, 'fingerprintKey'>;
  /** Median of the eager PyTorch reference in this run; null when it was not timed. */
  referenceLatencyMs: number | null;
  /** The GPU the harness ran on, when it got that far. */
  fingerprint: GpuFingerprint | null;
  /** What a --check run checked: its timed runs on fresh inputs, all compared with eager. */
  check?: { runs: number; maxErrRatio: number | null };
}

/** The run failed because of the problem itself, before any candidate code ran. */
export interface ProblemFailure {
  problem: string;
}

/**
 * Classifies one harness run. Limits come first (a killed run has no trustworthy line), then the
 * line; a missing or garbled line is a runtime error that keeps the trimmed output.
 * `referenceLatencyMs` is the eager time measured by an earlier run, used when this one skipped it.
 */
export function interpretHarnessRun(
  ran: ExecResult,
  referenceLatencyMs: number | null = null,
): KernelBenchOutcome | ProblemFailure {
  const output = `${ran.stderr}${ran.stderr && ran.stdout ? '\n' : ''}${ran.stdout}`;
  const fail = (
    errorKind: CandidateResult['errorKind'],
    line: string,
    fingerprint: GpuFingerprint | null = null,
    text = output,
  ): KernelBenchOutcome => ({
    result: {
      correct: false,
      latencyMs: null,
      samplesMs: [],
      spreadPct: null,
      errorKind,
      output: trimOutput(text),
      feedback: [line],
    },
    referenceLatencyMs,
    fingerprint,
  });
  if (ran.limitExceeded === 'time')
    return fail(
      'timeout',
      `did not finish within ${(ran.wallMs / 1000).toFixed(1)} s (a kernel that never returns, or far too slow)`,
    );
  if (ran.limitExceeded === 'output')
    return fail(
      'limit_exceeded',
      'printed more output than allowed; a candidate should print nothing',
      null,
      trimOutput(output, 1024),
    );

  const parsed = parseHarnessLine(ran.stdout);
  if (!parsed.ok) {
    if (ran.limitExceeded === 'memory') return fail('limit_exceeded', 'allocated more host memory than allowed');
    if (ran.limitExceeded === 'processes')
      return fail('limit_exceeded', 'started more processes or threads than allowed');
    const how = ran.signal ? `crashed with ${ran.signal}` : `exited with status ${ran.exitCode}`;
    return fail(
      'runtime',
      `the harness ${parsed.reason} and ${how} (a candidate that kills its own process ends this way)`,
    );
  }
  const report = parsed.report;
  const fingerprint = report.fingerprint;
  const detail = [report.message, report.traceback].filter(Boolean).join('\n');
  switch (report.errorKind) {
    case 'problem':
      return { problem: report.message ?? 'the problem failed before the candidate ran' };
    case 'compile':
      return fail(
        'compile',
        `does not compile or import: ${firstLine(report.message)}`,
        fingerprint,
        `${detail}\n${ran.stderr}`,
      );
    case 'runtime':
      return fail(
        'runtime',
        `fails at run time (${report.phase ?? 'unknown phase'}): ${firstLine(report.message)}`,
        fingerprint,
        `${detail}\n${ran.stderr}`,
      );
    case 'wrong_answer': {
      const c = report.correctness;
      const tol = c?.atol != null ? `; output dtype ${c.dtype}, atol = rtol = ${c.atol}` : '';
      return fail(
        'wrong_answer',
        `wrong answer: ${firstLine(report.message)}${tol}`,
        fingerprint,
        `${report.message ?? ''}\n${ran.stderr}`,
      );
    }
    case null:
      break;
  }
  const timing = report.timing;
  const candidate = timing?.candidate;
  if (!timing || !candidate)
    return fail('runtime', 'the harness reported success without timing the candidate', fingerprint);
  const { median, spreadPct } = summarizeSamples(candidate.samplesMs);
  const reference = timing.reference ? summarizeSamples(timing.reference.samplesMs).median : referenceLatencyMs;
  const inputs = report.check ? ', each on fresh inputs' : '';
  const feedback = [
    `latency ${fmt(median!)} ms (median of ${candidate.samplesMs.length} CUDA-event timed runs${inputs} after ${timing.warmup} warm-up runs, spread ${(spreadPct ?? 0).toFixed(1)}%, L2 flushed before each run)`,
  ];
  if (reference !== null && median! > 0) {
    feedback.push(`speedup over eager PyTorch ${(reference / median!).toFixed(2)}x; eager median ${fmt(reference)} ms`);
  }
  const c = report.correctness;
  if (c)
    feedback.push(
      `correct in ${c.passed}/${c.trials} seeded trials (${c.dtype}, atol = rtol = ${c.atol}); max abs diff ${c.maxAbsDiff ?? 'n/a'}`,
    );
  return {
    result: {
      correct: true,
      latencyMs: median,
      samplesMs: candidate.samplesMs,
      spreadPct,
      errorKind: null,
      output: trimOutput(ran.stderr),
      feedback,
      ...(c ? { evidence: correctnessEvidence(c) } : {}),
    },
    referenceLatencyMs: reference,
    fingerprint,
    ...(report.check ? { check: report.check } : {}),
  };
}

/** The schedule-evidence view of the harness's correctness report (see the README's correctness rule). */
function correctnessEvidence(c: NonNullable<HarnessReport['correctness']>): CorrectnessEvidence {
  const dtype = c.dtype ?? 'unknown dtype';
  const l2 = dtype === 'float16' || dtype === 'bfloat16' ? '5e-2' : '1e-2';
  return {
    trials: c.trials,
    toleranceRule: `|out - ref| <= atol + rtol |ref| for every element (atol = rtol = ${c.atol ?? 'n/a'} for ${dtype}) and ||out - ref|| / ||ref|| <= ${l2} per output, in each of ${c.trials} seeded trials`,
    maxErrorRatio: c.maxErrRatio ?? null,
    referencePrecision: `${dtype} (eager PyTorch, reduced-precision reductions off)`,
  };
}

function firstLine(text: string | null): string {
  return (text ?? 'no message').split('\n')[0]!.slice(0, 300);
}

function fmt(ms: number): string {
  return ms.toPrecision(4);
}

/** KernelBench's own line: a speedup over eager PyTorch above this is checked by hand before it counts. */
export const DEFAULT_SUSPICIOUS_SPEEDUP = 10;

/**
 * Marks a correct result whose speedup over eager PyTorch is above `threshold` as suspect: such
 * kernels are more often a benchmark trick (cached results, a skipped computation the tolerance
 * cannot see) than a real win, so they are not admitted unchecked (suspect-check.ts runs the
 * check). The result keeps its measurement; the feedback says why it was set aside.
 */
export function flagSuspiciousSpeedup<R extends Pick<CandidateResult, 'correct' | 'feedback' | 'suspect'>>(
  result: R,
  speedup: number | null,
  threshold: number,
): R {
  if (!result.correct || speedup === null || !(speedup > threshold)) return result;
  const suspect = `speedup ${speedup.toFixed(1)}x over eager PyTorch is above the ${threshold}x suspicion threshold: not admitted unchecked`;
  return { ...result, suspect, feedback: [...result.feedback, suspect] };
}
