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
 * the output dtype before the bias is added, as the eager reference does.
 *
 * The kernel's source does not depend on the knobs (they are constexpr launch arguments); only the
 * constants at the top of the file and the launch do. bench/gpu/run.py relies on this: it imports one
 * generated file and sweeps the same knob space through `skb_matmul`.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { nearestLegal } from './c-common.js';
import type { KernelTemplate, KnobSpec, KnobValue, Knobs } from './template.js';

/** Operation kinds the GPU templates generate. */
export const GPU_TEMPLATE_KINDS = ['gemm', 'batched_gemm'] as const;
export type GpuTemplateKind = (typeof GPU_TEMPLATE_KINDS)[number];

/**
 * A kernel template for a GPU toolchain: the `KernelTemplate` contract with a GPU kind, whose
 * `generate` returns the Python source of a KernelBench `ModelNew`, and whose `moves` are keyed by
 * CUDA menu option ids (src/search/menus/cuda-menu.ts).
 */
export interface GpuKernelTemplate extends Omit<KernelTemplate, 'kind'> {
  kind: GpuTemplateKind;
  toolchain: 'kernelbench';
}

/** Block sizes offered for M and N, before dropping those far larger than the dimension. */
const BLOCK_MN = [32, 64, 128, 256];
const BLOCK_K = [32, 64, 128];
const GROUP_M = [1, 8];
const NUM_WARPS = [4, 8];
const NUM_STAGES = [2, 3, 4];
/** f32 paths: true f32 FMA products, or three TF32 tensor-core products (about f32 accuracy). */
const F32_PRECISIONS = ['ieee', 'tf32x3'];
const TORCH_DTYPES: Partial<Record<Operation['dtype'], string>> = { f32: 'torch.float32', f16: 'torch.float16', bf16: 'torch.bfloat16' };

/**
 * Shared memory the pipelined operand tiles may take: 160 KiB fits an A100 (164 KiB per block) and
 * an H100 (227 KiB), with room for the layout conversions Triton adds.
 */
export const SHARED_MEMORY_BUDGET = 160 * 1024;
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
    if (v === undefined) throw new SkbError('BAD_INPUT', `A ${op.kind} operation needs the dimension ${name} (dims are ${Object.keys(op.dims).join(', ')})`);
    return v;
  };
  return { batch: op.kind === 'batched_gemm' ? get('B') : 1, M: get('M'), N: get('N'), K: get('K') };
}

/**
 * The three largest block sizes no larger than the dimension rounded up to a power of two (always
 * at least the smallest): small blocks only where the dimension is small, which keeps the space
 * small enough to sweep exhaustively (bench/gpu) while a small dimension still gets small tiles.
 */
function blocksFor(sizes: readonly number[], extent: number): number[] {
  const cap = 2 ** Math.ceil(Math.log2(Math.max(extent, 1)));
  const fit = sizes.filter((s) => s <= cap);
  return fit.length ? fit.slice(-3) : [sizes[0]!];
}

function bytesOf(op: Operation): number {
  return op.dtype === 'f32' ? 4 : 2;
}

function checkOperation(op: Operation): void {
  if (!(GPU_TEMPLATE_KINDS as readonly string[]).includes(op.kind)) {
    throw new SkbError('BAD_INPUT', `The Triton matmul template generates gemm and batched_gemm kernels, not ${op.kind}`);
  }
  if (!TORCH_DTYPES[op.dtype]) throw new SkbError('BAD_INPUT', `The Triton matmul template supports f32, f16 and bf16, not ${op.dtype}`);
  const bad = op.epilogue.filter((e) => e !== 'bias' && e !== 'relu');
  if (bad.length) throw new SkbError('BAD_INPUT', `The Triton matmul template fuses the epilogues bias and relu only, not ${bad.join(', ')}`);
  if (op.epilogue.length === 2 && op.epilogue[0] !== 'bias') {
    throw new SkbError('BAD_INPUT', 'The Triton matmul template applies bias before relu; write the epilogue as ["bias", "relu"]');
  }
}

/** The knob specs; legal values depend on the shape (block sizes) and the dtype (precision). */
export const TRITON_MATMUL_KNOBS: KnobSpec[] = [
  { name: 'impl', description: 'torch.matmul (cuBLAS) or the Triton kernel', values: () => ['torch', 'triton'] },
  { name: 'block_m', description: 'rows of C per program (BLOCK_M)', values: (op) => blocksFor(BLOCK_MN, dimsOf(op).M) },
  { name: 'block_n', description: 'columns of C per program (BLOCK_N)', values: (op) => blocksFor(BLOCK_MN, dimsOf(op).N) },
  { name: 'block_k', description: 'reduction depth per pipeline step (BLOCK_K)', values: (op) => blocksFor(BLOCK_K, dimsOf(op).K) },
  { name: 'group_m', description: 'row blocks per group of the L2-friendly launch order (GROUP_M; 1: row-major order)', values: () => [...GROUP_M] },
  { name: 'num_warps', description: 'warps per program', values: () => [...NUM_WARPS] },
  { name: 'num_stages', description: 'software pipeline stages of the operand loads', values: () => [...NUM_STAGES] },
  {
    name: 'precision',
    description: 'dtype path of the products: native tensor cores (f16/bf16), f32 FMA (ieee) or 3xTF32 (tf32x3)',
    values: (op) => (op.dtype === 'f32' ? [...F32_PRECISIONS] : ['native']),
  },
];

/** The Triton configuration the template starts from when it leaves cuBLAS (before legalization). */
export const TRITON_DEFAULT: Knobs = { block_m: 64, block_n: 64, block_k: 32, group_m: 8, num_warps: 4, num_stages: 3 };

/** Which knobs each CUDA menu option moves. */
export const TRITON_MATMUL_MOVES: KernelTemplate['moves'] = {
  'cuda.triton': ['impl'],
  'cuda.cublas': ['impl'],
  'cuda.shared_tile': ['block_m', 'block_n', 'block_k'],
  'cuda.register_tile': ['block_m', 'block_n'],
  'cuda.block_size': ['num_warps'],
  'cuda.occupancy': ['num_warps', 'num_stages'],
  'cuda.double_buffer': ['num_stages'],
  'cuda.async_copy': ['num_stages'],
  'cuda.l2_locality': ['group_m'],
  'cuda.tensor_cores': ['precision'],
  'cuda.mixed_precision': ['precision'],
};

const num = (k: Knobs, name: string): number => k[name] as number;

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

/** Lowers a knob to the next smaller legal value; false when it is already the smallest. */
function lower(op: Operation, knobs: Knobs, name: string): boolean {
  const legal = TRITON_MATMUL_KNOBS.find((s) => s.name === name)!.values(op) as number[];
  const smaller = legal.filter((v) => v < num(knobs, name));
  if (!smaller.length) return false;
  knobs[name] = smaller[smaller.length - 1]!;
  return true;
}

/**
 * Applies the resource rules: the accumulator must fit in registers (more warps first, then a
 * smaller block of the larger side) and the pipelined tiles in shared memory (fewer stages first,
 * then a shallower BLOCK_K, then a smaller block).
 */
function fitResources(op: Operation, k: Knobs): Knobs {
  const out = { ...k };
  const accumulators = (): number => (num(out, 'block_m') * num(out, 'block_n')) / (32 * num(out, 'num_warps'));
  while (accumulators() > ACCUMULATORS_PER_THREAD) {
    const warps = TRITON_MATMUL_KNOBS.find((s) => s.name === 'num_warps')!.values(op) as number[];
    const more = warps.find((w) => w > num(out, 'num_warps'));
    if (more !== undefined) out.num_warps = more;
    else if (!lower(op, out, num(out, 'block_m') >= num(out, 'block_n') ? 'block_m' : 'block_n')) break;
  }
  const shared = (): number => num(out, 'num_stages') * (num(out, 'block_m') + num(out, 'block_n')) * num(out, 'block_k') * bytesOf(op);
  while (shared() > SHARED_MEMORY_BUDGET) {
    if (num(out, 'num_stages') > 2) lower(op, out, 'num_stages');
    else if (!lower(op, out, 'block_k') && !lower(op, out, num(out, 'block_m') >= num(out, 'block_n') ? 'block_m' : 'block_n')) break;
  }
  return out;
}

function sameTriton(a: Knobs, b: Knobs): boolean {
  return TRITON_MATMUL_KNOBS.every((s) => s.name === 'impl' || a[s.name] === b[s.name]);
}

/** The default Triton knobs made legal for this shape. */
function tritonDefault(op: Operation): Knobs {
  return fitResources(op, snap(op, { ...TRITON_DEFAULT, precision: op.dtype === 'f32' ? 'ieee' : 'native' }, {}));
}

/**
 * Every knob brought into the legal set: each snapped to its nearest legal value, then the resource
 * rules. `impl` stays "torch" only while every Triton knob is at its default, since a Triton knob
 * moved away from it asks for the Triton kernel.
 */
export function legalizeTritonMatmul(op: Operation, knobs: Knobs): Knobs {
  checkOperation(op);
  const def = tritonDefault(op);
  const triton = fitResources(op, snap(op, knobs, def));
  const impl = knobs.impl !== 'triton' && sameTriton(triton, def) ? 'torch' : 'triton';
  return { ...triton, impl };
}

/** The baseline: torch.matmul (cuBLAS), with the Triton knobs at their defaults for this shape. */
export function tritonMatmulBaseline(op: Operation): Knobs {
  checkOperation(op);
  return { ...tritonDefault(op), impl: 'torch' };
}

const py = (v: KnobValue): string => (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v));

const KERNEL = `
@triton.jit
def skb_matmul_kernel(
    a_ptr, b_ptr, c_ptr, bias_ptr, M, N, K,
    stride_ab, stride_am, stride_ak, stride_bb, stride_bk, stride_bn, stride_cb, stride_cm, stride_cn,
    HAS_BIAS: tl.constexpr, RELU: tl.constexpr,
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
    if HAS_BIAS:
        # Round the product to the output dtype first, as torch.matmul(...) + bias does.
        bias = tl.load(bias_ptr + offs_cn, mask=offs_cn < N, other=0.0)
        out = out.to(c_ptr.dtype.element_ty).to(tl.float32) + bias.to(tl.float32)
    if RELU:
        out = tl.maximum(out, 0.0)
    c_ptrs = c_ptr + batch * stride_cb + stride_cm * offs_cm[:, None] + stride_cn * offs_cn[None, :]
    c_mask = (offs_cm[:, None] < M) & (offs_cn[None, :] < N)
    tl.store(c_ptrs, out.to(c_ptr.dtype.element_ty), mask=c_mask)


def skb_matmul(A, B, bias=None, relu=False, block_m=BLOCK_M, block_n=BLOCK_N, block_k=BLOCK_K,
               group_m=GROUP_M, num_warps=NUM_WARPS, num_stages=NUM_STAGES, precision=PRECISION):
    """C = A @ B (then + bias, then ReLU) for [batch,] M x K and [batch,] K x N inputs, any strides."""
    batched = A.dim() == 3
    a3 = A if batched else A.unsqueeze(0)
    b3 = B if batched else B.unsqueeze(0)
    batch, M, K = a3.shape
    N = b3.shape[2]
    c3 = torch.empty((batch, M, N), device=A.device, dtype=A.dtype)
    grid = (triton.cdiv(M, block_m) * triton.cdiv(N, block_n), batch)
    skb_matmul_kernel[grid](
        a3, b3, c3, bias if bias is not None else c3, M, N, K,
        a3.stride(0), a3.stride(1), a3.stride(2), b3.stride(0), b3.stride(1), b3.stride(2),
        c3.stride(0), c3.stride(1), c3.stride(2),
        HAS_BIAS=bias is not None, RELU=relu,
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, GROUP_M=group_m, PRECISION=precision,
        num_warps=num_warps, num_stages=num_stages,
    )
    return c3 if batched else c3[0]
`;

function header(op: Operation, what: string): string {
  return `"""${op.kind} ${JSON.stringify(op.dims)} ${op.dtype}${op.epilogue.length ? ` with ${op.epilogue.join(' then ')}` : ''}: ${what} (generated by schedule-kb)."""`;
}

function modelClass(op: Operation, forwardBody: string): string {
  const hasBias = op.epilogue.includes('bias');
  const dtype = TORCH_DTYPES[op.dtype]!;
  return [
    'class ModelNew(nn.Module):',
    hasBias ? '    def __init__(self, n):' : '    def __init__(self):',
    '        super().__init__()',
    ...(hasBias ? [`        self.bias = nn.Parameter(torch.randn(n, dtype=${dtype}))`] : []),
    '',
    '    def forward(self, A, B):',
    forwardBody,
    '',
  ].join('\n');
}

/** The Python source of ModelNew for legal knobs. */
function generateSource(op: Operation, k: Knobs): string {
  const hasBias = op.epilogue.includes('bias');
  const relu = op.epilogue.includes('relu');
  if (k.impl === 'torch') {
    const steps = ['        out = torch.matmul(A, B)', ...(hasBias ? ['        out = out + self.bias'] : []), ...(relu ? ['        out = torch.relu(out)'] : []), '        return out'];
    return [header(op, 'torch.matmul (cuBLAS)'), 'import torch', 'import torch.nn as nn', '', '', modelClass(op, steps.join('\n'))].join('\n');
  }
  const what = `Triton kernel, BLOCK ${String(k.block_m)}x${String(k.block_n)}x${String(k.block_k)}, GROUP_M ${String(k.group_m)}, ${String(k.num_warps)} warps, ${String(k.num_stages)} stages, ${String(k.precision)} products`;
  const constants = [
    `BLOCK_M = ${py(k.block_m!)}`,
    `BLOCK_N = ${py(k.block_n!)}`,
    `BLOCK_K = ${py(k.block_k!)}`,
    `GROUP_M = ${py(k.group_m!)}`,
    `NUM_WARPS = ${py(k.num_warps!)}`,
    `NUM_STAGES = ${py(k.num_stages!)}`,
    `PRECISION = ${py(k.precision!)}`,
  ];
  const forward = `        return skb_matmul(A, B, ${hasBias ? 'self.bias' : 'None'}, ${relu ? 'True' : 'False'})`;
  return [header(op, what), 'import torch', 'import torch.nn as nn', 'import triton', 'import triton.language as tl', '', ...constants, KERNEL, '', modelClass(op, forward)].join('\n');
}

/** Creates the Triton matmul template (one object serves gemm and batched gemm). */
export function createTritonMatmulTemplate(kind: GpuTemplateKind): GpuKernelTemplate {
  return {
    kind,
    toolchain: 'kernelbench',
    knobs: TRITON_MATMUL_KNOBS,
    baseline: tritonMatmulBaseline,
    legalize: legalizeTritonMatmul,
    generate(op, requested) {
      if (op.kind !== kind) throw new SkbError('BAD_INPUT', `This Triton matmul template generates ${kind} kernels, not ${op.kind}`);
      return generateSource(op, legalizeTritonMatmul(op, requested));
    },
    moves: TRITON_MATMUL_MOVES,
  };
}

/** The GPU template for an operation kind on a KernelBench target, or null where there is none. */
export function gpuTemplateFor(kind: string): GpuKernelTemplate | null {
  return (GPU_TEMPLATE_KINDS as readonly string[]).includes(kind) ? createTritonMatmulTemplate(kind as GpuTemplateKind) : null;
}

/**
 * Every distinct legal Triton configuration of this operation (impl "triton"): the space the
 * template's knobs span, which bench/gpu sweeps exhaustively.
 */
export function tritonMatmulSpace(op: Operation): Knobs[] {
  const specs = TRITON_MATMUL_KNOBS.filter((s) => s.name !== 'impl');
  let partial: Knobs[] = [{ impl: 'triton' }];
  for (const spec of specs) partial = partial.flatMap((k) => spec.values(op).map((v) => ({ ...k, [spec.name]: v })));
  const seen = new Map<string, Knobs>();
  for (const k of partial) {
    const legal = legalizeTritonMatmul(op, k);
    if (legal.impl !== 'triton') continue;
    seen.set(JSON.stringify(legal), legal);
  }
  return [...seen.values()];
}
