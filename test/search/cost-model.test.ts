/**
 * The cost model: what it learns from measured points of other shapes, that it is deterministic,
 * that it reads stored knob names, and how the template planner uses it (a ranked plan that says
 * so; no training data, the same plan as before).
 */
import { describe, expect, it } from 'vitest';
import { parseOperation, type MeasuredPoint, type Operation } from '../../src/schedules/index.js';
import { MIN_TRAINING_POINTS, trainCostModel } from '../../src/search/cost-model/cost-model.js';
import { rankMoves } from '../../src/search/cost-model/ranking.js';
import { trainingSet } from '../../src/search/cost-model/training-set.js';
import { CPU_MENU } from '../../src/search/menus/cpu-menu.js';
import type { SearchEvidence } from '../../src/search/planner.js';
import { createRng } from '../../src/search/rng.js';
import { createTemplatePlanner } from '../../src/search/template-planner.js';
import { allMoves, bind } from '../../src/search/template-moves.js';
import { hasTemplate, templateFor, type Knobs } from '../../src/targets/templates/index.js';
import { entryPointFor } from '../../src/targets/c/entry-points.js';

const ISA = ['avx2', 'avx512f', 'fma'];
const gemm = templateFor('gemm', { isa: ISA });
const op = (M: number, N: number, K: number): Operation => parseOperation({ kind: 'gemm', dims: { M, N, K } });

/**
 * A made-up machine where packing pays only together with a register block (the valley a search
 * must cross) and a wide vector helps everywhere: ms per flop from the knobs, slightly shape-dependent.
 */
function syntheticLatency(o: Operation, k: Knobs): number {
  let perFlop = 1;
  if (k.vec === 16) perFlop /= 3;
  const blocked = (k.mr as number) > 1;
  if (k.pack === 'ab') perFlop *= blocked ? 0.2 : 1.6;
  else if (blocked) perFlop *= 1.3;
  const flops = 2 * o.dims.M! * o.dims.N! * o.dims.K!;
  return perFlop * flops * 1e-9 * (1 + Math.log2(o.dims.K!) / 100);
}

/** Points measured on other shapes: a grid over vec, mr and pack, the rest at the baseline. */
function pointsOn(shapes: Operation[]): MeasuredPoint[] {
  const points: MeasuredPoint[] = [];
  for (const o of shapes) {
    for (const vec of [1, 4, 16]) {
      for (const mr of [1, 6]) {
        for (const pack of ['none', 'ab']) {
          const knobs = gemm.legalize(o, { ...gemm.baseline(o), vec, mr, pack });
          points.push({ operation: o, params: { knobs }, latencyMs: syntheticLatency(o, knobs) });
        }
      }
    }
  }
  return points;
}

describe('cost model', () => {
  const others = [op(128, 128, 128), op(256, 256, 256), op(256, 512, 128)];
  const here = op(192, 384, 256);

  it('trains on other shapes of the structure and ranks an unseen shape in their order, packing with a register block first', () => {
    const model = trainCostModel(gemm, here, pointsOn(others), 1)!;
    expect(model.points).toBe(others.length * 12);
    const base = gemm.baseline(here);
    const [packedBlocked, packedAlone, blockedAlone, plain] = model.predict([
      { ...base, vec: 16, mr: 6, pack: 'ab' },
      { ...base, vec: 16, mr: 1, pack: 'ab' },
      { ...base, vec: 16, mr: 6, pack: 'none' },
      { ...base, vec: 16, mr: 1, pack: 'none' },
    ]);
    expect(packedBlocked!).toBeLessThan(plain!);
    expect(plain!).toBeLessThan(packedAlone!);
    expect(plain!).toBeLessThan(blockedAlone!);
  });

  it('is deterministic: the same points and seed give the same predictions', () => {
    const points = pointsOn(others);
    const knobs = [gemm.baseline(here), { ...gemm.baseline(here), vec: 4 }];
    expect(trainCostModel(gemm, here, points, 7)!.predict(knobs)).toEqual(
      trainCostModel(gemm, here, points, 7)!.predict(knobs),
    );
  });

  it('needs a few distinct points with knobs: repeats, LLM-planner params and bad latencies do not count', () => {
    const o = op(64, 64, 64);
    const one = { operation: o, params: { knobs: gemm.baseline(o) }, latencyMs: 1 };
    const noKnobs = { operation: o, params: { plan: 'an LLM step' }, latencyMs: 1 };
    const points = [
      ...Array.from({ length: 20 }, () => one),
      noKnobs,
      { ...one, latencyMs: 0 },
      ...pointsOn([o]).slice(0, MIN_TRAINING_POINTS - 2),
    ];
    expect(trainCostModel(gemm, o, points, 1)).toBeNull();
  });

  it('reads knobs stored under their old names (gemm hints are restrict)', () => {
    const o = op(128, 128, 128);
    const points: MeasuredPoint[] = [];
    for (const [i, restrict] of [false, true].entries()) {
      for (const vec of [1, 4, 8, 16]) {
        const knobs = { ...gemm.baseline(o), vec } as Record<string, unknown>;
        delete knobs.restrict;
        points.push({
          operation: o,
          params: { knobs: { ...knobs, hints: restrict } },
          latencyMs: 10 - 8 * i + vec / 100,
        });
      }
    }
    const model = trainCostModel(gemm, o, points, 1)!;
    const [off, on] = model.predict([
      { ...gemm.baseline(o), restrict: false },
      { ...gemm.baseline(o), restrict: true },
    ]);
    expect(on!).toBeLessThan(off!);
  });

  it('trains on the search its own points first, then the nearest shapes of the knowledge base', () => {
    const own = pointsOn([here]).slice(0, 3);
    const far = pointsOn([op(4096, 4096, 4096)]);
    const near = pointsOn([op(192, 384, 128)]);
    const set = trainingSet(here, own, [...far, ...near], 10);
    expect(set.slice(-3)).toEqual(own);
    expect(set.slice(0, 7).every((p) => p.operation.dims.M === 192)).toBe(true);
  });

  it('ranks the moves of a parent, composite moves included', () => {
    const model = trainCostModel(gemm, here, pointsOn(others), 1)!;
    const b = bind(gemm, here);
    const parent = gemm.baseline(here);
    const moves = allMoves(b, parent, ['cpu.vectorize', 'cpu.pack', 'cpu.micro_kernel'], () => true);
    expect(moves.some((m) => m.optionId === 'cpu.micro_kernel' && m.knobs.pack === 'ab' && m.knobs.mr !== 1)).toBe(
      true,
    );
    const [best] = rankMoves(model, moves);
    expect(best!.optionId).toBe('cpu.micro_kernel');
  });
});

describe('template planner with a cost model', () => {
  const planner = createTemplatePlanner({
    templates: (kind) => (hasTemplate(kind) ? templateFor(kind, { isa: ISA }) : null),
  });
  const here = op(192, 384, 256);
  const task = { operation: here, hardware: 'x', contract: entryPointFor(here).contract };
  const root = {
    id: 'root',
    code: '',
    latencyMs: 100,
    feedback: [],
    lineage: [],
    params: { knobs: gemm.baseline(here) },
  };
  const evidence = (prior: MeasuredPoint[], explore = 0.05): SearchEvidence => ({ prior, own: [], seed: 3, explore });
  const propose = (e: SearchEvidence | undefined, seed: number) =>
    planner.propose({
      task,
      parent: root,
      iteration: 1,
      iterations: 4,
      phase: 'optimize',
      menu: CPU_MENU.options,
      invent: false,
      rules: [],
      rng: createRng(seed),
      ...(e ? { evidence: e } : {}),
    });

  it("takes the model's best move and says so in the plan text", async () => {
    const out = await propose(evidence(pointsOn([op(128, 128, 128), op(256, 256, 256)])), 1);
    if (!out.ok) throw new Error(out.error);
    expect(out.value.optionId).toBe('cpu.micro_kernel');
    expect(out.value.text).toMatch(
      /the cost model's pick of \d+ moves, predicted [\d.]+ GFLOP\/s, trained on 24 measured kernels/,
    );
  });

  it('plans exactly as without a model when there is no training data', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const without = await propose(undefined, seed);
      const empty = await propose(evidence([]), seed);
      expect(empty).toEqual(without);
    }
  });

  it('without a model, about half of the plans take the packed micro-kernel, the rest move single knobs', async () => {
    const options: string[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const out = await propose(undefined, seed);
      if (!out.ok) throw new Error(out.error);
      options.push(out.value.optionId);
    }
    const composite = options.filter((id) => id === 'cpu.micro_kernel').length;
    // Drawn uniformly, one option of about ten would come up about 4 times in 40.
    expect(composite).toBeGreaterThanOrEqual(12);
    expect(composite).toBeLessThanOrEqual(28);
    expect(new Set(options).size).toBeGreaterThan(4);
  });

  it('still explores: with explore 1 no plan comes from the model', async () => {
    const prior = pointsOn([op(128, 128, 128), op(256, 256, 256)]);
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const out = await propose(evidence(prior, 1), seed);
      if (!out.ok) throw new Error(out.error);
      expect(out.value.text).not.toContain('cost model');
    }
  });
});
