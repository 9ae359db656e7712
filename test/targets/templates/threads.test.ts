/**
 * A target whose candidates may use several cores: the threads knob of the gemm, batched gemm and
 * conv2d templates, the toolchain's OpenMP build and caps, the fingerprint's thread count, the
 * parallelization menu option, and the targets file's `threads` entry. Kernels run on the real
 * C toolchain with two threads; the correctness checks skip on a single-core machine.
 */
import { availableParallelism } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { CPU_MENU, cpuMenu, menuFor } from '../../../src/search/menus/index.js';
import { parseOperation, targetFamily, targetKey, type Operation } from '../../../src/schedules/index.js';
import { createCToolchain } from '../../../src/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../../src/targets/local-executor.js';
import { parseTargetsFile } from '../../../src/targets/targets-file.js';
import { createBatchedGemmTemplate } from '../../../src/targets/templates/batched-gemm-template.js';
import { createConv2dTemplate } from '../../../src/targets/templates/conv2d-template.js';
import { createGemmTemplate } from '../../../src/targets/templates/gemm-template.js';
import type { KernelTemplate, Knobs } from '../../../src/targets/templates/template.js';
import { ALL_ISA } from './knob-variants.js';

const executor = createLocalExecutor();
afterAll(() => executor.close());
const twoCores = availableParallelism() >= 2;
const toolchain = createCToolchain({ threads: 2 });
const timing = { warmup: 0, runs: 1 };

const gemm = createGemmTemplate({ isa: ALL_ISA, threads: 2 });
const batched = createBatchedGemmTemplate({ isa: ALL_ISA, threads: 2 });
const conv2d = createConv2dTemplate({ isa: ALL_ISA, threads: 2 });

/** Deterministic random knob sets with `threads: 2`, so a failing one can be reproduced. */
function randomKnobs(t: KernelTemplate, op: Operation, count: number, seed: number): Knobs[] {
  let s = seed;
  const next = (): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  return Array.from({ length: count }, () => {
    const k: Knobs = {};
    for (const spec of t.knobs) {
      const values = spec.values(op);
      k[spec.name] = values[Math.floor(next() * values.length)]!;
    }
    return t.legalize(op, { ...k, threads: 2 });
  });
}

/** Every knob of `t` at every value, from the baseline moved to two threads. */
function everyValueOnTwoThreads(t: KernelTemplate, op: Operation): Knobs[] {
  const base = { ...t.baseline(op), threads: 2 };
  return t.knobs.flatMap((spec) => spec.values(op).map((v) => t.legalize(op, { ...base, [spec.name]: v, threads: 2 })));
}

async function expectCorrect(t: KernelTemplate, op: Operation, knobSets: Knobs[]): Promise<void> {
  const sources = [...new Set(knobSets.map((k) => t.generate(op, k)))];
  for (const source of sources) expect(source).toContain('num_threads(2)');
  const results = await toolchain.evaluate({ operation: op, candidates: sources, executor, timing });
  const failures = results.flatMap((r, i) =>
    r.correct ? [] : [`${r.feedback.join('; ')}\n${r.output.slice(0, 400)}\n${sources[i]!.slice(0, 200)}`],
  );
  expect(failures).toEqual([]);
}

describe('threads knob', () => {
  it('has the one value 1 on a single-threaded target, and 1, powers of two and the allowance above', () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });
    const values = (t: KernelTemplate): unknown[] => t.knobs.find((k) => k.name === 'threads')!.values(op);
    expect(values(createGemmTemplate({ isa: ALL_ISA }))).toEqual([1]);
    expect(values(createGemmTemplate({ isa: ALL_ISA, threads: 12 }))).toEqual([1, 2, 4, 8, 12]);
    expect(gemm.baseline(op).threads).toBe(1);
    // A schedule from a bigger machine is re-fitted to this allowance.
    expect(gemm.legalize(op, { ...gemm.baseline(op), threads: 16 }).threads).toBe(2);
    // On one thread the code is the single-threaded code, with no OpenMP in it.
    expect(createGemmTemplate({ isa: ALL_ISA }).generate(op, gemm.baseline(op))).not.toContain('omp');
  });

  it('parallelize moves straight to every core', () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });
    for (const t of [gemm, batched, conv2d]) {
      expect(t.moves['cpu.parallelize']).toEqual(['threads']);
      expect(t.composites?.['cpu.parallelize']?.(op)).toEqual([{ threads: 2 }]);
    }
    expect(createGemmTemplate({ isa: ALL_ISA }).composites?.['cpu.parallelize']).toBeUndefined();
    // The packed micro-kernel runs on every core the target allows, and on one core elsewhere.
    const conv = parseOperation({ kind: 'conv2d', dims: { N: 1, C: 8, H: 8, W: 8, K: 8, R: 3, S: 3 } });
    for (const [t, o] of [
      [gemm, op],
      [conv2d, conv],
    ] as const) {
      const sets = t.composites?.['cpu.micro_kernel']?.(o) ?? [];
      expect(sets.length).toBeGreaterThan(0);
      expect(sets.every((k) => k.threads === 2)).toBe(true);
    }
    const single = createGemmTemplate({ isa: ALL_ISA }).composites?.['cpu.micro_kernel']?.(op) ?? [];
    expect(single.some((k) => 'threads' in k)).toBe(false);
  });

  it.runIf(twoCores)(
    'gemm on two threads is correct for every knob value and random sets, with remainders',
    async () => {
      for (const dims of [
        { M: 37, N: 29, K: 19 },
        { M: 3, N: 17, K: 5 },
      ]) {
        const op = parseOperation({ kind: 'gemm', dims, epilogue: ['bias', 'relu'] });
        await expectCorrect(gemm, op, [...everyValueOnTwoThreads(gemm, op), ...randomKnobs(gemm, op, 12, dims.M)]);
      }
    },
    240_000,
  );

  it.runIf(twoCores)(
    'batched gemm on two threads is correct with fewer and more batches than threads',
    async () => {
      for (const dims of [
        { B: 1, M: 23, N: 19, K: 13 },
        { B: 5, M: 9, N: 21, K: 11 },
      ]) {
        const op = parseOperation({ kind: 'batched_gemm', dims, epilogue: ['bias'] });
        await expectCorrect(batched, op, randomKnobs(batched, op, 16, dims.B + 7));
      }
    },
    240_000,
  );

  it.runIf(twoCores)(
    'conv2d on two threads is correct for every knob value and random sets',
    async () => {
      const op = parseOperation({
        kind: 'conv2d',
        dims: { N: 1, C: 5, H: 11, W: 9, K: 7, R: 3, S: 3 },
        attrs: { stride: 2, pad: 1 },
        epilogue: ['bias', 'relu'],
      });
      await expectCorrect(conv2d, op, [...everyValueOnTwoThreads(conv2d, op), ...randomKnobs(conv2d, op, 12, 3)]);
    },
    240_000,
  );
});

describe('a target with threads', () => {
  it.runIf(twoCores)('records the thread count in its fingerprint, which makes it another family', async () => {
    const single = await createCToolchain().fingerprint(executor);
    const two = await toolchain.fingerprint(executor);
    const all = await createCToolchain({ threads: 'all' }).fingerprint(executor);
    expect(single.kind === 'cpu' && single.threads).toBe(undefined);
    expect(two).toMatchObject({ kind: 'cpu', threads: 2 });
    expect(all).toMatchObject({ kind: 'cpu', threads: availableParallelism() });
    expect(targetFamily(two)).not.toBe(targetFamily(single));
    expect(targetKey(two)).not.toBe(targetKey(single));
    // One thread asked for explicitly is the single-threaded target schedules were measured on.
    expect(targetKey(await createCToolchain({ threads: 1 }).fingerprint(executor))).toBe(targetKey(single));
  });

  it('refuses more threads than the machine has cores, naming the fix', async () => {
    await expect(createCToolchain({ threads: 4096 }).fingerprint(executor)).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/threads: 4096.*"all"/),
    });
  });

  it.runIf(twoCores)('caps a candidate that asks OpenMP for more threads than the allowance', async () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 4, N: 4, K: 4 } });
    // Correct only while OpenMP hands it at most two threads: it counts the threads its 64-thread
    // region got, and writes zeros (a wrong product) if that is more than the allowance.
    const greedy = `#include <omp.h>
void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C) {
  (void)bias;
  for (int i = 0; i < M * N; i++) C[i] = 0.0f;
  int used = 0;
#pragma omp parallel num_threads(64)
  {
#pragma omp single
    used = omp_get_num_threads();
  }
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      float s = 0.0f;
      for (int k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
      C[i * N + j] = used <= 2 ? s : 0.0f;
    }
}
`;
    const [result] = await toolchain.evaluate({ operation: op, candidates: [greedy], executor, timing });
    expect(result!.feedback.join('; ')).not.toMatch(/incorrect|mismatch/i);
    expect(result!.correct).toBe(true);
  });

  it('offers parallelization in the menu only above one thread, and states the allowance', () => {
    expect(CPU_MENU.options.map((o) => o.id)).not.toContain('cpu.parallelize');
    expect(CPU_MENU.rules.join(' ')).toMatch(/single-threaded/);
    const menu = cpuMenu(2);
    expect(menu.options.map((o) => o.id)).toContain('cpu.parallelize');
    expect(menu.rules.join(' ')).toMatch(/up to 2 threads.*SKB_THREADS/);
    expect(menu.rules.join(' ')).not.toMatch(/single-threaded/);
    expect(menuFor('c', { threads: 2 })).toEqual(menu);
    expect(menuFor('c')).toBe(CPU_MENU);
  });

  it('reads threads from the targets file: "all" or a whole number, nothing else', () => {
    const entry = (threads: unknown) => ({
      targets: [{ id: 'box', executor: { kind: 'local' }, toolchain: { kind: 'c', threads } }],
    });
    expect(parseTargetsFile(entry('all')).targets[0]!.toolchain).toMatchObject({ threads: 'all' });
    expect(parseTargetsFile(entry(4)).targets[0]!.toolchain).toMatchObject({ threads: 4 });
    expect(() => parseTargetsFile(entry(0))).toThrow(/targets\.0\.toolchain\.threads/);
    expect(() => parseTargetsFile(entry('many'))).toThrow(/targets\.0\.toolchain\.threads/);
    expect(() => parseTargetsFile(entry(2.5))).toThrow(/whole number/);
  });
});
