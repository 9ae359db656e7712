/**
 * The KernelBench toolchain for PyTorch/CUDA targets: a candidate is a Python file that defines
 * `ModelNew`, judged against a KernelBench problem (`Model`, `get_inputs`, `get_init_inputs`) by
 * harness.py on the target: 5 seeded correctness trials with KernelBench's tolerances, then CUDA-event
 * timing with the L2 flushed before each run, beside the eager reference; one faster than eager
 * by more than the suspicion threshold runs again as a check (suspect-check.ts). Candidates run one at a
 * time, each in a process of its own, so a hanging or crashing one costs only its own run: by
 * default forked from a warm worker that imported PyTorch and Triton once (warm-workers.ts), or,
 * with `warmWorkers: false`, a fresh Python in a workspace of its own.
 */
import { SkbError, targetKey, isSkbError, type GpuFingerprint, type Operation } from '../../schedules/index.js';
import { type ExecLimits, type ExecResult, type Executor, probeOncePerExecutor } from '../executor.js';
import { GPU_PROCESS_LIMITS, gpuFingerprint } from '../gpu-fingerprint.js';
import { kernelBenchHarnessSource, kernelBenchScriptSource } from './python-sources.js';
import { interpretRecognition } from './recognition.js';
import { kernelBenchProblemFor } from './problems.js';
import { DEFAULT_SUSPICIOUS_SPEEDUP, flagSuspiciousSpeedup, interpretHarnessRun } from './result.js';
import { CHECK_RUNS, checkSeed, judgeChecked } from './suspect-check.js';
import { createWarmWorkers, type WarmWorkers } from './warm-workers.js';
import {
  CandidateResultSchema,
  type CandidateResult,
  type EvaluateRequest,
  type SelfCheckResult,
  type TimingSettings,
  type Toolchain,
  timingSettings,
} from '../toolchain.js';

export interface KernelBenchToolchainOptions {
  /** Python interpreter with PyTorch (and Triton) on the target; default python3. */
  python?: string;
  /** Extra environment for harness runs (CUDA_VISIBLE_DEVICES, LD_LIBRARY_PATH, ...). */
  env?: Record<string, string>;
  /** Limits of one candidate's harness run; the wall time decides 'timeout'. */
  runLimits?: Partial<ExecLimits>;
  /** Problem source for an operation, for `evaluate`; default: generated for gemm and batched_gemm. */
  problemFor?: (operation: Operation) => string;
  /** Seeded correctness trials; KernelBench uses 5. */
  trials?: number;
  /** Base seed of weights and inputs. */
  seed?: number;
  /** torch device string; default cuda. */
  device?: string;
  /**
   * Fork each candidate from a warm worker per executor (default true); false starts a fresh Python
   * per candidate, which pays the PyTorch import every time.
   */
  warmWorkers?: boolean;
  /**
   * A correct candidate faster than eager PyTorch by more than this is marked suspect and checked
   * by a second run; the search does not admit it unless the check passes (default 10, as
   * KernelBench flags them).
   */
  suspiciousSpeedup?: number;
  /** Modules the warm worker imports once; default torch and triton (tests without a GPU pass others). */
  warmPreload?: readonly string[];
}

export interface KernelBenchEvaluateRequest {
  /** Python source of the KernelBench problem. */
  problemSource: string;
  /** Python sources that each define `ModelNew`. */
  candidates: string[];
  executor: Executor;
  signal?: AbortSignal;
  timing?: Partial<TimingSettings>;
}

/** One candidate's result with what KernelBench adds to it. */
export interface KernelBenchEvaluation {
  result: CandidateResult;
  /** Median latency of the eager PyTorch reference on the same GPU; null when it was never timed. */
  referenceLatencyMs: number | null;
  /** Reference median over candidate median; null unless both exist. */
  speedup: number | null;
  /** The GPU the candidate was measured on. */
  fingerprint: GpuFingerprint;
}

export interface KernelBenchToolchain extends Toolchain {
  readonly kind: 'kernelbench';
  /** Evaluates candidates against a problem given as source; one evaluation per candidate, in order. */
  evaluateProblem(request: KernelBenchEvaluateRequest): Promise<KernelBenchEvaluation[]>;
  /** Stops the warm workers (the next evaluation starts new ones). */
  close(): Promise<void>;
}

/** KernelBench's timing: 100 timed runs after warm-up, a fixed count (the harness takes them all). */
export const KERNELBENCH_TIMING: TimingSettings = {
  warmup: 10,
  runs: 100,
  minRuns: 100,
  budgetMs: 0,
  stableSpreadPct: 0,
};
const DEFAULT_RUN_LIMITS: Partial<ExecLimits> = { wallMs: 180_000, maxOutputBytes: 1024 * 1024 };

/**
 * Compiler caches live in the candidate's own directory: candidates never share (or poison) them.
 * USER is set because the sandbox's uid has no passwd entry, and torch.compile asks getpass for a
 * user name (which reads USER before the passwd file).
 */
function candidateCacheEnv(dir: string): Record<string, string> {
  return {
    USER: 'skb-candidate',
    TRITON_CACHE_DIR: `${dir}/.triton`,
    TORCH_EXTENSIONS_DIR: `${dir}/.torch_extensions`,
    TORCHINDUCTOR_CACHE_DIR: `${dir}/.inductor`,
  };
}

/** Creates the KernelBench toolchain. */
export function createKernelBenchToolchain(options: KernelBenchToolchainOptions = {}): KernelBenchToolchain {
  const python = options.python ?? 'python3';
  const trials = options.trials ?? 5;
  const seed = options.seed ?? 42;
  const device = options.device ?? 'cuda';
  const suspiciousSpeedup = options.suspiciousSpeedup ?? DEFAULT_SUSPICIOUS_SPEEDUP;
  if (!(suspiciousSpeedup > 1))
    throw new SkbError('CONFIG', `The KernelBench suspicious speedup must be above 1 (got ${suspiciousSpeedup})`);
  if (!Number.isInteger(trials) || trials < 1 || trials > 100)
    throw new SkbError('CONFIG', `KernelBench trials must be an integer from 1 to 100 (got ${trials})`);
  if (!/^cuda(:\d+)?$/.test(device))
    throw new SkbError('CONFIG', `The KernelBench device must be "cuda" or "cuda:<index>" (got "${device}")`);
  const probeOptions = { python, ...(options.env ? { env: options.env } : {}) };

  const probe = probeOncePerExecutor((executor) => gpuFingerprint(executor, probeOptions));

  async function evaluateProblem(request: KernelBenchEvaluateRequest): Promise<KernelBenchEvaluation[]> {
    const { problemSource, candidates, executor, signal } = request;
    const timing = timingSettings(KERNELBENCH_TIMING, request.timing);
    const probed = await probe(executor);
    const harness = await kernelBenchHarnessSource();
    // The eager reference is timed once, by the first run that gets that far, and reused after.
    let referenceLatencyMs: number | null = null;
    const evaluations: KernelBenchEvaluation[] = [];
    const harnessArgs = (runSeed: number, skipReference: boolean, check: boolean): string[] => [
      'harness.py',
      ...['--problem', 'problem.py', '--candidate', 'candidate.py', '--trials', String(trials)],
      ...['--warmup', String(timing.warmup), '--iters', String(timing.runs), '--seed', String(runSeed)],
      ...['--device', device],
      ...(skipReference ? ['--skip-reference-timing'] : []),
      ...(check ? ['--check', '--check-runs', String(CHECK_RUNS)] : []),
    ];
    for (const source of candidates) {
      signal?.throwIfAborted();
      const files = { 'harness.py': harness, 'problem.py': problemSource, 'candidate.py': source };
      const ran = await runHarness(executor, files, harnessArgs(seed, referenceLatencyMs !== null, false), signal);
      const outcome = interpretHarnessRun(ran, referenceLatencyMs);
      if ('problem' in outcome) {
        throw new SkbError(
          'BAD_INPUT',
          `The KernelBench problem fails on its own, before any candidate runs: ${outcome.problem}. Fix Model, get_inputs or get_init_inputs.`,
        );
      }
      referenceLatencyMs ??= outcome.referenceLatencyMs;
      const fingerprint = outcome.fingerprint ?? probed;
      const measured = CandidateResultSchema.parse({ ...outcome.result, fingerprintKey: targetKey(fingerprint) });
      const reference = outcome.referenceLatencyMs;
      const speedup = reference !== null && measured.latencyMs ? reference / measured.latencyMs : null;
      const result = flagSuspiciousSpeedup(measured, speedup, suspiciousSpeedup);
      if (result.suspect === undefined) {
        evaluations.push({ result, referenceLatencyMs: reference, speedup, fingerprint });
        continue;
      }
      const checkRun = await runHarness(executor, files, harnessArgs(checkSeed(seed), true, true), signal);
      const judged = judgeChecked(
        { ...result, suspect: result.suspect },
        interpretHarnessRun(checkRun, reference),
        reference,
      );
      evaluations.push({ ...judged, referenceLatencyMs: reference, fingerprint });
    }
    return evaluations;
  }

  const warm: WarmWorkers | null =
    (options.warmWorkers ?? true)
      ? createWarmWorkers({
          python,
          ...(options.env ? { env: options.env } : {}),
          ...(options.warmPreload ? { preload: options.warmPreload } : {}),
          limits: { ...GPU_PROCESS_LIMITS, ...DEFAULT_RUN_LIMITS, ...options.runLimits },
        })
      : null;

  /** One harness run: forked from the executor's warm worker, or a fresh Python in its own workspace. */
  async function runHarness(
    executor: Executor,
    files: Record<string, string>,
    argv: string[],
    signal: AbortSignal | undefined,
  ): Promise<ExecResult> {
    const limits = { ...GPU_PROCESS_LIMITS, ...DEFAULT_RUN_LIMITS, ...options.runLimits };
    if (warm) {
      return warm.run(executor, {
        files,
        argv,
        env: candidateCacheEnv('{job}'),
        timeoutMs: limits.wallMs ?? 180_000,
        maxOutputBytes: limits.maxOutputBytes ?? 1024 * 1024,
        ...(signal ? { signal } : {}),
      });
    }
    const ws = await executor.createWorkspace();
    try {
      for (const [name, content] of Object.entries(files)) await ws.writeFile(name, content);
      return await ws.exec({
        argv: [python, ...argv],
        limits,
        env: { PYTHONDONTWRITEBYTECODE: '1', ...candidateCacheEnv(ws.path), ...options.env },
        ...(signal ? { signal } : {}),
      });
    } finally {
      await ws.dispose();
    }
  }

  /** The problem generated for an operation, or null where there is none (its evaluation says so). */
  function problemOrNull(operation: Operation): string | null {
    try {
      return (options.problemFor ?? kernelBenchProblemFor)(operation);
    } catch {
      return null;
    }
  }

  return {
    kind: 'kernelbench',
    evaluateProblem,
    close: async () => warm?.close(),
    contract: (operation, problemSource) => kernelBenchContract(problemSource ?? problemOrNull(operation)),

    async evaluate(request: EvaluateRequest): Promise<CandidateResult[]> {
      const problemSource = request.problemSource ?? (options.problemFor ?? kernelBenchProblemFor)(request.operation);
      const evaluations = await evaluateProblem({
        problemSource,
        candidates: request.candidates,
        executor: request.executor,
        ...(request.signal ? { signal: request.signal } : {}),
        ...(request.timing ? { timing: request.timing } : {}),
      });
      return evaluations.map((e) => e.result);
    },

    fingerprint(executor) {
      return probe(executor);
    },

    async recognize(problemSource, executor, signal) {
      const files = { 'recognize.py': await kernelBenchScriptSource('recognize.py'), 'problem.py': problemSource };
      const ran = await runHarness(executor, files, ['recognize.py', '--problem', 'problem.py'], signal);
      return interpretRecognition(ran);
    },

    async selfCheck(executor): Promise<SelfCheckResult> {
      try {
        const fp = await gpuFingerprint(executor, probeOptions);
        return {
          ok: true,
          output: `${fp.name}: ${fp.smCount} SMs, compute capability ${fp.computeCapability}, driver ${fp.driver || 'unknown'}, CUDA ${fp.cuda}, PyTorch ${fp.torch}${fp.triton ? `, Triton ${fp.triton}` : ''}`,
        };
      } catch (error) {
        if (isSkbError(error)) return { ok: false, output: error.message };
        throw error;
      }
    },
  };
}

const CONTRACT_LEAD =
  'A Python module that defines class ModelNew with the same constructor and forward signature as Model in the problem source below and computes the same outputs.';

/** What a KernelBench candidate must be: a `ModelNew` module matching the problem source, shown in full when there is one. */
function kernelBenchContract(problemSource: string | null): string {
  if (problemSource === null) return CONTRACT_LEAD;
  return `${CONTRACT_LEAD}\n\nProblem source (the reference; the harness takes get_inputs and get_init_inputs from it):\n\`\`\`python\n${problemSource.trimEnd()}\n\`\`\``;
}
