import { afterAll, describe, expect, it } from 'vitest';
import { parseOperation, type Operation, type OperationInput } from '../../../src/schedules/index.js';
import { naiveBaseline } from '../../../src/targets/c/baselines.js';
import { createCToolchain } from '../../../src/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../../src/targets/local-executor.js';
import { createBatchedGemmTemplate } from '../../../src/targets/templates/batched-gemm-template.js';
import { vectorWidths } from '../../../src/targets/templates/c-common.js';
import { createGemmTemplate } from '../../../src/targets/templates/gemm-template.js';
import type { KernelTemplate, Knobs } from '../../../src/targets/templates/template.js';
import { cpuMenu } from '../../../src/search/menus/cpu-menu.js';
import { startsAndEachKnobMoved } from '../../support/knob-moves.js';

const executor = createLocalExecutor();
const toolchain = createCToolchain();
const timing = { warmup: 0, runs: 1 };
afterAll(() => executor.close());

const AVX512 = ['sse2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'];
const gemm = createGemmTemplate({ isa: AVX512 });
const batched = createBatchedGemmTemplate({ isa: AVX512 });

/** A BLIS-like starting point with small tiles, so every knob moved from it also meets remainders. */
const BLOCKED: Knobs = {
  order: 'ijk',
  mc: 16,
  nc: 16,
  kc: 16,
  mr: 3,
  nv: 2,
  vec: 4,
  unroll: 2,
  pack: 'ab',
  prefetch: 2,
  flags: 'none',
  restrict: true,
};

/** Deterministic pseudo-random numbers (xorshift), so a failing combination can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** The baseline and the blocked start, each with one knob moved to each of its legal values. */
function everyKnobValue(t: KernelTemplate, op: Operation): Knobs[] {
  return startsAndEachKnobMoved(op, [t.baseline(op), t.legalize(op, BLOCKED)], t.knobs, []);
}

function randomKnobs(t: KernelTemplate, op: Operation, count: number, seed: number): Knobs[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => {
    const k: Knobs = {};
    for (const spec of t.knobs) {
      const values = spec.values(op);
      k[spec.name] = values[Math.floor(next() * values.length)]!;
    }
    return k;
  });
}

/** Evaluates the distinct sources for these knob sets through the real C toolchain; every one must be correct. */
async function expectAllCorrect(t: KernelTemplate, op: Operation, knobSets: Knobs[]): Promise<number> {
  const sources = new Map<string, Knobs>();
  for (const k of knobSets) {
    const legal = t.legalize(op, k);
    expect(legal).toEqual(k);
    sources.set(t.generate(op, legal), legal);
  }
  const candidates = [...sources.keys()];
  const results = await toolchain.evaluate({ operation: op, candidates, executor, timing });
  const failures = results.flatMap((r, i) =>
    r.correct
      ? []
      : [`${JSON.stringify(sources.get(candidates[i]!))}: ${r.feedback.join('; ')}\n${r.output.slice(0, 600)}`],
  );
  expect(failures).toEqual([]);
  return candidates.length;
}

describe('gemm template: knobs', () => {
  it('generates exactly the naive loop nest at the baseline knobs', () => {
    for (const input of [
      { kind: 'gemm', dims: { M: 7, N: 13, K: 31 } },
      { kind: 'gemm', dims: { M: 64, N: 64, K: 64 }, epilogue: ['bias', 'relu'] },
    ] satisfies OperationInput[]) {
      const op = parseOperation(input);
      expect(gemm.generate(op, gemm.baseline(op))).toBe(naiveBaseline(op));
    }
    const bop = parseOperation({ kind: 'batched_gemm', dims: { B: 2, M: 5, N: 6, K: 7 }, epilogue: ['bias'] });
    expect(batched.generate(bop, batched.baseline(bop))).toBe(naiveBaseline(bop));
  });

  it('offers only tiles smaller than the dimension, and vector widths the ISA has', () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 1, N: 33, K: 100 } });
    const values = (t: KernelTemplate, name: string): unknown[] => t.knobs.find((k) => k.name === name)!.values(op);
    expect(values(gemm, 'mc')).toEqual([0]);
    expect(values(gemm, 'nc')).toEqual([0, 8, 16, 24, 32]);
    expect(values(gemm, 'kc')).toEqual([0, 8, 16, 24, 32, 48, 64, 96]);
    expect(values(gemm, 'vec')).toEqual([1, 4, 8, 16]);
    expect(values(createGemmTemplate({ isa: ['sse2'] }), 'vec')).toEqual([1, 4]);
    expect(vectorWidths(['avx', 'avx2', 'fma'])).toEqual([1, 4, 8]);
    for (const spec of gemm.knobs) expect(spec.values(op)).toContain(gemm.baseline(op)[spec.name]);
  });

  it('legalizes knobs from another shape or machine to the nearest legal values', () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 20, N: 100, K: 50 } });
    const sse = createGemmTemplate({ isa: ['sse2'] });
    const legal = sse.legalize(op, { ...BLOCKED, mc: 19, nc: 90, kc: 256, vec: 16, pack: 'sideways', stray: 3 });
    // BLOCKED names no thread count: a knob set from before the threads knob ran on one core.
    expect(legal).toEqual({ ...BLOCKED, mc: 16, nc: 64, kc: 0, vec: 4, pack: 'none', threads: 1 });
    expect(sse.legalize(op, {})).toEqual(sse.baseline(op));
  });

  it('names only menu options of the CPU menu, and only its own knobs', () => {
    const ids = new Set(cpuMenu(2).options.map((o) => o.id));
    const names = new Set(gemm.knobs.map((k) => k.name));
    for (const [id, moved] of Object.entries(gemm.moves)) {
      expect(ids.has(id)).toBe(true);
      for (const name of moved ?? []) expect(names.has(name)).toBe(true);
    }
  });

  it('reads the compiler-hints knob under its old name hints, as stored schedules have it', () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });
    const { restrict: _, ...stored } = BLOCKED;
    expect(gemm.legalize(op, { ...stored, hints: true })).toEqual(gemm.legalize(op, BLOCKED));
    expect(gemm.generate(op, { ...stored, hints: true })).toBe(gemm.generate(op, BLOCKED));
    expect(gemm.legalize(op, { ...BLOCKED, hints: false }).restrict).toBe(true);
  });

  it('rejects an operation of another kind', () => {
    const op = parseOperation({ kind: 'matvec', dims: { M: 4, K: 4 } });
    expect(() => gemm.generate(op, gemm.baseline(op))).toThrow(/gemm kernels, not matvec/);
  });
});

describe('gemm template: every knob value is correct at awkward shapes (real gcc)', () => {
  const sweep: OperationInput[] = [
    { kind: 'gemm', dims: { M: 17, N: 33, K: 65 }, epilogue: ['bias', 'relu'] },
    { kind: 'gemm', dims: { M: 31, N: 13, K: 7 }, epilogue: ['relu'] },
  ];
  for (const input of sweep) {
    it(`${JSON.stringify(input.dims)} ${input.epilogue?.join('+') ?? ''}`, async () => {
      const op = parseOperation(input);
      expect(await expectAllCorrect(gemm, op, everyKnobValue(gemm, op))).toBeGreaterThan(60);
      // Over 60 kernels compiled and run one after another: more than 60 s on a loaded 2-core machine.
    }, 180_000);
  }

  const sampled: OperationInput[] = [
    { kind: 'gemm', dims: { M: 1, N: 1, K: 1 }, epilogue: ['bias', 'relu'] },
    { kind: 'gemm', dims: { M: 65, N: 17, K: 13 }, epilogue: ['bias'] },
    { kind: 'gemm', dims: { M: 7, N: 65, K: 33 } },
    { kind: 'gemm', dims: { M: 13, N: 31, K: 1 }, epilogue: ['relu'] },
  ];
  for (const [i, input] of sampled.entries()) {
    it(`random knob combinations at ${JSON.stringify(input.dims)} ${input.epilogue?.join('+') ?? ''}`, async () => {
      const op = parseOperation(input);
      await expectAllCorrect(gemm, op, [
        op.dims.M === 1 ? gemm.baseline(op) : gemm.legalize(op, BLOCKED),
        ...randomKnobs(gemm, op, 14, 1000 + i),
      ]);
    });
  }
});

describe('batched gemm template (real gcc)', () => {
  it('is correct for every knob value of the blocked start and random combinations', async () => {
    const op = parseOperation({
      kind: 'batched_gemm',
      dims: { B: 3, M: 13, N: 17, K: 31 },
      epilogue: ['bias', 'relu'],
    });
    const blocked = batched.legalize(op, BLOCKED);
    const moved = batched.knobs.flatMap((spec) => spec.values(op).map((v) => ({ ...blocked, [spec.name]: v })));
    await expectAllCorrect(batched, op, [...moved, ...randomKnobs(batched, op, 10, 77)]);
    // About 50 kernels compiled and run one after another: a loaded 2-core machine needs more than
    // the default 60 s.
  }, 180_000);

  it('is correct with a batch of one and prime sizes', async () => {
    const op = parseOperation({ kind: 'batched_gemm', dims: { B: 1, M: 7, N: 1, K: 13 }, epilogue: ['bias'] });
    await expectAllCorrect(batched, op, randomKnobs(batched, op, 8, 5));
  });
});

describe('gemm template on narrower ISAs', () => {
  it('16-wide vector code compiles and is correct when built for SSE2 or AVX2 only', async () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 13, N: 33, K: 17 }, epilogue: ['bias', 'relu'] });
    const sources = [
      gemm.generate(op, { ...BLOCKED, vec: 16, nv: 2, mr: 6 }),
      gemm.generate(op, { ...BLOCKED, vec: 8, nv: 3, pack: 'b', mc: 0 }),
      gemm.generate(op, { ...BLOCKED, vec: 16, nv: 1, pack: 'none', prefetch: 4 }),
    ];
    for (const cflags of [
      ['-O3', '-march=x86-64'],
      ['-O3', '-march=haswell'],
    ]) {
      const narrow = createCToolchain({ cflags });
      const results = await narrow.evaluate({ operation: op, candidates: sources, executor, timing });
      expect(results.map((r) => r.feedback[0])).toEqual(results.map((r) => (r.correct ? r.feedback[0] : 'correct')));
      expect(results.every((r) => r.correct)).toBe(true);
    }
  });
});
