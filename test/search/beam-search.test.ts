/**
 * The beam-search engine over the real C toolchain on this machine (GEMM 64x64x64), with a scripted
 * planner in place of a model. Identical code is evaluated once per file (the scripts have a handful
 * of distinct sources), so many configurations stay quick; every result is still a real measurement.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  SearchConfigSchema,
  parseOperation,
  type CandidateRecord,
  type ProgressEvent,
  type SearchConfigInput,
} from '../../src/schedules/index.js';
import { keepFactorFor, runBeamSearch, type BeamSearchSink } from '../../src/search/beam-search.js';
import { CPU_MENU } from '../../src/search/menus/cpu-menu.js';
import { CUDA_MENU } from '../../src/search/menus/cuda-menu.js';
import { PLANNER_ERROR_KIND } from '../../src/search/plan-slots.js';
import type { Menu } from '../../src/search/menus/menu.js';
import type { Planner } from '../../src/search/planner.js';
import { createTemplatePlanner } from '../../src/search/template-planner.js';
import { createCToolchain } from '../../src/targets/c/c-toolchain.js';
import { entryPointFor } from '../../src/targets/c/entry-points.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import type { Knobs } from '../../src/targets/index.js';
import { templateFor } from '../../src/targets/templates/index.js';
import {
  createTritonMatmulTemplate,
  tritonMatmulOptionsFor,
} from '../../src/targets/templates/triton-matmul-template.js';
import type { CandidateResult } from '../../src/targets/toolchain.js';
import { GEMM, GEMM_REPLIES, createScriptedPlanner, type ScriptedReply } from '../support/scripted-planner.js';
import { toyGemmTemplate } from './template-planner-toy-template.js';

const operation = parseOperation({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });
const executor = createLocalExecutor();
const toolchain = createCToolchain();
const task = { operation, hardware: 'this machine', contract: entryPointFor(operation).contract };
const measured = new Map<string, Promise<CandidateResult>>();
let evaluatedCodes = 0;

afterAll(() => executor.close());

/** The real toolchain; a source already measured in this file answers with its first measurement. */
async function evaluate(codes: string[], signal?: AbortSignal): Promise<CandidateResult[]> {
  evaluatedCodes += codes.length;
  const fresh = [...new Set(codes.filter((c) => !measured.has(c)))];
  if (fresh.length) {
    const results = toolchain.evaluate({
      operation,
      candidates: fresh,
      executor,
      timing: { warmup: 1, runs: 5 },
      ...(signal ? { signal } : {}),
    });
    for (const [i, code] of fresh.entries())
      measured.set(
        code,
        results.then((r) => r[i]!),
      );
  }
  return Promise.all(codes.map((c) => measured.get(c)!));
}

function collectingSink(): BeamSearchSink & { stored: CandidateRecord[]; admitted: Set<string> } {
  const stored: CandidateRecord[] = [];
  const admitted = new Set<string>();
  return {
    stored,
    admitted,
    async storeCandidates(records) {
      stored.push(...records.map((r) => ({ ...r })));
    },
    async markAdmitted(ids) {
      for (const id of ids) admitted.add(id);
    },
    async progress() {},
  };
}

async function search(
  config: SearchConfigInput,
  planner: Planner = createScriptedPlanner({ baseline: GEMM.naive, replies: GEMM_REPLIES }),
  menu: Menu = CPU_MENU,
) {
  const sink = collectingSink();
  const events: ProgressEvent[] = [];
  const before = evaluatedCodes;
  const result = await runBeamSearch({
    searchId: 's1',
    task,
    config: SearchConfigSchema.parse({ menuKeep: 1, ...config }),
    menu,
    planner,
    baseline: { code: GEMM.naive },
    evaluate,
    sink,
    onEvent: (e) => events.push(e),
  });
  return { result, sink, events, evaluated: evaluatedCodes - before };
}

/** The shape of a tree: who came from whom, with what plan and code, and what entered the beam. */
const tree = (cs: CandidateRecord[]) =>
  cs.map((c) => [c.sample, c.parentId, c.iteration, c.optionId, c.plan, c.code, c.correct, c.admitted]);

describe('budget', () => {
  const configs: SearchConfigInput[] = [
    { beamWidth: 2, plansPerCandidate: 2, implementationsPerPlan: 2, iterations: 6, budget: 7 },
    { beamWidth: 3, plansPerCandidate: 3, implementationsPerPlan: 2, iterations: 4, budget: 11 },
    { beamWidth: 1, plansPerCandidate: 1, implementationsPerPlan: 1, iterations: 10, budget: 3 },
    { beamWidth: 2, plansPerCandidate: 1, implementationsPerPlan: 3, iterations: 5, budget: 5 },
    { beamWidth: 4, plansPerCandidate: 4, implementationsPerPlan: 2, iterations: 2, budget: 64 },
  ];
  for (const config of configs) {
    it(`is never exceeded: ${JSON.stringify(config)}`, async () => {
      const { result, sink, events, evaluated } = await search(config);
      const samples = sink.stored.filter((c) => c.sample > 0).map((c) => c.sample);
      expect(result.samplesUsed).toBeLessThanOrEqual(config.budget!);
      expect(samples).toEqual(Array.from({ length: result.samplesUsed }, (_, i) => i + 1));
      expect(Math.max(...events.map((e) => e.samplesUsed))).toBe(result.samplesUsed);
      // The baseline plus one evaluation per sample that has code: never more than the budget.
      expect(evaluated).toBeLessThanOrEqual(config.budget! + 1);
      // One iteration can spend at least plans x implementations, so 10 iterations outrun these budgets.
      const perIterationAtLeast = config.plansPerCandidate! * config.implementationsPerPlan!;
      if (perIterationAtLeast * config.iterations! >= config.budget!) expect(result.samplesUsed).toBe(config.budget);
    });
  }

  it('trims the last plan slot to the samples left', async () => {
    const { result, sink } = await search({
      beamWidth: 1,
      plansPerCandidate: 1,
      implementationsPerPlan: 3,
      iterations: 3,
      budget: 4,
    });
    expect(result.samplesUsed).toBe(4);
    expect(sink.stored.filter((c) => c.iteration === 2)).toHaveLength(1);
  });
});

describe('admission', () => {
  it('admits a child that beats its parent and records the lineage of the best', async () => {
    const loopOnly = GEMM_REPLIES.filter((r) => r.optionId === 'cpu.loop_reorder' || r.optionId === 'cpu.simplify');
    const { result, sink } = await search(
      {
        beamWidth: 2,
        plansPerCandidate: 4,
        implementationsPerPlan: 1,
        iterations: 1,
        budget: 4,
        inventProbability: 0,
        seed: 3,
      },
      createScriptedPlanner({ baseline: GEMM.naive, replies: loopOnly }),
    );
    const ikj = sink.stored.find((c) => c.code === GEMM.ikj && c.correct);
    const wrong = sink.stored.find((c) => c.code === GEMM.wrong);
    // Seed 3 draws both options among the four plan samples.
    if (!ikj || !wrong) throw new Error('seed 3 no longer draws both scripted options: pick another seed');
    expect(ikj.latencyMs!).toBeLessThan(result.baseline.latencyMs!);
    expect(sink.admitted.has(ikj.id)).toBe(true);
    expect(result.best.code).toBe(GEMM.ikj);
    expect(result.bestLineage).toEqual([
      expect.objectContaining({
        optionId: 'cpu.loop_reorder',
        latencyBeforeMs: result.baseline.latencyMs,
        latencyAfterMs: ikj.latencyMs,
      }),
    ]);
    expect(wrong.errorKind).toBe('wrong_answer');
    expect(sink.admitted.has(wrong.id)).toBe(false);
  });

  it('admits nothing when the keep factor asks for more than any child achieves', async () => {
    const { result, sink } = await search({
      beamWidth: 2,
      plansPerCandidate: 2,
      implementationsPerPlan: 1,
      iterations: 2,
      budget: 8,
      keepFactorEarly: 0.001,
      keepFactor: 0.001,
      escapeFactor: 1,
    });
    expect(sink.stored.some((c) => c.correct && c.sample > 0)).toBe(true);
    expect(sink.admitted.size).toBe(0);
    expect(result.best.sample).toBe(0);
    expect(result.bestLineage).toEqual([]);
  });

  it('uses the translate factor, then the early factor, then the strict one', () => {
    const config = SearchConfigSchema.parse({
      translateIterations: 1,
      earlyIterations: 2,
      translateKeepFactor: 15,
      keepFactorEarly: 1.1,
      keepFactor: 1,
    });
    expect([1, 2, 3, 4, 5].map((i) => keepFactorFor(config, i))).toEqual([15, 1.1, 1.1, 1, 1]);
  });

  it('offers the translate menu in translate iterations', async () => {
    const menu: Menu = { ...CPU_MENU, translateOptions: CPU_MENU.options.filter((o) => o.id === 'cpu.loop_reorder') };
    const planner = createScriptedPlanner({ baseline: GEMM.naive, replies: GEMM_REPLIES });
    await search(
      {
        beamWidth: 1,
        plansPerCandidate: 2,
        implementationsPerPlan: 1,
        iterations: 2,
        budget: 4,
        translateIterations: 1,
        inventProbability: 0,
      },
      planner,
      menu,
    );
    expect(planner.proposals.filter((p) => p.iteration === 1).map((p) => p.menu)).toEqual([
      ['cpu.loop_reorder'],
      ['cpu.loop_reorder'],
    ]);
    expect(
      planner.proposals.filter((p) => p.iteration === 2).every((p) => p.menu.length === CPU_MENU.options.length),
    ).toBe(true);
  });
});

describe('dedupe', () => {
  // Two options whose plans differ but whose code is the same i-k-j nest, each implemented twice.
  const twins: ScriptedReply[] = [
    { optionId: 'cpu.loop_reorder', label: 'Loop reordering', plan: 'Reorder to i-k-j.', codes: [GEMM.ikj] },
    {
      optionId: 'cpu.hoist',
      label: 'Hoisting',
      plan: 'Hoist A[m][k] out of the inner loop (i-k-j).',
      codes: [GEMM.ikj],
    },
  ];
  const config = {
    beamWidth: 4,
    plansPerCandidate: 4,
    implementationsPerPlan: 2,
    iterations: 1,
    budget: 8,
    inventProbability: 0,
    keepFactorEarly: 1.5,
  };

  it('code: identical code enters the beam once', async () => {
    const { sink } = await search(
      { ...config, dedupe: 'code' },
      createScriptedPlanner({ baseline: GEMM.naive, replies: twins }),
    );
    expect(sink.stored.filter((c) => c.code === GEMM.ikj)).toHaveLength(8);
    expect([...sink.admitted]).toHaveLength(1);
  });

  it('plan: children of one parent with the same plan collapse', async () => {
    const { sink } = await search(
      { ...config, dedupe: 'plan' },
      createScriptedPlanner({ baseline: GEMM.naive, replies: twins }),
    );
    const plans = new Set(sink.stored.filter((c) => c.sample > 0).map((c) => c.plan));
    expect([...sink.admitted]).toHaveLength(plans.size);
  });

  it('none: every admissible child competes for the beam', async () => {
    const { sink } = await search(
      { ...config, dedupe: 'none' },
      createScriptedPlanner({ baseline: GEMM.naive, replies: twins }),
    );
    expect([...sink.admitted]).toHaveLength(4);
  });
});

describe('measured code', () => {
  /** Runs a toy-template search and returns its stored samples. */
  async function toySearch(seed: number, explore: number) {
    const planner = createTemplatePlanner({ templates: (kind) => (kind === 'gemm' ? toyGemmTemplate : null) });
    const sink = collectingSink();
    await runBeamSearch({
      searchId: `tried-${seed}`,
      task,
      config: SearchConfigSchema.parse({
        beamWidth: 2,
        plansPerCandidate: 2,
        implementationsPerPlan: 2,
        iterations: 4,
        budget: 14,
        menuKeep: 1,
        inventProbability: 0,
        explore,
        seed,
      }),
      menu: CPU_MENU,
      planner,
      baseline: planner.baseline(task),
      evaluate,
      sink,
    });
    return sink.stored;
  }

  it('tells the planner which codes were measured: the template planner repeats a kernel only when no single move of its parent is new', async () => {
    // explore 1: every slot moves at random (as without a cost model); 0.05: nearly every slot ranks by it.
    for (const explore of [1, 0.05]) {
      for (const seed of [1, 2, 3]) {
        const stored = await toySearch(seed, explore);
        expect(stored).toHaveLength(15);
        const byId = new Map(stored.map((c) => [c.id, c]));
        const codeOf = (knobs: Knobs) => toyGemmTemplate.generate(task.operation, knobs);
        stored.forEach((c, i) => {
          const earlier = new Set(stored.slice(0, i).map((e) => e.code));
          if (!earlier.has(c.code)) return;
          const parentKnobs = (byId.get(c.parentId!)!.params as { knobs: Knobs }).knobs;
          for (const spec of toyGemmTemplate.knobs) {
            for (const value of spec.values(task.operation)) {
              const moved = toyGemmTemplate.legalize(task.operation, { ...parentKnobs, [spec.name]: value });
              expect(
                earlier.has(codeOf(moved)),
                `sample ${c.sample} repeats a kernel while ${spec.name} = ${String(value)} is new`,
              ).toBe(true);
            }
          }
        });
      }
    }
  });
});

describe('cost model and reproducibility', () => {
  const gemm = templateFor('gemm', { isa: ['avx2', 'avx512f'] });
  const planner = createTemplatePlanner({ templates: (kind) => (kind === 'gemm' ? gemm : null) });
  /** A made-up, deterministic machine: the latency of a kernel follows from its code alone. */
  const fakeEvaluate = async (codes: string[]): Promise<CandidateResult[]> =>
    codes.map((code) => {
      let h = 2166136261;
      for (let i = 0; i < code.length; i++) h = Math.imul(h ^ code.charCodeAt(i), 16777619) >>> 0;
      const latencyMs = 1 + (h % 1000) / 100;
      return {
        correct: true,
        latencyMs,
        samplesMs: [latencyMs],
        spreadPct: 0,
        errorKind: null,
        output: '',
        feedback: [],
        fingerprintKey: 'fake',
      };
    });
  /** Points of the knowledge base on another shape, for the model to start from. */
  const other = parseOperation({ kind: 'gemm', dims: { M: 128, N: 128, K: 128 } });
  const prior = [1, 4, 8, 16].flatMap((vec) =>
    [1, 4, 6].map((mr) => {
      const knobs = gemm.legalize(other, { ...gemm.baseline(other), vec, mr, pack: mr > 1 ? 'ab' : 'none' });
      return { operation: other, params: { knobs }, latencyMs: 10 / vec / mr };
    }),
  );
  const config = SearchConfigSchema.parse({ beamWidth: 2, plansPerCandidate: 2, iterations: 4, budget: 20, seed: 5 });
  const run = (stored?: CandidateRecord[]) => {
    const sink = collectingSink();
    return runBeamSearch({
      searchId: 'model',
      task,
      config,
      menu: CPU_MENU,
      planner,
      baseline: planner.baseline(task),
      evaluate: fakeEvaluate,
      sink,
      prior,
      ...(stored ? { stored } : {}),
    }).then((result) => ({ result, sink }));
  };

  it('ranks plans by the cost model once it has points, and a resumed search grows the same tree', async () => {
    const { sink: whole } = await run();
    expect(whole.stored.some((c) => c.plan?.includes("the cost model's pick"))).toBe(true);
    for (const cut of [5, 11]) {
      const { sink: resumed } = await run(whole.stored.slice(0, cut));
      const all = [...whole.stored.slice(0, cut), ...resumed.stored];
      const strip = (cs: CandidateRecord[]) => tree(cs.map((c) => ({ ...c, admitted: false })));
      expect(strip(all)).toEqual(strip(whole.stored));
    }
  });

  it('spends every sample of a GPU search on a kernel the template could build', async () => {
    // The CUDA menu has about thirty options and the Triton matmul template acts on a dozen of
    // them; on an H100 two of a 16-sample search's samples drew only the others and failed with
    // "no menu option of this sample applies", which the budget counted. Later, replays showed two
    // more ways to waste samples: a menu whose only option leaves this parent as it is (the switch
    // into cuBLAS from cuBLAS), and a plan with one implementation where the slot has two samples
    // (the switch into cuBLAS from a kernel).
    const triton = createTritonMatmulTemplate(
      'gemm',
      tritonMatmulOptionsFor({ computeCapability: '9.0', smCount: 132 }),
    );
    const gpuPlanner = createTemplatePlanner({ templates: (kind) => (kind === 'gemm' ? triton : null) });
    const operation = parseOperation({ kind: 'gemm', dims: { M: 4096, N: 4096, K: 4096 }, dtype: 'f32' });
    const gpuTask = { operation, hardware: 'NVIDIA H100', contract: '' };
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
      const result = await runBeamSearch({
        searchId: `menu-${seed}`,
        task: gpuTask,
        config: SearchConfigSchema.parse({ budget: 16, seed }),
        menu: CUDA_MENU,
        planner: gpuPlanner,
        baseline: gpuPlanner.baseline(gpuTask),
        evaluate: fakeEvaluate,
        sink: collectingSink(),
      });
      expect(result.samplesUsed).toBe(16);
      const failed = result.candidates.filter((c) => c.errorKind === PLANNER_ERROR_KIND);
      expect(failed.map((c) => `seed ${seed}, sample ${c.sample}: ${c.output}`)).toEqual([]);
    }
  });
});

describe('early stop and failures', () => {
  it('stops after the patience runs out without a new best', async () => {
    const wrongOnly = GEMM_REPLIES.filter((r) => r.optionId === 'cpu.simplify');
    const { result } = await search(
      {
        beamWidth: 2,
        plansPerCandidate: 2,
        implementationsPerPlan: 1,
        iterations: 6,
        budget: 50,
        earlyStopPatience: 2,
        inventProbability: 0,
      },
      createScriptedPlanner({ baseline: GEMM.naive, replies: wrongOnly }),
    );
    expect(result.stoppedEarly).toBe(true);
    expect(result.iterations).toBe(2);
    expect(result.samplesUsed).toBe(4);
  });

  it('counts failed and malformed planner replies as failed samples', async () => {
    const planner = createScriptedPlanner({
      baseline: GEMM.naive,
      replies: GEMM_REPLIES,
      failPropose: (n) => (n === 1 ? 'the reply had no plan' : undefined),
      offMenu: (n) => n === 2,
      failImplement: (n) => (n === 1 ? 'the reply had no code block' : undefined),
    });
    const { result, sink } = await search(
      { beamWidth: 1, plansPerCandidate: 4, implementationsPerPlan: 2, iterations: 1, budget: 8, inventProbability: 0 },
      planner,
    );
    const failed = sink.stored.filter((c) => c.errorKind === 'planner');
    expect(failed).toHaveLength(6);
    expect(failed.every((c) => !c.correct && !c.admitted)).toBe(true);
    expect(failed.some((c) => c.output.includes('not on its menu'))).toBe(true);
    expect(result.samplesUsed).toBe(8);
  });
});

describe('reproducibility', () => {
  const config = {
    beamWidth: 2,
    plansPerCandidate: 2,
    implementationsPerPlan: 2,
    iterations: 3,
    budget: 20,
    menuKeep: 0.3,
    inventProbability: 0.2,
  };

  it('the same seed and the same replies give the same tree', async () => {
    const a = await search({ ...config, seed: 42 });
    const b = await search({ ...config, seed: 42 });
    expect(tree(b.sink.stored.map((c) => ({ ...c, admitted: b.sink.admitted.has(c.id) })))).toEqual(
      tree(a.sink.stored.map((c) => ({ ...c, admitted: a.sink.admitted.has(c.id) }))),
    );
  });

  it('menu dropout never drops the composite option, so every plan slot can take the packed micro-kernel', async () => {
    const planner = createScriptedPlanner({ baseline: GEMM.naive, replies: GEMM_REPLIES });
    await search({ ...config, menuKeep: 0.05, seed: 7 }, planner);
    expect(planner.proposals.length).toBeGreaterThan(4);
    expect(planner.proposals.every((p) => p.menu.includes('cpu.micro_kernel'))).toBe(true);
    // The other options are still dropped: at a keep share of 5%, most menus hold little else.
    expect(planner.proposals.filter((p) => p.menu.length <= 2).length).toBeGreaterThan(planner.proposals.length / 2);
  });

  it('another seed draws other menus', async () => {
    const p1 = createScriptedPlanner({ baseline: GEMM.naive, replies: GEMM_REPLIES });
    const p2 = createScriptedPlanner({ baseline: GEMM.naive, replies: GEMM_REPLIES });
    await search({ ...config, seed: 1 }, p1);
    await search({ ...config, seed: 2 }, p2);
    expect(p2.proposals.map((p) => p.menu)).not.toEqual(p1.proposals.map((p) => p.menu));
  });
});
