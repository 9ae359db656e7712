/**
 * The Triton template for layer normalisation and RMS normalisation (KernelBench level 1:
 * 40_LayerNorm, 36_RMSNorm_): an operation of kind `layernorm` in either form of layernorm-form.ts
 * (rows { M, N } with nn.LayerNorm's weight and bias or none; columns { B, R, I } around attrs.dim).
 * The baseline is the PyTorch lines (F.layer_norm, or the RMS formula written out as KernelBench
 * writes it); the kernels keep their statistics in fp32 whatever the dtype.
 *
 * Kernels, chosen by the knob `variant`:
 * - "row": whole rows (columns) in registers, BLOCK_INNER of them a program (rows of up to 16384
 *   elements): one read, the mean and the centred variance from registers, one write;
 * - "loop": a program walks its row in BLOCK_N chunks, the statistics pass then the normalising
 *   pass (two reads). The statistics are per-lane Welford sums combined by Chan's formula
 *   (`stats` one_pass) or the mean then the centred squares (two_pass, three reads); RMS needs
 *   the sum of squares only. With `split` > 1 (rows), SPLIT programs share a row: each writes its
 *   slice's (count, mean, M2) to an fp32 workspace, then each combines the row's parts by Chan's
 *   formula and normalises its slice, so few wide rows still fill the GPU.
 * Columns take BLOCK_INNER columns of one b a program, [BLOCK_N, BLOCK_INNER] tiles along R.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { pyNumber, selfParam } from './epilogue-chain.js';
import { lowerKnob, nearestLegal, numKnob } from './knobs.js';
import { type LayernormColumns, type LayernormForm, type LayernormRows, layernormForm } from './layernorm-form.js';
import { matmulHeader, torchDtype } from './matmul-module.js';
import { type OperatorFrame, operatorModuleSource, operatorProblemSource } from './operator-module.js';
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
import type { TritonMatmulOptions } from './triton-matmul-template.js';

/** The longest row (column) the "row" kernel holds in registers. */
export const ROW_KERNEL_MAX = 16384;
/** Tile elements a thread may hold: the row kernel keeps one value each, the loop kernel three accumulators. */
const ROW_ELEMENTS_PER_THREAD = 64;
const LOOP_ELEMENTS_PER_THREAD = 16;
/** A split row gives each program at least this many elements. */
const MIN_SLICE = 1024;

const BLOCK_N = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];
/** Rows a program when the row kernel takes short rows; columns a program in the columns form. */
const BLOCK_ROWS = [1, 2, 4, 8, 16, 32, 64];
const BLOCK_COLUMNS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const SPLIT = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const NUM_WARPS = [1, 2, 4, 8, 16];
const NUM_STAGES = [1, 2, 3];

/** The operation's form for this template (f32, f16 or bf16, row-major), or BAD_INPUT saying what to fix. */
function tritonLayernormSpec(op: Operation): LayernormForm {
  if (op.kind !== 'layernorm')
    throw new SkbError('BAD_INPUT', `The Triton layernorm template generates layernorm kernels, not ${op.kind}`);
  requireOperatorDtype(op, 'layernorm');
  if (op.layout !== undefined && op.layout !== 'row')
    throw new SkbError(
      'BAD_INPUT',
      `A layernorm operation reads its input row-major (layout "row"), not "${op.layout}"`,
    );
  return layernormForm(op);
}

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** The sizes offered, dropping those above the extent rounded up to a power of two (the smallest stays). */
function fitting(sizes: readonly number[], extent: number): number[] {
  const cap = nextPow2(extent);
  return sizes.filter((s, i) => i === 0 || s <= cap);
}

/** The normalised length (N of a row, R of a column) and the other extent a program tiles. */
function extents(f: LayernormForm): { length: number; inner: number } {
  return f.form === 'rows' ? { length: f.N, inner: f.M } : { length: f.R, inner: f.I };
}

/** The knob specs; which values are legal depends on the form and the sizes. */
export const TRITON_LAYERNORM_KNOBS: KnobSpec[] = [
  implKnob("PyTorch's normalisation"),
  COMPILE_MODE_KNOB,
  {
    name: 'variant',
    description: 'whole rows in registers, read once ("row", up to 16384 elements), or a loop over chunks ("loop")',
    values: (op) => (nextPow2(extents(tritonLayernormSpec(op)).length) <= ROW_KERNEL_MAX ? ['loop', 'row'] : ['loop']),
  },
  {
    name: 'block_n',
    description: 'elements of the normalised axis per chunk (BLOCK_N; the whole row in the row kernel)',
    values: (op) => fitting(BLOCK_N, extents(tritonLayernormSpec(op)).length),
  },
  {
    name: 'block_inner',
    description: 'rows per program in the row kernel (rows form), columns per program (columns form)',
    values: (op) => {
      const f = tritonLayernormSpec(op);
      return f.form === 'rows' ? fitting(BLOCK_ROWS, f.M) : fitting(BLOCK_COLUMNS, f.I);
    },
  },
  {
    name: 'split',
    description: 'programs sharing one row in the loop kernel, their statistics combined (rows form)',
    values: (op) => {
      const f = tritonLayernormSpec(op);
      return f.form === 'rows' ? SPLIT.filter((s) => s === 1 || s * MIN_SLICE <= f.N) : [1];
    },
  },
  {
    name: 'stats',
    description:
      'statistics of the loop kernel: per-lane Welford sums in one pass, or the mean then the centred squares',
    values: (op) => (tritonLayernormSpec(op).rms ? ['one_pass'] : ['one_pass', 'two_pass']),
  },
  { name: 'num_warps', description: 'warps per program', values: () => [...NUM_WARPS] },
  { name: 'num_stages', description: 'software pipeline stages of the chunk loads', values: () => [...NUM_STAGES] },
];

/** Which knobs each CUDA menu option moves. */
export const TRITON_LAYERNORM_MOVES: KernelTemplate['moves'] = {
  ...IMPLEMENTATION_MOVES,
  'cuda.online_softmax': ['stats'],
  // One read of the row instead of two.
  'cuda.reduce_traffic': ['variant'],
  'cuda.work_per_thread': ['block_n', 'block_inner'],
  'cuda.block_reduce': ['block_n'],
  // Columns: a wider BLOCK_INNER makes each load row a longer contiguous run.
  'cuda.coalesce': ['block_inner'],
  'cuda.split_k': ['split'],
  'cuda.grid_shape': ['split', 'block_inner'],
  'cuda.block_size': ['num_warps'],
  'cuda.occupancy': ['num_warps', 'num_stages'],
  'cuda.double_buffer': ['num_stages'],
};

function legalOf(op: Operation, name: string): number[] {
  return TRITON_LAYERNORM_KNOBS.find((s) => s.name === name)!.values(op) as number[];
}

const lower = (op: Operation, knobs: Knobs, name: string): boolean =>
  lowerKnob(TRITON_LAYERNORM_KNOBS, op, knobs, name);

/** Every knob snapped to a legal value (`fallback`'s where one is missing), then the kernel's rules. */
function snap(op: Operation, knobs: Knobs, fallback: Knobs): Knobs {
  const f = tritonLayernormSpec(op);
  const out: Knobs = {};
  for (const spec of TRITON_LAYERNORM_KNOBS) {
    const legal = spec.values(op);
    out[spec.name] = nearestLegal(knobs[spec.name], legal, nearestLegal(fallback[spec.name], legal, legal[0]!));
  }
  const row = out.variant === 'row';
  if (row) {
    // The row kernel's block is the whole row; it has no chunks to split or to make statistics over.
    const blocks = legalOf(op, 'block_n');
    out.block_n = blocks[blocks.length - 1]!;
    out.split = 1;
    out.stats = 'one_pass';
  } else {
    // The loop kernel takes one row a program (rows form); a split row's chunk fits in its slice.
    if (f.form === 'rows') out.block_inner = 1;
    const slice = nextPow2(Math.ceil(extents(f).length / numKnob(out, 'split')));
    while (numKnob(out, 'block_n') > slice) if (!lower(op, out, 'block_n')) break;
  }
  // A tile must fit in registers: more warps first, then fewer rows / columns, then (loop) a shorter chunk.
  const perThread = row ? ROW_ELEMENTS_PER_THREAD : LOOP_ELEMENTS_PER_THREAD;
  const tile = (): number => numKnob(out, 'block_n') * numKnob(out, 'block_inner');
  while (tile() > perThread * 32 * numKnob(out, 'num_warps')) {
    if (numKnob(out, 'num_warps') < NUM_WARPS[NUM_WARPS.length - 1]!) out.num_warps = numKnob(out, 'num_warps') * 2;
    else if (!lower(op, out, 'block_inner') && (row || !lower(op, out, 'block_n'))) break;
  }
  // A tile smaller than the threads leaves lanes idle: warps shrink with it.
  while (numKnob(out, 'num_warps') > 1 && numKnob(out, 'num_warps') * 32 > tile()) {
    out.num_warps = numKnob(out, 'num_warps') / 2;
  }
  return out;
}

/**
 * The Triton start: rows (columns) of up to 4096 (1024) elements in registers, about 4096 elements
 * a program; longer ones in the loop kernel, rows split so that there are about two programs per
 * SM (`multiprocessors`, 132 when unknown).
 */
function tritonDefault(op: Operation, multiprocessors: number): Knobs {
  const f = tritonLayernormSpec(op);
  const { length, inner } = extents(f);
  const L = nextPow2(length);
  const start: Knobs = { stats: 'one_pass', num_warps: 4, num_stages: 2, compile_mode: 'default', split: 1 };
  if (L <= (f.form === 'rows' ? 4096 : 1024)) {
    Object.assign(start, { variant: 'row', block_n: L, block_inner: Math.max(1, Math.min(nextPow2(inner), 4096 / L)) });
  } else if (f.form === 'rows') {
    let split = 1;
    while (f.M * split < 2 * multiprocessors && split * 2 * MIN_SLICE <= f.N) split *= 2;
    Object.assign(start, { variant: 'loop', block_n: 2048, block_inner: 1, split });
  } else {
    const columns = Math.min(64, nextPow2(inner));
    Object.assign(start, { variant: 'loop', block_inner: columns, block_n: Math.max(32, 2048 / columns) });
  }
  return snap(op, start, {});
}

function torchDims(f: LayernormForm): string {
  if (f.form === 'columns') return String(f.dim);
  const k = f.shape.length;
  return k === 1 ? '-1' : `(${Array.from({ length: k }, (_, i) => i - k).join(', ')})`;
}

function pyTuple(values: readonly number[]): string {
  return `(${values.join(', ')}${values.length === 1 ? ',' : ''})`;
}

/** forward's PyTorch lines: F.layer_norm as nn.LayerNorm calls it, or the formula written out. */
function torchBody(f: LayernormForm): string[] {
  const eps = pyNumber(f.eps);
  const dims = torchDims(f);
  if (f.form === 'rows' && !f.rms) {
    const w = f.weight === null ? 'None' : selfParam(f.weight);
    const b = f.bias === null ? 'None' : selfParam(f.bias);
    return [`return torch.nn.functional.layer_norm(x, ${pyTuple(f.shape)}, ${w}, ${b}, ${eps})`];
  }
  if (f.rms) {
    const weight = f.form === 'rows' && f.weight !== null ? ` * ${selfParam(f.weight)}` : '';
    return [`rms = torch.sqrt(torch.mean(x ** 2, dim=${dims}, keepdim=True) + ${eps})`, `return x / rms${weight}`];
  }
  return [
    `mean = torch.mean(x, dim=${dims}, keepdim=True)`,
    `var = torch.mean((x - mean) ** 2, dim=${dims}, keepdim=True)`,
    `return (x - mean) / torch.sqrt(var + ${eps})`,
  ];
}

/** The parameters (weight 1 + noise, bias noise, so that a candidate ignoring either fails), under their state_dict names. */
function initLines(op: Operation, f: LayernormForm): string[] {
  if (f.form === 'columns') return [];
  const lines: string[] = [];
  const containers = new Set<string>();
  const shape = pyTuple(f.shape);
  const dtype = torchDtype(op);
  for (const [name, value] of [
    [f.weight, `1.0 + 0.5 * torch.randn(${shape}, dtype=${dtype})`],
    [f.bias, `0.5 * torch.randn(${shape}, dtype=${dtype})`],
  ] as const) {
    if (name === null) continue;
    const dot = name.indexOf('.');
    if (dot > 0 && !containers.has(name.slice(0, dot))) {
      containers.add(name.slice(0, dot));
      lines.push(`self.${name.slice(0, dot)} = nn.Module()`);
    }
    lines.push(`${selfParam(name)} = nn.Parameter(${value})`);
  }
  return lines;
}

function describe(f: LayernormForm): string {
  const what = f.rms ? 'RMS norm' : 'layer norm';
  if (f.form === 'columns') return `${what} over dim ${f.dim}`;
  const params = f.weight === null ? 'no weight' : f.bias === null ? 'weight' : 'weight and bias';
  return `${what} over the last ${f.shape.length === 1 ? 'dim' : `${f.shape.length} dims`} (${params})`;
}

/** The PyTorch computation: the reference problem's Model and the baseline. */
function frame(op: Operation): OperatorFrame {
  const f = tritonLayernormSpec(op);
  return {
    header: (what) => matmulHeader(op, `${describe(f)}, ${what}`),
    torch: { params: 'x', init: initLines(op, f), body: torchBody(f) },
  };
}

/** The per-row (column) statistics over a loop, as `part_n`, `part_mean` and `part_m2` (sums of squares about the mean). */
interface StatsLoop {
  /** The accumulators' shape, e.g. "(BLOCK_N,)". */
  shape: string;
  /** The for-header, at four spaces. */
  loop: string;
  /** Lines at eight spaces that define `mask` and `v` (fp32, 0 where masked) for one chunk. */
  load: string[];
  /** The axis the accumulators reduce over. */
  axis: 0 | 1;
  /** How a reduced value broadcasts back against the accumulators. */
  expand: (name: string) => string;
}

function statsLines(f: LayernormForm, twoPass: boolean, s: StatsLoop): string[] {
  const zeros = (name: string): string => `    ${name} = tl.zeros(${s.shape}, tl.float32)`;
  const sum = (what: string): string => `tl.sum(${what}, axis=${s.axis})`;
  const loop = [s.loop, ...s.load, '        cnt += mask.to(tl.float32)'];
  if (f.rms)
    return [
      zeros('cnt'),
      zeros('q'),
      ...loop,
      '        q += v * v',
      `    part_n = ${sum('cnt')}`,
      // RMS normalises about zero: the parts' mean is 0, their M2 the sum of squares.
      '    part_mean = part_n * 0.0',
      `    part_m2 = ${sum('q')}`,
    ];
  if (twoPass)
    return [
      zeros('cnt'),
      zeros('acc'),
      ...loop,
      '        acc += v',
      `    part_n = ${sum('cnt')}`,
      `    part_mean = ${sum('acc')} / tl.maximum(part_n, 1.0)`,
      zeros('q'),
      s.loop,
      ...s.load,
      `        d = tl.where(mask, v - ${s.expand('part_mean')}, 0.0)`,
      '        q += d * d',
      `    part_m2 = ${sum('q')}`,
    ];
  return [
    zeros('cnt'),
    zeros('mean'),
    zeros('m2'),
    s.loop,
    ...s.load,
    '        cnt_new = cnt + mask.to(tl.float32)',
    '        delta = tl.where(mask, v - mean, 0.0)',
    '        mean += delta / tl.maximum(cnt_new, 1.0)',
    '        m2 += delta * tl.where(mask, v - mean, 0.0)',
    '        cnt = cnt_new',
    "    # Chan's combination of the lanes' (count, mean, M2).",
    `    part_n = ${sum('cnt')}`,
    `    part_mean = ${sum('cnt * mean')} / tl.maximum(part_n, 1.0)`,
    `    dm = mean - ${s.expand('part_mean')}`,
    `    part_m2 = ${sum('m2')} + ${sum('cnt * dm * dm')}`,
  ];
}

/** The rows' statistics over [lo, hi) of x_row, in BLOCK_N chunks. */
function rowStats(f: LayernormRows, twoPass: boolean, lo: string, hi: string): string {
  return statsLines(f, twoPass, {
    shape: '(BLOCK_N,)',
    loop: `    for start in range(${lo}, ${hi}, BLOCK_N):`,
    load: [
      '        cols = start + offs',
      `        mask = cols < ${hi}`,
      '        v = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)',
    ],
    axis: 0,
    expand: (name) => name,
  }).join('\n');
}

/** The normalising pass over [lo, hi) of a row: (v - row_mean) * rstd, then the weight and bias. */
function rowNormalize(f: LayernormRows, lo: string, hi: string): string {
  return [
    `    for start in range(${lo}, ${hi}, BLOCK_N):`,
    '        cols = start + offs',
    `        mask = cols < ${hi}`,
    '        v = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)',
    '        y = (v - row_mean) * rstd',
    ...(f.weight !== null ? ['        y = y * tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)'] : []),
    ...(f.bias !== null ? ['        y = y + tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)'] : []),
    '        tl.store(out_row + cols, y.to(out_ptr.dtype.element_ty), mask=mask)',
  ].join('\n');
}

function rowsKernels(f: LayernormRows, twoPass: boolean): string {
  const centred = f.rms
    ? '    d = v'
    : '    mean = tl.sum(v, axis=1) / N\n    d = tl.where(mask, v - mean[:, None], 0.0)';
  const affine = [
    ...(f.weight !== null
      ? ['    y = y * tl.load(w_ptr + cols, mask=col_mask, other=0.0).to(tl.float32)[None, :]']
      : []),
    ...(f.bias !== null ? ['    y = y + tl.load(b_ptr + cols, mask=col_mask, other=0.0).to(tl.float32)[None, :]'] : []),
  ].join('\n');
  return `
NORMALIZED_SHAPE = ${pyTuple(f.shape)}
EPS = ${pyNumber(f.eps)}


@triton.jit
def skb_ln_rows_kernel(x_ptr, w_ptr, b_ptr, out_ptr, M, N, eps, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    # BLOCK_M whole rows (N <= BLOCK_N) in registers: one read, one write.
    rows = tl.program_id(0).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, BLOCK_N)
    col_mask = cols < N
    mask = (rows < M)[:, None] & col_mask[None, :]
    offs = rows[:, None] * N + cols[None, :]
    v = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
${centred}
    rstd = tl.rsqrt(tl.sum(d * d, axis=1) / N + eps)
    y = d * rstd[:, None]
${affine}
    tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def skb_ln_loop_kernel(x_ptr, w_ptr, b_ptr, out_ptr, N, eps, BLOCK_N: tl.constexpr):
    # One row a program in BLOCK_N chunks: the statistics pass, then the normalising pass.
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * N
    out_row = out_ptr + row * N
    offs = tl.arange(0, BLOCK_N)
${rowStats(f, twoPass, '0', 'N')}
    row_mean = part_mean
    rstd = tl.rsqrt(part_m2 / tl.maximum(part_n, 1.0) + eps)
${rowNormalize(f, '0', 'N')}


@triton.jit
def skb_ln_part_stats_kernel(x_ptr, part_ptr, N, PART, SPLIT, BLOCK_N: tl.constexpr):
    # Program (row, part): the (count, mean, M2) of its slice of PART elements, to the workspace.
    pid = tl.program_id(0).to(tl.int64)
    row = pid // SPLIT
    lo = (pid % SPLIT) * PART
    hi = tl.minimum(lo + PART, N)
    x_row = x_ptr + row * N
    offs = tl.arange(0, BLOCK_N)
${rowStats(f, twoPass, 'lo', 'hi')}
    tl.store(part_ptr + pid * 3, part_n)
    tl.store(part_ptr + pid * 3 + 1, part_mean)
    tl.store(part_ptr + pid * 3 + 2, part_m2)


@triton.jit
def skb_ln_part_norm_kernel(x_ptr, part_ptr, w_ptr, b_ptr, out_ptr, N, PART, SPLIT, eps,
                            BLOCK_N: tl.constexpr, BLOCK_S: tl.constexpr):
    # Program (row, part): the row's statistics from its SPLIT parts, then its slice normalised.
    pid = tl.program_id(0).to(tl.int64)
    row = pid // SPLIT
    lo = (pid % SPLIT) * PART
    hi = tl.minimum(lo + PART, N)
    s = tl.arange(0, BLOCK_S)
    parts = part_ptr + (row * SPLIT + s) * 3
    s_mask = s < SPLIT
    cnt = tl.load(parts, mask=s_mask, other=0.0)
    mean = tl.load(parts + 1, mask=s_mask, other=0.0)
    m2 = tl.load(parts + 2, mask=s_mask, other=0.0)
    # Chan's combination of the parts' (count, mean, M2).
    row_n = tl.sum(cnt, axis=0)
    row_mean = tl.sum(cnt * mean, axis=0) / tl.maximum(row_n, 1.0)
    dm = mean - row_mean
    rstd = tl.rsqrt((tl.sum(m2, axis=0) + tl.sum(cnt * dm * dm, axis=0)) / tl.maximum(row_n, 1.0) + eps)
    x_row = x_ptr + row * N
    out_row = out_ptr + row * N
    offs = tl.arange(0, BLOCK_N)
${rowNormalize(f, 'lo', 'hi')}


def skb_layernorm(x, weight=None, bias=None, variant=VARIANT, block_n=BLOCK_N, block_inner=BLOCK_INNER,
                  split=SPLIT, num_warps=NUM_WARPS, num_stages=NUM_STAGES):
    """The normalisation over x's trailing NORMALIZED_SHAPE: x viewed as M rows of N."""
    k = len(NORMALIZED_SHAPE)
    if tuple(x.shape[-k:]) != NORMALIZED_SHAPE:
        raise RuntimeError(f"Given normalized_shape={list(NORMALIZED_SHAPE)}, expected input with shape [*, {', '.join(map(str, NORMALIZED_SHAPE))}], but got input of size {list(x.shape)}")
    N = math.prod(NORMALIZED_SHAPE)
    x2 = x.contiguous().view(-1, N)
    M = x2.shape[0]
    out = torch.empty_like(x2)
    if M == 0:
        return out.view(x.shape)
    # A pointer the kernel never reads where the operation has no weight or bias.
    w = x2 if weight is None else weight.contiguous().view(-1)
    b = x2 if bias is None else bias.contiguous().view(-1)
    if variant == "row" and N <= block_n:
        grid = (triton.cdiv(M, block_inner),)
        skb_ln_rows_kernel[grid](x2, w, b, out, M, N, EPS, BLOCK_M=block_inner, BLOCK_N=block_n, num_warps=num_warps)
    elif split > 1:
        part = triton.cdiv(triton.cdiv(N, split), block_n) * block_n
        parts = torch.empty((M * split, 3), device=x.device, dtype=torch.float32)
        grid = (M * split,)
        skb_ln_part_stats_kernel[grid](x2, parts, N, part, split, BLOCK_N=block_n,
                                       num_warps=num_warps, num_stages=num_stages)
        skb_ln_part_norm_kernel[grid](x2, parts, w, b, out, N, part, split, EPS, BLOCK_N=block_n,
                                      BLOCK_S=triton.next_power_of_2(split), num_warps=num_warps, num_stages=num_stages)
    else:
        skb_ln_loop_kernel[(M,)](x2, w, b, out, N, EPS, BLOCK_N=block_n, num_warps=num_warps, num_stages=num_stages)
    return out.view(x.shape)
`;
}

function columnsKernels(f: LayernormColumns, twoPass: boolean): string {
  const centred = f.rms
    ? '    d = v'
    : '    mean = tl.sum(v, axis=0) / R\n    d = tl.where(mask, v - mean[None, :], 0.0)';
  const stats = statsLines(f, twoPass, {
    shape: '(BLOCK_R, BLOCK_I)',
    loop: '    for start in range(0, R, BLOCK_R):',
    load: [
      '        rows = start + tl.arange(0, BLOCK_R).to(tl.int64)',
      '        mask = (rows[:, None] < R) & col_mask[None, :]',
      '        v = tl.load(base + rows[:, None] * I, mask=mask, other=0.0).to(tl.float32)',
    ],
    axis: 0,
    expand: (name) => `${name}[None, :]`,
  }).join('\n');
  return `
DIM = ${f.dim}
EPS = ${pyNumber(f.eps)}


@triton.jit
def skb_ln_cols_kernel(x_ptr, out_ptr, R, I, eps, BLOCK_R: tl.constexpr, BLOCK_I: tl.constexpr):
    # BLOCK_I whole columns (R <= BLOCK_R) of one b in registers: one read, one write.
    # One grid axis (b-major), since the second is limited to 65535 programs.
    pid = tl.program_id(0).to(tl.int64)
    col_blocks = tl.cdiv(I, BLOCK_I)
    b = pid // col_blocks
    cols = (pid % col_blocks) * BLOCK_I + tl.arange(0, BLOCK_I)
    rows = tl.arange(0, BLOCK_R).to(tl.int64)
    mask = (rows[:, None] < R) & (cols[None, :] < I)
    offs = b * R * I + rows[:, None] * I + cols[None, :]
    v = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
${centred}
    rstd = tl.rsqrt(tl.sum(d * d, axis=0) / R + eps)
    y = d * rstd[None, :]
    tl.store(out_ptr + offs, y.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def skb_ln_cols_loop_kernel(x_ptr, out_ptr, R, I, eps, BLOCK_R: tl.constexpr, BLOCK_I: tl.constexpr):
    # BLOCK_I columns of one b in [BLOCK_R, BLOCK_I] tiles along R: the statistics, then the normalising pass.
    pid = tl.program_id(0).to(tl.int64)
    col_blocks = tl.cdiv(I, BLOCK_I)
    b = pid // col_blocks
    cols = (pid % col_blocks) * BLOCK_I + tl.arange(0, BLOCK_I)
    col_mask = cols < I
    base = x_ptr + b * R * I + cols[None, :]
    out_base = out_ptr + b * R * I + cols[None, :]
${stats}
    rstd = tl.rsqrt(part_m2 / tl.maximum(part_n, 1.0) + eps)
    for start in range(0, R, BLOCK_R):
        rows = start + tl.arange(0, BLOCK_R).to(tl.int64)
        mask = (rows[:, None] < R) & col_mask[None, :]
        v = tl.load(base + rows[:, None] * I, mask=mask, other=0.0).to(tl.float32)
        y = (v - part_mean[None, :]) * rstd[None, :]
        tl.store(out_base + rows[:, None] * I, y.to(out_ptr.dtype.element_ty), mask=mask)


def skb_layernorm(x, dim=DIM, variant=VARIANT, block_n=BLOCK_N, block_inner=BLOCK_INNER,
                  num_warps=NUM_WARPS, num_stages=NUM_STAGES):
    """The normalisation over axis dim of x, viewed as B x R x I around it."""
    if not -x.dim() <= dim < x.dim():
        raise IndexError(f"Dimension out of range (expected to be in range of [{-x.dim()}, {x.dim() - 1}], but got {dim})")
    dim = dim % x.dim()
    shape = tuple(x.shape)
    B, R, I = math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1:])
    x = x.contiguous()
    out = torch.empty_like(x)
    if x.numel() == 0:
        return out
    grid = (B * triton.cdiv(I, block_inner),)
    if variant == "row" and R <= block_n:
        skb_ln_cols_kernel[grid](x, out, R, I, EPS, BLOCK_R=block_n, BLOCK_I=block_inner, num_warps=num_warps)
    else:
        skb_ln_cols_loop_kernel[grid](x, out, R, I, EPS, BLOCK_R=block_n, BLOCK_I=block_inner,
                                      num_warps=num_warps, num_stages=num_stages)
    return out
`;
}

function tritonCall(f: LayernormForm): string {
  if (f.form === 'columns') return 'return skb_layernorm(x)';
  const args = [f.weight, f.bias].filter((p): p is string => p !== null).map(selfParam);
  return `return skb_layernorm(${['x', ...args].join(', ')})`;
}

function generateSource(op: Operation, k: Knobs): string {
  const f = tritonLayernormSpec(op);
  const twoPass = k.stats === 'two_pass';
  return operatorModuleSource(frame(op), k, "PyTorch's normalisation", () => ({
    label:
      k.variant === 'row'
        ? `Triton row kernel, ${String(k.block_inner)} ${f.form === 'rows' ? 'rows' : 'columns'} of BLOCK_N ${String(k.block_n)} a program, ${String(k.num_warps)} warps`
        : `Triton loop kernel, BLOCK_N ${String(k.block_n)}${f.form === 'columns' ? `, BLOCK_I ${String(k.block_inner)}` : ''}, ${twoPass ? 'two-pass' : 'one-pass'} statistics${numKnob(k, 'split') > 1 ? `, ${String(k.split)} programs a row` : ''}, ${String(k.num_warps)} warps, ${String(k.num_stages)} stages`,
    stdlib: ['math'],
    constants: [
      ['VARIANT', k.variant!],
      ['BLOCK_N', k.block_n!],
      ['BLOCK_INNER', k.block_inner!],
      ...(f.form === 'rows' ? ([['SPLIT', k.split!]] as const) : []),
      ['NUM_WARPS', k.num_warps!],
      ['NUM_STAGES', k.num_stages!],
    ],
    kernel: f.form === 'rows' ? rowsKernels(f, twoPass) : columnsKernels(f, twoPass),
    call: tritonCall(f),
  }));
}

/**
 * The KernelBench reference problem of a layernorm operation: the PyTorch lines on an M x N input
 * (rows; the trailing sizes attrs.shape when given) or a B x R x I input normalised over dim 1
 * (columns: attrs.dim must name that axis, 1 or -2).
 */
export function layernormProblem(op: Operation): string {
  const f = tritonLayernormSpec(op);
  const dtype = torchDtype(op);
  if (f.form === 'columns') {
    if (f.dim !== 1 && f.dim !== -2)
      throw new SkbError(
        'BAD_INPUT',
        `A layernorm problem over columns is written as a B x R x I input normalised over dim 1; give attrs.dim 1 (or -2), not ${f.dim}`,
      );
    return operatorProblemSource(frame(op), [`torch.randn(${f.B}, ${f.R}, ${f.I}, dtype=${dtype})`]);
  }
  return operatorProblemSource(frame(op), [`torch.randn(${[f.M, ...f.shape].join(', ')}, dtype=${dtype})`]);
}

/**
 * Creates the Triton layernorm template, a KernelBench template whose moves are keyed by CUDA
 * menu option ids; `multiprocessors` sets how far its start splits few wide rows.
 */
export function createTritonLayernormTemplate(options: TritonMatmulOptions = {}): KernelTemplate<'layernorm'> {
  const sms = options.multiprocessors ?? 132;
  const baseline = (op: Operation): Knobs => ({ ...tritonDefault(op, sms), impl: 'torch' });
  const legalize = (op: Operation, knobs: Knobs): Knobs => {
    const def = tritonDefault(op, sms);
    return legalizeImplementation(knobs, def, (k) => snap(op, k, def));
  };
  return {
    kind: 'layernorm',
    knobs: TRITON_LAYERNORM_KNOBS,
    baseline,
    legalize,
    generate: (op, requested) => generateSource(op, legalize(op, requested)),
    moves: TRITON_LAYERNORM_MOVES,
    firstMove: TORCH_COMPILE_OPTION,
    fixedMoves: implementationFixedMoves(baseline),
  };
}
