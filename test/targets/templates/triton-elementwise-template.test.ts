/**
 * The Triton elementwise template: legal knobs, sources that compile for every knob value, the
 * library and torch.compile forms, and refusals that say what to fix. Its GPU correctness runs
 * with the other Triton templates' in triton-templates-gpu.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { isSkbError, type Operation, type OperationInput, parseOperation } from '../../../src/schedules/index.js';
import { kernelBenchProblemFor } from '../../../src/targets/kernelbench/problems.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import { hasPython, pyCompile } from '../../support/py-compile.js';
import {
  TRITON_ELEMENTWISE_KNOBS,
  createTritonElementwiseTemplate,
} from '../../../src/targets/templates/triton-elementwise-template.js';

const op = (input: OperationInput): Operation => parseOperation(input);
const t = createTritonElementwiseTemplate();

const OPS = [
  op({ kind: 'elementwise', dims: { M: 4096, N: 393216 }, epilogue: ['gelu'] }),
  op({
    kind: 'elementwise',
    dims: { M: 3, N: 7 },
    dtype: 'bf16',
    epilogue: ['leaky_relu', 'mul'],
    attrs: { e1: '0.2', e2: '3' },
  }),
  op({ kind: 'elementwise', dims: { M: 1, N: 1000 }, dtype: 'f16', epilogue: ['hardtanh', 'silu'] }),
  op({
    kind: 'elementwise',
    dims: { M: 3, N: 5 },
    epilogue: ['selu', 'elu', 'softplus', 'hardsigmoid', 'softsign'],
    attrs: { e2: '0.5' },
  }),
];

describe('Triton elementwise template', () => {
  it('legalizes idempotently; blocks stay within the tensor and warps within the block', () => {
    for (const o of OPS) {
      for (const spec of TRITON_ELEMENTWISE_KNOBS) {
        for (const v of spec.values(o)) {
          const legal = t.legalize(o, { impl: 'triton', [spec.name]: v });
          expect(t.legalize(o, legal)).toEqual(legal);
          expect((legal.num_warps as number) * 32 <= (legal.block as number) || legal.num_warps === 1).toBe(true);
        }
      }
    }
    const tiny = OPS[1]!;
    expect(t.legalize(tiny, { impl: 'triton', block: 16384 }).block).toBe(256);
    expect(t.legalize(OPS[0]!, { impl: 'triton', block: 8192, num_warps: 8 })).toMatchObject({
      block: 8192,
      num_warps: 8,
    });
  });

  it.skipIf(!hasPython)('every knob value generates Python that compiles and carries its block and warps', async () => {
    const sources: string[] = [];
    for (const o of OPS) {
      sources.push(kernelBenchProblemFor(o), t.generate(o, t.baseline(o)));
      for (const spec of TRITON_ELEMENTWISE_KNOBS) {
        for (const v of spec.values(o)) {
          const legal: Knobs = t.legalize(o, { impl: 'triton', [spec.name]: v });
          const src = t.generate(o, legal);
          sources.push(src);
          if (legal.impl !== 'triton') continue;
          expect(src).toContain(`BLOCK = ${String(legal.block)}\nNUM_WARPS = ${String(legal.num_warps)}`);
          expect(src).toMatch(/@triton\.jit\ndef skb_elementwise_kernel/);
        }
      }
    }
    const compiled = await pyCompile(sources);
    expect(compiled.output).toBe('');
    expect(compiled.status).toBe(0);
  });

  it('the baseline is the chain in PyTorch; the compiled form puts it under torch.compile', () => {
    const o = OPS[1]!;
    const base = t.generate(o, t.baseline(o));
    expect(base).toContain('out = torch.nn.functional.leaky_relu(out, negative_slope=0.2)');
    expect(base).not.toContain('triton');
    const compiled = t.generate(o, { impl: 'compile', compile_mode: 'max-autotune-no-cudagraphs' });
    expect(compiled).toContain('torch.compile(super().forward, mode="max-autotune-no-cudagraphs")');
    const kernel = t.generate(o, { impl: 'triton' });
    // bf16: each step rounds to the output dtype, as eager stores every intermediate.
    expect(kernel).toContain('out = out.to(c_ptr.dtype.element_ty).to(tl.float32)');
    expect(kernel).toContain('out = out * 3.0');
    // ELU's alpha is its argument (1.0 when left out, as PyTorch's default); softsign needs none.
    const activations = OPS[3]!;
    expect(t.generate(activations, t.baseline(activations))).toContain(
      'out = torch.nn.functional.elu(out, alpha=0.5)\n        out = torch.nn.functional.softplus(out)',
    );
    const defaultAlpha = op({ kind: 'elementwise', dims: { M: 2, N: 2 }, epilogue: ['elu'] });
    expect(t.generate(defaultAlpha, t.baseline(defaultAlpha))).toContain('elu(out, alpha=1.0)');
    expect(t.generate(activations, { impl: 'triton' })).toContain('1.0507009873554805 * tl.where(');
  });

  it('refuses operations it cannot generate with a sentence that says what to fix', () => {
    const bad: Array<[OperationInput, RegExp]> = [
      [{ kind: 'elementwise', dims: { M: 8, N: 8 } }, /epilogue steps/],
      [{ kind: 'elementwise', dims: { N: 8 }, epilogue: ['relu'] }, /M is missing/],
      [{ kind: 'elementwise', dims: { M: 8, N: 8 }, epilogue: ['bias'] }, /no bias parameter/],
      [{ kind: 'elementwise', dims: { M: 8, N: 8 }, epilogue: ['softmax'] }, /not one the templates fuse/],
      [{ kind: 'elementwise', dims: { M: 8, N: 8 }, dtype: 'f64', epilogue: ['relu'] }, /f32, f16 or bf16/],
      [{ kind: 'elementwise', dims: { M: 8, N: 8 }, epilogue: ['relu'], attrs: { e1: '2' } }, /takes no argument/],
      [{ kind: 'elementwise', dims: { M: 8, N: 8 }, epilogue: ['relu'], attrs: { swizzle: 1 } }, /not swizzle/],
    ];
    for (const [input, message] of bad) {
      let caught: unknown;
      try {
        t.generate(op(input), { impl: 'triton' });
      } catch (error) {
        caught = error;
      }
      expect(isSkbError(caught) && caught.code).toBe('BAD_INPUT');
      expect((caught as Error).message).toMatch(message);
    }
  });
});
