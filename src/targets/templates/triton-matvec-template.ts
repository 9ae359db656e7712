/**
 * The Triton matrix-vector template for KernelBench targets: y = A @ x with A of M x K and x of
 * K x 1 (KernelBench level 1 problem 4) or of K, in f32, f16 or bf16 with fp32 accumulation, written
 * as a `ModelNew` whose forward launches one @triton.jit kernel. At its baseline knobs it is a plain
 * torch.matmul (cuBLAS gemv), the reference itself; any other knob set is the Triton kernel.
 *
 * A skinny product is memory bound: the kernel streams A exactly once. Each program owns BLOCK_M
 * rows and walks its K range in BLOCK_K chunks, acc[BLOCK_M] += sum(a_tile * x_chunk, axis=1). When
 * M has too few row blocks to fill the GPU, split-K gives each row block SPLIT_K programs over
 * disjoint K ranges; they write fp32 partials [SPLIT_K, M] that the wrapper sums with torch, which is
 * deterministic (no atomics), then casts to the output dtype.
 *
 * Correctness for every shape: rows and the K remainder are masked, offsets are 64-bit (A of 2048 x
 * 2^20 is 2^31 elements), and every stride comes from the tensors, so a non-contiguous A or x is
 * read in place. The kernel's source does not depend on the knobs: only the constants at the top of
 * the file do.
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
import { type TritonMatmulOptions, budgetOf, multiprocessorsOf } from './triton-matmul-template.js';

const LAYOUTS = ['n', 'row'];

const BLOCK_M = [1, 2, 4, 8, 16, 32, 64];
const BLOCK_K = [128, 256, 512, 1024, 2048, 4096, 8192];
const SPLIT_K = [1, 2, 4, 8, 16, 32, 64];
const NUM_WARPS = [1, 2, 4, 8, 16];
const NUM_STAGES = [1, 2, 3, 4];

/** Elements of the A tile one program holds: beyond this the tile no longer fits the register file. */
export const MATVEC_TILE_ELEMENTS = 16384;
/** A-tile elements per thread: above this the loaded tile spills out of registers. */
export const MATVEC_ELEMENTS_PER_THREAD = 128;
/** SMs assumed when the GPU is not known (an H100 / H200 has 132). */
const DEFAULT_MULTIPROCESSORS = 132;

/** The sizes, or BAD_INPUT saying what to fix. */
function checkedDims(op: Operation): { M: number; K: number } {
  if (op.kind !== 'matvec')
    throw new SkbError('BAD_INPUT', `The Triton matvec template generates matvec kernels, not ${op.kind}`);
  for (const d of ['M', 'K'])
    if (op.dims[d] === undefined)
      throw new SkbError('BAD_INPUT', `A matvec names its sizes M (rows of A) and K (length of x); ${d} is missing`);
  const extra = Object.keys(op.dims).filter((d) => d !== 'M' && d !== 'K');
  if (extra.length) throw new SkbError('BAD_INPUT', `A matvec has the sizes M and K only, not ${extra.join(', ')}`);
  requireOperatorDtype(op, 'matvec');
  if (op.layout !== undefined && !LAYOUTS.includes(op.layout))
    throw new SkbError(
      'BAD_INPUT',
      `A matvec reads A as stored, M x K (layout "n" or "row", or none), not "${op.layout}"`,
    );
  if (op.epilogue.length)
    throw new SkbError('BAD_INPUT', `The Triton matvec template has no epilogue; drop ${op.epilogue.join(', ')}`);
  const attrs = Object.keys(op.attrs);
  if (attrs.length) throw new SkbError('BAD_INPUT', `A matvec takes no attributes; drop ${attrs.join(', ')}`);
  return { M: op.dims.M!, K: op.dims.K! };
}

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** The sizes no larger than the extent rounded up to a power of two (always at least the smallest). */
const upTo = (sizes: readonly number[], extent: number): number[] =>
  sizes.filter((s, i) => i === 0 || s <= nextPow2(extent));

/** The knob specs; block sizes depend on the shape. */
export const TRITON_MATVEC_KNOBS: KnobSpec[] = [
  implKnob('torch.matmul (cuBLAS)'),
  COMPILE_MODE_KNOB,
  {
    name: 'block_m',
    description: 'rows of A per program (BLOCK_M; they share each load of x)',
    values: (op) => upTo(BLOCK_M, checkedDims(op).M),
  },
  {
    name: 'block_k',
    description: 'columns of A per loop step (BLOCK_K)',
    values: (op) => upTo(BLOCK_K, checkedDims(op).K),
  },
  {
    // A split only helps while each part still has a full chunk of the smallest BLOCK_K; legalize
    // caps it further against the chosen BLOCK_K.
    name: 'split_k',
    description: 'programs per row block over disjoint K ranges (SPLIT_K; partials summed after)',
    values: (op) => SPLIT_K.filter((s) => s === 1 || checkedDims(op).K / s >= BLOCK_K[0]!),
  },
  { name: 'num_warps', description: 'warps per program', values: () => [...NUM_WARPS] },
  {
    name: 'num_stages',
    description: 'software pipeline stages of the loads of A and x',
    values: () => [...NUM_STAGES],
  },
];

/** Which knobs each CUDA menu option moves. */
export const TRITON_MATVEC_MOVES: KernelTemplate['moves'] = {
  ...IMPLEMENTATION_MOVES,
  'cuda.split_k': ['split_k'],
  'cuda.grid_shape': ['block_m', 'split_k'],
  'cuda.work_per_thread': ['block_k'],
  'cuda.register_tile': ['block_m', 'block_k'],
  'cuda.block_size': ['num_warps'],
  'cuda.occupancy': ['num_warps', 'num_stages'],
  'cuda.double_buffer': ['num_stages'],
  'cuda.async_copy': ['num_stages'],
};

/** The Triton knobs' meta-parameters as `skb_matvec_kernel` / `skb_matvec` name them. */
export const TRITON_MATVEC_META_PARAMETERS = {
  block_m: 'BLOCK_M',
  block_k: 'BLOCK_K',
  split_k: 'SPLIT_K',
} as const;

function checkedOptions(options: TritonMatmulOptions): { shared: number; sms: number } {
  return { shared: budgetOf(options), sms: multiprocessorsOf(options) ?? DEFAULT_MULTIPROCESSORS };
}

/** Every Triton knob snapped to its nearest legal value, `fallback`'s where one is missing. */
function snap(op: Operation, knobs: Knobs, fallback: Knobs): Knobs {
  const out: Knobs = {};
  for (const spec of TRITON_MATVEC_KNOBS) {
    const legal = spec.values(op);
    out[spec.name] = nearestLegal(knobs[spec.name], legal, nearestLegal(fallback[spec.name], legal, legal[0]!));
  }
  return out;
}

const lower = (op: Operation, knobs: Knobs, name: string): boolean => lowerKnob(TRITON_MATVEC_KNOBS, op, knobs, name);

/**
 * The resource rules, in an order where a later rule never breaks an earlier one: the A tile within
 * the register budget (a shallower BLOCK_K first, so a move to more rows keeps its rows); the
 * pipelined tiles within shared memory (fewer stages, then a shallower BLOCK_K); split-K no finer
 * than one BLOCK_K chunk per part; then enough warps that the tile stays in registers, and no more
 * warps than the tile has 32-element rows of lanes (idle lanes only replicate the work).
 */
function fitResources(op: Operation, k: Knobs, sharedBudget: number): Knobs {
  const { K } = checkedDims(op);
  const out = { ...k };
  const tile = (): number => numKnob(out, 'block_m') * numKnob(out, 'block_k');
  while (tile() > MATVEC_TILE_ELEMENTS) if (!lower(op, out, 'block_k') && !lower(op, out, 'block_m')) break;
  const bytes = op.dtype === 'f32' ? 4 : 2;
  const shared = (): number => (numKnob(out, 'num_stages') > 1 ? numKnob(out, 'num_stages') * tile() * bytes : 0);
  while (shared() > sharedBudget)
    if (!lower(op, out, 'num_stages') && !lower(op, out, 'block_k') && !lower(op, out, 'block_m')) break;
  while (numKnob(out, 'split_k') > 1 && K / numKnob(out, 'split_k') < numKnob(out, 'block_k'))
    lower(op, out, 'split_k');
  const perThread = (): number => tile() / (32 * numKnob(out, 'num_warps'));
  while (perThread() > MATVEC_ELEMENTS_PER_THREAD) {
    const more = NUM_WARPS.find((w) => w > numKnob(out, 'num_warps'));
    if (more === undefined) break;
    out.num_warps = more;
  }
  while (numKnob(out, 'num_warps') > 1 && numKnob(out, 'num_warps') * 32 > tile()) lower(op, out, 'num_warps');
  return out;
}

/**
 * The Triton configuration the template starts from when it leaves cuBLAS: 8 rows by 1024 columns
 * (32 KiB of f32 A per step, streamed with 4 warps and 2 stages), split-K only as far as needed to
 * give every SM a program (an M of 2048 has 256 row blocks and needs none; an M of 1 gets the most
 * the K rule allows).
 */
function tritonDefault(op: Operation, shared: number, sms: number): Knobs {
  const { M } = checkedDims(op);
  const start = snap(op, { block_m: 8, block_k: 1024, split_k: 1, num_warps: 4, num_stages: 2 }, {});
  const rowBlocks = Math.ceil(M / numKnob(start, 'block_m'));
  let split = 1;
  while (split < SPLIT_K[SPLIT_K.length - 1]! && rowBlocks * split < sms) split *= 2;
  return fitResources(op, snap(op, { ...start, split_k: split }, start), shared);
}

/** Every knob brought into the legal set: snapped, then the resource rules; impl as legalizeImplementation says. */
export function legalizeTritonMatvec(op: Operation, knobs: Knobs, options: TritonMatmulOptions = {}): Knobs {
  const { shared, sms } = checkedOptions(options);
  const def = tritonDefault(op, shared, sms);
  return legalizeImplementation(knobs, def, (k) => fitResources(op, snap(op, k, def), shared));
}

/** The baseline: torch.matmul (cuBLAS), with the Triton knobs at their defaults for this shape. */
export function tritonMatvecBaseline(op: Operation, options: TritonMatmulOptions = {}): Knobs {
  const { shared, sms } = checkedOptions(options);
  return { ...tritonDefault(op, shared, sms), impl: 'torch' };
}

/** A module computing torch.matmul(A, B): the reference problem's Model and the baseline. */
function frame(op: Operation): OperatorFrame {
  return { header: (what) => matmulHeader(op, what), torch: { params: 'A, B', body: ['return torch.matmul(A, B)'] } };
}

const KERNEL_SOURCE = `
@triton.jit
def skb_matvec_kernel(
    a_ptr, x_ptr, out_ptr, M, K, k_per_split,
    stride_am, stride_ak, stride_x, stride_os, stride_om,
    BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_s = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    mask_m = offs_m < M
    offs_k = tl.arange(0, BLOCK_K)
    # 64-bit offsets: A may hold 2^31 elements or more.
    a_rows = a_ptr + offs_m.to(tl.int64)[:, None] * stride_am
    k_start = pid_s * k_per_split
    k_end = tl.minimum(k_start + k_per_split, K)
    acc = tl.zeros((BLOCK_M,), dtype=tl.float32)
    for k0 in range(k_start, k_end, BLOCK_K):
        ks = k0 + offs_k
        mask_k = ks < k_end
        ks64 = ks.to(tl.int64)
        x = tl.load(x_ptr + ks64 * stride_x, mask=mask_k, other=0.0).to(tl.float32)
        a = tl.load(a_rows + ks64[None, :] * stride_ak, mask=mask_m[:, None] & mask_k[None, :], other=0.0)
        acc += tl.sum(a.to(tl.float32) * x[None, :], axis=1)
    out_ptrs = out_ptr + pid_s.to(tl.int64) * stride_os + offs_m.to(tl.int64) * stride_om
    tl.store(out_ptrs, acc.to(out_ptr.dtype.element_ty), mask=mask_m)


def skb_matvec(A, B, block_m=BLOCK_M, block_k=BLOCK_K, split_k=SPLIT_K, num_warps=NUM_WARPS, num_stages=NUM_STAGES):
    """torch.matmul(A, B) for A of M x K and B of K x 1 or K, any strides; other shapes go to torch.matmul."""
    if A.dim() != 2 or B.dim() not in (1, 2) or B.shape[0] != A.shape[1] or (B.dim() == 2 and B.shape[1] != 1):
        return torch.matmul(A, B)
    M, K = A.shape
    out_shape = (M,) if B.dim() == 1 else (M, 1)
    if M == 0:
        return torch.empty(out_shape, device=A.device, dtype=A.dtype)
    # Each part covers whole BLOCK_K chunks; parts past the end of K are not launched.
    k_per_split = max(triton.cdiv(triton.cdiv(K, split_k), block_k), 1) * block_k
    parts = max(triton.cdiv(K, k_per_split), 1)
    if parts == 1:
        # One part: the kernel writes the output dtype directly.
        out = torch.empty((1, M), device=A.device, dtype=A.dtype)
    else:
        # Partial sums in fp32, reduced by torch below: deterministic, unlike atomics.
        out = torch.empty((parts, M), device=A.device, dtype=torch.float32)
    grid = (triton.cdiv(M, block_m), parts)
    skb_matvec_kernel[grid](
        A, B, out, M, K, k_per_split,
        A.stride(0), A.stride(1), B.stride(0), out.stride(0), out.stride(1),
        BLOCK_M=block_m, BLOCK_K=block_k, num_warps=num_warps, num_stages=num_stages,
    )
    y = out[0] if parts == 1 else out.sum(dim=0).to(A.dtype)
    return y.reshape(out_shape)
`;

/** The Python source of ModelNew for legal knobs. */
function generateSource(op: Operation, k: Knobs): string {
  return operatorModuleSource(frame(op), k, 'torch.matmul (cuBLAS)', () => ({
    label: `Triton kernel, BLOCK ${String(k.block_m)}x${String(k.block_k)}, SPLIT_K ${String(k.split_k)}, ${String(k.num_warps)} warps, ${String(k.num_stages)} stages`,
    constants: [
      ['BLOCK_M', k.block_m!],
      ['BLOCK_K', k.block_k!],
      ['SPLIT_K', k.split_k!],
      ['NUM_WARPS', k.num_warps!],
      ['NUM_STAGES', k.num_stages!],
    ],
    kernel: KERNEL_SOURCE,
    call: 'return skb_matvec(A, B)',
  }));
}

/** The KernelBench reference problem of a matvec: torch.matmul of an M x K matrix and a K x 1 vector. */
export function matvecProblem(op: Operation): string {
  const { M, K } = checkedDims(op);
  const dtype = torchDtype(op);
  return operatorProblemSource(frame(op), [
    `torch.randn(${M}, ${K}, dtype=${dtype})`,
    `torch.randn(${K}, 1, dtype=${dtype})`,
  ]);
}

/**
 * Creates the Triton matvec template for a GPU's budget (shared memory for the pipelined tiles, SMs
 * for the default split-K): a KernelBench template whose moves are keyed by CUDA menu option ids.
 */
export function createTritonMatvecTemplate(options: TritonMatmulOptions = {}): KernelTemplate<'matvec'> {
  checkedOptions(options);
  return {
    kind: 'matvec',
    knobs: TRITON_MATVEC_KNOBS,
    baseline: (op) => tritonMatvecBaseline(op, options),
    legalize: (op, knobs) => legalizeTritonMatvec(op, knobs, options),
    generate: (op, requested) => generateSource(op, legalizeTritonMatvec(op, requested, options)),
    moves: TRITON_MATVEC_MOVES,
    firstMove: TORCH_COMPILE_OPTION,
    fixedMoves: implementationFixedMoves((op) => tritonMatvecBaseline(op, options)),
  };
}
