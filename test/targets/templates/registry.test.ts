import { describe, expect, it } from 'vitest';
import { parseOperation, type OperationInput } from '../../../src/schedules/index.js';
import { naiveBaseline } from '../../../src/targets/c/baselines.js';
import { C_KINDS } from '../../../src/targets/c/entry-points.js';
import { hasTemplate, templateFor } from '../../../src/targets/templates/index.js';

const SAMPLE: Record<(typeof C_KINDS)[number], OperationInput> = {
  gemm: { kind: 'gemm', dims: { M: 8, N: 8, K: 8 } },
  batched_gemm: { kind: 'batched_gemm', dims: { B: 2, M: 8, N: 8, K: 8 } },
  conv2d: { kind: 'conv2d', dims: { N: 1, C: 4, H: 8, W: 8, K: 4, R: 3, S: 3 }, attrs: { pad: 1 } },
  matvec: { kind: 'matvec', dims: { M: 8, K: 8 } },
  softmax: { kind: 'softmax', dims: { M: 8, N: 8 } },
  layernorm: { kind: 'layernorm', dims: { M: 8, N: 8 } },
};

describe('template registry', () => {
  it('has a template for every kind of the C toolchain, whose baseline is the naive loop nest', () => {
    for (const kind of C_KINDS) {
      expect(hasTemplate(kind)).toBe(true);
      const t = templateFor(kind, { isa: ['avx2', 'fma'] });
      expect(t.kind).toBe(kind);
      const op = parseOperation(SAMPLE[kind]);
      expect(t.generate(op, t.baseline(op))).toBe(naiveBaseline(op));
    }
  });

  it('builds vector widths from the ISA it is given', () => {
    const op = parseOperation(SAMPLE.softmax);
    const widths = (isa: string[]): unknown =>
      templateFor('softmax', { isa })
        .knobs.find((k) => k.name === 'vec')!
        .values(op);
    expect(widths([])).toEqual([1, 4]);
    expect(widths(['avx2'])).toEqual([1, 4, 8]);
    expect(widths(['avx512f', 'avx2'])).toEqual([1, 4, 8]);
    expect(widths(['avx512f', 'avx2'])).not.toContain(16);
    const wide = parseOperation({ kind: 'softmax', dims: { M: 1, N: 64 } });
    expect(
      templateFor('softmax', { isa: ['avx512f'] })
        .knobs.find((k) => k.name === 'vec')!
        .values(wide),
    ).toEqual([1, 4, 16]);
  });

  it('refuses kinds without a template with a clear error', () => {
    expect(hasTemplate('custom:attention')).toBe(false);
    expect(() => templateFor('custom:attention', { isa: [] })).toThrow(
      /no kernel template for "custom:attention".*gemm, batched_gemm, conv2d/,
    );
  });
});
