/**
 * The Triton reduce template for KernelBench targets. Everything but the last suite runs without a
 * GPU: generated sources are compiled by the real python3 (py_compile), legalization and the moves
 * are checked over every knob value. The last suite runs reference and candidates in PyTorch on a
 * GPU (python3 with torch, Triton and CUDA) and is skipped elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { parseOperation, type Operation, type OperationInput } from '../../../src/schedules/index.js';
import { CUDA_MENU } from '../../../src/search/menus/cuda-menu.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import {
  REDUCE_FUNCTIONS,
  TRITON_REDUCE_KNOBS,
  createTritonReduceTemplate,
  reduceProblem,
  reduceTileBudget,
} from '../../../src/targets/templates/triton-reduce-template.js';
import { compareOnGpu } from '../../support/gpu-compare.js';
import { hasPython, pyCompile } from '../../support/py-compile.js';
import { hasGpuTriton } from '../../support/gpu.js';
import { startsAndEachKnobMoved } from '../../support/knob-moves.js';
import { badInput } from '../../support/bad-input.js';

const op = (input: OperationInput): Operation => parseOperation(input);
const t = createTritonReduceTemplate();

const OPS: Operation[] = [
  // I == 1: the reduced axis is the contiguous last one.
  op({ kind: 'reduce', dims: { B: 4096, R: 393216, I: 1 }, dtype: 'bf16', attrs: { reduce: 'sum', dim: -1 } }),
  op({ kind: 'reduce', dims: { B: 7, R: 5, I: 1 }, dtype: 'f32', attrs: { reduce: 'argmin', dim: 1, keepdim: 1 } }),
  // I > 1: the reduced axis is strided.
  op({ kind: 'reduce', dims: { B: 16, R: 256, I: 256 }, dtype: 'f16', attrs: { reduce: 'mean', dim: 1 } }),
  op({ kind: 'reduce', dims: { B: 1, R: 3, I: 100000 }, dtype: 'f32', attrs: { reduce: 'argmax', dim: 0 } }),
  op({ kind: 'reduce', dims: { B: 128, R: 4096, I: 3 }, dtype: 'f32', attrs: { reduce: 'max', dim: -2 } }),
  op({ kind: 'reduce', dims: { B: 2, R: 1000, I: 64 }, dtype: 'bf16', attrs: { reduce: 'min', dim: 1, keepdim: 1 } }),
];

/** The default Triton start and every knob moved to each of its legal values from it. */
function everyKnobValue(o: Operation): Knobs[] {
  return startsAndEachKnobMoved(o, [t.legalize(o, { ...t.baseline(o), impl: 'triton' })], TRITON_REDUCE_KNOBS);
}

describe('Triton reduce template: generated sources', () => {
  it('the baseline is the PyTorch call and no Triton', () => {
    const calls = {
      sum: 'torch.sum',
      mean: 'torch.mean',
      max: 'torch.amax',
      min: 'torch.amin',
      argmax: 'torch.argmax',
      argmin: 'torch.argmin',
    };
    for (const fn of REDUCE_FUNCTIONS) {
      const o = op({ kind: 'reduce', dims: { B: 8, R: 9, I: 10 }, attrs: { reduce: fn, dim: 1, keepdim: 1 } });
      const base = t.baseline(o);
      expect(base.impl).toBe('torch');
      const src = t.generate(o, base);
      expect(src).toContain(`return ${calls[fn]}(x, dim=1, keepdim=True)`);
      expect(src).toContain('def __init__(self, *args):');
      expect(src).not.toContain('triton');
    }
  });

  it('the compile implementation is the PyTorch call under torch.compile', () => {
    const o = OPS[2]!;
    const src = t.generate(o, { impl: 'compile', compile_mode: 'max-autotune' });
    expect(src).toContain('torch.compile(super().forward, mode="max-autotune")');
    expect(src).toContain('return torch.mean(x, dim=1, keepdim=False)');
    expect(src).not.toContain('triton');
  });

  it('the Triton source carries the axis, the legalized knobs and both layouts', () => {
    const o = OPS[1]!;
    const src = t.generate(o, { impl: 'triton', block_r: 64, num_warps: 16 });
    expect(src).toContain('DIM = 1\nKEEPDIM = True\nBLOCK_R = 8\nBLOCK_INNER = ');
    expect(src).toMatch(/@triton\.jit\ndef skb_reduce_rows_kernel/);
    expect(src).toMatch(/@triton\.jit\ndef skb_reduce_cols_kernel/);
    expect(src).toContain('dtype=torch.int64');
    expect(src).toContain('return skb_reduce(x)');
  });

  it.skipIf(!hasPython)('every knob value of every operation generates Python that compiles', async () => {
    const sources: string[] = [];
    for (const o of OPS) {
      sources.push(t.generate(o, t.baseline(o)), t.generate(o, { impl: 'compile' }));
      for (const k of everyKnobValue(o)) {
        const src = t.generate(o, k);
        expect(src).toContain('import triton.language as tl');
        sources.push(src);
      }
      if (o.attrs.dim === 1) sources.push(reduceProblem(o));
    }
    const compiled = await pyCompile(sources);
    expect(compiled.output).toBe('');
    expect(compiled.status).toBe(0);
  });

  it.skipIf(!hasPython)('py_compile fails on a broken file, so the check above can fail', async () => {
    const broken = t.generate(OPS[0]!, { impl: 'triton' }).replace('def skb_reduce(', 'def skb_reduce((');
    expect((await pyCompile([broken])).status).not.toBe(0);
  });

  it('the problem is the PyTorch call on a B x R x I input over dim 1', () => {
    const src = reduceProblem(OPS[2]!);
    expect(src).toContain('return torch.mean(x, dim=1, keepdim=False)');
    expect(src).toContain('return [torch.randn(16, 256, 256, dtype=torch.float16)]');
    expect(src).toContain('def get_init_inputs():\n    return []');
    expect(badInput(() => reduceProblem(OPS[0]!))).toBe(true);
  });

  it('rejects operations it cannot generate with BAD_INPUT', () => {
    const bad: OperationInput[] = [
      { kind: 'softmax', dims: { M: 8, N: 8 } },
      { kind: 'reduce', dims: { B: 8, R: 8 }, attrs: { reduce: 'sum', dim: 1 } },
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1, J: 2 }, attrs: { reduce: 'sum', dim: 1 } },
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1 }, dtype: 'f64', attrs: { reduce: 'sum', dim: 1 } },
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1 }, attrs: { dim: 1 } },
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1 }, attrs: { reduce: 'prod', dim: 1 } },
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1 }, attrs: { reduce: 'sum' } },
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1 }, attrs: { reduce: 'sum', dim: '1' } },
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1 }, attrs: { reduce: 'sum', dim: 1, keepdim: 2 } },
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1 }, attrs: { reduce: 'sum', dim: 1, other: 1 } },
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1 }, epilogue: ['relu'], attrs: { reduce: 'sum', dim: 1 } },
    ];
    for (const input of bad) {
      const o = op(input);
      expect(
        badInput(() => t.generate(o, { impl: 'triton' })),
        JSON.stringify(input),
      ).toBe(true);
      expect(
        badInput(() => t.baseline(o)),
        JSON.stringify(input),
      ).toBe(true);
    }
  });
});

describe('Triton reduce template: legalize and moves', () => {
  it('is idempotent, keeps impl "torch" only at the default Triton knobs', () => {
    for (const o of OPS) {
      const base = t.baseline(o);
      expect(t.legalize(o, base)).toEqual(base);
      expect(t.legalize(o, { impl: 'torch' })).toEqual(base);
      for (const k of everyKnobValue(o)) {
        const once = t.legalize(o, k);
        expect(t.legalize(o, once)).toEqual(once);
        for (const spec of TRITON_REDUCE_KNOBS) expect(spec.values(o)).toContain(once[spec.name]);
        const tile = (once.block_r as number) * (once.block_inner as number);
        expect(tile).toBeLessThanOrEqual(reduceTileBudget(o));
        expect((once.num_warps as number) === 1 || (once.num_warps as number) * 32 <= tile).toBe(true);
      }
    }
  });

  it('sizes blocks for the shape: block_inner is BLOCK_B for I == 1, BLOCK_I otherwise', () => {
    const blockR = TRITON_REDUCE_KNOBS.find((k) => k.name === 'block_r')!;
    const inner = TRITON_REDUCE_KNOBS.find((k) => k.name === 'block_inner')!;
    expect(blockR.values(OPS[1]!)).toEqual([8]);
    expect(blockR.values(OPS[0]!)).toContain(4096);
    expect(inner.values(OPS[1]!)).toEqual([1, 2, 4, 8]);
    expect(inner.values(OPS[4]!)).toEqual([1, 2, 4]);
    expect(inner.values(OPS[3]!)).toContain(512);
    const def = t.legalize(OPS[0]!, { impl: 'triton' });
    expect(def).toMatchObject({ impl: 'triton', block_r: 1024, block_inner: 4 });
  });

  it('moves are CUDA menu ids and reach every knob; the library option goes back to the baseline', () => {
    const ids = new Set(CUDA_MENU.options.map((o) => o.id));
    const moved = new Set<string>();
    for (const [id, knobs] of Object.entries(t.moves)) {
      expect(ids.has(id), id).toBe(true);
      for (const k of knobs ?? []) moved.add(k);
    }
    expect([...moved].sort()).toEqual(TRITON_REDUCE_KNOBS.map((k) => k.name).sort());
    const o = OPS[2]!;
    expect(t.fixedMoves?.['cuda.cublas']?.(o, { impl: 'triton' })).toEqual(t.baseline(o));
    expect(t.fixedMoves?.['cuda.triton']?.(o, t.baseline(o))).toEqual({ impl: 'triton' });
  });
});

describe.skipIf(!hasGpuTriton)('Triton reduce template on a GPU (PyTorch reference)', () => {
  const cases: { dim: number; keepdim: 0 | 1; dims: Record<string, number>; shapes: number[][] }[] = [
    // The contiguous last axis (I == 1), rows and row blocks with remainders.
    {
      dim: -1,
      keepdim: 0,
      dims: { B: 37, R: 1000, I: 1 },
      shapes: [
        [37, 1000],
        [3, 5, 77],
        [1, 5000],
      ],
    },
    // A strided middle axis (I > 1), and the first axis.
    {
      dim: 1,
      keepdim: 1,
      dims: { B: 3, R: 130, I: 45 },
      shapes: [
        [3, 130, 45],
        [2, 7, 300],
        [5, 1, 9],
      ],
    },
    {
      dim: 0,
      keepdim: 0,
      dims: { B: 1, R: 50, I: 33 },
      shapes: [
        [50, 33],
        [3, 1000],
        [9, 4, 4],
      ],
    },
  ];
  for (const fn of REDUCE_FUNCTIONS) {
    it(`${fn}: every layout and a few knob sets agree with torch`, () => {
      for (const c of cases) {
        const o = op({ kind: 'reduce', dims: c.dims, attrs: { reduce: fn, dim: c.dim, keepdim: c.keepdim } });
        const knobSets: Knobs[] = [
          { impl: 'triton' },
          { impl: 'triton', block_r: 8, block_inner: 1, num_warps: 1 },
          { impl: 'triton', block_r: 64, block_inner: 4, num_stages: 3 },
          { impl: 'triton', block_r: 256, block_inner: 64, num_warps: 8 },
        ];
        const candidates = knobSets.map((k, i) => ({ name: `cand_${i}`, source: t.generate(o, k) }));
        const reference = t.generate(o, t.baseline(o)).replace('class ModelNew(', 'class Model(');
        const out = compareOnGpu({ reference, candidates, shapes: c.shapes, tolerance: { f32: 1e-4, half: 2e-2 } });
        expect(out.startsWith('0\n'), out).toBe(true);
      }
    }, 600_000);
  }
});
