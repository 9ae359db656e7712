import { afterAll, describe, expect, it } from 'vitest';
import { parseOperation } from '../../../src/schedules/index.js';
import { createCToolchain } from '../../../src/targets/c/c-toolchain.js';
import { entryPointFor } from '../../../src/targets/c/entry-points.js';
import { createLocalExecutor } from '../../../src/targets/local-executor.js';
import { createLayernormTemplate } from '../../../src/targets/templates/layernorm-template.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import { ALL_ISA, expectTemplateContract, expectVariantsCorrect } from './knob-variants.js';

const executor = createLocalExecutor();
const toolchain = createCToolchain();
afterAll(() => executor.close());
const t = createLayernormTemplate({ isa: ALL_ISA });

/** Bases: the naive passes, and a one-pass vectorized one. */
const BASES: Knobs[] = [
  {},
  { stats: 'one_pass', vec: 8, acc: 2, restrict: true },
  { vec: 16, acc: 4, flags: 'unroll-loops,fast-math' },
];

describe('layernorm template', () => {
  it('meets the template contract', () => {
    expectTemplateContract(t, { kind: 'layernorm', dims: { M: 4, N: 1024 } });
    expectTemplateContract(t, { kind: 'layernorm', dims: { M: 1, N: 1 } });
  });

  it('is the C toolchain layer norm: weight and bias at eps 1e-5, RMS and other forms refused', () => {
    const plain = { kind: 'layernorm', dims: { M: 2, N: 9 } };
    expect(entryPointFor(parseOperation(plain)).kind).toBe('layernorm');
    expect(
      entryPointFor(parseOperation({ ...plain, attrs: { rms: 0, affine: 1, eps: '1e-5', weight: 'ln.weight' } })).kind,
    ).toBe('layernorm');
    for (const attrs of [{ rms: 1 }, { affine: 0 }, { eps: '1e-6' }])
      expect(() => entryPointFor(parseOperation({ ...plain, attrs }))).toThrow(/Triton templates on KernelBench/);
    expect(() =>
      entryPointFor(parseOperation({ kind: 'layernorm', dims: { B: 2, R: 9, I: 3 }, attrs: { affine: 0, dim: 1 } })),
    ).toThrow(/dimension M/);
  });

  it('offers vector widths no wider than a row', () => {
    const op = parseOperation({ kind: 'layernorm', dims: { M: 2, N: 9 } });
    expect(t.knobs.find((k) => k.name === 'vec')!.values(op)).toEqual([1, 4, 8]);
    expect(t.legalize(op, { vec: 16, stats: 'three_pass' })).toMatchObject({ vec: 8, stats: 'two_pass' });
  });

  for (const dims of [
    { M: 1, N: 1 },
    { M: 3, N: 7 },
    { M: 5, N: 37 },
    { M: 2, N: 1031 },
  ]) {
    it(`every knob value is correct at ${JSON.stringify(dims)}`, async () => {
      expect(await expectVariantsCorrect(toolchain, executor, t, { kind: 'layernorm', dims }, BASES)).toBeGreaterThan(
        2,
      );
    });
  }
});
