/**
 * The C toolchain: a candidate is C source that defines the operation's entry point
 * (see entry-points.ts). Candidates are compiled in parallel, each in its own workspace, then timed
 * one at a time so that no compilation or other candidate disturbs a measurement.
 */
import {
  SkbError,
  flopCount,
  minimumBytes,
  targetKey,
  type CpuFingerprint,
  type Operation,
} from '../../schedules/index.js';
import { peakGflopsPerCore, probeCpu, withThreads, type CpuProbe, type ThreadsSetting } from '../cpu-fingerprint.js';
import { measureFmaPeak } from './fma-peak.js';

/** The CPU probe plus the FMA throughput measured on it (null where the measurement failed). */
interface MeasuredCpu extends CpuProbe {
  measuredPeakGflops: number | null;
}
import { type ExecLimits, type ExecResult, probeOncePerExecutor, type Workspace } from '../executor.js';
import {
  CandidateResultSchema,
  summarizeSamples,
  trimOutput,
  type CandidateResult,
  type EvaluateRequest,
  type SelfCheckResult,
  type TimingSettings,
  type Toolchain,
  timingSettings,
} from '../toolchain.js';
import {
  C_REFERENCE_PRECISION,
  C_TOLERANCE_RULE,
  cCandidateContract,
  entryPointFor,
  type EntryPoint,
} from './entry-points.js';
import {
  flushBytesFor,
  harnessNonce,
  harnessSource,
  parseHarnessOutput,
  WRAP_FLAGS,
  type HarnessResult,
} from './harness.js';

export interface CToolchainOptions {
  /** Compiler command on the target; default gcc. */
  cc?: string;
  /** Flags for the harness and the candidate; default -O3 -march=native. */
  cflags?: string[];
  /** Limits of the compiler. */
  compileLimits?: Partial<ExecLimits>;
  /** Limits of a candidate's run; the process limit leaves room for threads (OpenMP, pthreads). */
  runLimits?: Partial<ExecLimits>;
  /** Shortest timed sample; tiny kernels are repeated within a sample until it lasts this long. */
  minSampleMs?: number;
  /** Seed of the harness inputs. */
  seed?: number;
  /** Cores one candidate may use: a number, or "all" of the target's; default 1. */
  threads?: ThreadsSetting;
}

/**
 * At least 3 timed runs, up to 15; done once they agree within 3% or have lasted 250 ms. A naive
 * baseline of about a second a call is timed 3 times instead of 15, a fast kernel whose runs agree
 * 3 times, a noisy one until the budget says enough.
 */
export const DEFAULT_TIMING: TimingSettings = { warmup: 3, runs: 15, minRuns: 3, budgetMs: 250, stableSpreadPct: 3 };
export const DEFAULT_CFLAGS = ['-O3', '-march=native'];

const DEFAULT_COMPILE_LIMITS: Partial<ExecLimits> = {
  wallMs: 60_000,
  memoryBytes: 2 * 1024 ** 3,
  maxProcesses: 16,
  maxOutputBytes: 256 * 1024,
};
const DEFAULT_RUN_LIMITS: Partial<ExecLimits> = {
  wallMs: 30_000,
  memoryBytes: 2 * 1024 ** 3,
  maxOutputBytes: 256 * 1024,
};
const FLAG = /^-[A-Za-z0-9_=,.+:/-]+$/;

interface Compiled {
  index: number;
  ws: Workspace;
  disposed: boolean;
}

/** Creates the C toolchain. */
export function createCToolchain(options: CToolchainOptions = {}): Toolchain {
  const cc = options.cc ?? 'gcc';
  const cflags = options.cflags ?? DEFAULT_CFLAGS;
  for (const flag of cflags) {
    if (!FLAG.test(flag))
      throw new SkbError(
        'CONFIG',
        `The C flag "${flag}" is not allowed: flags start with "-" and hold no spaces or shell characters`,
      );
  }
  const minSampleMs = options.minSampleMs ?? 0.5;
  const seed = options.seed ?? 20240611;
  const probe = probeOncePerExecutor(async (executor): Promise<MeasuredCpu> => {
    const probed = await probeCpu(executor, cc);
    const cpu = { ...probed, fingerprint: withThreads(probed.fingerprint, options.threads, executor.describe) };
    return { ...cpu, measuredPeakGflops: await measureFmaPeak(executor, cc, cpu.fingerprint) };
  });

  async function compile(
    ws: Workspace,
    sources: string[],
    output: string,
    threads: number,
    signal: AbortSignal | undefined,
  ): Promise<ExecResult> {
    return ws.exec({
      argv: [cc, ...cflags, ...threadFlags(threads), '-std=gnu11', '-o', output, ...sources, ...WRAP_FLAGS, '-lm'],
      limits: { ...DEFAULT_COMPILE_LIMITS, ...options.compileLimits },
      ...(signal ? { signal } : {}),
    });
  }

  return {
    kind: 'c',
    contract: (operation) => cCandidateContract(operation),

    async fingerprint(executor) {
      return (await probe(executor)).fingerprint;
    },

    async selfCheck(executor): Promise<SelfCheckResult> {
      const ws = await executor.createWorkspace();
      try {
        await ws.writeFile(
          'check.c',
          '#include <stdio.h>\nint main(void) { printf("self-check %d\\n", 6 * 7); return 0; }\n',
        );
        const built = await compile(ws, ['check.c'], 'check', 1, undefined);
        if (built.exitCode !== 0)
          return { ok: false, output: trimOutput(`${cc} failed: ${built.stderr}${built.stdout}`) };
        const ran = await ws.exec({ argv: ['./check'], limits: { wallMs: 10_000 } });
        const ok = ran.exitCode === 0 && ran.stdout.trim() === 'self-check 42';
        return {
          ok,
          output: trimOutput(
            ok
              ? ran.stdout.trim()
              : `the program printed ${JSON.stringify(ran.stdout)} and exited ${ran.exitCode ?? ran.signal}: ${ran.stderr}`,
          ),
        };
      } finally {
        await ws.dispose();
      }
    },

    async evaluate(request: EvaluateRequest): Promise<CandidateResult[]> {
      const { operation, candidates, executor, signal } = request;
      const ep = entryPointFor(operation);
      const timing = timingSettings(DEFAULT_TIMING, request.timing);
      const cpu = await probe(executor);
      const fingerprintKey = targetKey(cpu.fingerprint);
      const threads = cpu.fingerprint.threads ?? 1;
      const harness = harnessSource(ep, {
        ...timing,
        flushBytes: flushBytesFor(ep, cpu.fingerprint.caches.l3 ?? cpu.fingerprint.caches.l2),
        minSampleNs: Math.round(minSampleMs * 1e6),
        seed,
        stopAboveMs: request.stopAboveMs ?? 0,
      });
      const results: (CandidateResult | undefined)[] = new Array(candidates.length);
      const compiled: Compiled[] = [];
      const make = (partial: Omit<CandidateResult, 'fingerprintKey'>): CandidateResult =>
        CandidateResultSchema.parse({ ...partial, output: trimOutput(partial.output), fingerprintKey });

      try {
        await promisePool(candidates.length, Math.max(1, cpu.fingerprint.cores), async (index) => {
          signal?.throwIfAborted();
          const ws = await executor.createWorkspace();
          let keep = false;
          try {
            await ws.writeFile('harness.c', harness);
            await ws.writeFile('candidate.c', candidates[index]!);
            const built = await compile(ws, ['harness.c', 'candidate.c'], 'run', threads, signal);
            if (built.exitCode === 0 && built.limitExceeded === null) {
              compiled.push({ index, ws, disposed: false });
              keep = true;
            } else {
              results[index] = make(compileFailure(built, cc));
            }
          } finally {
            if (!keep) await ws.dispose();
          }
        });
        compiled.sort((a, b) => a.index - b.index);
        for (const entry of compiled) {
          const { index, ws } = entry;
          signal?.throwIfAborted();
          const nonce = harnessNonce();
          const ran = await ws.exec({
            argv: ['./run'],
            stdin: nonce,
            env: threadEnv(threads),
            limits: { maxProcesses: cpu.fingerprint.cores * 2 + 8, ...DEFAULT_RUN_LIMITS, ...options.runLimits },
            ...(signal ? { signal } : {}),
          });
          results[index] = make(classifyRun(ran, nonce, operation, ep, cpu, request.stopAboveMs));
          entry.disposed = true;
          await ws.dispose();
        }
      } finally {
        await Promise.all(compiled.filter((c) => !c.disposed).map(({ ws }) => ws.dispose()));
      }
      return results.map((r, i) => {
        if (!r) throw new SkbError('INTERNAL', `Candidate ${i} was neither compiled nor rejected`);
        return r;
      });
    },
  };
}

/**
 * Above one thread candidates are built with OpenMP, and SKB_THREADS names the allowance in the
 * source (`num_threads(SKB_THREADS)`); a single-threaded target builds exactly as before threads.
 */
function threadFlags(threads: number): string[] {
  return threads > 1 ? ['-fopenmp', `-DSKB_THREADS=${threads}`] : [];
}

/**
 * OpenMP's own caps, so a candidate that asks for no thread count (or a larger one) still gets at
 * most the allowance: OMP_THREAD_LIMIT bounds every parallel region of the program.
 */
function threadEnv(threads: number): Record<string, string> {
  return { OMP_NUM_THREADS: String(threads), OMP_THREAD_LIMIT: String(threads) };
}

function compileFailure(built: ExecResult, cc: string): Omit<CandidateResult, 'fingerprintKey'> {
  const text = `${built.stderr}${built.stdout}`;
  const firstError = text.split('\n').find((l) => /error|undefined reference/i.test(l));
  const reason =
    built.limitExceeded === 'time'
      ? `the compiler ran past ${Math.round(built.wallMs / 1000)} s`
      : built.limitExceeded
        ? `the compiler hit the ${built.limitExceeded} limit`
        : (firstError?.trim() ?? `${cc} exited with ${built.exitCode ?? built.signal}`);
  return {
    correct: false,
    latencyMs: null,
    samplesMs: [],
    spreadPct: null,
    errorKind: 'compile',
    output: text,
    feedback: [`does not compile: ${reason.slice(0, 300)}`],
  };
}

function failure(
  errorKind: CandidateResult['errorKind'],
  output: string,
  line: string,
): Omit<CandidateResult, 'fingerprintKey'> {
  return { correct: false, latencyMs: null, samplesMs: [], spreadPct: null, errorKind, output, feedback: [line] };
}

/** Turns one run of the harness into a result; every way a candidate can fail ends up as an error kind. */
function classifyRun(
  ran: ExecResult,
  nonce: string,
  operation: Operation,
  ep: EntryPoint,
  cpu: MeasuredCpu,
  stopAboveMs: number | undefined,
): Omit<CandidateResult, 'fingerprintKey'> {
  const output = `${ran.stderr}${ran.stderr && ran.stdout ? '\n' : ''}${ran.stdout}`;
  switch (ran.limitExceeded) {
    case 'time':
      return failure(
        'timeout',
        output,
        `did not finish within ${(ran.wallMs / 1000).toFixed(1)} s (loops forever, or far too slow)`,
      );
    case 'output':
      return failure(
        'limit_exceeded',
        trimOutput(output, 1024),
        'printed more output than allowed; a kernel should print nothing',
      );
    case 'memory':
      return failure('limit_exceeded', output, 'allocated more memory than allowed');
    case 'processes':
      return failure('limit_exceeded', output, 'started more processes or threads than allowed');
    case null:
      break;
  }
  const result: HarnessResult | null = parseHarnessOutput(ran.stdout, nonce);
  if (ran.signal || ran.exitCode !== 0 || !result) {
    const how = ran.signal
      ? `crashed with ${ran.signal}`
      : ran.exitCode !== 0
        ? `exited with status ${ran.exitCode}`
        : 'ended without reporting a result (did it call exit()?)';
    return failure('runtime', output, `${how} while running the ${ep.kind} kernel`);
  }
  if (!result.correct) {
    const where =
      result.firstBad === null
        ? ''
        : ` at output element ${result.firstBad}: got ${result.got ?? 'NaN'}, expected ${result.expected ?? 'NaN'}`;
    const ratio =
      result.maxErrRatio === null
        ? 'some outputs are not numbers'
        : `the largest error is ${result.maxErrRatio.toPrecision(3)} times the tolerance`;
    return failure('wrong_answer', output, `wrong answer${where}; ${ratio}`);
  }
  const { median, spreadPct } = summarizeSamples(result.samplesMs);
  if (median === null) return failure('runtime', output, 'reported no timing samples');
  const slower =
    result.stopped === 'slower' && stopAboveMs !== undefined
      ? [
          `timing stopped after ${result.samplesMs.length} run${result.samplesMs.length === 1 ? '' : 's'}: even the fastest (${Math.min(...result.samplesMs).toPrecision(4)} ms) is slower than ${stopAboveMs.toPrecision(4)} ms, the most this step could take and still be kept`,
        ]
      : [];
  return {
    correct: true,
    latencyMs: median,
    samplesMs: result.samplesMs,
    spreadPct,
    ...(result.stopped ? { timingStop: result.stopped } : {}),
    errorKind: null,
    output,
    feedback: [...slower, ...performanceFeedback(operation, median, spreadPct ?? 0, result, cpu)],
    // The harness checks the first call and the call after timing: two trials.
    evidence: {
      trials: 2,
      toleranceRule: C_TOLERANCE_RULE,
      maxErrorRatio: result.maxErrRatio,
      referencePrecision: C_REFERENCE_PRECISION,
    },
  };
}

function performanceFeedback(
  op: Operation,
  medianMs: number,
  spreadPct: number,
  result: HarnessResult,
  cpu: MeasuredCpu,
): string[] {
  const seconds = medianMs / 1000;
  const gflops = seconds > 0 ? flopCount(op) / seconds / 1e9 : 0;
  const gbps = seconds > 0 ? minimumBytes(op) / seconds / 1e9 : 0;
  const measured = cpu.measuredPeakGflops;
  const threads = cpu.fingerprint.threads ?? 1;
  // The peak of the cores a candidate may use: per-core FMA throughput times the allowance.
  const peak = (measured ?? peakGflopsPerCore(cpu.fingerprint, cpu.clockGhz)) * threads;
  const cores = threads > 1 ? `${threads}-core` : 'single-core';
  const peakText = measured !== null ? `measured ${cores} f32 FMA peak` : `estimated ${cores} f32 peak`;
  return [
    `latency ${medianMs.toPrecision(4)} ms (median of ${result.samplesMs.length} runs, spread ${spreadPct.toFixed(1)}%${result.flushed ? ', caches flushed before each run' : ''})`,
    `achieved ${gflops.toPrecision(3)} GFLOP/s = ${((gflops / peak) * 100).toPrecision(3)}% of this machine's ${peakText} of ${peak.toFixed(0)} GFLOP/s (${describeCpu(cpu.fingerprint)})`,
    `moves at least ${gbps.toPrecision(3)} GB/s of compulsory traffic`,
  ];
}

function describeCpu(fp: CpuFingerprint): string {
  const simd = fp.isa.includes('avx512f')
    ? 'AVX-512'
    : fp.isa.includes('avx2')
      ? 'AVX2'
      : fp.isa.includes('avx')
        ? 'AVX'
        : fp.arch;
  return `${fp.model}, ${simd}${fp.isa.includes('fma') ? ' + FMA' : ''}`;
}

/** Runs `task(i)` for i < count with at most `width` running at once; rejects with the first failure. */
async function promisePool(count: number, width: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
}
