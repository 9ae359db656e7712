/**
 * The Triton template for reductions over one axis (KernelBench level 1: sum, mean, max, min,
 * argmax, argmin over a dim): an operation of kind `reduce` with dims { B, R, I }, the input viewed
 * as B x R x I (B the product of the sizes before the reduced axis, R the reduced axis, I the
 * product of those after; B or I may be 1), and attrs `reduce` (the function), `dim` (the reduced
 * axis of the original input, negative counts from the end) and `keepdim` (0 or 1). The baseline is
 * the PyTorch call (torch.sum / mean / amax / amin / argmax / argmin); the kernel reads the input
 * once with fp32 accumulators.
 *
 * The generated forward takes the view from the input's shape at run time, so one candidate is
 * right for every shape with the operation's dim, and picks one of two layouts by I: with I == 1
 * the reduced axis is contiguous, and a program reduces BLOCK_B rows along it in [BLOCK_B, BLOCK_R]
 * tiles (axis 1); with I > 1 the contiguous axis is I, and a program reduces BLOCK_I columns of one
 * b in [BLOCK_R, BLOCK_I] tiles (axis 0), so each load row is contiguous. Both mask the remainders.
 * argmax / argmin return the int64 index of the first extreme value, as torch does.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { lowerKnob, nearestLegal, numKnob } from './knobs.js';
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

export const REDUCE_FUNCTIONS = ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as const;
export type ReduceFunction = (typeof REDUCE_FUNCTIONS)[number];

/** The PyTorch call of each function; max / min return values only, as torch.amax / amin do. */
const TORCH_CALLS: Record<ReduceFunction, string> = {
  sum: 'torch.sum',
  mean: 'torch.mean',
  max: 'torch.amax',
  min: 'torch.amin',
  argmax: 'torch.argmax',
  argmin: 'torch.argmin',
};

/** What the template needs from the operation, validated. */
interface ReduceSpec {
  fn: ReduceFunction;
  dim: number;
  keepdim: boolean;
  B: number;
  R: number;
  I: number;
}

/** The operation's function, axis and sizes, or BAD_INPUT saying what to fix. */
export function reduceSpec(op: Operation): ReduceSpec {
  if (op.kind !== 'reduce')
    throw new SkbError('BAD_INPUT', `The Triton reduce template generates reduce kernels, not ${op.kind}`);
  for (const d of ['B', 'R', 'I'])
    if (op.dims[d] === undefined)
      throw new SkbError(
        'BAD_INPUT',
        `A reduce operation names its sizes B (before the reduced axis), R (the reduced axis) and I (after it); ${d} is missing`,
      );
  const extra = Object.keys(op.dims).filter((d) => !['B', 'R', 'I'].includes(d));
  if (extra.length)
    throw new SkbError('BAD_INPUT', `A reduce operation has the sizes B, R and I only, not ${extra.join(', ')}`);
  requireOperatorDtype(op, 'reduce');
  if (op.layout !== undefined && op.layout !== 'row')
    throw new SkbError('BAD_INPUT', `A reduce operation reads its input row-major (layout "row"), not "${op.layout}"`);
  if (op.epilogue.length)
    throw new SkbError('BAD_INPUT', 'A reduce operation has no epilogue; give the function in attrs.reduce');
  const stray = Object.keys(op.attrs).filter((a) => !['reduce', 'dim', 'keepdim'].includes(a));
  if (stray.length)
    throw new SkbError(
      'BAD_INPUT',
      `A reduce operation's attributes are reduce, dim and keepdim, not ${stray.join(', ')}`,
    );
  const fn = op.attrs.reduce;
  if (typeof fn !== 'string' || !(REDUCE_FUNCTIONS as readonly string[]).includes(fn))
    throw new SkbError('BAD_INPUT', `A reduce operation's attrs.reduce is one of ${REDUCE_FUNCTIONS.join(', ')}`);
  const dim = op.attrs.dim;
  if (typeof dim !== 'number' || !Number.isInteger(dim) || Math.abs(dim) > 64)
    throw new SkbError(
      'BAD_INPUT',
      'A reduce operation gives the reduced axis of its input as attrs.dim, an integer (negative counts from the end)',
    );
  const keepdim = op.attrs.keepdim ?? 0;
  if (keepdim !== 0 && keepdim !== 1) throw new SkbError('BAD_INPUT', "A reduce operation's attrs.keepdim is 0 or 1");
  return { fn: fn as ReduceFunction, dim, keepdim: keepdim === 1, B: op.dims.B!, R: op.dims.R!, I: op.dims.I! };
}

const isArg = (fn: ReduceFunction): boolean => fn === 'argmax' || fn === 'argmin';

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** The sizes offered, dropping those above the dimension rounded up to a power of two (the smallest stays). */
function fitting(sizes: readonly number[], extent: number): number[] {
  const cap = nextPow2(extent);
  return sizes.filter((s, i) => i === 0 || s <= cap);
}

const BLOCK_R = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
/** Rows per program when the reduced axis is contiguous (I == 1): many short rows want several. */
const BLOCK_B = [1, 2, 4, 8, 16, 32, 64];
/** Inner columns per program when I > 1: the contiguous axis of each load. */
const BLOCK_I = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const NUM_WARPS = [1, 2, 4, 8, 16];
const NUM_STAGES = [1, 2, 3, 4];

/**
 * Tile elements a program may hold: 16384 fp32 accumulators are 128 a thread at 4 warps. argmax /
 * argmin hold an int64 index beside each value (three registers an element), so a quarter of it.
 */
export const REDUCE_TILE_BUDGET = 16384;
export function reduceTileBudget(op: Operation): number {
  return isArg(reduceSpec(op).fn) ? REDUCE_TILE_BUDGET / 4 : REDUCE_TILE_BUDGET;
}

/** The knob specs; block sizes depend on the shape, block_inner on the layout the shape takes. */
export const TRITON_REDUCE_KNOBS: KnobSpec[] = [
  implKnob("PyTorch's reduction"),
  COMPILE_MODE_KNOB,
  {
    name: 'block_r',
    description: 'elements of the reduced axis per loop step (BLOCK_R)',
    values: (op) => fitting(BLOCK_R, reduceSpec(op).R),
  },
  {
    name: 'block_inner',
    description: 'rows per program when I == 1 (BLOCK_B), inner columns per program when I > 1 (BLOCK_I)',
    values: (op) => {
      const s = reduceSpec(op);
      return s.I === 1 ? fitting(BLOCK_B, s.B) : fitting(BLOCK_I, s.I);
    },
  },
  { name: 'num_warps', description: 'warps per program', values: () => [...NUM_WARPS] },
  { name: 'num_stages', description: 'software pipeline stages of the loads along R', values: () => [...NUM_STAGES] },
];

/** Which knobs each CUDA menu option moves. */
export const TRITON_REDUCE_MOVES: KernelTemplate['moves'] = {
  ...IMPLEMENTATION_MOVES,
  'cuda.block_reduce': ['block_r'],
  'cuda.work_per_thread': ['block_r', 'block_inner'],
  // With I > 1, wider BLOCK_I makes each load row a longer contiguous run.
  'cuda.coalesce': ['block_inner'],
  'cuda.block_size': ['num_warps'],
  'cuda.occupancy': ['num_warps', 'num_stages'],
  'cuda.double_buffer': ['num_stages'],
};

const lower = (op: Operation, knobs: Knobs, name: string): boolean => lowerKnob(TRITON_REDUCE_KNOBS, op, knobs, name);

/** Every knob snapped to a legal value (`fallback`'s where one is missing), then the register rules. */
function snap(op: Operation, knobs: Knobs, fallback: Knobs): Knobs {
  const out: Knobs = {};
  for (const spec of TRITON_REDUCE_KNOBS) {
    const legal = spec.values(op);
    out[spec.name] = nearestLegal(knobs[spec.name], legal, nearestLegal(fallback[spec.name], legal, legal[0]!));
  }
  // The tile must fit in registers: the larger side shrinks first (the smallest tile, 8 x 1, always fits).
  const budget = reduceTileBudget(op);
  while (numKnob(out, 'block_r') * numKnob(out, 'block_inner') > budget) {
    const first = numKnob(out, 'block_r') >= numKnob(out, 'block_inner') ? 'block_r' : 'block_inner';
    if (!lower(op, out, first) && !lower(op, out, first === 'block_r' ? 'block_inner' : 'block_r')) break;
  }
  // Fewer tile elements than threads leave lanes idle: warps shrink with the tile.
  const tile = numKnob(out, 'block_r') * numKnob(out, 'block_inner');
  while (numKnob(out, 'num_warps') > 1 && numKnob(out, 'num_warps') * 32 > tile) {
    out.num_warps = numKnob(out, 'num_warps') / 2;
  }
  return out;
}

/**
 * The Triton start: about 4096 elements a tile. Rows (I == 1) take up to 1024 of R and as many rows
 * as fill the rest; columns (I > 1) 64 of I, the rest along R.
 */
function tritonDefault(op: Operation): Knobs {
  const s = reduceSpec(op);
  const inner = s.I === 1 ? 1 : Math.min(64, nextPow2(s.I));
  const blockR = Math.min(s.I === 1 ? 1024 : 4096 / inner, nextPow2(s.R));
  const start: Knobs = {
    block_r: blockR,
    block_inner: s.I === 1 ? Math.max(1, Math.floor(4096 / Math.max(blockR, 1))) : inner,
    num_warps: 4,
    num_stages: 2,
    compile_mode: 'default',
  };
  return snap(op, start, {});
}

export function legalizeTritonReduce(op: Operation, knobs: Knobs): Knobs {
  reduceSpec(op);
  const def = tritonDefault(op);
  return legalizeImplementation(knobs, def, (k) => snap(op, k, def));
}

export function tritonReduceBaseline(op: Operation): Knobs {
  reduceSpec(op);
  return { ...tritonDefault(op), impl: 'torch' };
}

/** The file's one-line docstring: the validated kind, sizes, dtype, function and axis. */
function header(op: Operation, what: string): string {
  const s = reduceSpec(op);
  return matmulHeader(op, `${s.fn} over dim ${s.dim}${s.keepdim ? ' (keepdim)' : ''}, ${what}`);
}

/** The PyTorch call on `x` (dim and keepdim spelled out). */
function torchCall(s: ReduceSpec, dim: string = String(s.dim), keepdim: string = s.keepdim ? 'True' : 'False'): string {
  return `${TORCH_CALLS[s.fn]}(x, dim=${dim}, keepdim=${keepdim})`;
}

/** A module doing the PyTorch call: the problem's Model and the baseline's ModelNew. */
/** The PyTorch computation: the reference problem's Model and the baseline. */
function frame(op: Operation): OperatorFrame {
  const call = torchCall(reduceSpec(op));
  return { header: (what) => header(op, what), torch: { params: 'x', body: [`return ${call}`] } };
}

/**
 * Lines of the kernels for the function: the masked-load fill, the accumulator's start, how a tile
 * of values `v` (indices `idx`) folds into it, and its reduction over `axis` into `res`.
 */
function tritonPieces(fn: ReduceFunction): { fill: string; init: string[]; fold: string[]; finish: string[] } {
  const ind = '    ';
  const acc = (value: string) => [`${ind}acc = tl.full(TILE, ${value}, tl.float32)`];
  switch (fn) {
    case 'sum':
    case 'mean':
      return {
        fill: '0.0',
        init: acc('0.0'),
        fold: [`${ind}${ind}acc += v`],
        finish: [`${ind}res = tl.sum(acc, axis=AXIS)`, ...(fn === 'mean' ? [`${ind}res = res / R`] : [])],
      };
    case 'max':
    case 'min': {
      const inf = fn === 'max' ? 'float("-inf")' : 'float("inf")';
      return {
        fill: inf,
        init: acc(inf),
        fold: [`${ind}${ind}acc = tl.${fn === 'max' ? 'maximum' : 'minimum'}(acc, v)`],
        finish: [`${ind}res = tl.${fn}(acc, axis=AXIS)`],
      };
    }
    default: {
      const max = fn === 'argmax';
      const inf = max ? 'float("-inf")' : 'float("inf")';
      return {
        fill: inf,
        init: [...acc(inf), `${ind}acc_idx = tl.zeros(TILE, tl.int64)`],
        // Strictly better only: each lane sees increasing indices, so it keeps the first extreme.
        fold: [
          `${ind}${ind}better = v ${max ? '>' : '<'} acc`,
          `${ind}${ind}acc = tl.where(better, v, acc)`,
          `${ind}${ind}acc_idx = tl.where(better, idx, acc_idx)`,
        ],
        // The first index among the lanes that hold the extreme, as torch returns.
        finish: [
          `${ind}best = tl.${max ? 'max' : 'min'}(acc, axis=AXIS)`,
          `${ind}at_best = acc == tl.expand_dims(best, AXIS)`,
          `${ind}res = tl.min(tl.where(at_best, acc_idx, 9223372036854775807), axis=AXIS)`,
        ],
      };
    }
  }
}

function kernelSource(op: Operation): string {
  const s = reduceSpec(op);
  const p = tritonPieces(s.fn);
  const arg = isArg(s.fn);
  const body = (axis: 0 | 1): string =>
    p.init.join('\n').replaceAll('TILE', axis === 1 ? '(BLOCK_B, BLOCK_R)' : '(BLOCK_R, BLOCK_I)');
  const fold = p.fold.join('\n');
  const finish = (axis: 0 | 1): string => p.finish.join('\n').replaceAll('AXIS', String(axis));
  return `
@triton.jit
def skb_reduce_rows_kernel(x_ptr, out_ptr, B, R, BLOCK_B: tl.constexpr, BLOCK_R: tl.constexpr):
    # I == 1: the reduced axis is contiguous; BLOCK_B rows per program, [BLOCK_B, BLOCK_R] tiles.
    rows = tl.program_id(0).to(tl.int64) * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < B
    row_ptrs = x_ptr + rows[:, None] * R
${body(1)}
    for start in range(0, R, BLOCK_R):
        cols = start + tl.arange(0, BLOCK_R)
        mask = row_mask[:, None] & (cols[None, :] < R)
        v = tl.load(row_ptrs + cols[None, :], mask=mask, other=${p.fill}).to(tl.float32)
${arg ? '        idx = tl.broadcast_to(cols[None, :].to(tl.int64), (BLOCK_B, BLOCK_R))\n' : ''}${fold}
${finish(1)}
    tl.store(out_ptr + rows, res.to(out_ptr.dtype.element_ty), mask=row_mask)


@triton.jit
def skb_reduce_cols_kernel(x_ptr, out_ptr, R, I, BLOCK_R: tl.constexpr, BLOCK_I: tl.constexpr):
    # I > 1: I is contiguous; a program takes one b and BLOCK_I columns, [BLOCK_R, BLOCK_I] tiles.
    # One grid axis (b-major), since the second is limited to 65535 programs.
    pid = tl.program_id(0).to(tl.int64)
    col_blocks = tl.cdiv(I, BLOCK_I)
    b = pid // col_blocks
    cols = (pid % col_blocks) * BLOCK_I + tl.arange(0, BLOCK_I)
    col_mask = cols < I
    base = x_ptr + b * R * I + cols[None, :]
${body(0)}
    for start in range(0, R, BLOCK_R):
        rows = start + tl.arange(0, BLOCK_R).to(tl.int64)
        mask = (rows[:, None] < R) & col_mask[None, :]
        v = tl.load(base + rows[:, None] * I, mask=mask, other=${p.fill}).to(tl.float32)
${arg ? '        idx = tl.broadcast_to(rows[:, None], (BLOCK_R, BLOCK_I))\n' : ''}${fold}
${finish(0)}
    tl.store(out_ptr + b * I + cols, res.to(out_ptr.dtype.element_ty), mask=col_mask)


def skb_reduce(x, dim=DIM, keepdim=KEEPDIM, block_r=BLOCK_R, block_inner=BLOCK_INNER,
               num_warps=NUM_WARPS, num_stages=NUM_STAGES):
    """${TORCH_CALLS[s.fn]}(x, dim, keepdim) for any shape: x viewed as B x R x I around the axis."""
    if x.dim() == 0 or x.numel() == 0:
        # Nothing to tile (and torch's own errors for empty max / min): the library call.
        return ${torchCall(s, 'dim', 'keepdim')}
    if not -x.dim() <= dim < x.dim():
        raise IndexError(f"Dimension out of range (expected to be in range of [{-x.dim()}, {x.dim() - 1}], but got {dim})")
    dim = dim % x.dim()
    shape = tuple(x.shape)
    B, R, I = math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1:])
    x = x.contiguous()
    out = torch.empty((B, I), device=x.device, dtype=${arg ? 'torch.int64' : 'x.dtype'})
    if I == 1:
        grid = (triton.cdiv(B, block_inner),)
        skb_reduce_rows_kernel[grid](x, out, B, R, BLOCK_B=block_inner, BLOCK_R=block_r,
                                     num_warps=num_warps, num_stages=num_stages)
    else:
        grid = (B * triton.cdiv(I, block_inner),)
        skb_reduce_cols_kernel[grid](x, out, R, I, BLOCK_R=block_r, BLOCK_I=block_inner,
                                     num_warps=num_warps, num_stages=num_stages)
    return out.view(shape[:dim] + ((1,) if keepdim else ()) + shape[dim + 1:])
`;
}

function generateSource(op: Operation, k: Knobs): string {
  const s = reduceSpec(op);
  return operatorModuleSource(frame(op), k, "PyTorch's reduction", () => ({
    label: `Triton kernel, BLOCK_R ${String(k.block_r)}, ${s.I === 1 ? 'BLOCK_B' : 'BLOCK_I'} ${String(k.block_inner)}, ${String(k.num_warps)} warps, ${String(k.num_stages)} stages`,
    stdlib: ['math'],
    constants: [
      ['DIM', s.dim],
      ['KEEPDIM', s.keepdim],
      ['BLOCK_R', k.block_r!],
      // BLOCK_B when the input's I is 1 at run time, BLOCK_I otherwise.
      ['BLOCK_INNER', k.block_inner!],
      ['NUM_WARPS', k.num_warps!],
      ['NUM_STAGES', k.num_stages!],
    ],
    kernel: kernelSource(op),
    call: 'return skb_reduce(x)',
  }));
}

/**
 * The KernelBench reference problem of a reduce operation: the PyTorch call on a B x R x I input
 * over dim 1 (the operation's dim must name that axis: 1 or -2).
 */
export function reduceProblem(op: Operation): string {
  const s = reduceSpec(op);
  if (s.dim !== 1 && s.dim !== -2)
    throw new SkbError(
      'BAD_INPUT',
      `A reduce problem is written as a B x R x I input reduced over dim 1; give attrs.dim 1 (or -2), not ${s.dim}`,
    );
  return operatorProblemSource(frame(op), [`torch.randn(${s.B}, ${s.R}, ${s.I}, dtype=${torchDtype(op)})`]);
}

/**
 * Creates the Triton reduce template, a KernelBench template whose moves are keyed by CUDA menu
 * option ids. The options are the matmul template's (the GPU's budget); the reduction's tiles live
 * in registers, so none of them changes its knobs yet.
 */
export function createTritonReduceTemplate(_options: TritonMatmulOptions = {}): KernelTemplate<'reduce'> {
  return {
    kind: 'reduce',
    knobs: TRITON_REDUCE_KNOBS,
    baseline: tritonReduceBaseline,
    legalize: legalizeTritonReduce,
    generate: (op, requested) => generateSource(op, legalizeTritonReduce(op, requested)),
    moves: TRITON_REDUCE_MOVES,
    firstMove: TORCH_COMPILE_OPTION,
    fixedMoves: implementationFixedMoves(tritonReduceBaseline),
  };
}
