import type { Menu, MenuOption } from './menu.js';

const option = (id: string, label: string, description: string): MenuOption => ({
  id: `cuda.${id}`,
  label,
  description,
});

/**
 * The CUDA / PyTorch menu for KernelBench targets, in the spirit of Autocomp's GPU menu: high-level
 * moves the model turns into a plan for the code in front of it. Texts are ours; ids are stable.
 * Translate iterations (the baseline is plain PyTorch) use the short `translateOptions` list.
 */
export const CUDA_MENU: Menu = {
  toolchain: 'kernelbench',
  options: [
    // Memory traffic
    option(
      'coalesce',
      'Coalesce global accesses',
      'Arrange thread-to-data mapping so consecutive threads of a warp touch consecutive addresses in global memory.',
    ),
    option(
      'vector_loads',
      'Vectorized loads and stores',
      'Move data as float4 / half2 / 128-bit words instead of scalars where alignment allows.',
    ),
    option(
      'shared_tile',
      'Shared-memory tiling',
      'Stage tiles of the inputs in shared memory so each global element is loaded once per block and reused many times.',
    ),
    option(
      'register_tile',
      'Register tiling',
      'Let each thread compute a small block of outputs held in registers, reusing operands loaded once.',
    ),
    option(
      'bank_conflicts',
      'Avoid shared-memory bank conflicts',
      'Pad or swizzle shared-memory arrays so threads of a warp hit different banks.',
    ),
    option(
      'double_buffer',
      'Double buffering',
      'Load the next tile while computing on the current one (two shared-memory buffers, or cp.async pipelines).',
    ),
    option(
      'async_copy',
      'Asynchronous copies',
      'Use cp.async / TMA-style asynchronous global-to-shared copies to overlap memory and compute.',
    ),
    option(
      'readonly_cache',
      'Read-only data path',
      'Mark inputs const __restrict__ or load them with __ldg so they go through the read-only cache.',
    ),
    option(
      'constant_memory',
      'Constant memory',
      'Put small parameters read uniformly by all threads (filters, scales) in __constant__ memory.',
    ),
    option(
      'layout_change',
      'Change a data layout',
      'Transpose or repack an operand once (e.g. to make a reduction dimension contiguous) when the later accesses gain more than the copy costs.',
    ),
    option(
      'reduce_traffic',
      'Cut intermediate tensors',
      'Avoid writing and re-reading intermediate results: keep them in registers or shared memory between steps.',
    ),
    option(
      'l2_locality',
      'L2 locality',
      'Order the block schedule (swizzled or grouped block indices) so blocks running together share data in L2.',
    ),
    // Fusion and algebra
    option(
      'fuse_elementwise',
      'Fuse elementwise operations',
      'Merge a chain of elementwise operations (activation, scale, bias, residual add) into one kernel pass.',
    ),
    option(
      'fuse_epilogue',
      'Fuse into the epilogue',
      'Apply bias, activation, scaling or casting to the outputs of a GEMM or convolution before they are written.',
    ),
    option(
      'fuse_reduction',
      'Fuse a reduction',
      'Compute a reduction (sum, max, mean, norm statistics) in the same kernel that produces its input.',
    ),
    option(
      'fuse_kernels',
      'Fuse two kernels',
      'Combine two consecutive kernels into one launch so the intermediate never reaches global memory.',
    ),
    option(
      'algebraic',
      'Algebraic simplification',
      'Rewrite the math to do less work with the same result: fold constants, reorder associative operations, drop operations that cancel.',
    ),
    option(
      'precompute',
      'Precompute constant parts',
      'Compute parts that depend only on parameters (folded weights, scales, index tables) once at construction time.',
    ),
    option(
      'skip_redundant',
      'Skip redundant work',
      'Detect outputs that are provably constant or unused and avoid computing them, keeping the exact result.',
    ),
    option(
      'online_softmax',
      'Online normalization',
      'Compute softmax / log-sum-exp / normalization statistics in one pass with running maxima and sums.',
    ),
    // Parallel decomposition
    option(
      'block_size',
      'Tune the block size',
      'Choose threads per block (and work per thread) to balance occupancy, registers and shared memory.',
    ),
    option(
      'grid_shape',
      'Change the grid mapping',
      'Map output dimensions to blocks and threads differently (2D/3D grids, one block per row, grid-stride loops).',
    ),
    option(
      'work_per_thread',
      'More work per thread',
      'Let each thread handle several elements to amortize index math and increase instruction-level parallelism.',
    ),
    option(
      'split_k',
      'Split the reduction',
      'Split a long reduction dimension across blocks (split-K) and combine partial results, to fill the GPU on small outputs.',
    ),
    option(
      'persistent',
      'Persistent kernel',
      'Launch about one block per SM that loops over work tiles, to cut launch and tail overhead.',
    ),
    option(
      'warp_reduce',
      'Warp-level reductions',
      'Reduce within a warp with shuffle intrinsics (__shfl_down_sync) instead of shared memory and __syncthreads.',
    ),
    option(
      'block_reduce',
      'Hierarchical reduction',
      'Reduce per thread, then per warp, then per block, with a single atomic or second pass across blocks.',
    ),
    option(
      'atomics',
      'Fewer atomics',
      'Replace contended global atomics by block-local accumulation and one atomic per block.',
    ),
    option(
      'occupancy',
      'Occupancy tuning',
      'Reduce register or shared-memory pressure (__launch_bounds__, smaller tiles) so more warps hide latency.',
    ),
    option(
      'divergence',
      'Remove warp divergence',
      'Restructure branches so threads of a warp take the same path (predication, separate boundary handling).',
    ),
    // Instructions
    option(
      'tensor_cores',
      'Tensor cores',
      'Use tensor-core MMA (WMMA / mma.sync, or a tensor-core-backed library call) for matrix products, within the dtype rules.',
    ),
    option(
      'fast_math',
      'Fast intrinsics',
      'Use __expf, __fdividef, rsqrtf, fmaf and similar intrinsics where the tolerance allows.',
    ),
    option(
      'unroll',
      'Loop unrolling',
      'Unroll inner loops with #pragma unroll or fixed trip counts so the compiler schedules loads early.',
    ),
    option(
      'strength_reduce',
      'Strength reduction',
      'Replace divisions and modulo in index math by multiplications, shifts or precomputed strides.',
    ),
    option('hoist', 'Hoisting', 'Move invariant loads, index math and branch conditions out of inner loops.'),
    option(
      'mixed_precision',
      'Accumulate carefully',
      'Keep inputs in their dtype but accumulate in float where the reference does, avoiding extra conversions elsewhere.',
    ),
    option(
      'compile_flags',
      'Compiler options',
      'Pass extension build flags such as -O3, --use_fast_math (when the tolerance allows) or an explicit architecture.',
    ),
    // Library and framework level
    option(
      'cublas',
      'Library GEMM',
      'Call a tuned library routine (cuBLAS via torch.matmul / addmm / baddbmm) for the matrix product and write custom kernels around it.',
    ),
    option(
      'cudnn',
      'Library convolution',
      'Keep convolutions on cuDNN (torch.nn.functional.conv*) with a better layout or algorithm choice, and fuse what surrounds them.',
    ),
    option(
      'channels_last',
      'Channels-last layout',
      'Run convolutions and normalizations in channels_last memory format when it speeds up the library kernels.',
    ),
    option(
      'inplace',
      'In-place operations',
      'Write results into existing buffers (out= arguments, in-place ops) to save allocations and traffic.',
    ),
    option(
      'avoid_copies',
      'Avoid copies and syncs',
      'Remove .contiguous(), .clone(), dtype round trips, host synchronizations and CPU-side tensor creation from forward().',
    ),
    option(
      'preallocate',
      'Preallocate buffers',
      'Allocate workspaces once and reuse them across calls instead of allocating in every forward().',
    ),
    option(
      'cuda_graph',
      'Launch overhead',
      'Cut the number of kernel launches (fewer, larger kernels) where launch overhead dominates.',
    ),
    {
      ...option(
        'torch_compile',
        'torch.compile',
        'Let torch.compile (Inductor) fuse the operations and generate their kernels, in one of its modes: default, max-autotune-no-cudagraphs or max-autotune.',
      ),
      // What a GPU user gets by compiling is always on offer, so a search can reach it at any budget.
      neverDropped: true,
    },
    option(
      'triton',
      'Triton kernel',
      'Write the hot operation as a Triton kernel with explicit block sizes instead of a CUDA C++ extension.',
    ),
    option(
      'specialize',
      'Specialize for the shapes',
      'Specialize kernels for the problem sizes (compile-time constants, no bounds checks on full tiles), keeping a general path for the rest.',
    ),
    option(
      'stream_overlap',
      'Overlap independent work',
      'Run independent kernels concurrently (separate streams or a merged launch) when the GPU is not full.',
    ),
  ],
  translateOptions: [
    option(
      'to_functional',
      'Functional PyTorch',
      'Rewrite the module as functional PyTorch calls (torch.nn.functional) so operations can be fused or replaced one by one.',
    ),
    option(
      'to_inline_cuda',
      'Inline CUDA for one operation',
      'Convert one PyTorch operation to an inline CUDA C++ kernel built with torch.utils.cpp_extension.load_inline.',
    ),
    option('to_triton', 'Triton kernel for one operation', 'Convert one PyTorch operation to a Triton kernel.'),
    option(
      'fuse_to_cuda',
      'Fuse operations into one CUDA kernel',
      'Replace a sequence of PyTorch operations by a single inline CUDA kernel that computes them together.',
    ),
  ],
  rules: [
    'Define `class ModelNew(nn.Module)` with the same constructor arguments and the same forward() inputs and outputs (shapes and dtype) as the reference `Model`.',
    'Keep parameters under the same attribute names and shapes as `Model`, so the harness can copy its weights into ModelNew.',
    'Do not import, call or subclass the reference `Model`, and do not read the problem file.',
    'Keep the dtype of inputs, weights and outputs; do not lower precision beyond what the reference computes (no fp32 -> fp16/TF32 switches).',
    'Compute the real result for every input: no caching of outputs across calls, no special-casing of the test inputs, no skipping of work that changes the output.',
    'Custom kernels go inline in the file (torch.utils.cpp_extension.load_inline or Triton); no other third-party packages.',
    'Return the whole Python file.',
  ],
};
