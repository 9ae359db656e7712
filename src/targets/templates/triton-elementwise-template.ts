/**
 * The Triton template for elementwise activations (KernelBench level 1: ReLU, GELU, Swish, ...):
 * an operation of kind `elementwise` whose function is a chain of steps in `epilogue`, the same
 * steps (and arguments in `e<i>`) a matrix product's epilogue takes (epilogue-chain.ts), applied to
 * the one input. dims { M, N }: the input as rows by its last dimension (the kernel reads it flat,
 * so any rank works). The baseline is the PyTorch lines; the kernel streams the tensor once, each
 * program BLOCK elements, the chain computed in fp32 in registers.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { type EpilogueStep, epilogueSteps, torchEpilogueLines, tritonEpilogueLines } from './epilogue-chain.js';
import { nearestLegal } from './knobs.js';
import { matmulHeader, torchDtype } from './matmul-module.js';
import type { KernelTemplate, KnobSpec, Knobs } from './template.js';
import {
  COMPILE_MODE_KNOB,
  IMPLEMENTATION_MOVES,
  implKnob,
  implementationFixedMoves,
  TORCH_COMPILE_OPTION,
  legalizeImplementation,
  requireOperatorDtype,
} from './triton-implementation.js';
import { type OperatorFrame, operatorModuleSource, operatorProblemSource } from './operator-module.js';

/** The steps, or BAD_INPUT saying what to fix. */
function checkedSteps(op: Operation): EpilogueStep[] {
  if (op.kind !== 'elementwise')
    throw new SkbError('BAD_INPUT', `The Triton elementwise template generates elementwise kernels, not ${op.kind}`);
  for (const d of ['M', 'N'])
    if (op.dims[d] === undefined)
      throw new SkbError(
        'BAD_INPUT',
        `An elementwise operation names its sizes M (rows) and N (last dimension); ${d} is missing`,
      );
  const extra = Object.keys(op.dims).filter((d) => d !== 'M' && d !== 'N');
  if (extra.length)
    throw new SkbError('BAD_INPUT', `An elementwise operation has the sizes M and N only, not ${extra.join(', ')}`);
  requireOperatorDtype(op, 'elementwise');
  if (op.layout !== undefined && op.layout !== 'row')
    throw new SkbError(
      'BAD_INPUT',
      `An elementwise operation reads its input row-major (layout "row"), not "${op.layout}"`,
    );
  if (op.epilogue.length === 0)
    throw new SkbError('BAD_INPUT', 'An elementwise operation names its function as epilogue steps, e.g. ["gelu"]');
  const steps = epilogueSteps(op);
  if (steps.some((s) => s.op === 'bias'))
    throw new SkbError('BAD_INPUT', 'An elementwise operation has no bias parameter; use add with a constant');
  const known = new Set(op.epilogue.map((_, i) => `e${i + 1}`));
  const stray = Object.keys(op.attrs).filter((a) => !known.has(a));
  if (stray.length)
    throw new SkbError(
      'BAD_INPUT',
      `An elementwise operation's attributes are its steps' arguments e1..e8, not ${stray.join(', ')}`,
    );
  return steps;
}

const elements = (op: Operation): number => (op.dims.M ?? 1) * (op.dims.N ?? 1);

const BLOCKS = [256, 512, 1024, 2048, 4096, 8192, 16384];

/** The knob specs: blocks no larger than the tensor needs (the smallest block is always legal). */
export const TRITON_ELEMENTWISE_KNOBS: KnobSpec[] = [
  implKnob("PyTorch's own kernels"),
  COMPILE_MODE_KNOB,
  {
    name: 'block',
    description: 'elements per program (BLOCK)',
    values: (op) => BLOCKS.filter((_block, i) => i === 0 || BLOCKS[i - 1]! < elements(op)),
  },
  { name: 'num_warps', description: 'warps per program', values: () => [1, 2, 4, 8, 16] },
];

/** Which knobs each CUDA menu option moves. */
export const TRITON_ELEMENTWISE_MOVES: KernelTemplate['moves'] = {
  ...IMPLEMENTATION_MOVES,
  'cuda.work_per_thread': ['block'],
  'cuda.vector_loads': ['block'],
  'cuda.block_size': ['num_warps'],
  'cuda.occupancy': ['num_warps', 'block'],
};

/** Every knob snapped to a legal value, `fallback`'s where one is missing. */
function snap(op: Operation, knobs: Knobs, fallback: Knobs): Knobs {
  const out: Knobs = {};
  for (const spec of TRITON_ELEMENTWISE_KNOBS) {
    const legal = spec.values(op);
    out[spec.name] = nearestLegal(knobs[spec.name], legal, nearestLegal(fallback[spec.name], legal, legal[0]!));
  }
  // Fewer than 32 elements per thread of a warp leave lanes idle: warps shrink with the block.
  while ((out.num_warps as number) > 1 && (out.num_warps as number) * 32 > (out.block as number)) {
    out.num_warps = (out.num_warps as number) / 2;
  }
  return out;
}

function tritonDefault(op: Operation): Knobs {
  return snap(op, { block: 1024, num_warps: 4, compile_mode: 'default' }, {});
}

export function legalizeTritonElementwise(op: Operation, knobs: Knobs): Knobs {
  checkedSteps(op);
  const def = tritonDefault(op);
  return legalizeImplementation(knobs, def, (k) => snap(op, k, def));
}

export function tritonElementwiseBaseline(op: Operation): Knobs {
  checkedSteps(op);
  return { ...tritonDefault(op), impl: 'torch' };
}

/** The chain in PyTorch: the reference problem's Model and the baseline. */
function frame(op: Operation): OperatorFrame {
  const chain = torchEpilogueLines(checkedSteps(op), '');
  return {
    header: (what) => matmulHeader(op, what),
    torch: { params: 'x', body: ['out = x', ...chain, 'return out'] },
  };
}

function kernelSource(op: Operation): string {
  // Unless the output is f32, each step's result is rounded to the output dtype, as eager
  // PyTorch stores every intermediate in it.
  const chain = tritonEpilogueLines(checkedSteps(op), op.dtype !== 'f32');
  return `
@triton.jit
def skb_elementwise_kernel(x_ptr, c_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    out = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
${chain.join('\n')}
    tl.store(c_ptr + offs, out.to(c_ptr.dtype.element_ty), mask=mask)


def skb_elementwise(x, block=BLOCK, num_warps=NUM_WARPS):
    """The chain (${op.epilogue.join(', ')}) on every element of x, any shape; a strided x is read contiguous."""
    x = x.contiguous()
    out = torch.empty_like(x)
    n = x.numel()
    if n:
        skb_elementwise_kernel[(triton.cdiv(n, block),)](x, out, n, BLOCK=block, num_warps=num_warps)
    return out
`;
}

function generateSource(op: Operation, k: Knobs): string {
  return operatorModuleSource(frame(op), k, "PyTorch's own kernels", () => ({
    label: `Triton kernel, BLOCK ${String(k.block)}, ${String(k.num_warps)} warps`,
    constants: [
      ['BLOCK', k.block!],
      ['NUM_WARPS', k.num_warps!],
    ],
    kernel: kernelSource(op),
    call: 'return skb_elementwise(x)',
  }));
}

/** The KernelBench reference problem of an elementwise operation: its chain on an M x N input. */
export function elementwiseProblem(op: Operation): string {
  return operatorProblemSource(frame(op), [`torch.randn(${op.dims.M}, ${op.dims.N}, dtype=${torchDtype(op)})`]);
}

export function createTritonElementwiseTemplate(): KernelTemplate<'elementwise'> {
  return {
    kind: 'elementwise',
    knobs: TRITON_ELEMENTWISE_KNOBS,
    baseline: tritonElementwiseBaseline,
    legalize: legalizeTritonElementwise,
    generate: (op, requested) => generateSource(op, legalizeTritonElementwise(op, requested)),
    moves: TRITON_ELEMENTWISE_MOVES,
    firstMove: TORCH_COMPILE_OPTION,
    fixedMoves: implementationFixedMoves(tritonElementwiseBaseline),
  };
}
