/**
 * Recognising a KernelBench problem's operation from its source. The reply of the target's
 * recogniser is checked like any outside input (no PyTorch needed); the real recogniser traces
 * problem files with torch.fx where PyTorch is installed (the GPU machines; no GPU is used).
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSkbError, type Operation } from '../../src/schedules/index.js';
import type { ExecResult, Executor } from '../../src/targets/executor.js';
import { createKernelBenchToolchain } from '../../src/targets/kernelbench/kernelbench-toolchain.js';
import { interpretRecognition } from '../../src/targets/kernelbench/recognition.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import { gpuPython, gpuSandbox, hasTorch } from '../support/gpu.js';

const ran = (stdout: string, more: Partial<ExecResult> = {}): ExecResult => ({
  exitCode: 0,
  signal: null,
  stdout,
  stderr: '',
  limitExceeded: null,
  wallMs: 5,
  ...more,
});
const reply = (payload: unknown) => ran(`noise\nSKB_RECOGNIZED ${JSON.stringify(payload)}\n`);

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isSkbError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected an error');
}

const GEMM = {
  kind: 'gemm',
  dims: { M: 64, N: 128, K: 256 },
  dtype: 'f32',
  layout: 'nt',
  epilogue: ['bias', 'mul'],
  attrs: { weight: 'fc.weight', e1: 'fc.bias', e2: '2.0' },
};

describe("the recogniser's reply", () => {
  it('gives the operation it names, validated', () => {
    const op = interpretRecognition(reply({ operation: GEMM }));
    expect(op).toMatchObject({ kind: 'gemm', dims: GEMM.dims, epilogue: ['bias', 'mul'], layout: 'nt' });
  });

  it('refuses an unsupported problem as BAD_INPUT naming the LLM planner', () => {
    const e = errorOf(() => interpretRecognition(reply({ unsupported: 'norm (group_norm) is not fused' })));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toContain('No template computes this problem: norm (group_norm) is not fused');
    expect(e.message).toContain('LLM planner');
  });

  it("reports a file that does not load as the user's to fix, and a target without PyTorch as the target's", () => {
    expect(errorOf(() => interpretRecognition(reply({ error: 'SyntaxError: bad' })))).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('cannot be read: SyntaxError'),
    });
    expect(errorOf(() => interpretRecognition(reply({ target: 'no torch' }))).code).toBe('TARGET');
  });

  it('gives a normalisation the layernorm template can write, and refuses one it cannot', () => {
    const rms = {
      kind: 'layernorm',
      dims: { B: 6, R: 24, I: 120 },
      dtype: 'f32',
      epilogue: [],
      attrs: { rms: 1, affine: 0, dim: 1 },
    };
    expect(interpretRecognition(reply({ operation: rms }))).toMatchObject({ kind: 'layernorm', attrs: { dim: 1 } });
    const badShape = { kind: 'layernorm', dims: { M: 4, N: 4096 }, attrs: { shape: '8,16,16' } };
    expect(errorOf(() => interpretRecognition(reply({ operation: badShape })))).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('attrs.shape "8,16,16" multiplies to 2048'),
    });
  });

  it('refuses an operation the templates could not write, naming the field', () => {
    const badStep = { ...GEMM, epilogue: ['bias', 'softmax'] };
    expect(errorOf(() => interpretRecognition(reply({ operation: badStep })))).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('"softmax" is not one the templates fuse'),
    });
    const badDims = { ...GEMM, dims: { M: -1, N: 2, K: 2 } };
    expect(errorOf(() => interpretRecognition(reply({ operation: badDims }))).code).toBe('BAD_INPUT');
    const badParam = { ...GEMM, attrs: { ...GEMM.attrs, e1: 'fc.bias; import os' } };
    expect(errorOf(() => interpretRecognition(reply({ operation: badParam }))).message).toContain('attrs.e1');
  });

  it('treats a missing, malformed or foreign reply as a failure of the target', () => {
    expect(errorOf(() => interpretRecognition(ran('', { exitCode: 1, stderr: 'Traceback: boom' })))).toMatchObject({
      code: 'TARGET',
      message: expect.stringContaining('boom'),
    });
    expect(errorOf(() => interpretRecognition(ran('SKB_RECOGNIZED {not json')))).toMatchObject({ code: 'TARGET' });
    expect(errorOf(() => interpretRecognition(reply({ operation: GEMM, extra: 1 }))).code).toBe('TARGET');
    expect(errorOf(() => interpretRecognition(ran('', { limitExceeded: 'time' }))).message).toContain('time limit');
  });
});

/** What the system's python3 (the sandbox's PATH) has: no PyTorch, Debian's 1.x, or 2.x and later. */
const systemTorch = (() => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return probe.status !== 0 ? null : probe.stdout.trim();
})();

describe('the real recogniser on the Python the GPU suites use', () => {
  it("says the target's Python cannot recognise with its PyTorch, as a TARGET error (and recognises where it can)", async () => {
    const executor = createLocalExecutor({ sandbox: gpuSandbox });
    // Without PyTorch here, the system's python3 (gpuPython may be a shim the sandbox cannot run).
    const toolchain = createKernelBenchToolchain({ python: hasTorch ? gpuPython : 'python3', warmWorkers: false });
    try {
      const source = await readFile(
        new URL('../fixtures/kernelbench/recognise/linear_scale_leaky.py', import.meta.url),
        'utf8',
      );
      const error = await toolchain.recognize!(source, executor).catch((e: unknown) => e);
      const expected =
        hasTorch || Number(systemTorch?.split('.')[0]) >= 2
          ? { kind: 'gemm' }
          : systemTorch === null
            ? { code: 'TARGET', message: expect.stringContaining('PyTorch cannot be imported') }
            : {
                code: 'TARGET',
                message: expect.stringContaining(
                  `the target's PyTorch is ${systemTorch}; recognising problems needs PyTorch 2.0 or later`,
                ),
              };
      expect(error).toMatchObject(expected);
    } finally {
      await toolchain.close();
      await executor.close();
    }
  });
});

describe.skipIf(!hasTorch)('recognising problem files with torch.fx (PyTorch on the target)', () => {
  let executor: Executor;
  const toolchain = createKernelBenchToolchain({ python: gpuPython, warmWorkers: false });
  beforeAll(() => {
    executor = createLocalExecutor({ sandbox: gpuSandbox });
  });
  afterAll(async () => {
    await toolchain.close();
    await executor.close();
  });
  const recognise = async (file: string): Promise<Operation> =>
    toolchain.recognize!(
      await readFile(new URL(`../fixtures/kernelbench/recognise/${file}`, import.meta.url), 'utf8'),
      executor,
    );

  it('reads nn.Linear, a constant scale and a leaky ReLU module', async () => {
    expect(await recognise('linear_scale_leaky.py')).toEqual({
      kind: 'gemm',
      dims: { M: 64, N: 128, K: 256 },
      dtype: 'f32',
      layout: 'nt',
      epilogue: ['bias', 'mul', 'leaky_relu'],
      attrs: { weight: 'fc.weight', e1: 'fc.bias', e2: '2.0', e3: '0.1' },
    });
  });

  it('reads a bias-free layer with a shift parameter and activations written out (x * sigmoid(x), hardtanh, clamp, division)', async () => {
    const op = await recognise('linear_shift_chain.py');
    expect(op.epilogue).toEqual(['bias', 'silu', 'tanh', 'gelu_tanh', 'hardtanh', 'clamp', 'div']);
    expect(op.attrs).toEqual({ weight: 'proj.weight', e1: 'shift', e5: '-0.5,0.5', e6: '-0.25,', e7: '3.0' });
    expect(op.dims).toEqual({ M: 40, N: 48, K: 96 });
  });

  it('reads a transposed operand as the layout and a batched product with its dtype', async () => {
    expect(await recognise('matmul_a_transposed.py')).toMatchObject({
      kind: 'gemm',
      dims: { M: 200, N: 100, K: 300 },
      layout: 'tn',
      epilogue: [],
    });
    expect(await recognise('bmm_divide_relu.py')).toMatchObject({
      kind: 'batched_gemm',
      dims: { B: 3, M: 20, N: 10, K: 30 },
      dtype: 'f16',
      epilogue: ['div', 'relu'],
      attrs: { e1: '4.0' },
    });
  });

  it('reads an elementwise chain on the one input (every level-1 activation), a reduction, a softmax and a matrix-vector product', async () => {
    expect(await recognise('swish_3d.py')).toEqual({
      kind: 'elementwise',
      dims: { M: 24, N: 50 },
      dtype: 'f32',
      epilogue: ['silu', 'sub'],
      attrs: { e2: '0.25' },
    });
    expect(await recognise('activations_chain.py')).toEqual({
      kind: 'elementwise',
      dims: { M: 32, N: 77 },
      dtype: 'f32',
      epilogue: ['selu', 'elu', 'softplus', 'hardsigmoid', 'softsign'],
      attrs: { e2: '0.5' },
    });
    expect(await recognise('max_values_dim1.py')).toEqual({
      kind: 'reduce',
      dims: { B: 8, R: 30, I: 35 },
      dtype: 'f32',
      epilogue: [],
      attrs: { reduce: 'max', dim: 1 },
    });
    expect(await recognise('sum_keepdim_last.py')).toMatchObject({
      kind: 'reduce',
      dims: { B: 16, R: 100, I: 1 },
      dtype: 'bf16',
      attrs: { reduce: 'sum', dim: 1, keepdim: 1 },
    });
    expect(await recognise('log_softmax_module.py')).toMatchObject({
      kind: 'softmax',
      dims: { M: 15, N: 1000 },
      attrs: { log: 1 },
    });
    expect(await recognise('matvec_column.py')).toEqual({
      kind: 'matvec',
      dims: { M: 300, K: 5000 },
      dtype: 'f32',
      epilogue: [],
      attrs: {},
    });
  });

  it('reads nn.LayerNorm over trailing dims, F.layer_norm with its parameters and RMS norm written out', async () => {
    expect(await recognise('layernorm_3d.py')).toEqual({
      kind: 'layernorm',
      dims: { M: 4, N: 4096 },
      dtype: 'f32',
      epilogue: [],
      attrs: { shape: '8,16,32', weight: 'ln.weight', bias: 'ln.bias' },
    });
    expect(await recognise('layer_norm_functional.py')).toEqual({
      kind: 'layernorm',
      dims: { M: 50, N: 640 },
      dtype: 'f32',
      epilogue: [],
      attrs: { eps: '1e-06', weight: 'gamma', bias: 'beta' },
    });
    expect(await recognise('rms_norm_features.py')).toEqual({
      kind: 'layernorm',
      dims: { B: 6, R: 24, I: 120 },
      dtype: 'f32',
      epilogue: [],
      attrs: { rms: 1, affine: 0, dim: 1 },
    });
    expect(await recognise('rms_norm_last_rsqrt.py')).toEqual({
      kind: 'layernorm',
      dims: { M: 21, N: 300 },
      dtype: 'bf16',
      epilogue: [],
      attrs: { rms: 1, affine: 0, eps: '1e-06' },
    });
  });

  it('refuses what no template computes, saying what and naming the LLM planner', async () => {
    expect(await recognise('layernorm_no_bias.py').catch((e: Error) => e.message)).toContain('bias=False');
    for (const file of ['linear_groupnorm.py', 'residual_scale.py', 'softmax_first_dim.py', 'softplus_beta.py']) {
      const error = await recognise(file).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('LLM planner') });
    }
    expect(await recognise('linear_groupnorm.py').catch((e: Error) => e.message)).toContain('norm');
    expect(await recognise('softplus_beta.py').catch((e: Error) => e.message)).toContain('beta 2');
    expect(await recognise('does_not_load.py').catch((e: Error) => e.message)).toContain('SyntaxError');
  });
});
