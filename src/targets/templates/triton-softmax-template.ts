/**
 * The Triton template for softmax and log_softmax over the last dimension (KernelBench level 1):
 * an operation of kind `softmax` with dims { M, N } (M rows, the product of the leading sizes; N the
 * last dimension) and attrs `log` (1: log_softmax; default 0). The baseline is torch.softmax /
 * torch.log_softmax over dim -1; the kernel gives each row one program with fp32 statistics.
 *
 * Two kernels. The online one reads the row twice whatever N is: pass 1 loops over it in BLOCK_N
 * chunks keeping a running maximum and a sum rescaled to it (one statistic pair per lane, combined
 * at the end), pass 2 writes exp(x - max) / sum (log: x - max - log(sum)). The single-pass one
 * (knob `single_pass`, legal while the row fits in 16384 elements) holds the whole row in registers
 * and reads it once; the generated forward uses it only when the row at run time fits BLOCK_N and
 * falls back to the online kernel otherwise, so every knob set is right for every shape.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { nearestLegal, numKnob } from './knobs.js';
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
import type { TritonMatmulOptions } from './triton-matmul-template.js';

/** The largest row held in registers by the single-pass kernel (64 fp32 a thread at 8 warps). */
export const SINGLE_PASS_MAX = 16384;
/** Row elements a thread may hold per chunk before more warps (or a smaller chunk) are needed. */
const ELEMENTS_PER_THREAD = 64;

const BLOCK_N = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];
const NUM_WARPS = [1, 2, 4, 8, 16];
const NUM_STAGES = [1, 2, 3];

/** The operation's sizes and whether it is log_softmax, or BAD_INPUT saying what to fix. */
export function softmaxSpec(op: Operation): { M: number; N: number; log: boolean } {
  if (op.kind !== 'softmax')
    throw new SkbError('BAD_INPUT', `The Triton softmax template generates softmax kernels, not ${op.kind}`);
  for (const d of ['M', 'N'])
    if (op.dims[d] === undefined)
      throw new SkbError(
        'BAD_INPUT',
        `A softmax operation names its sizes M (rows, the leading sizes multiplied) and N (the last dimension); ${d} is missing`,
      );
  const extra = Object.keys(op.dims).filter((d) => d !== 'M' && d !== 'N');
  if (extra.length)
    throw new SkbError('BAD_INPUT', `A softmax operation has the sizes M and N only, not ${extra.join(', ')}`);
  requireOperatorDtype(op, 'softmax');
  if (op.layout !== undefined && op.layout !== 'row')
    throw new SkbError('BAD_INPUT', `A softmax operation reads its input row-major (layout "row"), not "${op.layout}"`);
  if (op.epilogue.length) throw new SkbError('BAD_INPUT', 'A softmax operation has no epilogue');
  const stray = Object.keys(op.attrs).filter((a) => a !== 'log');
  if (stray.length)
    throw new SkbError(
      'BAD_INPUT',
      `A softmax operation's only attribute is log (1 for log_softmax), not ${stray.join(', ')}`,
    );
  const log = op.attrs.log ?? 0;
  if (log !== 0 && log !== 1)
    throw new SkbError('BAD_INPUT', "A softmax operation's attrs.log is 0 (softmax) or 1 (log_softmax)");
  return { M: op.dims.M!, N: op.dims.N!, log: log === 1 };
}

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** The knob specs; chunk sizes and the single-pass kernel depend on N. */
export const TRITON_SOFTMAX_KNOBS: KnobSpec[] = [
  implKnob("PyTorch's softmax"),
  COMPILE_MODE_KNOB,
  {
    name: 'block_n',
    description: 'row elements per chunk (BLOCK_N; the whole row when single_pass)',
    values: (op) => {
      const cap = nextPow2(softmaxSpec(op).N);
      return BLOCK_N.filter((b, i) => i === 0 || b <= cap);
    },
  },
  {
    name: 'single_pass',
    description: 'hold the whole row in registers and read it once (rows up to 16384 elements)',
    values: (op) => (nextPow2(softmaxSpec(op).N) <= SINGLE_PASS_MAX ? [false, true] : [false]),
  },
  { name: 'num_warps', description: 'warps per program', values: () => [...NUM_WARPS] },
  { name: 'num_stages', description: 'software pipeline stages of the chunk loads', values: () => [...NUM_STAGES] },
];

/** Which knobs each CUDA menu option moves. */
export const TRITON_SOFTMAX_MOVES: KernelTemplate['moves'] = {
  ...IMPLEMENTATION_MOVES,
  'cuda.online_softmax': ['single_pass'],
  // One read of the row instead of two.
  'cuda.reduce_traffic': ['single_pass'],
  'cuda.work_per_thread': ['block_n'],
  'cuda.block_size': ['num_warps'],
  'cuda.occupancy': ['num_warps', 'num_stages'],
  'cuda.double_buffer': ['num_stages'],
};

/** Every knob snapped to a legal value (`fallback`'s where one is missing), then the register rules. */
function snap(op: Operation, knobs: Knobs, fallback: Knobs): Knobs {
  const out: Knobs = {};
  for (const spec of TRITON_SOFTMAX_KNOBS) {
    const legal = spec.values(op);
    out[spec.name] = nearestLegal(knobs[spec.name], legal, nearestLegal(fallback[spec.name], legal, legal[0]!));
  }
  const blocks = TRITON_SOFTMAX_KNOBS.find((s) => s.name === 'block_n')!.values(op) as number[];
  // The single-pass kernel's chunk is the whole row: the largest legal block covers N.
  if (out.single_pass === true) out.block_n = blocks[blocks.length - 1]!;
  // A chunk must fit in registers: more warps first, then (online kernel only) a smaller chunk.
  while (numKnob(out, 'block_n') > ELEMENTS_PER_THREAD * 32 * numKnob(out, 'num_warps')) {
    if (numKnob(out, 'num_warps') < NUM_WARPS[NUM_WARPS.length - 1]!) out.num_warps = numKnob(out, 'num_warps') * 2;
    else if (out.single_pass !== true && numKnob(out, 'block_n') > blocks[0]!)
      out.block_n = numKnob(out, 'block_n') / 2;
    else break;
  }
  // A chunk smaller than the threads leaves lanes idle: warps shrink with it.
  while (numKnob(out, 'num_warps') > 1 && numKnob(out, 'num_warps') * 32 > numKnob(out, 'block_n')) {
    out.num_warps = numKnob(out, 'num_warps') / 2;
  }
  return out;
}

/** The Triton start: the online kernel in chunks of up to 1024, 4 warps. */
function tritonDefault(op: Operation): Knobs {
  return snap(op, { block_n: 1024, single_pass: false, num_warps: 4, num_stages: 2, compile_mode: 'default' }, {});
}

export function legalizeTritonSoftmax(op: Operation, knobs: Knobs): Knobs {
  softmaxSpec(op);
  const def = tritonDefault(op);
  return legalizeImplementation(knobs, def, (k) => snap(op, k, def));
}

export function tritonSoftmaxBaseline(op: Operation): Knobs {
  softmaxSpec(op);
  return { ...tritonDefault(op), impl: 'torch' };
}

function torchCall(op: Operation): string {
  return `${softmaxSpec(op).log ? 'torch.log_softmax' : 'torch.softmax'}(x, dim=-1)`;
}

function header(op: Operation, what: string): string {
  return matmulHeader(op, `${softmaxSpec(op).log ? 'log_softmax' : 'softmax'} over the last dim, ${what}`);
}

/** A module doing the PyTorch call: the problem's Model and the baseline's ModelNew. */
/** The PyTorch computation: the reference problem's Model and the baseline. */
function frame(op: Operation): OperatorFrame {
  return { header: (what) => header(op, what), torch: { params: 'x', body: [`return ${torchCall(op)}`] } };
}

function kernelSource(op: Operation): string {
  const log = softmaxSpec(op).log;
  const write = (indent: string): string =>
    log ? `${indent}out = v - row_max - log_sum` : `${indent}out = tl.exp(v - row_max) * inv_sum`;
  const stats = log ? '    log_sum = tl.log(row_sum)' : '    inv_sum = 1.0 / row_sum';
  return `
@triton.jit
def skb_softmax_online_kernel(x_ptr, out_ptr, N, BLOCK_N: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * N
    out_row = out_ptr + row * N
    offs = tl.arange(0, BLOCK_N)
    # Pass 1: per lane, a running maximum and the sum of exp(x - max) rescaled when the max grows.
    # A lane that has seen only -inf (masked tail) keeps max -inf and sum 0, without exp(-inf + inf).
    m = tl.full((BLOCK_N,), float("-inf"), tl.float32)
    s = tl.zeros((BLOCK_N,), tl.float32)
    for start in range(0, N, BLOCK_N):
        cols = start + offs
        v = tl.load(x_row + cols, mask=cols < N, other=float("-inf")).to(tl.float32)
        m_new = tl.maximum(m, v)
        seen = m_new != float("-inf")
        s = tl.where(seen, s * tl.exp(m - m_new) + tl.exp(v - m_new), 0.0)
        m = m_new
    row_max = tl.max(m, axis=0)
    row_sum = tl.sum(tl.where(m != float("-inf"), s * tl.exp(m - row_max), 0.0), axis=0)
${stats}
    # Pass 2: the normalized row.
    for start in range(0, N, BLOCK_N):
        cols = start + offs
        mask = cols < N
        v = tl.load(x_row + cols, mask=mask, other=float("-inf")).to(tl.float32)
${write('        ')}
        tl.store(out_row + cols, out.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def skb_softmax_single_kernel(x_ptr, out_ptr, N, BLOCK_N: tl.constexpr):
    # The whole row (N <= BLOCK_N) in registers: one read, one write.
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_N)
    mask = cols < N
    v = tl.load(x_ptr + row * N + cols, mask=mask, other=float("-inf")).to(tl.float32)
    row_max = tl.max(v, axis=0)
    row_sum = tl.sum(tl.exp(v - row_max), axis=0)
${stats}
${write('    ')}
    tl.store(out_ptr + row * N + cols, out.to(out_ptr.dtype.element_ty), mask=mask)


def skb_softmax(x, block_n=BLOCK_N, single_pass=SINGLE_PASS, num_warps=NUM_WARPS, num_stages=NUM_STAGES):
    """${torchCall(op)} for any rank: x viewed as M rows of its last dimension N."""
    if x.dim() == 0 or x.numel() == 0:
        return ${torchCall(op)}
    N = x.shape[-1]
    x2 = x.contiguous().view(-1, N)
    out = torch.empty_like(x2)
    M = x2.shape[0]
    if single_pass and N <= block_n:
        skb_softmax_single_kernel[(M,)](x2, out, N, BLOCK_N=block_n, num_warps=num_warps)
    else:
        # The online kernel serves any N (also a row longer than the single-pass block at run time).
        block = min(block_n, 8192) if single_pass else block_n
        skb_softmax_online_kernel[(M,)](x2, out, N, BLOCK_N=block, num_warps=num_warps, num_stages=num_stages)
    return out.view(x.shape)
`;
}

function generateSource(op: Operation, k: Knobs): string {
  return operatorModuleSource(frame(op), k, "PyTorch's softmax", () => ({
    label: `Triton ${k.single_pass === true ? 'single-pass' : 'online two-pass'} kernel, BLOCK_N ${String(k.block_n)}, ${String(k.num_warps)} warps, ${String(k.num_stages)} stages`,
    constants: [
      ['BLOCK_N', k.block_n!],
      ['SINGLE_PASS', k.single_pass!],
      ['NUM_WARPS', k.num_warps!],
      ['NUM_STAGES', k.num_stages!],
    ],
    kernel: kernelSource(op),
    call: 'return skb_softmax(x)',
  }));
}

/** The KernelBench reference problem of a softmax operation: the PyTorch call on an M x N input. */
export function softmaxProblem(op: Operation): string {
  const { M, N } = softmaxSpec(op);
  return operatorProblemSource(frame(op), [`torch.randn(${M}, ${N}, dtype=${torchDtype(op)})`]);
}

/**
 * Creates the Triton softmax template, a KernelBench template whose moves are keyed by CUDA menu
 * option ids. The options are the matmul template's (the GPU's budget); the rows live in
 * registers, so none of them changes its knobs yet.
 */
export function createTritonSoftmaxTemplate(_options: TritonMatmulOptions = {}): KernelTemplate<'softmax'> {
  return {
    kind: 'softmax',
    knobs: TRITON_SOFTMAX_KNOBS,
    baseline: tritonSoftmaxBaseline,
    legalize: legalizeTritonSoftmax,
    generate: (op, requested) => generateSource(op, legalizeTritonSoftmax(op, requested)),
    moves: TRITON_SOFTMAX_MOVES,
    firstMove: TORCH_COMPILE_OPTION,
    fixedMoves: implementationFixedMoves(tritonSoftmaxBaseline),
  };
}
