/**
 * The seed hook warm start gives the beam search: which seed step a guided plan slot follows.
 * Pure: no knowledge base, no target.
 */
import { describe, expect, it } from 'vitest';
import { parseOperation, type Step } from '../../src/schedules/index.js';
import type { CandidateView } from '../../src/search/planner.js';
import { createRng } from '../../src/search/rng.js';
import { createSeedPlan, type SeedSchedule } from '../../src/search/warm-start.js';

const step = (optionId: string, latencyBeforeMs: number, latencyAfterMs: number): Step => ({
  optionId,
  optionLabel: optionId,
  plan: `apply ${optionId}`,
  latencyBeforeMs,
  latencyAfterMs,
});

/** A seed grown as a Triton search grows one: a tie with cuBLAS first, then the kernels that won. */
const seed: SeedSchedule = {
  scheduleId: 'sch_seed',
  operation: parseOperation({ kind: 'gemm', dims: { M: 1024, N: 1024, K: 1024 }, dtype: 'bf16' }),
  steps: [
    step('cuda.torch_compile', 2.0, 2.0),
    step('cuda.shared_tile', 2.0, 1.5),
    step('cuda.occupancy', 1.5, 1.6),
    step('cuda.l2_locality', 1.6, 1.2),
  ],
};

const view = (lineage: string[]): CandidateView => ({
  id: `c${lineage.length}`,
  code: '',
  latencyMs: 1,
  feedback: [],
  lineage: lineage.map((optionId) => ({ optionId, plan: optionId })),
});

/** The hook of a warm search with one seed, every slot guided, every seed option on the menu. */
function hook(one: SeedSchedule = seed) {
  return createSeedPlan({
    seeds: [one],
    guidedShare: 1,
    plansPerCandidate: 2,
    menuOptionIds: one.steps.map((s) => s.optionId),
  });
}

describe('guided plan slots of a warm search', () => {
  it('follow only the seed steps that made the seed faster, and replay every step', () => {
    const plan = hook();
    const rng = createRng(1);
    const fromBaseline = plan.forcedStep({ iteration: 1, parent: view([]), planIndex: 0, lineageSeed: null, rng });
    // The tie with cuBLAS (step 0) would spend a sample on what the baseline already is.
    expect(fromBaseline?.stepIndex).toBe(1);
    const afterTile = plan.forcedStep({
      iteration: 2,
      parent: view(['cuda.shared_tile']),
      planIndex: 0,
      lineageSeed: { scheduleId: seed.scheduleId, stepIndex: 1 },
      rng,
    });
    // Step 2 made the seed slower where it was measured: the lineage goes on with step 3.
    expect(afterTile?.stepIndex).toBe(3);
    const atEnd = plan.forcedStep({
      iteration: 3,
      parent: view(['cuda.shared_tile', 'cuda.l2_locality']),
      planIndex: 0,
      lineageSeed: { scheduleId: seed.scheduleId, stepIndex: 3 },
      rng,
    });
    expect(atEnd).toBeUndefined();
    expect(plan.replays?.map((r) => r.steps.map((s) => s.stepIndex))).toEqual([[0, 1, 2, 3]]);
  });

  it('leave a seed none of whose steps paid off to its replay: the baseline explores', () => {
    const flat: SeedSchedule = { ...seed, steps: [step('cuda.torch_compile', 2.0, 2.0)] };
    const plan = hook(flat);
    const forced = plan.forcedStep({
      iteration: 1,
      parent: view([]),
      planIndex: 0,
      lineageSeed: null,
      rng: createRng(1),
    });
    expect(forced).toBeUndefined();
    expect(plan.replays).toHaveLength(1);
  });
});
