/**
 * KernelBench problem files for operations the knowledge base names: a PyTorch `Model` that is the
 * reference, with `get_inputs` and `get_init_inputs`. Generated for gemm and batched gemm (two
 * inputs, or an nn.Linear-style weight) with any epilogue chain the templates fuse, and for the
 * operator kinds of PROBLEMS_BY_KIND; operations outside these need their problem source supplied
 * by the caller (the toolchain's `problemFor`).
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { epilogueSteps } from '../templates/epilogue-chain.js';
import { elementwiseProblem } from '../templates/triton-elementwise-template.js';
import { layernormProblem } from '../templates/triton-layernorm-template.js';
import { matvecProblem } from '../templates/triton-matvec-template.js';
import { reduceProblem } from '../templates/triton-reduce-template.js';
import { softmaxProblem } from '../templates/triton-softmax-template.js';
import {
  matmulDim,
  matmulHeader,
  matmulInputShapes,
  matmulModuleClass,
  matmulOperandViews,
  torchDtype,
  torchMatmulLines,
  weightParam,
} from '../templates/matmul-module.js';

export { MATMUL_LAYOUTS, matmulTransposes } from '../templates/matmul-module.js';

/** Reference problems of the kinds other than the matrix products, from their templates. */
const PROBLEMS_BY_KIND: Readonly<Record<string, (op: Operation) => string>> = {
  matvec: matvecProblem,
  elementwise: elementwiseProblem,
  reduce: reduceProblem,
  softmax: softmaxProblem,
  layernorm: layernormProblem,
};

/**
 * The problem source for an operation: a gemm or batched_gemm (epilogue chain of
 * epilogue-chain.ts; dtype f32, f16 or bf16), or a kind of PROBLEMS_BY_KIND.
 */
export function kernelBenchProblemFor(op: Operation): string {
  const other = Object.hasOwn(PROBLEMS_BY_KIND, op.kind) ? PROBLEMS_BY_KIND[op.kind] : undefined;
  if (other) return other(op);
  if (op.kind !== 'gemm' && op.kind !== 'batched_gemm') {
    throw new SkbError(
      'BAD_INPUT',
      `No KernelBench problem is generated for "${op.kind}"; pass the problem source instead`,
    );
  }
  if (!['f32', 'f16', 'bf16'].includes(op.dtype))
    throw new SkbError(
      'BAD_INPUT',
      `KernelBench problems are generated for f32, f16 and bf16 only, not ${op.dtype}; pass the problem source instead`,
    );
  try {
    epilogueSteps(op);
  } catch (error) {
    if (error instanceof SkbError)
      throw new SkbError('BAD_INPUT', `${error.message}; or pass the problem source instead`);
    throw error;
  }
  const dtype = torchDtype(op);
  const shapes = matmulInputShapes(op);
  // Weights drawn like nn.Linear's (about 1/sqrt(K)), so products stay near the inputs' scale.
  const scale = `${(1 / Math.sqrt(matmulDim(op, 'K'))).toPrecision(6)}`;
  const init = (shape: number[]): string =>
    shape.length === 2 && weightParam(op) !== null
      ? `torch.randn(${tuple(shape)}, dtype=${dtype}) * ${scale}`
      : `torch.randn(${tuple(shape)}, dtype=${dtype})`;
  const passesN = weightParam(op) === null && op.epilogue.includes('bias');
  return [
    matmulHeader(op, `the reference, torch.matmul(${matmulOperandViews(op).join(', ')}) then the epilogue`),
    'import torch',
    'import torch.nn as nn',
    '',
    '',
    matmulModuleClass(op, 'Model', init, torchMatmulLines(op)),
    '',
    'def get_inputs():',
    `    return [${shapes.map((s) => `torch.randn(${tuple(s)}, dtype=${dtype})`).join(', ')}]`,
    '',
    '',
    'def get_init_inputs():',
    // The two-input form has always passed N when it has a bias; the sizes are baked in either way.
    `    return [${passesN ? matmulDim(op, 'N') : ''}]`,
    '',
  ].join('\n');
}

function tuple(shape: number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}
