/**
 * The Triton layernorm / RMS norm template for KernelBench targets. Everything but the last suite
 * runs without a GPU: generated sources are compiled by the real python3 (py_compile), legalization
 * and the moves are checked over every knob value. The last suite runs reference and candidates in
 * PyTorch on a GPU (python3 with torch, Triton and CUDA) and is skipped elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { parseOperation, type Operation, type OperationInput } from '../../../src/schedules/index.js';
import { CUDA_MENU } from '../../../src/search/menus/cuda-menu.js';
import { kernelBenchProblemFor } from '../../../src/targets/kernelbench/problems.js';
import { gpuTemplateFor } from '../../../src/targets/templates/index.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import {
  ROW_KERNEL_MAX,
  TRITON_LAYERNORM_KNOBS,
  createTritonLayernormTemplate,
  layernormProblem,
} from '../../../src/targets/templates/triton-layernorm-template.js';
import { compareOnGpu } from '../../support/gpu-compare.js';
import { hasGpuTriton } from '../../support/gpu.js';
import { startsAndEachKnobMoved } from '../../support/knob-moves.js';
import { hasPython, pyCompile } from '../../support/py-compile.js';
import { badInput } from '../../support/bad-input.js';

const op = (input: OperationInput): Operation => parseOperation(input);
const t = createTritonLayernormTemplate();

const OPS: Operation[] = [
  // KernelBench 40_LayerNorm: few rows of 4M elements, nn.LayerNorm's parameters.
  op({
    kind: 'layernorm',
    dims: { M: 16, N: 4194304 },
    attrs: { shape: '64,256,256', weight: 'ln.weight', bias: 'ln.bias' },
  }),
  // KernelBench 36_RMSNorm_: columns of 64 features.
  op({ kind: 'layernorm', dims: { B: 112, R: 64, I: 262144 }, attrs: { rms: 1, affine: 0, dim: 1 } }),
  op({ kind: 'layernorm', dims: { M: 4096, N: 768 }, dtype: 'bf16', attrs: { eps: '1e-6' } }),
  op({ kind: 'layernorm', dims: { M: 1000, N: 10000 }, dtype: 'f16', attrs: { rms: 1 } }),
  op({ kind: 'layernorm', dims: { M: 7, N: 33 }, attrs: { affine: 0 } }),
  op({ kind: 'layernorm', dims: { B: 3, R: 5000, I: 40 }, attrs: { affine: 0, dim: 1 } }),
];

/** The default start, the row and loop kernels (two-pass too), and every knob moved to each legal value from each. */
function everyKnobValue(o: Operation): Knobs[] {
  const start = t.legalize(o, { ...t.baseline(o), impl: 'triton' });
  const starts = [
    start,
    t.legalize(o, { ...start, variant: 'row' }),
    t.legalize(o, { ...start, variant: 'loop', stats: 'two_pass' }),
  ];
  return startsAndEachKnobMoved(o, starts, TRITON_LAYERNORM_KNOBS);
}

describe('Triton layernorm template: generated sources', () => {
  it('the baseline is the PyTorch lines with the parameters under the reference names, and no Triton', () => {
    const ln = t.generate(OPS[0]!, t.baseline(OPS[0]!));
    expect(t.baseline(OPS[0]!).impl).toBe('torch');
    expect(ln).toContain(
      'return torch.nn.functional.layer_norm(x, (64, 256, 256), self.ln.weight, self.ln.bias, 0.00001)',
    );
    expect(ln).toContain('self.ln = nn.Module()\n        self.ln.weight = nn.Parameter(');
    expect(ln).toContain('self.ln.bias = nn.Parameter(0.5 * torch.randn((64, 256, 256), dtype=torch.float32))');
    expect(ln).not.toContain('triton');
    const rms = t.generate(OPS[1]!, t.baseline(OPS[1]!));
    expect(rms).toContain(
      'rms = torch.sqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 0.00001)\n        return x / rms',
    );
    expect(rms).not.toContain('nn.Parameter');
    const weighted = t.generate(OPS[3]!, t.baseline(OPS[3]!));
    expect(weighted).toContain('return x / rms * self.weight');
    expect(weighted).not.toContain('self.bias');
    expect(t.generate(OPS[2]!, t.baseline(OPS[2]!))).toContain('self.weight, self.bias, 0.000001)');
    expect(t.generate(OPS[4]!, t.baseline(OPS[4]!))).toContain('layer_norm(x, (33,), None, None, 0.00001)');
    expect(t.generate(OPS[5]!, t.baseline(OPS[5]!))).toContain('return (x - mean) / torch.sqrt(var + 0.00001)');
  });

  it('the compile implementation is the PyTorch lines under torch.compile, parameters included', () => {
    const src = t.generate(OPS[0]!, { impl: 'compile' });
    expect(src).toContain('torch.compile(super().forward)');
    expect(src).toContain('self.ln.weight = nn.Parameter(');
    expect(src).not.toContain('triton');
  });

  it('the Triton source has the kernels of its form, the legalized knobs and the parameters it reads', () => {
    const rows = t.generate(OPS[0]!, { impl: 'triton', variant: 'loop', split: 8, block_n: 1024, num_warps: 1 });
    expect(rows).toContain('VARIANT = "loop"\nBLOCK_N = 1024\nBLOCK_INNER = 1\nSPLIT = 8\nNUM_WARPS = 2\n');
    for (const kernel of ['rows', 'loop', 'part_stats', 'part_norm'])
      expect(rows).toMatch(new RegExp(`@triton\\.jit\\ndef skb_ln_${kernel}_kernel`));
    expect(rows).toContain('NORMALIZED_SHAPE = (64, 256, 256)\nEPS = 0.00001');
    expect(rows).toContain('return skb_layernorm(x, self.ln.weight, self.ln.bias)');
    expect(rows).toContain('self.ln.weight = nn.Parameter(');
    expect(rows).toContain('mean += delta / tl.maximum(cnt_new, 1.0)');
    const twoPass = t.generate(OPS[0]!, { impl: 'triton', variant: 'loop', stats: 'two_pass' });
    expect(twoPass).toContain('d = tl.where(mask, v - part_mean, 0.0)');
    expect(twoPass).not.toContain('cnt_new');
    const cols = t.generate(OPS[1]!, { impl: 'triton' });
    expect(cols).toMatch(/@triton\.jit\ndef skb_ln_cols_kernel/);
    expect(cols).toMatch(/@triton\.jit\ndef skb_ln_cols_loop_kernel/);
    expect(cols).toContain('DIM = 1\n');
    expect(cols).toContain('return skb_layernorm(x)');
    expect(cols).not.toContain('SPLIT');
    // RMS: the sum of squares only, no mean subtracted, no bias read.
    expect(cols).toContain('q += v * v');
    const rmsRows = t.generate(OPS[3]!, { impl: 'triton' });
    expect(rmsRows).toContain('    d = v\n');
    expect(rmsRows).toContain('tl.load(w_ptr + cols');
    expect(rmsRows).not.toContain('b_ptr + cols');
    expect(rmsRows).toContain('return skb_layernorm(x, self.weight)');
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
    }
    sources.push(...[0, 1, 2, 3, 4, 5].map((i) => layernormProblem(OPS[i]!)));
    const compiled = await pyCompile(sources);
    expect(compiled.output).toBe('');
    expect(compiled.status).toBe(0);
  });

  it.skipIf(!hasPython)('py_compile fails on a broken file, so the check above can fail', async () => {
    const broken = t.generate(OPS[0]!, { impl: 'triton' }).replace('def skb_layernorm(', 'def skb_layernorm((');
    expect((await pyCompile([broken])).status).not.toBe(0);
  });

  it('the problem is the PyTorch lines on the input of its form, the KernelBench toolchain writes it', () => {
    const rows = layernormProblem(OPS[0]!);
    expect(rows).toContain('return [torch.randn(16, 64, 256, 256, dtype=torch.float32)]');
    expect(rows).toContain('class Model(nn.Module):');
    expect(rows).toContain('self.ln.bias = nn.Parameter(');
    expect(layernormProblem(OPS[1]!)).toContain('return [torch.randn(112, 64, 262144, dtype=torch.float32)]');
    expect(kernelBenchProblemFor(OPS[2]!)).toBe(layernormProblem(OPS[2]!));
    expect(gpuTemplateFor('layernorm')?.kind).toBe('layernorm');
  });

  it('rejects operations it cannot generate with BAD_INPUT', () => {
    const bad: OperationInput[] = [
      { kind: 'softmax', dims: { M: 8, N: 8 } },
      { kind: 'layernorm', dims: { M: 8 } },
      { kind: 'layernorm', dims: { M: 8, N: 8, K: 2 } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, dtype: 'i8' },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, layout: 'col' },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, epilogue: ['relu'] },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { rms: 2 } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { eps: 1 } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { eps: '-1e-5' } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { eps: 'tiny' } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { shape: '2,2' } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { shape: '2x4' } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { weight: 'ln.weight; import os' } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { weight: 'p', bias: 'p' } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { affine: 0, weight: 'w' } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { rms: 1, bias: 'b' } },
      { kind: 'layernorm', dims: { M: 8, N: 8 }, attrs: { dim: 1 } },
      { kind: 'layernorm', dims: { B: 2, R: 8, I: 3 }, attrs: { affine: 0 } },
      { kind: 'layernorm', dims: { B: 2, R: 8, I: 3 }, attrs: { dim: 1 } },
      { kind: 'layernorm', dims: { B: 2, R: 8, I: 3 }, attrs: { affine: 0, dim: 1, shape: '8' } },
    ];
    for (const input of bad) {
      const o = op(input);
      expect(
        badInput(() => t.generate(o, { impl: 'triton' })),
        JSON.stringify(input),
      ).toBe(true);
      expect(
        badInput(() => layernormProblem(o)),
        JSON.stringify(input),
      ).toBe(true);
    }
    // A columns problem is written over dim 1; the template itself takes any axis.
    const last = op({ kind: 'layernorm', dims: { B: 2, R: 8, I: 3 }, attrs: { affine: 0, dim: 2 } });
    expect(badInput(() => layernormProblem(last))).toBe(true);
    expect(t.generate(last, { impl: 'triton' })).toContain('DIM = 2\n');
  });
});

describe('Triton layernorm template: legalize and moves', () => {
  it('is idempotent, keeps impl "torch" only at the default Triton knobs, fits the registers', () => {
    for (const o of OPS) {
      const base = t.baseline(o);
      expect(t.legalize(o, base)).toEqual(base);
      expect(t.legalize(o, { impl: 'torch' })).toEqual(base);
      const length = o.dims.N ?? o.dims.R!;
      for (const k of everyKnobValue(o)) {
        const once = t.legalize(o, k);
        expect(t.legalize(o, once), JSON.stringify(k)).toEqual(once);
        for (const spec of TRITON_LAYERNORM_KNOBS) expect(spec.values(o)).toContain(once[spec.name]);
        const [bn, inner, w] = [once.block_n as number, once.block_inner as number, once.num_warps as number];
        const perThread = once.variant === 'row' ? 64 : 16;
        expect(bn * inner).toBeLessThanOrEqual(perThread * 32 * w);
        expect(w === 1 || w * 32 <= bn * inner).toBe(true);
        if (once.variant === 'row') {
          expect(bn).toBeGreaterThanOrEqual(length);
          expect(once).toMatchObject({ split: 1, stats: 'one_pass' });
        } else if (o.dims.M !== undefined) expect(inner).toBe(1);
      }
    }
  });

  it('offers the row kernel only while the row fits in registers, the split only for wide rows', () => {
    const spec = (name: string) => TRITON_LAYERNORM_KNOBS.find((k) => k.name === name)!;
    expect(spec('variant').values(OPS[0]!)).toEqual(['loop']);
    expect(spec('variant').values(OPS[1]!)).toEqual(['loop', 'row']);
    expect(spec('variant').values(op({ kind: 'layernorm', dims: { M: 2, N: ROW_KERNEL_MAX + 1 } }))).toEqual(['loop']);
    expect(spec('split').values(OPS[0]!)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256]);
    expect(spec('split').values(OPS[2]!)).toEqual([1]);
    expect(spec('split').values(OPS[1]!)).toEqual([1]);
    expect(spec('stats').values(OPS[3]!)).toEqual(['one_pass']);
    expect(spec('block_inner').values(OPS[4]!)).toEqual([1, 2, 4, 8]);
    // 16 rows of 4M elements: the start splits each over programs enough to fill 132 SMs twice.
    expect(t.baseline(OPS[0]!)).toMatchObject({ variant: 'loop', split: 32 });
    expect(createTritonLayernormTemplate({ multiprocessors: 16 }).baseline(OPS[0]!)).toMatchObject({ split: 2 });
    // Short rows: whole rows in registers, several a program.
    expect(t.baseline(OPS[2]!)).toMatchObject({ variant: 'row', block_n: 1024, block_inner: 4 });
    expect(t.baseline(OPS[1]!)).toMatchObject({ variant: 'row', block_n: 64, block_inner: 64 });
    expect(t.legalize(OPS[3]!, { impl: 'triton', variant: 'row', block_inner: 64, num_warps: 1 })).toMatchObject({
      block_n: 16384,
      block_inner: 2,
      num_warps: 16,
    });
  });

  it('moves are CUDA menu ids and reach every knob; the library option goes back to the baseline', () => {
    const ids = new Set(CUDA_MENU.options.map((o) => o.id));
    const moved = new Set<string>();
    for (const [id, knobs] of Object.entries(t.moves)) {
      expect(ids.has(id), id).toBe(true);
      for (const k of knobs ?? []) moved.add(k);
    }
    expect([...moved].sort()).toEqual(TRITON_LAYERNORM_KNOBS.map((k) => k.name).sort());
    const o = OPS[2]!;
    expect(t.fixedMoves?.['cuda.cublas']?.(o, { impl: 'triton' })).toEqual(t.baseline(o));
  });
});

describe.skipIf(!hasGpuTriton)('Triton layernorm template on a GPU (PyTorch reference)', () => {
  const cases: { name: string; op: OperationInput; shapes: number[][]; knobs: Knobs[] }[] = [
    {
      name: 'layer norm with weight and bias over three trailing dims, split and unsplit',
      op: {
        kind: 'layernorm',
        dims: { M: 4, N: 65536 },
        attrs: { shape: '4,128,128', weight: 'ln.weight', bias: 'ln.bias' },
      },
      shapes: [
        [4, 4, 128, 128],
        [3, 4, 128, 128],
        [2, 2, 4, 128, 128],
      ],
      knobs: [
        { impl: 'triton' },
        { impl: 'triton', split: 1, block_n: 512 },
        { impl: 'triton', split: 1, stats: 'two_pass' },
        { impl: 'triton', split: 16, block_n: 1024, stats: 'two_pass' },
        { impl: 'triton', split: 64, block_n: 32, num_warps: 1 },
      ],
    },
    {
      name: 'layer norm of short rows, several a program, and a remainder',
      op: { kind: 'layernorm', dims: { M: 300, N: 1000 }, attrs: { eps: '1e-6' } },
      shapes: [
        [300, 1000],
        [7, 1000],
        [2, 3, 1000],
      ],
      knobs: [
        { impl: 'triton' },
        { impl: 'triton', variant: 'row', block_inner: 8 },
        { impl: 'triton', variant: 'loop', block_n: 128 },
        { impl: 'triton', variant: 'loop', block_n: 256, stats: 'two_pass', num_stages: 3 },
      ],
    },
    {
      name: 'layer norm without weight or bias',
      op: { kind: 'layernorm', dims: { M: 33, N: 5000 }, attrs: { affine: 0 } },
      shapes: [
        [33, 5000],
        [1, 5000],
      ],
      knobs: [{ impl: 'triton' }, { impl: 'triton', variant: 'loop', split: 4, block_n: 256 }],
    },
    {
      name: 'RMS norm of rows with a weight',
      op: { kind: 'layernorm', dims: { M: 64, N: 12000 }, attrs: { rms: 1 } },
      shapes: [
        [64, 12000],
        [5, 12000],
      ],
      knobs: [
        { impl: 'triton' },
        { impl: 'triton', variant: 'loop', block_n: 1024 },
        { impl: 'triton', variant: 'loop', split: 8, block_n: 512 },
      ],
    },
    {
      name: 'RMS norm over the features (KernelBench 36), whole columns and chunks',
      op: { kind: 'layernorm', dims: { B: 4, R: 64, I: 4096 }, attrs: { rms: 1, affine: 0, dim: 1 } },
      shapes: [
        [4, 64, 64, 64],
        [2, 64, 3, 5],
        [3, 70, 17],
      ],
      knobs: [
        { impl: 'triton' },
        { impl: 'triton', variant: 'row', block_inner: 1 },
        { impl: 'triton', variant: 'loop', block_n: 16, block_inner: 128 },
      ],
    },
    {
      name: 'layer norm over a middle axis, long columns',
      op: { kind: 'layernorm', dims: { B: 3, R: 5000, I: 40 }, attrs: { affine: 0, dim: 1 } },
      shapes: [
        [3, 5000, 40],
        [2, 300, 1],
      ],
      knobs: [
        { impl: 'triton' },
        { impl: 'triton', variant: 'loop', stats: 'two_pass', block_n: 32, block_inner: 8 },
        { impl: 'triton', variant: 'row', block_inner: 2 },
      ],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: every kernel agrees with torch in f32, f16 and bf16`, () => {
      const o = op(c.op);
      const candidates = c.knobs.map((k, i) => ({ name: `cand_${i}`, source: t.generate(o, k) }));
      const out = compareOnGpu({
        reference: layernormProblem(o),
        candidates,
        shapes: c.shapes,
        inputScale: 3,
        tolerance: { f32: 1e-4, half: 3e-2 },
        copyParameters: true,
      });
      expect(out.startsWith('0\n'), out).toBe(true);
    }, 600_000);
  }
});
