/**
 * A real beam search with the LLM planner: the scripted server stands in for the model and answers
 * with plans and real, faster C code (i-k-j loop order, then restrict + a vectorizable inner loop,
 * then 4x16 register blocking), every candidate is compiled and timed by gcc on this machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOperation, SearchConfigSchema, type CandidateRecord } from '../../src/schedules/index.js';
import { runBeamSearch } from '../../src/search/beam-search.js';
import { createLlmPlanner } from '../../src/search/llm-planner.js';
import { formatMs } from '../../src/search/llm/prompts.js';
import { CPU_MENU } from '../../src/search/menus/index.js';
import { createCToolchain } from '../../src/targets/c/c-toolchain.js';
import { entryPointFor } from '../../src/targets/c/entry-points.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import {
  reply,
  startScriptedLlm,
  type RecordedRequest,
  type ScriptedLlm,
  type ScriptedReply,
} from '../support/scripted-llm.js';

const SIGNATURE =
  'void kernel(int M, int N, int K, const float *restrict A, const float *restrict B, const float *restrict bias, float *restrict C)';

/** What the scripted model writes, stage by stage; each stage is the answer to the previous one's plan. */
const STAGES = [
  {
    option: 'cpu.loop_reorder',
    plan: 'Reorder the loops to m-k-n: hoist A[m][k] into a scalar and stream a row of B into the row of C, so the innermost loop is unit-stride.',
    code: `#include <stddef.h>
void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C) {
  (void)bias;
  for (int m = 0; m < M; m++) {
    float *c = C + (size_t)m * N;
    for (int n = 0; n < N; n++) c[n] = 0.0f;
    for (int k = 0; k < K; k++) {
      const float a = A[(size_t)m * K + k];
      const float *b = B + (size_t)k * N;
      for (int n = 0; n < N; n++) c[n] += a * b[n];
    }
  }
}
`,
  },
  {
    option: 'cpu.compiler_hints',
    plan: 'Declare every pointer restrict and mark the n loop ivdep, so gcc vectorizes it without runtime alias checks.',
    code: `#include <stddef.h>
${SIGNATURE} {
  (void)bias;
  for (int m = 0; m < M; m++) {
    float *restrict c = C + (size_t)m * N;
    for (int n = 0; n < N; n++) c[n] = 0.0f;
    for (int k = 0; k < K; k++) {
      const float a = A[(size_t)m * K + k];
      const float *restrict b = B + (size_t)k * N;
#pragma GCC ivdep
      for (int n = 0; n < N; n++) c[n] += a * b[n];
    }
  }
}
`,
  },
  {
    option: 'cpu.register_block',
    plan: 'Compute 4 rows x 16 columns of C in eight 8-wide vector accumulators held in registers across the whole k loop, with scalar loops for the edges.',
    code: `#include <stddef.h>
#include <string.h>
typedef float v8 __attribute__((vector_size(32)));
static inline v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
static inline void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }
${SIGNATURE} {
  (void)bias;
  int m = 0;
  for (; m + 4 <= M; m += 4) {
    int n = 0;
    for (; n + 16 <= N; n += 16) {
      v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
      for (int k = 0; k < K; k++) {
        const v8 b0 = load8(B + (size_t)k * N + n), b1 = load8(B + (size_t)k * N + n + 8);
        const float *a = A + (size_t)m * K + k;
        const float a0 = a[0], a1 = a[K], a2 = a[2 * (size_t)K], a3 = a[3 * (size_t)K];
        c00 += a0 * b0; c01 += a0 * b1; c10 += a1 * b0; c11 += a1 * b1;
        c20 += a2 * b0; c21 += a2 * b1; c30 += a3 * b0; c31 += a3 * b1;
      }
      float *c = C + (size_t)m * N + n;
      store8(c, c00); store8(c + 8, c01); store8(c + N, c10); store8(c + N + 8, c11);
      store8(c + 2 * (size_t)N, c20); store8(c + 2 * (size_t)N + 8, c21); store8(c + 3 * (size_t)N, c30); store8(c + 3 * (size_t)N + 8, c31);
    }
    for (; n < N; n++)
      for (int r = 0; r < 4; r++) {
        float s = 0.0f;
        for (int k = 0; k < K; k++) s += A[(size_t)(m + r) * K + k] * B[(size_t)k * N + n];
        C[(size_t)(m + r) * N + n] = s;
      }
  }
  for (; m < M; m++)
    for (int n = 0; n < N; n++) {
      float s = 0.0f;
      for (int k = 0; k < K; k++) s += A[(size_t)m * K + k] * B[(size_t)k * N + n];
      C[(size_t)m * N + n] = s;
    }
}
`,
  },
];

/** Which stage a code is at: how many of the scripted steps it already has. */
function stageOf(prompt: string): number {
  if (prompt.includes('vector_size(32)')) return 3;
  if (prompt.includes('#pragma GCC ivdep')) return 2;
  if (prompt.includes('const float a = A[(size_t)m * K + k];')) return 1;
  return 0;
}

function offeredIds(prompt: string): string[] {
  return [...prompt.matchAll(/^\d+\. `([a-z_.]+)`:/gm)].map((m) => m[1]!);
}

/** The scripted model: follows the stages when the menu offers the next one, otherwise plans something it cannot write. */
function scriptedModel(request: RecordedRequest): ScriptedReply {
  const stage = stageOf(request.user.split('## Optimization menu')[0]!.split('## Known optimizations')[0]!);
  if (request.system.includes('plan one optimization')) {
    if (request.user.includes('## Known optimizations'))
      return reply.text('OPTION: invented\nNAME: nothing new\nPLAN:\nKeep the code as it is.');
    const offered = offeredIds(request.user);
    const next = STAGES[stage];
    if (next && offered.includes(next.option)) return reply.plan(next.option, next.plan);
    return reply.plan(offered[0]!, `Apply ${offered[0]} (the scripted model has nothing useful to say about it).`);
  }
  const chosen = /## Plan to apply: .* \(`([a-z_.]+)`\)/.exec(request.user)?.[1];
  const next = STAGES[stage];
  if (next && chosen === next.option) return reply.code(next.code);
  // A plan the script has no code for: an answer without code, which the search counts as a failed sample.
  return reply.text(`I could not make ${chosen} help here.`);
}

describe('LLM planner in a real beam search on a 128x128x128 gemm', () => {
  let llm: ScriptedLlm;
  const executor = createLocalExecutor();
  beforeAll(async () => {
    llm = await startScriptedLlm();
    llm.handle(scriptedModel);
  });
  afterAll(async () => {
    await llm.close();
    await executor.close();
  });

  it('ends measurably faster than the naive baseline, having shown the model the dropout subset and the measured latencies', async () => {
    const operation = parseOperation({ kind: 'gemm', dims: { M: 128, N: 128, K: 128 } });
    const toolchain = createCToolchain();
    const planner = createLlmPlanner({
      baseURL: llm.baseURL,
      models: ['coder-a', 'coder-b'],
      menu: CPU_MENU,
      timeoutMs: 10_000,
      maxRetries: 1,
      retryBaseMs: 10,
    });
    const config = SearchConfigSchema.parse({
      planner: 'llm',
      beamWidth: 2,
      plansPerCandidate: 3,
      implementationsPerPlan: 1,
      iterations: 5,
      budget: 30,
      menuKeep: 0.6,
      inventProbability: 0.1,
      seed: 5,
      timing: { warmup: 2, runs: 7 },
    });
    const stored: CandidateRecord[] = [];
    const result = await runBeamSearch({
      searchId: 'llm-e2e',
      task: {
        operation,
        hardware: 'this machine, one core, gcc -O3 -march=native',
        contract: entryPointFor(operation).contract,
      },
      config,
      menu: CPU_MENU,
      planner,
      baseline: planner.baseline({ operation, hardware: '', contract: '' }),
      evaluate: (codes, signal) =>
        toolchain.evaluate({
          operation,
          candidates: codes,
          executor,
          timing: config.timing,
          ...(signal ? { signal } : {}),
        }),
      sink: {
        storeCandidates: async (r) => void stored.push(...r),
        markAdmitted: async () => undefined,
        progress: async () => undefined,
      },
    });

    const baselineMs = result.baseline.latencyMs!;
    const bestMs = result.best.latencyMs!;
    expect(result.samplesUsed).toBeLessThanOrEqual(30);
    expect(result.candidates.some((c) => c.errorKind === 'planner')).toBe(true);
    expect(bestMs).toBeLessThan(baselineMs / 2);
    expect(result.bestLineage.map((s) => s.optionId)).toEqual(STAGES.map((s) => s.option));
    expect(result.bestLineage[0]!.plan).toBe(STAGES[0]!.plan);

    const plans = llm.requests.filter((r) => r.system.includes('plan one optimization'));
    const codeRequests = llm.requests.filter((r) => !r.system.includes('plan one optimization'));
    expect(plans.length).toBeGreaterThan(0);
    expect(codeRequests.length).toBeGreaterThan(0);
    // Each plan sample saw only its dropout subset of the menu, and the subsets differ.
    const subsets = plans.filter((r) => !r.user.includes('## Known optimizations')).map((r) => offeredIds(r.user));
    for (const ids of subsets) {
      expect(ids.length).toBeLessThan(CPU_MENU.options.length);
      for (const id of ids) expect(CPU_MENU.options.map((o) => o.id)).toContain(id);
    }
    expect(new Set(subsets.map((ids) => ids.join(','))).size).toBeGreaterThan(1);
    // The latency in each plan prompt is one the target measured, the baseline's among them.
    const measured = new Set(
      result.candidates.filter((c) => c.latencyMs !== null).map((c) => `Measured latency: ${formatMs(c.latencyMs!)}`),
    );
    const shown = plans.map((r) => /Measured latency: [^\n]+/.exec(r.user)?.[0]);
    for (const line of shown) expect(measured).toContain(line);
    expect(shown).toContain(`Measured latency: ${formatMs(baselineMs)}`);
    expect(plans.some((r) => r.user.includes('GFLOP/s'))).toBe(true);
    // Both models of the ensemble got work.
    expect(new Set(llm.requests.map((r) => r.model))).toEqual(new Set(['coder-a', 'coder-b']));
    console.log(
      `llm e2e: baseline ${baselineMs.toFixed(3)} ms, best ${bestMs.toFixed(3)} ms (${(baselineMs / bestMs).toFixed(1)}x) via ${result.bestLineage.map((s) => s.optionId).join(' -> ')}; ${result.samplesUsed} samples, ${llm.requests.length} model calls`,
    );
  }, 240_000);
});
