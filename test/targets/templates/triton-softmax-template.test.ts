/**
 * The Triton softmax template for KernelBench targets. Everything but the last suite runs without
 * a GPU: generated sources are compiled by the real python3 (py_compile), legalization and the
 * moves are checked over every knob value. The last suite runs reference and candidates in PyTorch
 * on a GPU (python3 with torch, Triton and CUDA) and is skipped elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { parseOperation, type Operation, type OperationInput } from '../../../src/schedules/index.js';
import { CUDA_MENU } from '../../../src/search/menus/cuda-menu.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import {
  SINGLE_PASS_MAX,
  TRITON_SOFTMAX_KNOBS,
  createTritonSoftmaxTemplate,
  softmaxProblem,
} from '../../../src/targets/templates/triton-softmax-template.js';
import { compareOnGpu } from '../../support/gpu-compare.js';
import { hasPython, pyCompile } from '../../support/py-compile.js';
import { hasGpuTriton } from '../../support/gpu.js';
import { startsAndEachKnobMoved } from '../../support/knob-moves.js';
import { badInput } from '../../support/bad-input.js';

const op = (input: OperationInput): Operation => parseOperation(input);
const t = createTritonSoftmaxTemplate();

const OPS: Operation[] = [
  op({ kind: 'softmax', dims: { M: 16, N: 393216 }, dtype: 'f32' }),
  op({ kind: 'softmax', dims: { M: 4096, N: 10 }, dtype: 'bf16', attrs: { log: 1 } }),
  op({ kind: 'softmax', dims: { M: 128, N: 16384 }, dtype: 'f16' }),
  op({ kind: 'softmax', dims: { M: 1000, N: 1000 }, dtype: 'f32', attrs: { log: 0 } }),
];

/** The default Triton start, the single-pass start, and every knob moved to each legal value from both. */
function everyKnobValue(o: Operation): Knobs[] {
  const start = t.legalize(o, { ...t.baseline(o), impl: 'triton' });
  return startsAndEachKnobMoved(o, [start, t.legalize(o, { ...start, single_pass: true })], TRITON_SOFTMAX_KNOBS);
}

describe('Triton softmax template: generated sources', () => {
  it('the baseline is torch.softmax / torch.log_softmax and no Triton', () => {
    const soft = t.generate(OPS[0]!, t.baseline(OPS[0]!));
    expect(t.baseline(OPS[0]!).impl).toBe('torch');
    expect(soft).toContain('return torch.softmax(x, dim=-1)');
    expect(soft).toContain('def __init__(self, *args):');
    expect(soft).not.toContain('triton');
    const log = t.generate(OPS[1]!, t.baseline(OPS[1]!));
    expect(log).toContain('return torch.log_softmax(x, dim=-1)');
    expect(log).not.toContain('triton');
  });

  it('the compile implementation is the PyTorch call under torch.compile', () => {
    const src = t.generate(OPS[3]!, { impl: 'compile' });
    expect(src).toContain('torch.compile(super().forward)');
    expect(src).toContain('return torch.softmax(x, dim=-1)');
    expect(src).not.toContain('triton');
  });

  it('the Triton source has both kernels and the legalized knobs', () => {
    const src = t.generate(OPS[2]!, { impl: 'triton', single_pass: true, num_warps: 1 });
    expect(src).toContain('BLOCK_N = 16384\nSINGLE_PASS = True\nNUM_WARPS = 8\n');
    expect(src).toMatch(/@triton\.jit\ndef skb_softmax_online_kernel/);
    expect(src).toMatch(/@triton\.jit\ndef skb_softmax_single_kernel/);
    expect(src).toContain('return skb_softmax(x)');
    expect(t.generate(OPS[1]!, { impl: 'triton' })).toContain('out = v - row_max - log_sum');
  });

  it.skipIf(!hasPython)('every knob value of every operation generates Python that compiles', async () => {
    const sources: string[] = [];
    for (const o of OPS) {
      sources.push(t.generate(o, t.baseline(o)), t.generate(o, { impl: 'compile' }), softmaxProblem(o));
      for (const k of everyKnobValue(o)) {
        const src = t.generate(o, k);
        expect(src).toContain('import triton.language as tl');
        sources.push(src);
      }
    }
    const compiled = await pyCompile(sources);
    expect(compiled.output).toBe('');
    expect(compiled.status).toBe(0);
  });

  it.skipIf(!hasPython)('py_compile fails on a broken file, so the check above can fail', async () => {
    const broken = t.generate(OPS[0]!, { impl: 'triton' }).replace('def skb_softmax(', 'def skb_softmax((');
    expect((await pyCompile([broken])).status).not.toBe(0);
  });

  it('the problem is the PyTorch call on an M x N input', () => {
    const src = softmaxProblem(OPS[1]!);
    expect(src).toContain('return torch.log_softmax(x, dim=-1)');
    expect(src).toContain('return [torch.randn(4096, 10, dtype=torch.bfloat16)]');
    expect(src).toContain('def get_init_inputs():\n    return []');
  });

  it('rejects operations it cannot generate with BAD_INPUT', () => {
    const bad: OperationInput[] = [
      { kind: 'reduce', dims: { B: 8, R: 8, I: 1 }, attrs: { reduce: 'sum', dim: 1 } },
      { kind: 'softmax', dims: { M: 8 } },
      { kind: 'softmax', dims: { R: 8, C: 8 } },
      { kind: 'softmax', dims: { M: 8, N: 8, K: 2 } },
      { kind: 'softmax', dims: { M: 8, N: 8 }, dtype: 'i8' },
      { kind: 'softmax', dims: { M: 8, N: 8 }, attrs: { log: 2 } },
      { kind: 'softmax', dims: { M: 8, N: 8 }, attrs: { dim: 0 } },
      { kind: 'softmax', dims: { M: 8, N: 8 }, layout: 'col' },
    ];
    for (const input of bad) {
      const o = op(input);
      expect(
        badInput(() => t.generate(o, { impl: 'triton' })),
        JSON.stringify(input),
      ).toBe(true);
      expect(
        badInput(() => softmaxProblem(o)),
        JSON.stringify(input),
      ).toBe(true);
    }
  });
});

describe('Triton softmax template: legalize and moves', () => {
  it('is idempotent, keeps impl "torch" only at the default Triton knobs, fits the registers', () => {
    for (const o of OPS) {
      const base = t.baseline(o);
      expect(t.legalize(o, base)).toEqual(base);
      expect(t.legalize(o, { impl: 'torch' })).toEqual(base);
      for (const k of everyKnobValue(o)) {
        const once = t.legalize(o, k);
        expect(t.legalize(o, once)).toEqual(once);
        for (const spec of TRITON_SOFTMAX_KNOBS) expect(spec.values(o)).toContain(once[spec.name]);
        const [bn, w] = [once.block_n as number, once.num_warps as number];
        expect(bn).toBeLessThanOrEqual(64 * 32 * w);
        expect(w === 1 || w * 32 <= bn).toBe(true);
        if (once.single_pass === true) expect(bn).toBeGreaterThanOrEqual(o.dims.N!);
      }
    }
  });

  it('offers the single-pass kernel only while the row fits in registers', () => {
    const single = TRITON_SOFTMAX_KNOBS.find((k) => k.name === 'single_pass')!;
    expect(single.values(OPS[0]!)).toEqual([false]);
    expect(single.values(OPS[2]!)).toEqual([false, true]);
    expect(single.values(op({ kind: 'softmax', dims: { M: 2, N: SINGLE_PASS_MAX + 1 } }))).toEqual([false]);
    expect(t.legalize(OPS[0]!, { impl: 'triton', single_pass: true }).single_pass).toBe(false);
    expect(t.legalize(OPS[1]!, { impl: 'triton', single_pass: true })).toMatchObject({
      block_n: 32,
      num_warps: 1,
    });
    const blockN = TRITON_SOFTMAX_KNOBS.find((k) => k.name === 'block_n')!;
    expect(blockN.values(OPS[1]!)).toEqual([32]);
    expect(blockN.values(OPS[3]!)).toEqual([32, 64, 128, 256, 512, 1024]);
  });

  it('moves are CUDA menu ids and reach every knob; the library option goes back to the baseline', () => {
    const ids = new Set(CUDA_MENU.options.map((o) => o.id));
    const moved = new Set<string>();
    for (const [id, knobs] of Object.entries(t.moves)) {
      expect(ids.has(id), id).toBe(true);
      for (const k of knobs ?? []) moved.add(k);
    }
    expect([...moved].sort()).toEqual(TRITON_SOFTMAX_KNOBS.map((k) => k.name).sort());
    const o = OPS[3]!;
    expect(t.fixedMoves?.['cuda.cublas']?.(o, { impl: 'triton' })).toEqual(t.baseline(o));
  });
});

describe.skipIf(!hasGpuTriton)('Triton softmax template on a GPU (PyTorch reference)', () => {
  for (const log of [0, 1] as const) {
    it(`${log ? 'log_softmax' : 'softmax'}: the online and single-pass kernels agree with torch`, () => {
      const cases: { dims: Record<string, number>; shapes: number[][] }[] = [
        {
          dims: { M: 300, N: 1000 },
          shapes: [
            [300, 1000],
            [2, 3, 77],
            [5, 1],
          ],
        },
        {
          dims: { M: 8, N: 5000 },
          shapes: [
            [8, 5000],
            [4, 16384],
            [3, 20000],
          ],
        },
        {
          dims: { M: 4, N: 393216 },
          shapes: [
            [4, 393216],
            [2, 100003],
          ],
        },
      ];
      for (const c of cases) {
        const o = op({ kind: 'softmax', dims: c.dims, attrs: { log } });
        const knobSets: Knobs[] = [
          { impl: 'triton' },
          { impl: 'triton', block_n: 32, num_warps: 1 },
          { impl: 'triton', block_n: 4096, num_warps: 8, num_stages: 3 },
          { impl: 'triton', single_pass: true },
        ];
        const candidates = knobSets.map((k, i) => ({ name: `cand_${i}`, source: t.generate(o, k) }));
        const reference = t.generate(o, t.baseline(o)).replace('class ModelNew(', 'class Model(');
        const out = compareOnGpu({
          reference,
          candidates,
          shapes: c.shapes,
          inputScale: 3,
          tolerance: { f32: 1e-5, half: 2e-2 },
        });
        expect(out.startsWith('0\n'), out).toBe(true);
      }
    }, 600_000);
  }
});
