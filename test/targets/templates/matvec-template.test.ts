import { afterAll, describe, expect, it } from 'vitest';
import { parseOperation } from '../../../src/schedules/index.js';
import { createCToolchain } from '../../../src/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../../src/targets/local-executor.js';
import { createMatvecTemplate } from '../../../src/targets/templates/matvec-template.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import { ALL_ISA, expectTemplateContract, expectVariantsCorrect } from './knob-variants.js';

const executor = createLocalExecutor();
const toolchain = createCToolchain();
afterAll(() => executor.close());
const t = createMatvecTemplate({ isa: ALL_ISA });

/** Bases around which every knob is moved: scalar, and vector with blocking, tiling and prefetch. */
const BASES: Knobs[] = [{}, { rows: 4, vec: 8, acc: 2, ktile: 1024, prefetch: 64, restrict: true }];

describe('matvec template', () => {
  it('meets the template contract', () => {
    expectTemplateContract(t, { kind: 'matvec', dims: { M: 64, K: 2048 } });
    expectTemplateContract(t, { kind: 'matvec', dims: { M: 1, N: 1 } });
  });

  it('offers shape-dependent values and clamps knobs to them', () => {
    const op = parseOperation({ kind: 'matvec', dims: { M: 3, K: 5 } });
    expect(t.knobs.find((k) => k.name === 'rows')!.values(op)).toEqual([1, 2]);
    expect(t.knobs.find((k) => k.name === 'vec')!.values(op)).toEqual([1, 4]);
    expect(t.knobs.find((k) => k.name === 'ktile')!.values(op)).toEqual([0]);
    expect(
      t.legalize(op, { rows: 8, vec: 16, acc: 4, ktile: 4096, prefetch: 100, flags: 'fast-math', restrict: true }),
    ).toEqual({
      rows: 2,
      vec: 4,
      acc: 4,
      ktile: 0,
      prefetch: 64,
      flags: 'fast-math',
      restrict: true,
    });
    expect(
      createMatvecTemplate({ isa: [] })
        .knobs.find((k) => k.name === 'vec')!
        .values(parseOperation({ kind: 'matvec', dims: { M: 8, K: 64 } })),
    ).toEqual([1, 4]);
  });

  for (const dims of [
    { M: 1, K: 1 },
    { M: 7, K: 13 },
    { M: 13, K: 1031 },
    { M: 9, N: 4099 },
  ] as Record<string, number>[]) {
    it(`every knob value is correct at ${JSON.stringify(dims)}`, async () => {
      const n = await expectVariantsCorrect(toolchain, executor, t, { kind: 'matvec', dims }, BASES);
      expect(n).toBeGreaterThan(2);
    });
  }
});
