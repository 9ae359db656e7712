import type { Menu, MenuOption } from './menu.js';

/** What a single-threaded target asks of every candidate. */
const SINGLE_THREAD_RULE = 'The kernel is single-threaded: do not create threads or processes, and do not use OpenMP.';

/**
 * The option a target whose candidates may use several cores adds to the menu; the templates
 * realize it as their `threads` knob.
 */
export const PARALLELIZE_OPTION: MenuOption = {
  id: 'cpu.parallelize',
  label: 'Parallelization',
  description:
    'Split independent work (row blocks of the output, output channels, batches) across the cores with OpenMP, each thread with its own scratch buffers.',
};

/**
 * The CPU / C menu of a single-threaded target. The LLM planner shows it (after dropout) in its
 * plan prompt; the template planner realizes the same ids as knob moves, so schedules from both
 * planners are comparable. `cpuMenu` gives the menu of a target with more cores per candidate.
 */
export const CPU_MENU: Menu = {
  toolchain: 'c',
  options: [
    {
      id: 'cpu.cache_tile',
      label: 'Cache tiling',
      description:
        'Tile the loop nest so the working set of the inner loops fits in L1/L2 (choose tile sizes for M, N, K or rows).',
    },
    {
      id: 'cpu.register_block',
      label: 'Register blocking',
      description:
        'Compute a small MR x NR block of outputs in registers (accumulators held across the reduction loop).',
    },
    {
      id: 'cpu.loop_reorder',
      label: 'Loop reordering',
      description:
        'Reorder loops so the innermost loop walks memory contiguously and reuses data (e.g. i-k-j for row-major GEMM).',
    },
    {
      id: 'cpu.vectorize',
      label: 'Vectorization',
      description:
        'Use SIMD for the innermost loop: GCC vector extensions or intrinsics for the detected ISA (AVX2/FMA, AVX-512, NEON).',
    },
    {
      id: 'cpu.unroll',
      label: 'Loop unrolling',
      description:
        'Unroll an inner loop by a small factor to expose instruction-level parallelism and cut loop overhead.',
    },
    {
      id: 'cpu.pack',
      label: 'Operand packing',
      description:
        'Copy a tile of an operand into a contiguous, aligned buffer in the order the inner kernel reads it.',
    },
    {
      id: 'cpu.prefetch',
      label: 'Software prefetching',
      description: 'Prefetch data a fixed distance ahead (__builtin_prefetch) so loads hit in cache.',
    },
    {
      id: 'cpu.hoist',
      label: 'Hoisting and strength reduction',
      description:
        'Move invariant loads, address computations and divisions out of inner loops; replace divisions by multiplications.',
    },
    {
      id: 'cpu.fuse',
      label: 'Fusion',
      description:
        'Fuse passes over the same data (epilogue into the main loop, max/sum/normalize passes of a row) so data is read fewer times.',
    },
    {
      id: 'cpu.compiler_hints',
      label: 'Compiler hints',
      description:
        'Add restrict, alignment assumptions (__builtin_assume_aligned), pragmas (GCC ivdep/unroll) so the compiler can vectorize.',
    },
    {
      id: 'cpu.compiler_flags',
      label: 'Compiler flags',
      description:
        'Change code-generation flags within the rules (e.g. -funroll-loops, -ffast-math where the tolerance allows).',
    },
    {
      id: 'cpu.simplify',
      label: 'Simplify the kernel',
      description:
        'Remove redundant work: special-case the common path, avoid recomputation, use cheaper math where exact.',
    },
    {
      id: 'cpu.micro_kernel',
      label: 'Vectorized micro-kernel',
      neverDropped: true,
      description:
        'Restructure the hot loop as a register-blocked, vectorized micro-kernel, choosing together what only pays together: vector width for the ISA, register block, operand packing and cache tiles (for row reductions: vector width, several accumulators and vectorizable math).',
    },
  ],
  translateOptions: [],
  rules: [
    'Keep the exact C signature of `kernel` and compute the same result for every input size, including sizes that are not multiples of any tile.',
    SINGLE_THREAD_RULE,
    'Use only the C standard library and compiler built-ins / intrinsics for the target ISA; no external libraries (no BLAS).',
    'Do not keep state between calls that depends on the input values; scratch buffers must be allocated and freed inside the call or be static and sized by the arguments.',
    'Return the whole C source file with `kernel` defined in it.',
  ],
};

/**
 * The CPU menu for a target that lets a candidate use `threads` cores: above 1 it offers
 * parallelization and states the allowance instead of forbidding threads. The toolchain builds
 * candidates with -fopenmp, defines SKB_THREADS and caps OpenMP at the allowance.
 */
export function cpuMenu(threads: number): Menu {
  if (threads <= 1) return CPU_MENU;
  return {
    ...CPU_MENU,
    options: [...CPU_MENU.options, PARALLELIZE_OPTION],
    rules: CPU_MENU.rules.map((rule) =>
      rule === SINGLE_THREAD_RULE
        ? `The kernel may use up to ${threads} threads, through OpenMP only (e.g. \`#pragma omp parallel for num_threads(SKB_THREADS)\`; it is compiled with -fopenmp and SKB_THREADS defined as ${threads}); do not create processes or other threads.`
        : rule,
    ),
  };
}
