import { afterAll, describe, expect, it } from 'vitest';
import { parseOperation, type OperationInput } from '../../../src/schedules/index.js';
import { createCToolchain } from '../../../src/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../../src/targets/local-executor.js';
import { createConv2dTemplate } from '../../../src/targets/templates/conv2d-template.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import { ALL_ISA, expectTemplateContract, expectVariantsCorrect } from './knob-variants.js';

const executor = createLocalExecutor();
const toolchain = createCToolchain();
afterAll(() => executor.close());
const t = createConv2dTemplate({ isa: ALL_ISA });

/** Bases: naive direct, blocked direct on a padded copy, and im2col. */
const BASES: Knobs[] = [
  {},
  { kb: 4, vec: 8, owb: 2, pack: true, unroll: 3, order: 'oh_outer', ctile: 4, restrict: true },
  { algorithm: 'im2col', kb: 2, vec: 4, owb: 2, ctile: 4, ptile: 256, flags: 'fast-math' },
];

/** Ones, primes and sizes that no tile divides; stride 1 and 2, pad 0 and 1, R = S = 1 and 3, epilogues. */
const SHAPES: OperationInput[] = [
  { kind: 'conv2d', dims: { N: 1, C: 1, H: 1, W: 1, K: 1, R: 1, S: 1 } },
  {
    kind: 'conv2d',
    dims: { N: 2, C: 5, H: 7, W: 11, K: 3, R: 3, S: 3 },
    attrs: { stride: 1, pad: 1 },
    epilogue: ['bias', 'relu'],
  },
  {
    kind: 'conv2d',
    dims: { N: 1, C: 17, H: 9, W: 13, K: 7, R: 3, S: 3 },
    attrs: { stride: 2, pad: 0 },
    epilogue: ['bias'],
  },
  {
    kind: 'conv2d',
    dims: { N: 1, C: 3, H: 6, W: 19, K: 5, R: 1, S: 1 },
    attrs: { stride: 2, pad: 1 },
    epilogue: ['relu'],
  },
  { kind: 'conv2d', dims: { N: 1, C: 2, H: 23, W: 29, K: 3, R: 3, S: 3 }, attrs: { stride: 1, pad: 1 } },
];

describe('conv2d template', () => {
  it('meets the template contract', () => {
    for (const s of SHAPES) expectTemplateContract(t, s);
  });

  it('offers shape-dependent values and keeps register blocks within the register file', () => {
    const op = parseOperation({
      kind: 'conv2d',
      dims: { N: 1, C: 20, H: 5, W: 5, K: 3, R: 3, S: 3 },
      attrs: { pad: 1 },
    });
    expect(t.knobs.find((k) => k.name === 'kb')!.values(op)).toEqual([1, 2]);
    expect(t.knobs.find((k) => k.name === 'ctile')!.values(op)).toEqual([0, 4, 16]);
    expect(t.knobs.find((k) => k.name === 'unroll')!.values(op)).toEqual([1, 3]);
    expect(t.knobs.find((k) => k.name === 'vec')!.values(op)).toEqual([1, 4, 8, 16]);
    const big = parseOperation({
      kind: 'conv2d',
      dims: { N: 1, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3 },
      attrs: { pad: 1 },
    });
    expect(t.knobs.find((k) => k.name === 'ptile')!.values(op)).toEqual([0]);
    expect(t.knobs.find((k) => k.name === 'ptile')!.values(big)).toEqual([0, 256, 1024]);
    expect(t.legalize(big, { kb: 8, owb: 4, ctile: 100, ptile: 300 })).toMatchObject({
      kb: 8,
      owb: 2,
      ctile: 16,
      ptile: 256,
    });
  });

  for (const input of SHAPES) {
    it(`every knob value is correct at ${JSON.stringify(input.dims)} ${JSON.stringify(input.attrs ?? {})}`, async () => {
      expect(await expectVariantsCorrect(toolchain, executor, t, input, BASES)).toBeGreaterThan(2);
    });
  }
});
