import { afterAll, describe, expect, it } from 'vitest';
import { parseOperation, targetKey, type OperationInput } from '../../src/schedules/index.js';
import { naiveBaseline } from '../../src/targets/c/baselines.js';
import { createCToolchain } from '../../src/targets/c/c-toolchain.js';
import { entryPointFor } from '../../src/targets/c/entry-points.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import { CandidateResultSchema } from '../../src/targets/toolchain.js';

const executor = createLocalExecutor();
const toolchain = createCToolchain();
const timing = { warmup: 1, runs: 3 };
afterAll(() => executor.close());

/** Small awkward shapes: ones and primes, so no kernel gets away with assuming multiples of 4. */
const CASES: OperationInput[] = [
  { kind: 'gemm', dims: { M: 1, N: 1, K: 1 } },
  { kind: 'gemm', dims: { M: 7, N: 13, K: 31 } },
  { kind: 'gemm', dims: { M: 5, N: 3, K: 17 }, epilogue: ['bias', 'relu'] },
  { kind: 'batched_gemm', dims: { B: 3, M: 5, N: 7, K: 11 }, epilogue: ['bias'] },
  { kind: 'conv2d', dims: { N: 2, C: 3, H: 7, W: 5, K: 4, R: 3, S: 3 }, attrs: { stride: 2, pad: 1 } },
  { kind: 'conv2d', dims: { N: 1, C: 1, H: 1, W: 1, K: 1, R: 1, S: 1 }, epilogue: ['relu'] },
  { kind: 'matvec', dims: { M: 13, K: 1 } },
  { kind: 'matvec', dims: { M: 1, N: 97 } },
  { kind: 'softmax', dims: { M: 3, N: 1 } },
  { kind: 'softmax', dims: { M: 2, N: 257 } },
  { kind: 'layernorm', dims: { M: 5, N: 17 } },
  { kind: 'layernorm', dims: { M: 1, N: 1 } },
];

describe('C toolchain: the naive baselines match the references', () => {
  for (const input of CASES) {
    it(`${input.kind} ${JSON.stringify(input.dims)} ${input.epilogue?.join('+') ?? ''}`, async () => {
      const operation = parseOperation(input);
      const [r] = await toolchain.evaluate({ operation, candidates: [naiveBaseline(operation)], executor, timing });
      expect(CandidateResultSchema.parse(r)).toEqual(r);
      expect(r!.errorKind, r!.output).toBeNull();
      expect(r!.correct).toBe(true);
      expect(r!.samplesMs).toHaveLength(3);
      expect(r!.latencyMs).toBeGreaterThan(0);
      expect(r!.feedback.join('\n')).toMatch(
        /GFLOP\/s = .*% of this machine's measured single-core f32 FMA peak of \d+ GFLOP\/s/,
      );
      expect(r!.fingerprintKey).toBe(targetKey(await toolchain.fingerprint(executor)));
    });
  }
});

describe('C toolchain: results', () => {
  it('catches a kernel that drops one term of the reduction, at a large K', async () => {
    const operation = parseOperation({ kind: 'gemm', dims: { M: 8, N: 8, K: 4096 } });
    const dropsLast = naiveBaseline(operation).replace(
      'for (int k = 0; k < K; k++)',
      'for (int k = 0; k < K - 1; k++)',
    );
    expect(dropsLast).not.toBe(naiveBaseline(operation));
    const [wrong, right] = await toolchain.evaluate({
      operation,
      candidates: [dropsLast, naiveBaseline(operation)],
      executor,
      timing,
    });
    expect(wrong!.errorKind).toBe('wrong_answer');
    expect(wrong!.correct).toBe(false);
    expect(wrong!.latencyMs).toBeNull();
    expect(wrong!.feedback[0]).toMatch(/wrong answer at output element \d+: got .*, expected/);
    expect(right!.correct).toBe(true);
  });

  it('ignores result lines the candidate prints itself', async () => {
    const operation = parseOperation({ kind: 'matvec', dims: { M: 4, K: 4 } });
    const forged = `#include <stdio.h>
#include <stdlib.h>
void kernel(int M, int K, const float *A, const float *x, float *y) {
  printf("\\nSKB_RESULT {\\"correct\\":true,\\"maxErrRatio\\":0,\\"firstBad\\":null,\\"got\\":null,\\"expected\\":null,\\"reps\\":1,\\"samplesMs\\":[0.000001],\\"flushed\\":false}\\n");
  printf("\\nSKB_RESULT 00000000000000000000000000000000 {\\"correct\\":true,\\"maxErrRatio\\":0,\\"firstBad\\":null,\\"got\\":null,\\"expected\\":null,\\"reps\\":1,\\"samplesMs\\":[0.000001],\\"flushed\\":false}\\n");
  fflush(stdout);
  exit(0);
}
`;
    const [r] = await toolchain.evaluate({ operation, candidates: [forged], executor, timing });
    expect(r!.correct).toBe(false);
    expect(r!.errorKind).toBe('runtime');
    expect(r!.feedback[0]).toMatch(/without reporting a result/);
  });

  it('returns one result per candidate, in order, compiling them in parallel', async () => {
    const operation = parseOperation({ kind: 'softmax', dims: { M: 4, N: 33 } });
    const good = naiveBaseline(operation);
    const candidates = [
      good,
      'not C at all',
      good,
      'void kernel(int M, int N, const float *x, float *y) { for (int i = 0; i < M * N; i++) y[i] = 0; }',
    ];
    const results = await toolchain.evaluate({ operation, candidates, executor, timing });
    expect(results.map((r) => r.errorKind)).toEqual([null, 'compile', null, 'wrong_answer']);
  });

  it('refuses operations it has no entry point for, with a clear message', async () => {
    await expect(
      toolchain.evaluate({
        operation: parseOperation({ kind: 'custom:scan', dims: { N: 8 } }),
        candidates: [''],
        executor,
      }),
    ).rejects.toThrow(/no entry point for "custom:scan"/);
    expect(() => entryPointFor(parseOperation({ kind: 'gemm', dims: { M: 2, N: 2, K: 2 }, dtype: 'f16' }))).toThrow(
      /f32/,
    );
    expect(() => entryPointFor(parseOperation({ kind: 'gemm', dims: { M: 2, N: 2 } }))).toThrow(/dimension K/);
  });

  it('stops evaluating when aborted', async () => {
    const operation = parseOperation({ kind: 'gemm', dims: { M: 4, N: 4, K: 4 } });
    const controller = new AbortController();
    const slow =
      '#include <unistd.h>\nvoid kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C) { sleep(30); }\n';
    const pending = toolchain.evaluate({ operation, candidates: [slow], executor, signal: controller.signal, timing });
    setTimeout(() => controller.abort(), 1500);
    await expect(pending).rejects.toThrow();
  });

  it('passes a self-check on this machine', async () => {
    const check = await toolchain.selfCheck(executor);
    expect(check).toEqual({ ok: true, output: 'self-check 42' });
    const broken = createCToolchain({ cc: 'no-such-compiler' });
    expect((await broken.selfCheck(executor)).ok).toBe(false);
  });
});

describe('C toolchain: adaptive timing', () => {
  const operation = parseOperation({ kind: 'gemm', dims: { M: 48, N: 40, K: 56 } });
  const naive = naiveBaseline(operation);
  const timeOnce = async (timingOverride: Record<string, number>, stopAboveMs?: number) => {
    const [r] = await toolchain.evaluate({
      operation,
      candidates: [naive],
      executor,
      timing: timingOverride,
      ...(stopAboveMs !== undefined ? { stopAboveMs } : {}),
    });
    expect(r!.correct, r!.output).toBe(true);
    return r!;
  };

  it('takes every run up to the cap when the runs are never called stable and the budget is ample', async () => {
    const r = await timeOnce({ warmup: 0, runs: 7, minRuns: 3, stableSpreadPct: 0, budgetMs: 600_000 });
    expect(r.samplesMs).toHaveLength(7);
    expect(r.timingStop).toBe('cap');
  });

  it('stops at the fewest runs once the budget is spent', async () => {
    const r = await timeOnce({ warmup: 0, runs: 50, minRuns: 4, stableSpreadPct: 0, budgetMs: 0 });
    expect(r.samplesMs).toHaveLength(4);
    expect(r.timingStop).toBe('budget');
  });

  it('stops as soon as the runs agree within the spread it was given', async () => {
    const r = await timeOnce({ warmup: 0, runs: 50, minRuns: 3, stableSpreadPct: 100, budgetMs: 600_000 });
    expect(r.samplesMs).toHaveLength(3);
    expect(r.timingStop).toBe('stable');
  });

  it('stops after one run a candidate far slower than it may be, and says so in its feedback', async () => {
    const r = await timeOnce({ warmup: 0, runs: 50, stableSpreadPct: 0, budgetMs: 600_000 }, 1e-9);
    expect(r.samplesMs).toHaveLength(1);
    expect(r.timingStop).toBe('slower');
    expect(r.latencyMs).toBeGreaterThan(0);
    expect(r.feedback[0]).toMatch(/timing stopped after 1 run: even the fastest .* is slower than/);
  });

  it('times a candidate under the threshold as usual', async () => {
    const r = await timeOnce({ warmup: 0, runs: 5, stableSpreadPct: 0, budgetMs: 600_000 }, 1e6);
    expect(r.samplesMs).toHaveLength(5);
    expect(r.timingStop).toBe('cap');
  });

  it('refuses out-of-range settings, naming every one that is wrong', async () => {
    const err = await toolchain
      .evaluate({
        operation,
        candidates: [naive],
        executor,
        timing: { minRuns: 2, budgetMs: -1, stableSpreadPct: 101 },
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_INPUT' });
    expect(String((err as Error).message)).toMatch(
      /minRuns from 3.*budgetMs from 0 to 600000.*stableSpreadPct from 0 to 100/,
    );
  });
});
