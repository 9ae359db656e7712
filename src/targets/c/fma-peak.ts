/**
 * The measured single-core f32 FMA throughput of the machine behind an executor: a short C loop of
 * independent vector FMA chains, as wide as the ISA allows, compiled with the target's compiler
 * and timed there. The nominal clock understates what a core sustains under turbo (a gemm of ours
 * reached 153% of the clock-derived figure), so feedback's "fraction of peak" is taken against
 * this instead. Measured once per executor with the CPU probe; not part of the fingerprint, since
 * it varies a little between runs.
 */
import type { CpuFingerprint } from '../../schedules/index.js';
import type { Executor } from '../executor.js';
import { widestVector } from '../templates/c-template.js';

/** Independent accumulators: enough to cover FMA latency on two pipes, few enough to stay in registers. */
function chainsFor(vectorBytes: number): number {
  return vectorBytes >= 64 ? 16 : 12;
}

/** The widest f32 vector the kernel templates use on this ISA, in bytes. */
function vectorBytesOf(fp: CpuFingerprint): number {
  return widestVector(fp.isa) * 4;
}

/** The benchmark's source for a vector width: prints `gflops <best of five timed rounds>`. */
export function fmaPeakSource(vectorBytes: number): string {
  const lanes = vectorBytes / 4;
  const chains = chainsFor(vectorBytes);
  return `#include <stdio.h>
#include <time.h>
typedef float vec __attribute__((vector_size(${vectorBytes})));
#define CHAINS ${chains}
#define LANES ${lanes}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static float run(long iters, volatile float seed) {
  vec a[CHAINS];
  vec x = (vec){} + (1.0f + seed * 1e-7f), y = (vec){} + (seed * 1e-7f);
  for (int c = 0; c < CHAINS; c++) a[c] = (vec){} + (float)c * 1e-3f;
  for (long n = 0; n < iters; n++)
    for (int c = 0; c < CHAINS; c++) a[c] = a[c] * x + y;
  float s = 0;
  for (int c = 0; c < CHAINS; c++) for (int l = 0; l < LANES; l++) s += a[c][l];
  return s;
}
int main(void) {
  long iters = 1 << 16;
  float sink = 0;
  /* Calibrate: grow the loop until one round takes at least 20 ms. */
  for (;;) {
    double t0 = now();
    sink += run(iters, 1.0f);
    if (now() - t0 >= 0.02 || iters > (1L << 34)) break;
    iters *= 2;
  }
  double best = 0;
  for (int r = 0; r < 5; r++) {
    double t0 = now();
    sink += run(iters, 1.0f);
    double t = now() - t0;
    double gflops = (double)iters * CHAINS * LANES * 2 / t / 1e9;
    if (gflops > best) best = gflops;
  }
  printf("gflops %.3f\\nsink %g\\n", best, sink);
  return 0;
}
`;
}

/** Measures the FMA peak on `executor` with compiler `cc`; null when it cannot be built or run there. */
export async function measureFmaPeak(executor: Executor, cc: string, fp: CpuFingerprint): Promise<number | null> {
  const ws = await executor.createWorkspace();
  try {
    await ws.writeFile('fma-peak.c', fmaPeakSource(vectorBytesOf(fp)));
    // Contraction on: a * x + y must become one FMA, as it does in the kernels it is compared with.
    const built = await ws.exec({
      argv: [cc, '-O3', '-march=native', '-ffp-contract=fast', '-o', 'fma-peak', 'fma-peak.c'],
      limits: { wallMs: 30_000 },
    });
    if (built.exitCode !== 0) return null;
    const ran = await ws.exec({ argv: ['./fma-peak'], limits: { wallMs: 20_000 } });
    const m = /^gflops (\d+(?:\.\d+)?)$/m.exec(ran.stdout);
    const gflops = m ? Number(m[1]) : Number.NaN;
    return ran.exitCode === 0 && Number.isFinite(gflops) && gflops > 0 ? gflops : null;
  } catch {
    return null;
  } finally {
    await ws.dispose();
  }
}
