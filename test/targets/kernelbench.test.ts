/**
 * The KernelBench toolchain. The GPU suite needs python3 with a CUDA build of PyTorch and is skipped
 * elsewhere; the rest runs anywhere: the real harness on a python without a GPU, malformed output
 * from real Python processes, and harness lines recorded on an H200 replayed by a real process.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuFingerprintSchema, isSkbError, targetKey } from '../../src/schedules/index.js';
import type { ExecLimits, Executor } from '../../src/targets/executor.js';
import { gpuFingerprint } from '../../src/targets/gpu-fingerprint.js';
import { createKernelBenchToolchain } from '../../src/targets/kernelbench/kernelbench-toolchain.js';
import { kernelBenchHarnessSource } from '../../src/targets/kernelbench/python-sources.js';
import {
  flagSuspiciousSpeedup,
  interpretHarnessRun,
  type KernelBenchOutcome,
} from '../../src/targets/kernelbench/result.js';
import { gpuPython, gpuSandbox, harnessResultLine, hasGpu, passingReportLine } from '../support/gpu.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import { DEFAULT_SANDBOX } from '../../src/targets/sandbox.js';

const FIXTURES = new URL('../fixtures/kernelbench/', import.meta.url);
const fixture = (path: string): Promise<string> => readFile(new URL(path, FIXTURES), 'utf8');

/** Runs a fixture script as a real process in a fresh workspace and classifies what it printed. */
async function runScript(
  executor: Executor,
  script: string,
  args: string[] = [],
  limits: Partial<ExecLimits> = {},
  files: Record<string, string> = {},
) {
  const ws = await executor.createWorkspace();
  try {
    await ws.writeFile('script.py', await fixture(`malformed/${script}`));
    for (const [name, content] of Object.entries(files)) await ws.writeFile(name, content);
    const ran = await ws.exec({ argv: ['python3', 'script.py', ...args], limits: { wallMs: 20_000, ...limits } });
    return { ran, outcome: interpretHarnessRun(ran) };
  } finally {
    await ws.dispose();
  }
}

function candidateOutcome(outcome: ReturnType<typeof interpretHarnessRun>): KernelBenchOutcome {
  if ('problem' in outcome) throw new Error(`expected a candidate outcome, got a problem failure: ${outcome.problem}`);
  return outcome;
}

describe('KernelBench harness output handling (real processes, no GPU needed)', () => {
  let executor: Executor;
  beforeAll(() => {
    executor = createLocalExecutor();
  });
  afterAll(async () => {
    await executor.close();
  });

  it('classifies garbage without a result line as a runtime error and keeps the output', async () => {
    const { outcome } = await runScript(executor, 'garbage.py');
    const { result } = candidateOutcome(outcome);
    expect(result.errorKind).toBe('runtime');
    expect(result.correct).toBe(false);
    expect(result.feedback[0]).toContain('printed no SKB_RESULT line');
    expect(result.output).toContain('something exploded');
    expect(result.output).toContain('not a result');
  });

  it('classifies a truncated JSON line as a runtime error', async () => {
    const { result } = candidateOutcome((await runScript(executor, 'not_json.py')).outcome);
    expect(result.errorKind).toBe('runtime');
    expect(result.feedback[0]).toContain('not JSON');
  });

  it('classifies a JSON line of the wrong shape as a runtime error', async () => {
    const { result } = candidateOutcome((await runScript(executor, 'wrong_shape.py')).outcome);
    expect(result.errorKind).toBe('runtime');
    expect(result.feedback[0]).toContain('wrong shape');
  });

  it('reports a process that kills itself with SIGSEGV as a runtime crash', async () => {
    const { ran, outcome } = await runScript(executor, 'segfault.py');
    expect(ran.signal).toBe('SIGSEGV');
    const { result } = candidateOutcome(outcome);
    expect(result.errorKind).toBe('runtime');
    expect(result.feedback[0]).toContain('crashed with SIGSEGV');
    expect(result.output).toContain('about to crash');
  });

  it('reports a run that passes the wall-time limit as a timeout', async () => {
    const { result } = candidateOutcome((await runScript(executor, 'sleeps.py', [], { wallMs: 1500 })).outcome);
    expect(result.errorKind).toBe('timeout');
    expect(result.feedback[0]).toMatch(/did not finish within \d/);
  });

  it('stops a run that floods its output and says so', async () => {
    const { result } = candidateOutcome(
      (await runScript(executor, 'floods.py', [], { maxOutputBytes: 64 * 1024 })).outcome,
    );
    expect(result.errorKind).toBe('limit_exceeded');
    expect(result.output.length).toBeLessThan(2048);
  });

  it.skipIf(hasGpu)('the real harness on a python without a GPU reports why, as a runtime error', async () => {
    const ws = await executor.createWorkspace();
    try {
      await ws.writeFile('harness.py', await kernelBenchHarnessSource());
      await ws.writeFile('problem.py', await fixture('problems/matmul_fp32.py'));
      await ws.writeFile('candidate.py', await fixture('candidates/matmul_fp32/torch_ok.py'));
      const ran = await ws.exec({
        argv: ['python3', 'harness.py', '--problem', 'problem.py', '--candidate', 'candidate.py'],
        limits: { wallMs: 60_000 },
      });
      expect(ran.stdout.trim().split('\n')).toHaveLength(1);
      const { result, fingerprint } = candidateOutcome(interpretHarnessRun(ran));
      expect(result.errorKind).toBe('runtime');
      expect(result.feedback[0]).toMatch(/PyTorch is not installed|CUDA is not available on this target/);
      expect(fingerprint).toBeNull();
    } finally {
      await ws.dispose();
    }
  });

  it('the harness refuses bad arguments without a result line, which reads as a runtime error', async () => {
    const ws = await executor.createWorkspace();
    try {
      await ws.writeFile('harness.py', await kernelBenchHarnessSource());
      const ran = await ws.exec({
        argv: ['python3', 'harness.py', '--problem', 'problem.py'],
        limits: { wallMs: 30_000 },
      });
      expect(ran.exitCode).toBe(2);
      const { result } = candidateOutcome(interpretHarnessRun(ran));
      expect(result.errorKind).toBe('runtime');
      expect(result.output).toContain('--problem and --candidate are required');
    } finally {
      await ws.dispose();
    }
  });

  it.skipIf(hasGpu)(
    'without a GPU the toolchain fails with a target error that says what to fix, and self-check says so',
    async () => {
      const toolchain = createKernelBenchToolchain();
      const problemSource = await fixture('problems/matmul_fp32.py');
      const candidate = await fixture('candidates/matmul_fp32/torch_ok.py');
      const error = await toolchain
        .evaluateProblem({ problemSource, candidates: [candidate], executor })
        .catch((e: unknown) => e);
      expect(isSkbError(error) && error.code).toBe('TARGET');
      expect((error as Error).message).toMatch(/PyTorch is not installed|CUDA is not available on this target/);
      await expect(gpuFingerprint(executor)).rejects.toThrow(/NVIDIA GPU/);
      const check = await toolchain.selfCheck(executor);
      expect(check.ok).toBe(false);
      expect(check.output).toMatch(/PyTorch is not installed|CUDA is not available/);
    },
  );

  it('a python that does not exist on the target is a target error naming it', async () => {
    await expect(gpuFingerprint(executor, { python: 'python3-that-does-not-exist' })).rejects.toThrow(
      /python3-that-does-not-exist/,
    );
  });
});

describe('KernelBench harness lines recorded on an H200, replayed by a real process', async () => {
  const rows = (await fixture('recorded/h200-results.tsv'))
    .trim()
    .split('\n')
    .map((row) => {
      const [name, rc, , , line] = row.split('\t');
      return { name: name!, rc: rc!, line: line! };
    })
    .filter((r) => r.line !== 'NONE');
  const expected: Record<string, string | null> = {
    torch_ok: null,
    triton_ok: null,
    triton_fused_ok: null,
    wrong: 'wrong_answer',
    tf32_wrong: 'wrong_answer',
    forges_result: 'wrong_answer',
    side_stream: null,
    zeros: 'wrong_answer',
    raises: 'runtime',
    syntax_error: 'compile',
    triton_compile_error: 'compile',
    torch_ok_problem: 'problem',
  };
  let executor: Executor;
  beforeAll(() => {
    executor = createLocalExecutor();
  });
  afterAll(async () => {
    await executor.close();
  });

  it('holds every fixture pair but the hanging one', () => {
    expect(rows.map((r) => r.name)).toContain('matmul_bf16/triton_ok');
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(['matmul_fp32/side_stream', 'softmax_wide/zeros']));
    expect(rows).toHaveLength(13);
  });

  it.each(rows.map((r) => [r.name, r] as const))('%s is classified as the fixture intends', async (name, row) => {
    const candidate = name.startsWith('broken_problem/') ? 'torch_ok_problem' : name.split('/')[1]!;
    const want = expected[candidate];
    const { outcome } = await runScript(executor, 'replay.py', ['line.txt'], {}, { 'line.txt': `${row.line}\n` });
    if (want === 'problem') {
      expect('problem' in outcome && outcome.problem).toContain('shapes cannot be multiplied');
      return;
    }
    const { result, fingerprint, referenceLatencyMs } = candidateOutcome(outcome);
    expect(GpuFingerprintSchema.parse(fingerprint).name).toBe('NVIDIA H200');
    expect(result.errorKind).toBe(want);
    expect(result.correct).toBe(want === null);
    if (want === null) {
      const report = JSON.parse(row.line.slice('SKB_RESULT '.length)) as {
        timing: { candidate: { median: number; samplesMs: number[] }; reference: { median: number } };
      };
      expect(result.samplesMs).toHaveLength(100);
      expect(result.latencyMs).toBeCloseTo(report.timing.candidate.median, 9);
      expect(referenceLatencyMs).toBeCloseTo(report.timing.reference.median, 9);
      expect(result.feedback.join('\n')).toContain(
        `speedup over eager PyTorch ${(report.timing.reference.median / report.timing.candidate.median).toFixed(2)}x`,
      );
      // Above KernelBench's 10x line the same result is set aside as suspect, its measurement kept.
      const speedup = referenceLatencyMs! / result.latencyMs!;
      expect(flagSuspiciousSpeedup(result, speedup, Math.max(10, speedup))).toBe(result);
      const flagged = flagSuspiciousSpeedup(result, 12.5, 10);
      expect(flagged.suspect).toMatch(
        /over eager PyTorch is above the 10x suspicion threshold: not admitted unchecked/,
      );
      expect(flagged).toMatchObject({ correct: true, latencyMs: result.latencyMs });
      expect(flagged.feedback.at(-1)).toBe(flagged.suspect);
      if (name === 'matmul_fp32/side_stream') {
        // Five products on a side stream, returned before they finish: timed as all five, not as nothing.
        expect(result.latencyMs!).toBeGreaterThan(4 * referenceLatencyMs!);
      }
    } else {
      expect(result.latencyMs).toBeNull();
    }
    if (name === 'softmax_wide/zeros') {
      expect(result.feedback.join('\n')).toMatch(/within atol elementwise but its relative L2 error is 1 /);
    }
  });
});

describe('the fingerprint-only line recorded on an H200', () => {
  let executor: Executor;
  let dir: string;
  beforeAll(async () => {
    // A stand-in interpreter that prints the recorded line whatever it is asked to run, so the
    // probe's own code path (workspace, limits, sandbox, parsing) runs for real. It lives outside
    // the system directories, so the sandbox is told to show it, as a targets file would.
    dir = await mkdtemp(join(tmpdir(), 'skb-fp-'));
    executor = createLocalExecutor({ sandbox: { ...DEFAULT_SANDBOX, readOnlyPaths: [dir] } });
    await writeFile(join(dir, 'line.txt'), await fixture('recorded/h200-fingerprint-only.txt'));
    await writeFile(join(dir, 'python'), `#!/bin/sh\ncat '${join(dir, 'line.txt')}'\n`, { mode: 0o755 });
    await chmod(dir, 0o755);
  });
  afterAll(async () => {
    await executor.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is read by the GPU probe as the fingerprint', async () => {
    const fingerprint = await gpuFingerprint(executor, { python: join(dir, 'python') });
    expect(fingerprint).toMatchObject({ kind: 'gpu', name: 'NVIDIA H200', smCount: 132, computeCapability: '9.0' });
  });

  it('is not a successful candidate run: success needs the candidate timing', async () => {
    const line = await fixture('recorded/h200-fingerprint-only.txt');
    const { outcome } = await runScript(executor, 'replay.py', ['line.txt'], {}, { 'line.txt': line });
    const { result } = candidateOutcome(outcome);
    expect(result.correct).toBe(false);
    expect(result.errorKind).toBe('runtime');
    expect(result.feedback[0]).toContain('without timing the candidate');
  });
});

describe('the KernelBench toolchain over a scripted interpreter', () => {
  let executor: Executor;
  let dir: string;
  /** A harness report of a correct candidate timed at `candidateMs` against eager at `referenceMs` (null: not timed). */
  const report = async (candidateMs: number, referenceMs: number | null, extra: Record<string, unknown> = {}) => {
    const fingerprint = JSON.parse((await fixture('recorded/h200-fingerprint-only.txt')).slice('SKB_RESULT '.length))
      .fingerprint as unknown;
    return `${passingReportLine(fingerprint, candidateMs, referenceMs, extra)}\n`;
  };
  /** The check run's report: timed on fresh inputs, every output within the tolerance. */
  const checkedReport = (candidateMs: number) => report(candidateMs, null, { check: { runs: 20, maxErrRatio: 0.03 } });
  beforeAll(async () => {
    // A stand-in interpreter that prints a prepared report whatever it runs (the probe included),
    // the check's own when called with --check, and writes its arguments to stderr (which the result
    // keeps as its output), so the toolchain's own path (workspace, limits, sandbox, parsing,
    // judging) runs for real.
    dir = await mkdtemp(join(tmpdir(), 'skb-kb-scripted-'));
    executor = createLocalExecutor({ sandbox: { ...DEFAULT_SANDBOX, readOnlyPaths: [dir] } });
    const script = [
      '#!/bin/sh',
      'echo "argv: $*" >&2',
      `case " $* " in *" --check "*) cat '${join(dir, 'check.txt')}' ;; *) cat '${join(dir, 'line.txt')}' ;; esac`,
    ];
    await writeFile(join(dir, 'python'), `${script.join('\n')}\n`, { mode: 0o755 });
    await chmod(dir, 0o755);
  });
  afterAll(async () => {
    await executor.close();
    await rm(dir, { recursive: true, force: true });
  });
  const evaluate = async (candidateMs: number, referenceMs: number, check = 'printed nothing\n') => {
    await writeFile(join(dir, 'line.txt'), await report(candidateMs, referenceMs));
    await writeFile(join(dir, 'check.txt'), check);
    const toolchain = createKernelBenchToolchain({ python: join(dir, 'python'), warmWorkers: false });
    try {
      const [result] = await toolchain.evaluate({
        operation: { kind: 'gemm', dtype: 'f32', dims: { M: 64, N: 64, K: 64 }, attrs: {}, epilogue: [] },
        candidates: ['import torch\nclass ModelNew(torch.nn.Module):\n    pass\n'],
        executor,
      });
      return result!;
    } finally {
      await toolchain.close();
    }
  };

  it('keeps a 20x candidate suspect, with its measurement, when its check cannot confirm it', async () => {
    const result = await evaluate(0.1, 2);
    expect(result.correct).toBe(true);
    expect(result.latencyMs).toBeCloseTo(0.1, 9);
    expect(result.suspect).toMatch(/^speedup 20\.0x over eager PyTorch is above the 10x suspicion threshold/);
    expect(result.feedback).toContain(result.suspect);
    expect(result.feedback.at(-1)).toMatch(/^its check could not confirm it: the harness printed no SKB_RESULT line/);
  });

  it('admits a 20x candidate whose check on fresh inputs passes, at the latency the check measured', async () => {
    const result = await evaluate(0.1, 2, await checkedReport(0.125));
    expect(result.correct).toBe(true);
    expect(result.suspect).toBeUndefined();
    expect(result.latencyMs).toBeCloseTo(0.125, 9);
    // The check ran as a check: another seed than the first run's 42, and eager's time reused.
    expect(result.output).toMatch(/--seed 43 --device cuda --skip-reference-timing --check --check-runs 20$/m);
    expect(result.feedback[0]).toMatch(/median of 3 CUDA-event timed runs, each on fresh inputs/);
    expect(result.feedback.at(-1)).toMatch(
      /^checked, since its first run was 20\.0x faster than eager PyTorch .*20 timed runs .*admitted at their median, 0\.1250 ms \(16\.0x\)$/,
    );
  });

  it('a cached result timed honestly by the check is admitted at what it costs on new inputs', async () => {
    const result = await evaluate(0.01, 2, await checkedReport(1.6));
    expect(result.suspect).toBeUndefined();
    expect(result.latencyMs).toBeCloseTo(1.6, 9);
  });

  it('judges a 20x candidate wrong when a timed output of its check differs from eager', async () => {
    const wrong = harnessResultLine({
      ok: false,
      errorKind: 'wrong_answer',
      phase: 'check',
      message: 'timed run 3 of 20 on fresh inputs differs from eager PyTorch: max abs diff 3.5',
    });
    const result = await evaluate(0.1, 2, `${wrong}\n`);
    expect(result.correct).toBe(false);
    expect(result.errorKind).toBe('wrong_answer');
    expect(result.suspect).toBeUndefined();
    expect(result.latencyMs).toBeNull();
    expect(result.feedback[0]).toMatch(
      /^its first run was 20\.0x faster than eager PyTorch, and its check failed: wrong answer: timed run 3 of 20 on fresh inputs/,
    );
  });

  it('trusts a 2x candidate and records the evidence it was judged by', async () => {
    const result = await evaluate(1, 2);
    expect(result.suspect).toBeUndefined();
    expect(result.evidence).toEqual({
      trials: 5,
      toleranceRule: expect.stringMatching(
        /atol = rtol = 0\.0001 for float32.*<= 1e-2 per output, in each of 5 seeded trials$/,
      ),
      maxErrorRatio: 0.02,
      referencePrecision: 'float32 (eager PyTorch, reduced-precision reductions off)',
    });
  });
});

describe.skipIf(!hasGpu)('KernelBench toolchain on a GPU', () => {
  let executor: Executor;
  const toolchain = createKernelBenchToolchain({ python: gpuPython, runLimits: { wallMs: 120_000 } });
  beforeAll(() => {
    executor = createLocalExecutor({ sandbox: gpuSandbox });
  });
  afterAll(async () => {
    await toolchain.close();
    await executor.close();
  });

  it('fingerprints the GPU the same way twice', async () => {
    const a = await gpuFingerprint(executor, { python: gpuPython });
    const b = await gpuFingerprint(executor, { python: gpuPython });
    expect(b).toEqual(a);
    expect(a.smCount).toBeGreaterThan(0);
  });

  it('judges correct, wrong, raising, unimportable and forging fp32 candidates', async () => {
    const names = ['torch_ok', 'wrong', 'tf32_wrong', 'raises', 'syntax_error', 'forges_result'];
    const candidates = await Promise.all(names.map((n) => fixture(`candidates/matmul_fp32/${n}.py`)));
    const evaluations = await toolchain.evaluateProblem({
      problemSource: await fixture('problems/matmul_fp32.py'),
      candidates,
      executor,
    });
    expect(evaluations.map((e) => e.result.errorKind)).toEqual([
      null,
      'wrong_answer',
      'wrong_answer',
      'runtime',
      'compile',
      'wrong_answer',
    ]);
    const ok = evaluations[0]!;
    expect(ok.result.samplesMs).toHaveLength(100);
    expect(ok.referenceLatencyMs).toBeGreaterThan(0);
    expect(ok.speedup).toBeGreaterThan(0);
    expect(ok.result.fingerprintKey).toBe(targetKey(ok.fingerprint));
  });

  it('times a candidate that leaves its work on a side stream as the whole of that work', async () => {
    const [evaluation] = await toolchain.evaluateProblem({
      problemSource: await fixture('problems/matmul_fp32.py'),
      candidates: [await fixture('candidates/matmul_fp32/side_stream.py')],
      executor,
    });
    expect(evaluation!.result.correct).toBe(true);
    expect(evaluation!.result.latencyMs!).toBeGreaterThan(4 * evaluation!.referenceLatencyMs!);
  });

  it('checks a result above the suspicion threshold: a one-pass win is admitted, a cached product is timed as recomputed', async () => {
    const judge = async (problem: string, candidate: string) => {
      const [evaluation] = await toolchain.evaluateProblem({
        problemSource: await fixture(`problems/${problem}.py`),
        candidates: [await fixture(`candidates/${problem}/${candidate}.py`)],
        executor,
      });
      return evaluation!;
    };
    const win = await judge('repeated_scale', 'one_pass');
    expect(win.result.correct).toBe(true);
    expect(win.result.suspect).toBeUndefined();
    expect(win.speedup!).toBeGreaterThan(10);
    expect(win.result.feedback.at(-1)).toMatch(/^checked, since its first run was [\d.]+x faster than eager PyTorch/);

    const cached = await judge('matmul_fp32_large', 'caches_by_content');
    // Its first run, on the same inputs throughout, read as tens of times faster than cuBLAS; on
    // fresh inputs it computes every product, and that is the latency it is admitted at.
    expect(cached.result.correct).toBe(true);
    expect(cached.result.suspect).toBeUndefined();
    expect(cached.result.feedback.at(-1)).toMatch(/^checked, since its first run was [\d.]+x faster/);
    expect(cached.speedup!).toBeLessThan(2);
  });

  it('rejects all zeros where every output is below the absolute tolerance', async () => {
    const problemSource = await fixture('problems/softmax_wide.py');
    const [zeros, honest] = await toolchain.evaluateProblem({
      problemSource,
      candidates: [
        await fixture('candidates/softmax_wide/zeros.py'),
        await fixture('candidates/softmax_wide/torch_ok.py'),
      ],
      executor,
    });
    expect(zeros!.result.errorKind).toBe('wrong_answer');
    expect(zeros!.result.feedback.join('\n')).toMatch(/relative L2 error/);
    expect(honest!.result.correct).toBe(true);
  });

  it('times out a hanging candidate without hanging the toolchain', async () => {
    const hanging = createKernelBenchToolchain({ python: gpuPython, runLimits: { wallMs: 30_000 } });
    const [evaluation] = await hanging.evaluateProblem({
      problemSource: await fixture('problems/matmul_fp32.py'),
      candidates: [await fixture('candidates/matmul_fp32/hangs.py')],
      executor,
    });
    expect(evaluation!.result.errorKind).toBe('timeout');
    await hanging.close();
  });

  it('runs Triton candidates: a correct bf16 matmul, a fused linear+relu and one that fails to compile', async () => {
    const bf16 = await toolchain.evaluateProblem({
      problemSource: await fixture('problems/matmul_bf16.py'),
      candidates: [
        await fixture('candidates/matmul_bf16/triton_ok.py'),
        await fixture('candidates/matmul_bf16/triton_compile_error.py'),
      ],
      executor,
    });
    expect(bf16.map((e) => e.result.errorKind)).toEqual([null, 'compile']);
    const [fused] = await toolchain.evaluateProblem({
      problemSource: await fixture('problems/linear_relu.py'),
      candidates: [await fixture('candidates/linear_relu/triton_fused_ok.py')],
      executor,
    });
    expect(fused!.result.correct).toBe(true);
  });

  it('refuses a problem that fails on its own with a clear input error', async () => {
    const error = await toolchain
      .evaluateProblem({
        problemSource: await fixture('problems/broken_problem.py'),
        candidates: [await fixture('candidates/matmul_fp32/torch_ok.py')],
        executor,
      })
      .catch((e: unknown) => e);
    expect(isSkbError(error) && error.code).toBe('BAD_INPUT');
  });

  it('evaluates a generated gemm+relu problem through the Toolchain interface', async () => {
    const candidate =
      'import torch\nimport torch.nn as nn\n\n\nclass ModelNew(nn.Module):\n    def forward(self, A, B):\n        return torch.relu(A @ B)\n';
    const [result] = await toolchain.evaluate({
      operation: { kind: 'gemm', dims: { M: 256, N: 256, K: 256 }, dtype: 'f16', epilogue: ['relu'], attrs: {} },
      candidates: [candidate],
      executor,
    });
    expect(result!.correct).toBe(true);
  });
});
