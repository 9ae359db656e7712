import { afterAll, describe, expect, it } from 'vitest';
import { parseOperation } from '../../../src/schedules/index.js';
import { createCToolchain } from '../../../src/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../../src/targets/local-executor.js';
import { createSoftmaxTemplate } from '../../../src/targets/templates/softmax-template.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import { ALL_ISA, expectTemplateContract, expectVariantsCorrect } from './knob-variants.js';

const executor = createLocalExecutor();
const toolchain = createCToolchain();
afterAll(() => executor.close());
const t = createSoftmaxTemplate({ isa: ALL_ISA });

/** Bases: the naive passes, and a fused, vectorized one with the polynomial exp. */
const BASES: Knobs[] = [
  {},
  { passes: 'online', vec: 8, acc: 2, exp: 'poly', recip: true },
  { vec: 16, acc: 4, exp: 'poly', flags: 'fast-math' },
];

describe('softmax template', () => {
  it('meets the template contract', () => {
    expectTemplateContract(t, { kind: 'softmax', dims: { M: 4, N: 1024 } });
    expectTemplateContract(t, { kind: 'softmax', dims: { M: 1, N: 1 } });
  });

  it('offers vector widths no wider than a row', () => {
    const op = parseOperation({ kind: 'softmax', dims: { M: 2, N: 6 } });
    expect(t.knobs.find((k) => k.name === 'vec')!.values(op)).toEqual([1, 4]);
    expect(t.legalize(op, { vec: 16, acc: 8 })).toMatchObject({ vec: 4, acc: 4, passes: 'three' });
  });

  for (const dims of [
    { M: 1, N: 1 },
    { M: 3, N: 7 },
    { M: 5, N: 37 },
    { M: 2, N: 1031 },
  ]) {
    it(`every knob value is correct at ${JSON.stringify(dims)}`, async () => {
      expect(await expectVariantsCorrect(toolchain, executor, t, { kind: 'softmax', dims }, BASES)).toBeGreaterThan(2);
    });
  }
});
