/**
 * The C harness: one generated C file per operation, compiled together with a candidate. It
 * allocates seeded inputs, computes a double-precision reference, checks the candidate's output
 * against it with a per-element tolerance, times the candidate and prints one result line.
 *
 * The harness also wraps malloc and friends and fork (via `-Wl,--wrap`), so a candidate that runs
 * out of memory or processes is reported as having hit that limit instead of crashing on NULL.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { LIMIT_MARKERS } from '../limits.js';
import { TimingStopSchema, type TimingSettings } from '../toolchain.js';
import type { EntryPoint } from './entry-points.js';

/** Prefix of the one line of program output the toolchain reads. */
export const RESULT_PREFIX = 'SKB_RESULT ';

/** Linker flags that route allocations and fork through the harness's checks. */
export const WRAP_FLAGS = ['malloc', 'calloc', 'realloc', 'aligned_alloc', 'posix_memalign', 'fork'].map(
  (f) => `-Wl,--wrap=${f}`,
);

/** The result line, validated because it is output of a program we do not control. */
export const HarnessResultSchema = z
  .object({
    correct: z.boolean(),
    /** Largest |out - ref| / tol over all elements; null when some output was not a number. */
    maxErrRatio: z.number().nonnegative().nullable(),
    /** First element outside the tolerance, with what the candidate produced and what was expected. */
    firstBad: z.number().int().nonnegative().nullable(),
    got: z.number().nullable(),
    expected: z.number().nullable(),
    /** Calls per timed sample (tiny kernels are repeated so one sample is long enough to time). */
    reps: z.number().int().positive(),
    samplesMs: z.array(z.number().nonnegative()),
    /** Whether the caches were flushed before each sample. */
    flushed: z.boolean(),
    /** Why timing stopped (absent on a wrong answer, which is not timed). */
    stopped: TimingStopSchema.optional(),
  })
  .strict();
export type HarnessResult = z.infer<typeof HarnessResultSchema>;

export interface HarnessOptions extends TimingSettings {
  /** A candidate whose fastest timed run is above this (ms) stops early as slower; 0 never. */
  stopAboveMs: number;
  /** Bytes written between samples to evict the problem from the caches; 0 disables flushing. */
  flushBytes: number;
  /** A sample repeats the call until it lasts this long (clock resolution and call overhead). */
  minSampleNs: number;
  /** Seed of the inputs; the same seed gives the same inputs on every machine. */
  seed: number;
}

/**
 * Flush between samples when the problem fits in the last-level cache: otherwise every sample after
 * the first would find its inputs cached and the latency would describe a hotter kernel than the
 * one a caller gets. Larger problems evict themselves.
 */
export function flushBytesFor(ep: EntryPoint, lastLevelCacheBytes: number | undefined): number {
  const llc = lastLevelCacheBytes ?? 32 * 1024 ** 2;
  if (ep.workingSetBytes >= llc) return 0;
  return Math.min(Math.ceil(llc * 1.5), 96 * 1024 ** 2);
}

/** The harness C source for one entry point. */
export function harnessSource(ep: EntryPoint, options: HarnessOptions): string {
  return `/* schedule-kb C harness for ${ep.kind}: generated, do not edit. */
#define _GNU_SOURCE
#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

${ep.signature};

static void skb_limit(const char *marker, int kill_group) {
  /* write(2) rather than stdio: no allocation, no buffering, safe after a failed malloc. */
  ssize_t ignored = write(2, marker, strlen(marker));
  (void)ignored;
  if (kill_group) kill(0, SIGKILL);
  _exit(3);
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
pid_t __real_fork(void);

#define MEMORY_MARKER "\\n${LIMIT_MARKERS.memory}\\n"
#define PROCESS_MARKER "\\n${LIMIT_MARKERS.processes}\\n"

void *__wrap_malloc(size_t n) { void *p = __real_malloc(n); if (!p && n) skb_limit(MEMORY_MARKER, 0); return p; }
void *__wrap_calloc(size_t n, size_t m) { void *p = __real_calloc(n, m); if (!p && n && m) skb_limit(MEMORY_MARKER, 0); return p; }
void *__wrap_realloc(void *q, size_t n) { void *p = __real_realloc(q, n); if (!p && n) skb_limit(MEMORY_MARKER, 0); return p; }
void *__wrap_aligned_alloc(size_t a, size_t n) { void *p = __real_aligned_alloc(a, n); if (!p && n) skb_limit(MEMORY_MARKER, 0); return p; }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { int r = __real_posix_memalign(p, a, n); if (r == ENOMEM) skb_limit(MEMORY_MARKER, 0); return r; }
/* A refused fork means the process limit was reached: stop every process of the group at once,
   or a fork bomb's processes would keep retrying until the wall-time limit. */
pid_t __wrap_fork(void) { pid_t p = __real_fork(); if (p < 0 && errno == EAGAIN) skb_limit(PROCESS_MARKER, 1); return p; }

static uint64_t rng_state = ${options.seed >>> 0}ULL * 0x9E3779B97F4A7C15ULL + 1ULL;
static float rnd(void) {
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return (float)((rng_state >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}
static float *falloc(size_t n) {
  size_t bytes = ((n ? n : 1) * sizeof(float) + 63) / 64 * 64;
  return (float *)aligned_alloc(64, bytes);
}
static void fill(float *p, size_t n) { for (size_t i = 0; i < n; i++) p[i] = rnd(); }
static void scale(float *p, size_t n, float f) { for (size_t i = 0; i < n; i++) p[i] *= f; }
static void shift(float *p, size_t n, float f) { for (size_t i = 0; i < n; i++) p[i] += f; }
static double now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (double)t.tv_sec * 1e9 + (double)t.tv_nsec; }

#define FLUSH_BYTES ((size_t)${options.flushBytes})
#define WARMUP ${options.warmup}
#define RUNS ${Math.max(1, options.runs)}
#define MIN_RUNS ${Math.max(1, Math.min(options.minRuns, options.runs))}
#define BUDGET_NS ${(options.budgetMs * 1e6).toFixed(1)}
#define STABLE_PCT ${options.stableSpreadPct.toFixed(6)}
#define STOP_ABOVE_MS ${options.stopAboveMs > 0 && Number.isFinite(options.stopAboveMs) ? options.stopAboveMs.toExponential(9) : '0.0'}

/* (max - min) / median of the first n samples, in percent (n is at most RUNS, so sorting a copy is cheap). */
static double spread_pct(const double *samples, int n) {
  static double sorted[RUNS];
  for (int i = 0; i < n; i++) {
    double v = samples[i];
    int j = i;
    while (j > 0 && sorted[j - 1] > v) { sorted[j] = sorted[j - 1]; j--; }
    sorted[j] = v;
  }
  double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
  return median > 0.0 ? (sorted[n - 1] - sorted[0]) / median * 100.0 : 0.0;
}
static volatile unsigned char *flush_buf;
static void flush_caches(void) {
  for (size_t i = 0; i < FLUSH_BYTES; i += 64) flush_buf[i] += 1;
}

static void print_number(double v) { if (isfinite(v)) printf("%.9g", v); else printf("null"); }

struct check { int correct; long first_bad; double max_ratio; };
static struct check check_output(const float *out, const double *ref, const double *tol, size_t n) {
  struct check c = { 1, -1, 0.0 };
  for (size_t i = 0; i < n; i++) {
    double err = fabs((double)out[i] - ref[i]);
    double ratio = err / tol[i];
    if (!(err <= tol[i])) {
      if (c.first_bad < 0) c.first_bad = (long)i;
      c.correct = 0;
    }
    if (!(ratio <= c.max_ratio)) c.max_ratio = ratio;
  }
  return c;
}

static char nonce[33];

static int report_wrong(struct check c, const float *out, const double *ref) {
  printf("\\n${RESULT_PREFIX}%s {\\"correct\\":false,\\"maxErrRatio\\":", nonce);
  print_number(c.max_ratio);
  printf(",\\"firstBad\\":%ld,\\"got\\":", c.first_bad);
  print_number(out[c.first_bad]);
  printf(",\\"expected\\":");
  print_number(ref[c.first_bad]);
  printf(",\\"reps\\":1,\\"samplesMs\\":[],\\"flushed\\":false}\\n");
  return 0;
}

int main(void) {
  /* The nonce arrives on stdin and is read before any candidate code runs in main, so a kernel
     that prints a result line of its own cannot know it. */
  if (fread(nonce, 1, 32, stdin) != 32) { fprintf(stderr, "harness: no nonce on stdin\\n"); return 2; }
  ${ep.setup}
  const size_t OUT_COUNT = ${ep.outputCount};
  double *ref = (double *)malloc(OUT_COUNT * sizeof(double));
  double *tol = (double *)malloc(OUT_COUNT * sizeof(double));
  ${ep.reference}

  for (size_t i = 0; i < OUT_COUNT; i++) out[i] = NAN;
  ${ep.call};
  struct check c = check_output(out, ref, tol, OUT_COUNT);
  if (!c.correct) return report_wrong(c, out, ref);

  if (FLUSH_BYTES) flush_buf = (volatile unsigned char *)calloc(FLUSH_BYTES, 1);
  double t0 = now_ns();
  ${ep.call};
  double once = now_ns() - t0;
  long reps = once >= ${options.minSampleNs}.0 ? 1 : (long)(${options.minSampleNs}.0 / (once > 1.0 ? once : 1.0)) + 1;
  if (reps > 1000000) reps = 1000000;
  /* Warm-up: up to WARMUP runs, and no more once it has lasted a quarter of the timing budget (the
     check and the calibration call above already ran the kernel twice). */
  double warm_start = now_ns();
  for (int w = 0; w < WARMUP && (w == 0 || now_ns() - warm_start < BUDGET_NS / 4.0); w++) ${ep.call};
  static double samples[RUNS];
  int taken = 0;
  const char *stopped = "cap";
  double timed_ns = 0.0, fastest = DBL_MAX;
  while (taken < RUNS) {
    if (FLUSH_BYTES) flush_caches();
    double start = now_ns();
    for (long k = 0; k < reps; k++) ${ep.call};
    double lasted = now_ns() - start;
    timed_ns += lasted;
    samples[taken++] = lasted / (double)reps / 1e6;
    if (samples[taken - 1] < fastest) fastest = samples[taken - 1];
    /* Clearly slower than the most its parent admits: even its fastest run is twice over. */
    if (STOP_ABOVE_MS > 0.0 && fastest > 2.0 * STOP_ABOVE_MS) { stopped = "slower"; break; }
    if (taken < MIN_RUNS) continue;
    if (STOP_ABOVE_MS > 0.0 && fastest > STOP_ABOVE_MS) { stopped = "slower"; break; }
    if (STABLE_PCT > 0.0 && spread_pct(samples, taken) <= STABLE_PCT) { stopped = "stable"; break; }
    if (timed_ns >= BUDGET_NS) { stopped = "budget"; break; }
  }

  /* Check once more: a kernel that is only right on its first call is not right. */
  for (size_t i = 0; i < OUT_COUNT; i++) out[i] = NAN;
  ${ep.call};
  struct check again = check_output(out, ref, tol, OUT_COUNT);
  if (!again.correct) return report_wrong(again, out, ref);

  printf("\\n${RESULT_PREFIX}%s {\\"correct\\":true,\\"maxErrRatio\\":", nonce);
  print_number(c.max_ratio > again.max_ratio ? c.max_ratio : again.max_ratio);
  printf(",\\"firstBad\\":null,\\"got\\":null,\\"expected\\":null,\\"reps\\":%ld,\\"samplesMs\\":[", reps);
  for (int r = 0; r < taken; r++) printf("%s%.9g", r ? "," : "", samples[r]);
  printf("],\\"flushed\\":%s,\\"stopped\\":\\"%s\\"}\\n", FLUSH_BYTES ? "true" : "false", stopped);
  return 0;
}
`;
}

/**
 * Finds and validates the result line carrying `nonce` in a harness run's stdout; null when there
 * is none or it is malformed. Lines with another nonce were printed by the candidate, not the harness.
 */
export function parseHarnessOutput(stdout: string, nonce: string): HarnessResult | null {
  const prefix = `${RESULT_PREFIX}${nonce} `;
  const lines = stdout.split('\n').filter((l) => l.startsWith(prefix));
  const last = lines[lines.length - 1];
  if (last === undefined) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(last.slice(prefix.length));
  } catch {
    return null;
  }
  const parsed = HarnessResultSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/** A fresh nonce for one harness run: 32 hex characters, passed on stdin. */
export function harnessNonce(): string {
  return randomBytes(16).toString('hex');
}
