/**
 * End to end: a short beam search with the template planner and the real C toolchain on this
 * machine ends faster than the naive baseline, and its best lineage reads as plan texts with knobs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SearchConfigSchema, parseOperation } from '../../src/schedules/index.js';
import { runBeamSearch, type BeamSearchSink } from '../../src/search/beam-search.js';
import { CPU_MENU } from '../../src/search/menus/cpu-menu.js';
import type { PlanningTask } from '../../src/search/planner.js';
import { createTemplatePlanner } from '../../src/search/template-planner.js';
import { createCToolchain } from '../../src/targets/c/c-toolchain.js';
import { entryPointFor } from '../../src/targets/c/entry-points.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import { hasTemplate, templateFor } from '../../src/targets/templates/index.js';

const executor = createLocalExecutor();
const toolchain = createCToolchain();
afterAll(() => executor.close());

/** Persistence that keeps nothing: this test reads the result the engine returns. */
const sink: BeamSearchSink = {
  storeCandidates: async () => {},
  markAdmitted: async () => {},
  progress: async () => {},
};

describe('template planner: a short search on the real C toolchain', () => {
  it('ends measurably faster than the baseline on a 128x128x128 gemm, with text and knobs on every step', async () => {
    const fingerprint = await toolchain.fingerprint(executor);
    const isa = fingerprint.kind === 'cpu' ? fingerprint.isa : [];
    const planner = createTemplatePlanner({
      templates: (kind) => (hasTemplate(kind) ? templateFor(kind, { isa }) : null),
    });
    const operation = parseOperation({ kind: 'gemm', dims: { M: 128, N: 128, K: 128 } });
    const task: PlanningTask = { operation, hardware: 'this machine', contract: entryPointFor(operation).contract };
    const config = SearchConfigSchema.parse({
      budget: 24,
      beamWidth: 2,
      plansPerCandidate: 3,
      implementationsPerPlan: 2,
      iterations: 4,
      seed: 5,
    });

    const result = await runBeamSearch({
      searchId: 'tp-e2e',
      task,
      config,
      menu: CPU_MENU,
      planner,
      baseline: planner.baseline(task),
      evaluate: (codes, signal) =>
        toolchain.evaluate({
          operation,
          candidates: codes,
          executor,
          timing: { warmup: 1, runs: 5 },
          ...(signal ? { signal } : {}),
        }),
      sink,
    });

    expect(result.samplesUsed).toBe(24);
    const failed = result.candidates.filter((c) => c.sample > 0 && c.errorKind !== null && c.errorKind !== 'planner');
    expect(failed.map((c) => `${c.plan}: ${c.output}`)).toEqual([]);
    const speedup = result.baseline.latencyMs! / result.best.latencyMs!;
    expect(speedup).toBeGreaterThan(1.5);
    expect(result.bestLineage.length).toBeGreaterThan(0);
    for (const step of result.bestLineage) {
      expect(step.plan.length).toBeGreaterThan(10);
      expect(step.params).toMatchObject({ knobs: expect.any(Object), changed: expect.any(Object) });
      expect(Object.keys((step.params as { changed: object }).changed).length).toBeGreaterThan(0);
    }
    console.log(
      `baseline ${result.baseline.latencyMs!.toFixed(3)} ms, best ${result.best.latencyMs!.toFixed(3)} ms (${speedup.toFixed(1)}x)\n` +
        result.bestLineage
          .map(
            (s) => `  ${s.optionId}: ${s.plan} [${s.latencyBeforeMs.toFixed(3)} -> ${s.latencyAfterMs.toFixed(3)} ms]`,
          )
          .join('\n'),
    );
  }, 300_000);
});
