/**
 * The Triton templates beyond the matrix products, on a GPU through the real KernelBench harness:
 * for each kind, the library baseline, torch.compile and Triton configurations (remainders, both
 * kernel layouts, every reduction, split and whole-row normalisations) are judged correct against
 * the generated reference problem.
 * Skips where there is no GPU with Triton (CI); the device runs it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type Operation, type OperationInput, parseOperation } from '../../../src/schedules/index.js';
import { createKernelBenchToolchain } from '../../../src/targets/kernelbench/kernelbench-toolchain.js';
import { createLocalExecutor } from '../../../src/targets/local-executor.js';
import { gpuTemplateFor } from '../../../src/targets/templates/index.js';
import type { Knobs } from '../../../src/targets/templates/template.js';
import { gpuPython, gpuSandbox, hasGpuTriton } from '../../support/gpu.js';

const op = (input: OperationInput): Operation => parseOperation(input);

const CASES: Array<[string, Operation, Knobs[]]> = [
  [
    'elementwise chains in f32 and bf16',
    op({
      kind: 'elementwise',
      dims: { M: 333, N: 1001 },
      epilogue: ['gelu', 'mul', 'hardswish'],
      attrs: { e2: '1.5' },
    }),
    [
      { impl: 'torch' },
      { impl: 'triton' },
      { impl: 'triton', block: 256, num_warps: 2 },
      { impl: 'triton', block: 16384, num_warps: 16 },
    ],
  ],
  [
    'elementwise in bf16',
    op({ kind: 'elementwise', dims: { M: 17, N: 999 }, dtype: 'bf16', epilogue: ['silu', 'tanh', 'leaky_relu'] }),
    [{ impl: 'triton' }, { impl: 'compile', compile_mode: 'default' }],
  ],
  [
    'the level-1 activations (SELU, ELU, softplus, hardsigmoid, softsign) in f32 and f16',
    op({
      kind: 'elementwise',
      dims: { M: 129, N: 515 },
      epilogue: ['selu', 'elu', 'softplus', 'hardsigmoid', 'softsign'],
      attrs: { e2: '0.5' },
    }),
    [{ impl: 'triton' }, { impl: 'triton', block: 1024, num_warps: 4 }],
  ],
  [
    'softplus past its threshold and ELU far below zero, in f16',
    op({
      kind: 'elementwise',
      dims: { M: 64, N: 64 },
      dtype: 'f16',
      epilogue: ['mul', 'elu', 'mul', 'softplus'],
      attrs: { e1: '40.0', e3: '-30.0' },
    }),
    [{ impl: 'triton' }],
  ],
  ...(['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as const).map((reduce): [string, Operation, Knobs[]] => [
    `reduce ${reduce} over the inner and the last dimension`,
    op({ kind: 'reduce', dims: { B: 5, R: 1000, I: 77 }, attrs: { reduce, dim: 1 } }),
    [{ impl: 'torch' }, { impl: 'triton' }, { impl: 'triton', block_r: 16, num_warps: 1 }],
  ]),
  [
    'reduce over the last dimension, keepdim, bf16',
    op({
      kind: 'reduce',
      dims: { B: 300, R: 4099, I: 1 },
      dtype: 'bf16',
      attrs: { reduce: 'sum', dim: 1, keepdim: 1 },
    }),
    [{ impl: 'triton' }, { impl: 'triton', block_r: 4096, num_warps: 8 }],
  ],
  [
    'argmax over the last dimension',
    op({ kind: 'reduce', dims: { B: 64, R: 5000, I: 1 }, attrs: { reduce: 'argmax', dim: 1 } }),
    [{ impl: 'triton' }, { impl: 'triton', block_r: 128 }],
  ],
  [
    'softmax over long and short rows',
    op({ kind: 'softmax', dims: { M: 37, N: 70000 } }),
    [{ impl: 'torch' }, { impl: 'triton' }, { impl: 'triton', block_n: 1024, num_warps: 4 }],
  ],
  [
    'log-softmax in f16',
    op({ kind: 'softmax', dims: { M: 100, N: 777 }, dtype: 'f16', attrs: { log: 1 } }),
    [{ impl: 'triton' }, { impl: 'triton', block_n: 256 }],
  ],
  [
    'layer norm over three trailing dims with nn.LayerNorm parameters (KernelBench 40), split rows',
    op({
      kind: 'layernorm',
      dims: { M: 8, N: 262144 },
      attrs: { shape: '16,128,128', weight: 'ln.weight', bias: 'ln.bias' },
    }),
    [
      { impl: 'torch' },
      { impl: 'triton' },
      { impl: 'triton', split: 1, stats: 'two_pass' },
      { impl: 'triton', split: 64, block_n: 1024 },
      { impl: 'compile', compile_mode: 'default' },
    ],
  ],
  [
    'layer norm of short rows in bf16, eps 1e-6',
    op({ kind: 'layernorm', dims: { M: 1000, N: 777 }, dtype: 'bf16', attrs: { eps: '1e-6' } }),
    [{ impl: 'triton' }, { impl: 'triton', variant: 'row', block_inner: 16 }, { impl: 'triton', variant: 'loop' }],
  ],
  [
    'RMS norm over the features (KernelBench 36)',
    op({ kind: 'layernorm', dims: { B: 16, R: 64, I: 4096 }, attrs: { rms: 1, affine: 0, dim: 1 } }),
    [{ impl: 'torch' }, { impl: 'triton' }, { impl: 'triton', variant: 'loop', block_n: 16, block_inner: 64 }],
  ],
  [
    'RMS norm of rows with a weight, in f16',
    op({ kind: 'layernorm', dims: { M: 96, N: 20000 }, dtype: 'f16', attrs: { rms: 1 } }),
    [{ impl: 'triton' }, { impl: 'triton', split: 4, block_n: 512 }],
  ],
  [
    'matrix-vector products with remainders and split K',
    // K of a few thousand: longer f32 sums of randn differ from cuBLAS's order by more than the 1e-4 tolerance near zero.
    op({ kind: 'matvec', dims: { M: 1000, K: 3001 } }),
    [
      { impl: 'torch' },
      { impl: 'triton' },
      { impl: 'triton', split_k: 8, block_k: 1024 },
      { impl: 'triton', block_m: 16, block_k: 256 },
    ],
  ],
  [
    'a matrix-vector product in bf16 with few rows',
    op({ kind: 'matvec', dims: { M: 7, K: 100000 }, dtype: 'bf16' }),
    [
      { impl: 'triton', split_k: 32 },
      { impl: 'triton', block_m: 1 },
    ],
  ],
];

describe.skipIf(!hasGpuTriton)(
  'the Triton templates beyond the matrix products, on a GPU (real KernelBench harness)',
  () => {
    const executor = createLocalExecutor({ sandbox: gpuSandbox });
    const toolchain = createKernelBenchToolchain({ python: gpuPython });
    afterAll(async () => {
      await toolchain.close();
      await executor.close();
    });

    for (const [name, o, knobSets] of CASES) {
      it(`${name}: every configuration is correct`, async () => {
        const t = gpuTemplateFor(o.kind);
        if (!t) throw new Error(`no GPU template for ${o.kind}`);
        const results = await toolchain.evaluate({
          operation: o,
          candidates: knobSets.map((k) => t.generate(o, { ...t.baseline(o), ...k })),
          executor,
          timing: { warmup: 1, runs: 5 },
        });
        for (const [i, r] of results.entries()) {
          expect(r, `${JSON.stringify(knobSets[i])}: ${r.output}`).toMatchObject({ correct: true, errorKind: null });
        }
      }, 300_000);
    }
  },
);
