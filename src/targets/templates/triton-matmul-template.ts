/**
 * The Triton matmul template for KernelBench targets: gemm and batched gemm (A [B,] M x K times
 * B [B,] K x N, optional bias then ReLU epilogue; f32, f16 or bf16), written as a `ModelNew` whose
 * forward launches one @triton.jit kernel. At its baseline knobs it is a plain torch.matmul (cuBLAS),
 * the KernelBench reference itself; any other knob set is the Triton kernel with those block sizes,
 * grouped block order, warps, pipeline stages and dtype path, so the template planner and warm start
 * tune GPU targets with the same machinery as the C templates.
 *
 * Correctness for every shape: the kernel masks the K remainder and the stores, wraps the row and
 * column offsets it loads (the stores are masked), and takes every stride from the tensors, so
 * transposed or otherwise strided inputs are read in place. With a bias, the product is rounded to
 * the output dtype before the bias is added, as the eager reference does. With `align` on, the
 * launcher first copies an operand whose rows are off the 16-byte boundary into padded rows.
 *
 * The kernel's source does not depend on the knobs (they are constexpr launch arguments); only the
 * constants at the top of the file and the launch do. bench/gpu/run.py relies on this: it imports one
 * generated file and sweeps the same knob space through `skb_matmul`.
 */
import { SkbError, isEpilogueArgumentAttr, type Operation } from '../../schedules/index.js';
import { epilogueParams, epilogueSteps, tritonEpilogueArgs, tritonEpilogueLines } from './epilogue-chain.js';
import { lowerKnob, nearestLegal, numKnob } from './knobs.js';
import {
  COMPILE_MODE_KNOB,
  IMPLEMENTATION_MOVES,
  compiledModule,
  implKnob,
  implementationFixedMoves,
  TORCH_COMPILE_OPTION,
  legalizeImplementation,
  pyLiteral,
} from './triton-implementation.js';
import {
  TORCH_DTYPES,
  matmulHeader,
  matmulModuleClass,
  matmulOperandViews,
  matmulTransposes,
  torchMatmulLines,
  weightParam,
} from './matmul-module.js';
import type { KernelTemplate, KnobSpec, Knobs } from './template.js';
import { tritonMatmulStarts } from './triton-matmul-starts.js';

/** Operation kinds the Triton matmul template generates. */
export const TRITON_MATMUL_KINDS = ['gemm', 'batched_gemm'] as const;
export type TritonMatmulKind = (typeof TRITON_MATMUL_KINDS)[number];

/** Block sizes offered for M and N, before dropping those far larger than the dimension. */
const BLOCK_MN = [32, 64, 128, 256];
const BLOCK_K = [32, 64, 128];
const GROUP_M = [1, 8];
const NUM_WARPS = [4, 8];
const NUM_STAGES = [2, 3, 4];
/** f32 paths: true f32 FMA products, or three TF32 tensor-core products (about f32 accuracy). */
const F32_PRECISIONS = ['ieee', 'tf32x3'];

/**
 * Shared memory the pipelined operand tiles may take when the GPU is not known: 160 KiB fits an
 * A100 (164 KiB per block) and an H100 (227 KiB), with room for the layout conversions Triton adds.
 */
export const SHARED_MEMORY_BUDGET = 160 * 1024;

/** Options of the template for one target. */
export interface TritonMatmulOptions {
  /** Shared memory the pipelined operand tiles may take (see `sharedMemoryBudgetFor`); default SHARED_MEMORY_BUDGET. */
  sharedMemoryBytes?: number;
  /**
   * Streaming multiprocessors of the GPU (the fingerprint's smCount). With it, a seed's tiles are
   * re-fitted so that the launch keeps the SMs as busy at the new sizes as at the seed's own.
   */
  multiprocessors?: number;
}

/**
 * The operand-tile budget for a GPU of this compute capability ("9.0"): its largest shared memory
 * per block, less headroom for Triton's epilogue layout conversion. Hopper (9.x, 227 KiB) gets
 * 200 KiB, which admits 128x256x64 tiles with 4 stages in bf16; A100-class (8.0, 8.7; 163 KiB)
 * 160 KiB; consumer Ampere / Ada (8.6, 8.9; 99 KiB) and consumer Blackwell (12.x) 96 KiB; data
 * centre Blackwell (10.x; 227 KiB) 200 KiB; Turing (7.5; 64 KiB) 60 KiB; Volta (7.0; 96 KiB)
 * 92 KiB. Anything else gets the conservative 96 KiB.
 */
export function sharedMemoryBudgetFor(computeCapability: string): number {
  const m = /^(\d{1,2})\.(\d{1,2})$/.exec(computeCapability.trim());
  const KiB = 1024;
  if (!m) return 96 * KiB;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major === 9 || major === 10) return 200 * KiB;
  if (major === 8) return minor === 0 || minor === 7 ? 160 * KiB : 96 * KiB;
  if (major === 7) return minor === 5 ? 60 * KiB : minor === 0 ? 92 * KiB : 60 * KiB;
  return 96 * KiB;
}

/**
 * The template's options for a GPU of this compute capability and SM count (its fingerprint's):
 * operand tiles sized for its shared memory, seeds' tiles re-fitted to its SMs.
 */
export function tritonMatmulOptionsFor(gpu: { computeCapability: string; smCount: number }): TritonMatmulOptions {
  return { sharedMemoryBytes: sharedMemoryBudgetFor(gpu.computeCapability), multiprocessors: gpu.smCount };
}

/** The options' shared-memory budget, checked (CONFIG when out of range). */
export function budgetOf(options: TritonMatmulOptions): number {
  const bytes = options.sharedMemoryBytes ?? SHARED_MEMORY_BUDGET;
  if (!Number.isFinite(bytes) || bytes < 16 * 1024 || bytes > 1024 * 1024) {
    throw new SkbError('CONFIG', `sharedMemoryBytes must be from 16 KiB to 1 MiB (got ${bytes})`);
  }
  return bytes;
}

/** The options' SM count, checked (CONFIG when not a whole number in range); undefined when not given. */
export function multiprocessorsOf(options: TritonMatmulOptions): number | undefined {
  const sms = options.multiprocessors;
  if (sms !== undefined && (!Number.isInteger(sms) || sms < 1 || sms > 4096)) {
    throw new SkbError('CONFIG', `multiprocessors must be a whole number from 1 to 4096 (got ${sms})`);
  }
  return sms;
}

/** f32 accumulator elements per thread: above this the accumulator spills out of registers. */
export const ACCUMULATORS_PER_THREAD = 128;

interface MatmulDims {
  batch: number;
  M: number;
  N: number;
  K: number;
}

function dimsOf(op: Operation): MatmulDims {
  const get = (name: string): number => {
    const v = op.dims[name];
    if (v === undefined)
      throw new SkbError(
        'BAD_INPUT',
        `A ${op.kind} operation needs the dimension ${name} (dims are ${Object.keys(op.dims).join(', ')})`,
      );
    return v;
  };
  return { batch: op.kind === 'batched_gemm' ? get('B') : 1, M: get('M'), N: get('N'), K: get('K') };
}

/** Dimensions up to this get every block size that fits; larger ones the three largest. */
const SMALL_EXTENT = 1024;

/**
 * The block sizes no larger than the dimension rounded up to a power of two (always at least the
 * smallest): all of them for a dimension up to SMALL_EXTENT, where small tiles are needed to give
 * every SM work (512x512 in 64x64 tiles is 64 programs for 132 SMs), and the three largest above
 * it, which keeps the space small enough to sweep exhaustively (bench/gpu).
 */
function blocksFor(sizes: readonly number[], extent: number): number[] {
  const cap = 2 ** Math.ceil(Math.log2(Math.max(extent, 1)));
  const fit = sizes.filter((s) => s <= cap);
  if (!fit.length) return [sizes[0]!];
  return extent <= SMALL_EXTENT ? fit : fit.slice(-3);
}

function bytesOf(op: Operation): number {
  return op.dtype === 'f32' ? 4 : 2;
}

function checkOperation(op: Operation): void {
  if (!(TRITON_MATMUL_KINDS as readonly string[]).includes(op.kind)) {
    throw new SkbError(
      'BAD_INPUT',
      `The Triton matmul template generates gemm and batched_gemm kernels, not ${op.kind}`,
    );
  }
  if (!TORCH_DTYPES[op.dtype])
    throw new SkbError('BAD_INPUT', `The Triton matmul template supports f32, f16 and bf16, not ${op.dtype}`);
  const unknown = Object.keys(op.attrs).filter((name) => !isEpilogueArgumentAttr(name));
  if (unknown.length)
    throw new SkbError(
      'BAD_INPUT',
      `A ${op.kind} takes the attributes weight (the parameter holding B) and e1..e8 (the epilogue steps' arguments), not ${unknown.join(', ')}`,
    );
  epilogueSteps(op);
  weightParam(op);
  matmulTransposes(op);
}

/** The knob specs; legal values depend on the shape (block sizes) and the dtype (precision). */
export const TRITON_MATMUL_KNOBS: KnobSpec[] = [
  implKnob('torch.matmul (cuBLAS)'),
  COMPILE_MODE_KNOB,
  {
    name: 'block_m',
    description: 'rows of C per program (BLOCK_M)',
    values: (op) => blocksFor(BLOCK_MN, dimsOf(op).M),
  },
  {
    name: 'block_n',
    description: 'columns of C per program (BLOCK_N)',
    values: (op) => blocksFor(BLOCK_MN, dimsOf(op).N),
  },
  {
    name: 'block_k',
    description: 'reduction depth per pipeline step (BLOCK_K)',
    values: (op) => blocksFor(BLOCK_K, dimsOf(op).K),
  },
  {
    name: 'group_m',
    description: 'row blocks per group of the L2-friendly launch order (GROUP_M; 1: row-major order)',
    values: () => [...GROUP_M],
  },
  { name: 'num_warps', description: 'warps per program', values: () => [...NUM_WARPS] },
  { name: 'num_stages', description: 'software pipeline stages of the operand loads', values: () => [...NUM_STAGES] },
  {
    name: 'precision',
    description: 'dtype path of the products: native tensor cores (f16/bf16), f32 FMA (ieee) or 3xTF32 (tf32x3)',
    values: (op) => (op.dtype === 'f32' ? [...F32_PRECISIONS] : ['native']),
  },
  {
    name: 'align',
    description:
      'copy operands whose rows do not start on 16-byte boundaries into aligned buffers before the kernel (1), or read them in place (0)',
    values: (op) => (misalignedOperands(op) ? [0, 1] : [0]),
  },
];

/** Bytes a row of an operand must start on for Triton to read it with 128-bit vector loads. */
const ROW_ALIGNMENT_BYTES = 16;

/**
 * Whether an operand as the operation stores it has rows that do not start on 16-byte
 * boundaries (a row length of K = 2949 f32 elements, say). Triton then reads it element by
 * element; a copy into rows padded to the boundary costs one pass over the operand.
 */
function misalignedOperands(op: Operation): boolean {
  const { M, N, K } = dimsOf(op);
  const t = matmulTransposes(op);
  const rowLengths = [t.a ? M : K, t.b ? K : N];
  return rowLengths.some((n) => (n * bytesOf(op)) % ROW_ALIGNMENT_BYTES !== 0);
}

/**
 * The Triton configuration the template starts from when it leaves cuBLAS (before legalization,
 * which shrinks it for small dimensions and small shared memory). The baseline is the library
 * itself, so the first Triton step must land near a good kernel to be admitted by the early keep
 * factor. On an H200, 128x128x64 tiles were the best configuration of the batched and fused
 * bf16 cases of bench/gpu, while 64x64x32 ran at half of cuBLAS's speed on 4096x11008x4096.
 */
export const TRITON_DEFAULT: Knobs = {
  block_m: 128,
  block_n: 128,
  block_k: 64,
  group_m: 8,
  num_warps: 4,
  num_stages: 3,
};

/**
 * The kernel's `tl.constexpr` meta-parameters the block knobs set, knob -> parameter name as
 * `skb_matmul_kernel` declares it (the rest of the launch, num_warps and num_stages, are Triton's
 * own launch options). What a Triton user's `triton.Config` for this kernel names.
 */
export const TRITON_MATMUL_META_PARAMETERS = {
  block_m: 'BLOCK_M',
  block_n: 'BLOCK_N',
  block_k: 'BLOCK_K',
  group_m: 'GROUP_M',
} as const;

/** Which knobs each CUDA menu option moves. */
export const TRITON_MATMUL_MOVES: KernelTemplate['moves'] = {
  ...IMPLEMENTATION_MOVES,
  'cuda.shared_tile': ['block_m', 'block_n', 'block_k'],
  'cuda.register_tile': ['block_m', 'block_n'],
  'cuda.block_size': ['num_warps'],
  'cuda.occupancy': ['num_warps', 'num_stages'],
  'cuda.double_buffer': ['num_stages'],
  'cuda.async_copy': ['num_stages'],
  'cuda.l2_locality': ['group_m'],
  'cuda.tensor_cores': ['precision'],
  'cuda.mixed_precision': ['precision'],
  'cuda.layout_change': ['align'],
  'cuda.vector_loads': ['align'],
};

/** The Triton knobs (everything but impl) snapped to their legal values, before the resource rules. */
function snap(op: Operation, knobs: Knobs, fallback: Knobs): Knobs {
  const out: Knobs = {};
  for (const spec of TRITON_MATMUL_KNOBS) {
    const legal = spec.values(op);
    const fb = fallback[spec.name] ?? legal[0]!;
    out[spec.name] = nearestLegal(knobs[spec.name], legal, nearestLegal(fb, legal, legal[0]!));
  }
  return out;
}

const lower = (op: Operation, knobs: Knobs, name: string): boolean => lowerKnob(TRITON_MATMUL_KNOBS, op, knobs, name);

/**
 * Applies the resource rules: the accumulator must fit in registers (more warps first, then a
 * smaller block of the larger side) and the pipelined tiles in shared memory (fewer stages first,
 * then a shallower BLOCK_K, then a smaller block).
 */
function fitResources(op: Operation, k: Knobs, sharedBudget: number): Knobs {
  const out = { ...k };
  const accumulators = (): number =>
    (numKnob(out, 'block_m') * numKnob(out, 'block_n')) / (32 * numKnob(out, 'num_warps'));
  while (accumulators() > ACCUMULATORS_PER_THREAD) {
    const warps = TRITON_MATMUL_KNOBS.find((s) => s.name === 'num_warps')!.values(op) as number[];
    const more = warps.find((w) => w > numKnob(out, 'num_warps'));
    if (more !== undefined) out.num_warps = more;
    else if (!lower(op, out, numKnob(out, 'block_m') >= numKnob(out, 'block_n') ? 'block_m' : 'block_n')) break;
  }
  const shared = (): number =>
    numKnob(out, 'num_stages') *
    (numKnob(out, 'block_m') + numKnob(out, 'block_n')) *
    numKnob(out, 'block_k') *
    bytesOf(op);
  while (shared() > sharedBudget) {
    if (numKnob(out, 'num_stages') > 2) lower(op, out, 'num_stages');
    else if (
      !lower(op, out, 'block_k') &&
      !lower(op, out, numKnob(out, 'block_m') >= numKnob(out, 'block_n') ? 'block_m' : 'block_n')
    )
      break;
  }
  return out;
}

/** Programs (thread blocks) one launch has for these tiles: one per output tile and batch. */
export function tritonPrograms(op: Operation, knobs: Knobs): number {
  const { batch, M, N } = dimsOf(op);
  return batch * Math.ceil(M / numKnob(knobs, 'block_m')) * Math.ceil(N / numKnob(knobs, 'block_n'));
}

/**
 * Re-fits a seed's Triton tiles from the sizes it was tuned at to new ones: tiles that filled the
 * GPU there but leave SMs idle here (a 128x128 tile is 1,024 programs at 4096^2 and 16 at 512^2,
 * for 132 SMs) are halved, the larger side first, while the launch has no more than half the
 * programs the seed's had at its own sizes (at most one per SM): tiles halve, so the largest tile
 * within a factor of two of that is kept, since smaller tiles reuse less of each load. Other
 * knobs stay; the caller legalizes.
 */
function refitTiles(from: Operation, to: Operation, knobs: Knobs, sms: number): Knobs {
  if (knobs.impl !== 'triton' || typeof knobs.block_m !== 'number' || typeof knobs.block_n !== 'number') return knobs;
  // A seed of another kind (the similar tier) has no matmul sizes to compare with.
  const sized = (op: Operation): boolean =>
    (TRITON_MATMUL_KINDS as readonly string[]).includes(op.kind) &&
    ['M', 'N', ...(op.kind === 'batched_gemm' ? ['B'] : [])].every((d) => op.dims[d] !== undefined);
  if (!sized(from) || !sized(to)) return knobs;
  const out = { ...knobs };
  const wanted = Math.min(sms, tritonPrograms(from, knobs));
  while (tritonPrograms(to, out) * 2 <= wanted) {
    const larger = numKnob(out, 'block_m') >= numKnob(out, 'block_n') ? 'block_m' : 'block_n';
    if (!lower(to, out, larger) && !lower(to, out, larger === 'block_m' ? 'block_n' : 'block_m')) break;
  }
  return out;
}

/** The starting configurations for this shape on this GPU (triton-matmul-starts.ts). */
function startsOf(op: Operation, options: TritonMatmulOptions): Knobs[] {
  const sms = multiprocessorsOf(options);
  return tritonMatmulStarts(op, {
    legalize: (knobs) => legalizeTritonMatmul(op, knobs, options),
    programs: (knobs) => tritonPrograms(op, knobs),
    shrink(knobs) {
      const out = { ...knobs };
      const larger = numKnob(out, 'block_m') >= numKnob(out, 'block_n') ? 'block_m' : 'block_n';
      return lower(op, out, larger) || lower(op, out, larger === 'block_m' ? 'block_n' : 'block_m') ? out : null;
    },
    ...(sms !== undefined ? { multiprocessors: sms } : {}),
  });
}

/** The default Triton knobs made legal for this shape. */
function tritonDefault(op: Operation, sharedBudget: number): Knobs {
  return fitResources(
    op,
    snap(op, { ...TRITON_DEFAULT, precision: op.dtype === 'f32' ? 'ieee' : 'native' }, {}),
    sharedBudget,
  );
}

/**
 * Every knob brought into the legal set: each snapped to its nearest legal value, then the resource
 * rules. `impl` stays "torch" only while every Triton knob is at its default, since a Triton knob
 * moved away from it asks for the Triton kernel.
 */
export function legalizeTritonMatmul(op: Operation, knobs: Knobs, options: TritonMatmulOptions = {}): Knobs {
  checkOperation(op);
  const budget = budgetOf(options);
  const def = tritonDefault(op, budget);
  return legalizeImplementation(knobs, def, (k) => fitResources(op, snap(op, k, def), budget));
}

/** The baseline: torch.matmul (cuBLAS), with the Triton knobs at their defaults for this shape. */
export function tritonMatmulBaseline(op: Operation, options: TritonMatmulOptions = {}): Knobs {
  checkOperation(op);
  return { ...tritonDefault(op, budgetOf(options)), impl: 'torch' };
}

/**
 * The kernel and its launcher for this operation's epilogue chain: the chain's steps are written
 * into the store (epilogue-chain.ts), each bias step's vector an argument of its own.
 * `skb_matmul(A, B, *vectors, block_m=..., ...)` takes the vectors in step order.
 */
function kernelSource(op: Operation): string {
  const steps = epilogueSteps(op);
  const args = tritonEpilogueArgs(steps);
  const vectors = args.map((_, i) => `v${i + 1}`);
  const epilogue = tritonEpilogueLines(steps, op.dtype !== 'f32');
  return `
@triton.jit
def skb_matmul_kernel(
    a_ptr, b_ptr, c_ptr, ${args.map((a) => `${a}, `).join('')}M, N, K,
    stride_ab, stride_am, stride_ak, stride_bb, stride_bk, stride_bn, stride_cb, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    PRECISION: tl.constexpr,
):
    pid = tl.program_id(0)
    batch = tl.program_id(1).to(tl.int64)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    # Grouped launch order: GROUP_M row blocks sweep the column blocks together, so the B panels
    # they share stay in L2 (GROUP_M = 1 is plain row-major order).
    num_pid_in_group = GROUP_M * num_pid_n
    group_id = pid // num_pid_in_group
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + ((pid % num_pid_in_group) % group_size_m)
    pid_n = (pid % num_pid_in_group) // group_size_m

    # Loads wrap at the edges (the stores below are masked), so no load needs a row or column mask.
    offs_am = tl.max_contiguous(tl.multiple_of((pid_m * BLOCK_M + tl.arange(0, BLOCK_M)) % M, BLOCK_M), BLOCK_M)
    offs_bn = tl.max_contiguous(tl.multiple_of((pid_n * BLOCK_N + tl.arange(0, BLOCK_N)) % N, BLOCK_N), BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + batch * stride_ab + (offs_am[:, None] * stride_am + offs_k[None, :] * stride_ak)
    b_ptrs = b_ptr + batch * stride_bb + (offs_k[:, None] * stride_bk + offs_bn[None, :] * stride_bn)

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BLOCK_K)):
        a = tl.load(a_ptrs, mask=offs_k[None, :] < K - k * BLOCK_K, other=0.0)
        b = tl.load(b_ptrs, mask=offs_k[:, None] < K - k * BLOCK_K, other=0.0)
        if PRECISION == "native":
            acc = tl.dot(a, b, acc)
        else:
            acc = tl.dot(a, b, acc, input_precision=PRECISION)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk

    offs_cm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_cn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    out = acc
${epilogue.length ? `${epilogue.join('\n')}\n` : ''}    c_ptrs = c_ptr + batch * stride_cb + stride_cm * offs_cm[:, None] + stride_cn * offs_cn[None, :]
    c_mask = (offs_cm[:, None] < M) & (offs_cn[None, :] < N)
    tl.store(c_ptrs, out.to(c_ptr.dtype.element_ty), mask=c_mask)


def skb_misaligned(t):
    """Whether Triton must read t ([batch,] rows x cols) element by element: its contiguous rows
    do not start on ${ROW_ALIGNMENT_BYTES}-byte boundaries, or neither of its last two dimensions is contiguous."""
    if t.stride(-1) == 1:
        lead = t.stride(-2)
    elif t.stride(-2) == 1:
        lead = t.stride(-1)
    else:
        return True
    return (lead * t.element_size()) % ${ROW_ALIGNMENT_BYTES} != 0 or t.data_ptr() % ${ROW_ALIGNMENT_BYTES} != 0


def skb_aligned(t):
    """The same values in a buffer whose rows are padded to ${ROW_ALIGNMENT_BYTES} bytes (the view leaves the padding out)."""
    per = ${ROW_ALIGNMENT_BYTES} // t.element_size()
    cols = t.shape[-1]
    buf = torch.empty((*t.shape[:-1], (cols + per - 1) // per * per), device=t.device, dtype=t.dtype)[..., :cols]
    buf.copy_(t)
    return buf


def skb_matmul(A, B, ${vectors.map((v) => `${v}, `).join('')}block_m=BLOCK_M, block_n=BLOCK_N, block_k=BLOCK_K,
               group_m=GROUP_M, num_warps=NUM_WARPS, num_stages=NUM_STAGES, precision=PRECISION, align=ALIGN):
    """C = A @ B then the epilogue (${op.epilogue.join(', ') || 'none'}), for [batch,] M x K and [batch,] K x N inputs, any strides."""
    batched = A.dim() == 3
    a3 = A if batched else A.unsqueeze(0)
    b3 = B if batched else B.unsqueeze(0)
    if align:
        # One pass over a misaligned operand buys vector loads on every pass the kernel makes over it.
        a3 = skb_aligned(a3) if skb_misaligned(a3) else a3
        b3 = skb_aligned(b3) if skb_misaligned(b3) else b3
    batch, M, K = a3.shape
    N = b3.shape[2]
    c3 = torch.empty((batch, M, N), device=A.device, dtype=A.dtype)
    grid = (triton.cdiv(M, block_m) * triton.cdiv(N, block_n), batch)
    skb_matmul_kernel[grid](
        a3, b3, c3, ${vectors.map((v) => `${v}, `).join('')}M, N, K,
        a3.stride(0), a3.stride(1), a3.stride(2), b3.stride(0), b3.stride(1), b3.stride(2),
        c3.stride(0), c3.stride(1), c3.stride(2),
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, GROUP_M=group_m, PRECISION=precision,
        num_warps=num_warps, num_stages=num_stages,
    )
    return c3 if batched else c3[0]
`;
}

/** Parameters start at zero: the harness copies the reference's values in by name. */
const zeros =
  (op: Operation) =>
  (shape: number[]): string =>
    `torch.zeros(${shape.join(', ')}, dtype=${TORCH_DTYPES[op.dtype]!})`;

/** The Python source of ModelNew for legal knobs. */
function generateSource(op: Operation, k: Knobs): string {
  if (k.impl === 'compile') {
    const header = matmulHeader(op, `torch.compile (mode ${String(k.compile_mode)}) of the PyTorch lines`);
    return compiledModule(header, matmulModuleClass(op, 'SkbEager', zeros(op), torchMatmulLines(op)), k);
  }
  if (k.impl === 'torch') {
    return [
      matmulHeader(op, 'torch.matmul (cuBLAS)'),
      'import torch',
      'import torch.nn as nn',
      '',
      '',
      matmulModuleClass(op, 'ModelNew', zeros(op), torchMatmulLines(op)),
    ].join('\n');
  }
  const what = `Triton kernel, BLOCK ${String(k.block_m)}x${String(k.block_n)}x${String(k.block_k)}, GROUP_M ${String(k.group_m)}, ${String(k.num_warps)} warps, ${String(k.num_stages)} stages, ${String(k.precision)} products${k.align ? ', misaligned operands copied to aligned rows' : ''}`;
  const constants = [
    `BLOCK_M = ${pyLiteral(k.block_m!)}`,
    `BLOCK_N = ${pyLiteral(k.block_n!)}`,
    `BLOCK_K = ${pyLiteral(k.block_k!)}`,
    `GROUP_M = ${pyLiteral(k.group_m!)}`,
    `NUM_WARPS = ${pyLiteral(k.num_warps!)}`,
    `NUM_STAGES = ${pyLiteral(k.num_stages!)}`,
    `PRECISION = ${pyLiteral(k.precision!)}`,
    `ALIGN = ${pyLiteral(k.align ?? 0)}`,
  ];
  // Transposed operands are passed as views: the kernel reads their strides in place.
  const vectors = epilogueParams(epilogueSteps(op)).map((name) => `self.${name}`);
  const forward = `        return skb_matmul(${[...matmulOperandViews(op), ...vectors].join(', ')})`;
  return [
    matmulHeader(op, what),
    'import torch',
    'import torch.nn as nn',
    'import triton',
    'import triton.language as tl',
    '',
    ...constants,
    kernelSource(op),
    '',
    matmulModuleClass(op, 'ModelNew', zeros(op), [forward]),
  ].join('\n');
}

/**
 * Creates the Triton matmul template of one kind (gemm or batched gemm) for a GPU's budget: a
 * KernelBench template, whose moves are keyed by CUDA menu option ids (src/search/menus/cuda-menu.ts).
 */
export function createTritonMatmulTemplate(
  kind: TritonMatmulKind,
  options: TritonMatmulOptions = {},
): KernelTemplate<TritonMatmulKind> {
  budgetOf(options);
  const sms = multiprocessorsOf(options);
  return {
    kind,
    knobs: TRITON_MATMUL_KNOBS,
    baseline: (op) => tritonMatmulBaseline(op, options),
    legalize: (op, knobs) => legalizeTritonMatmul(op, knobs, options),
    generate(op, requested) {
      if (op.kind !== kind)
        throw new SkbError('BAD_INPUT', `This Triton matmul template generates ${kind} kernels, not ${op.kind}`);
      return generateSource(op, legalizeTritonMatmul(op, requested, options));
    },
    moves: TRITON_MATMUL_MOVES,
    firstMove: TORCH_COMPILE_OPTION,
    fixedMoves: {
      ...implementationFixedMoves((op) => tritonMatmulBaseline(op, options)),
      // Into Triton from the library or a compiled kernel: the first start sized for this shape,
      // not the defaults (which only say what "every Triton knob untouched" is).
      'cuda.triton': (op, parent) =>
        parent.impl === 'triton' ? { impl: 'triton' } : (startsOf(op, options)[0] ?? { impl: 'triton' }),
    },
    composites: { 'cuda.shared_tile': (op) => startsOf(op, options) },
    // A knob moved from the library starts at the first start too: from the defaults, an f32
    // move measured the spilling 128x128x64 four-warp kernel with one change (5x cuBLAS's time).
    moveBase: (op, parent) => (parent.impl === 'triton' ? parent : (startsOf(op, options)[0] ?? parent)),
    ...(sms !== undefined
      ? { refit: (from: Operation, to: Operation, knobs: Knobs) => refitTiles(from, to, knobs, sms) }
      : {}),
  };
}

/**
 * Every distinct legal Triton configuration of this operation (impl "triton"): the space the
 * template's knobs span, which bench/gpu sweeps exhaustively.
 */
export function tritonMatmulSpace(op: Operation, options: TritonMatmulOptions = {}): Knobs[] {
  const specs = TRITON_MATMUL_KNOBS.filter((s) => s.name !== 'impl' && s.name !== 'compile_mode');
  let partial: Knobs[] = [{ impl: 'triton', compile_mode: 'default' }];
  for (const spec of specs) partial = partial.flatMap((k) => spec.values(op).map((v) => ({ ...k, [spec.name]: v })));
  const seen = new Map<string, Knobs>();
  for (const k of partial) {
    const legal = legalizeTritonMatmul(op, k, options);
    if (legal.impl !== 'triton') continue;
    seen.set(JSON.stringify(legal), legal);
  }
  return [...seen.values()];
}
