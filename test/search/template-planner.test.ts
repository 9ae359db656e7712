import { describe, expect, it } from 'vitest';
import { SkbError, parseOperation, type OperationInput } from '../../src/schedules/index.js';
import { CPU_MENU } from '../../src/search/menus/cpu-menu.js';
import type { MenuOption } from '../../src/search/menus/menu.js';
import { describeKnobChanges, knobPhrase } from '../../src/search/plan-text.js';
import type { CandidateView, ForcedStep, Plan, PlanningTask, ProposeRequest } from '../../src/search/planner.js';
import { createRng, type Rng } from '../../src/search/rng.js';
import { createTemplatePlanner } from '../../src/search/template-planner.js';
import type { KernelTemplate, Knobs } from '../../src/targets/templates/template.js';
import { toyGemmTemplate } from './template-planner-toy-template.js';

const templates = (kind: string): KernelTemplate | null => (kind === 'gemm' ? toyGemmTemplate : null);
const planner = createTemplatePlanner({ templates });

function task(input: OperationInput): PlanningTask {
  return { operation: parseOperation(input), hardware: 'this machine', contract: '' };
}

const gemm = task({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });

function candidate(knobs: Knobs | undefined, lineage: CandidateView['lineage'] = []): CandidateView {
  return { id: 'c', code: '', latencyMs: 1, feedback: [], lineage, ...(knobs ? { params: { knobs } } : {}) };
}

function request(parent: CandidateView, rng: Rng, extra: Partial<ProposeRequest> = {}): ProposeRequest {
  return {
    task: gemm,
    parent,
    iteration: 2,
    iterations: 8,
    phase: 'optimize',
    menu: CPU_MENU.options,
    invent: false,
    rules: [],
    rng,
    ...extra,
  };
}

function legal(knobs: Knobs, op = gemm.operation): void {
  for (const spec of toyGemmTemplate.knobs) expect(spec.values(op)).toContain(knobs[spec.name]);
  expect(toyGemmTemplate.legalize(op, knobs)).toEqual(knobs);
}

async function proposeOk(req: ProposeRequest): Promise<Plan> {
  const out = await planner.propose(req);
  if (!out.ok) throw new Error(out.error);
  return out.value;
}

const planKnobs = (plan: Plan): Knobs => (plan.params as { knobs: Knobs }).knobs;

describe('template planner: proposals', () => {
  it('starts from the template baseline with its knobs as params', () => {
    const base = planner.baseline(gemm);
    expect(base.params).toEqual({ knobs: toyGemmTemplate.baseline(gemm.operation) });
    expect(base.code).toBe(toyGemmTemplate.generate(gemm.operation, toyGemmTemplate.baseline(gemm.operation)));
  });

  it('every proposal is a legal move of an offered option that changes something, with a text naming the new values', async () => {
    const rng = createRng(7);
    let parent = toyGemmTemplate.baseline(gemm.operation);
    const supported = new Set(Object.keys(toyGemmTemplate.moves));
    for (let i = 0; i < 150; i++) {
      // Dropout: each sample sees a random half of the menu.
      const menu: MenuOption[] = CPU_MENU.options.filter(() => rng.next() < 0.5);
      const out = await planner.propose(request(candidate(parent), rng.fork(), { menu }));
      if (!menu.some((o) => supported.has(o.id))) {
        expect(out).toEqual({
          ok: false,
          error: 'no menu option of this sample applies to the gemm template',
          usage: [],
        });
        continue;
      }
      if (!out.ok) {
        // The toy template tiles k only in the i-k-j order, so a lone tiling option cannot move an i-j-k parent.
        expect(out.error).toBe('no offered menu option can change the gemm knobs of this candidate');
        expect(menu.filter((o) => supported.has(o.id)).map((o) => o.id)).toEqual(['cpu.cache_tile']);
        expect(parent.order).toBe('ijk');
        continue;
      }
      const plan = out.value;
      expect(menu.map((o) => o.id)).toContain(plan.optionId);
      expect(plan.optionLabel).toBe(CPU_MENU.options.find((o) => o.id === plan.optionId)!.label);
      const { knobs, changed } = plan.params as { knobs: Knobs; changed: Knobs };
      legal(knobs);
      expect(Object.keys(changed).length).toBeGreaterThan(0);
      for (const [k, v] of Object.entries(changed)) {
        expect(knobs[k]).toBe(v);
        expect(parent[k]).not.toBe(v);
        if (typeof v === 'number' && v !== 0) expect(plan.text).toContain(String(v));
      }
      parent = knobs;
    }
  });

  it('writes readable plan texts that mention the values', () => {
    const op = parseOperation({ kind: 'gemm', dims: { M: 512, N: 512, K: 1024 } });
    const mr = { name: 'MR', description: 'rows of A per register block' };
    expect(knobPhrase(op, mr, 6, { MR: 6, NR: 32 })).toBe('register-block 6x32 so the accumulators stay in registers');
    expect(knobPhrase(op, { name: 'KC', description: 'k per panel' }, 256, {})).toBe(
      'tile K by 256 so a panel of B stays in L2',
    );
    expect(knobPhrase(op, { name: 'order', description: 'loop order' }, 'ikj', {})).toBe(
      'reorder loops to i-k-j so the inner loop walks B and C contiguously',
    );
    expect(knobPhrase(op, { name: 'flags', description: 'flags' }, 'unroll-loops,fast-math', {})).toBe(
      'compile with -funroll-loops -ffast-math (set in the source with #pragma GCC optimize)',
    );
    expect(knobPhrase(op, { name: 'swizzle', description: 'store order of C' }, 3, {})).toBe(
      'set swizzle to 3 (store order of C)',
    );
    // Both halves of a register block moving together read as one phrase.
    const specs = [mr, { name: 'NR', description: 'columns of B per register block', values: () => [] }].map((s) => ({
      values: () => [],
      ...s,
    }));
    expect(describeKnobChanges(op, specs, { MR: 1, NR: 1 }, { MR: 6, NR: 32 })).toEqual([
      'register-block 6x32 so the accumulators stay in registers',
    ]);
  });

  it('treats an invent sample as an ordinary move on its menu: a template cannot write new code', async () => {
    const plan = await proposeOk(request(candidate(undefined), createRng(3), { invent: true }));
    expect(plan.optionId).not.toBe('invented');
    expect(Object.keys(toyGemmTemplate.moves)).toContain(plan.optionId);
    legal((plan.params as { knobs: Knobs }).knobs);
    const none = await planner.propose(request(candidate(undefined), createRng(3), { invent: true, menu: [] }));
    expect(none.ok).toBe(false);
  });

  it('is reproducible with a seed', async () => {
    async function walk(seed: number): Promise<string[]> {
      const rng = createRng(seed);
      let parent: Knobs | undefined;
      const texts: string[] = [];
      for (let i = 0; i < 20; i++) {
        const plan = await proposeOk(request(candidate(parent), rng));
        texts.push(`${plan.optionId}: ${plan.text}`);
        parent = planKnobs(plan);
      }
      return texts;
    }
    expect(await walk(42)).toEqual(await walk(42));
    expect(await walk(42)).not.toEqual(await walk(43));
  });

  it('refuses an operation kind it has no template for, and points to the LLM planner', () => {
    const custom = task({ kind: 'custom:fft', dims: { N: 1024 } });
    expect(() => planner.baseline(custom)).toThrow(SkbError);
    expect(() => planner.baseline(custom)).toThrow(/no kernel template for custom:fft .*use the LLM planner/);
  });
});

describe('template planner: seed steps', () => {
  const seedStep = (optionId: string, changed: Knobs | undefined, stepIndex = 0): ForcedStep => ({
    optionId,
    plan: 'from a seed',
    scheduleId: 'sched-1',
    stepIndex,
    ...(changed ? { params: { knobs: { ...toyGemmTemplate.baseline(gemm.operation), ...changed }, changed } } : {}),
  });
  const ikj = { order: 'ikj', ktile: 0, unroll: 1, restrict: false };

  it('honours a forced step and re-fits its tile to a smaller matrix', async () => {
    const forced = seedStep('cpu.cache_tile', { ktile: 256 }, 2);
    const plan = await proposeOk(request(candidate(ikj), createRng(1), { forced, menu: [] }));
    expect(plan.optionId).toBe('cpu.cache_tile');
    expect(plan.forced).toEqual(forced);
    expect(plan.params).toEqual({ knobs: { ...ikj, ktile: 32 }, changed: { ktile: 32 } });
    expect(plan.text).toBe(
      "Following step 3 of seed schedule sched-1 (Cache tiling): Tile K by 32 so a panel of B stays in L2. (the seed's ktile = 256 is re-fitted to 32 for this shape)",
    );
  });

  it('keeps a forced seed value that is legal here as it is', async () => {
    const big = task({ kind: 'gemm', dims: { M: 64, N: 64, K: 512 } });
    const plan = await proposeOk(
      request(candidate(ikj), createRng(1), {
        task: big,
        forced: seedStep('cpu.cache_tile', { ktile: 256 }),
        menu: [],
      }),
    );
    expect(planKnobs(plan)).toEqual({ ...ikj, ktile: 256 });
    expect(plan.text).not.toContain('re-fitted');
  });

  it('still changes something when the seed value is already in place, and refuses an option the template lacks', async () => {
    const plan = await proposeOk(
      request(candidate({ ...ikj, unroll: 4 }), createRng(1), { forced: seedStep('cpu.unroll', { unroll: 4 }) }),
    );
    expect(plan.optionId).toBe('cpu.unroll');
    expect(planKnobs(plan).unroll).not.toBe(4);
    expect(plan.text).toMatch(/already in place here, so instead: /);

    const out = await planner.propose(
      request(candidate(ikj), createRng(1), { forced: seedStep('cpu.prefetch', undefined) }),
    );
    expect(out).toEqual({
      ok: false,
      error: "The seed step's option cpu.prefetch moves no knob of the gemm template for this shape",
      usage: [],
    });
  });

  it('replays a whole sequence in order, re-fitted, as one implementation', async () => {
    const steps = [
      seedStep('cpu.loop_reorder', { order: 'ikj' }, 0),
      seedStep('cpu.unroll', { unroll: 2 }, 1),
      seedStep('cpu.vectorize', undefined, 2),
      seedStep('cpu.cache_tile', { ktile: 256 }, 3),
      seedStep('cpu.unroll', { unroll: 4 }, 4),
    ];
    const base = planner.baseline(gemm);
    const parent = { ...candidate(undefined), code: base.code, ...(base.params ? { params: base.params } : {}) };
    const out = await planner.replay!({ task: gemm, parent, steps, rules: [], rng: createRng(1) });
    if (!out.ok) throw new Error(out.error);
    expect(out.value).toHaveLength(1);
    const expected = { order: 'ikj', ktile: 32, unroll: 4, restrict: false };
    expect(out.value[0]).toEqual({
      code: toyGemmTemplate.generate(gemm.operation, expected),
      params: { knobs: expected, changed: { order: 'ikj', ktile: 32, unroll: 4 } },
      // The replayed implementation says what it did, so the stored step's text matches its knobs.
      plan: expect.stringMatching(/i-k-j.*tile K by 32.*unroll the inner loop by 4/),
    });

    // Order matters: the loop order step is what makes the k tile legal.
    const reversed = await planner.replay!({
      task: gemm,
      parent,
      steps: [steps[3]!, steps[0]!],
      rules: [],
      rng: createRng(1),
    });
    if (!reversed.ok) throw new Error(reversed.error);
    expect(reversed.value[0]!.params).toEqual({
      knobs: { order: 'ikj', ktile: 0, unroll: 1, restrict: false },
      changed: { order: 'ikj' },
    });

    const none = await planner.replay!({ task: gemm, parent, steps: [steps[2]!], rules: [], rng: createRng(1) });
    expect(none).toEqual({
      ok: false,
      error: "None of the seed's 1 steps carries knob values of the gemm template",
      usage: [],
    });
  });
});

describe('template planner: implementations', () => {
  it('implements the plan exactly first, then distinct nearby variants that keep its move', async () => {
    const parent = candidate({ order: 'ikj', ktile: 0, unroll: 1, restrict: false });
    const plan = await proposeOk(
      request(parent, createRng(5), { menu: CPU_MENU.options.filter((o) => o.id === 'cpu.cache_tile') }),
    );
    const out = await planner.implement({ task: gemm, parent, plan, count: 3, rules: [], rng: createRng(9) });
    if (!out.ok) throw new Error(out.error);
    const knobs = out.value.map((i) => (i.params as { knobs: Knobs }).knobs);
    expect(knobs[0]).toEqual(planKnobs(plan));
    expect(knobs).toHaveLength(3);
    expect(new Set(knobs.map((k) => JSON.stringify(k))).size).toBe(3);
    // The second moves the same option's knob to its other tile; the third keeps the tile and moves another knob.
    expect({ ...knobs[1], ktile: 0 }).toEqual(parent.params!.knobs);
    expect(knobs[2]!.ktile).toBe(knobs[0]!.ktile);
    for (const [i, k] of knobs.entries()) {
      legal(k);
      expect(k.ktile).not.toBe(0);
      expect(out.value[i]!.code).toBe(toyGemmTemplate.generate(gemm.operation, k));
    }
  });

  it('fills the count from neighbouring knobs when the option is a single switch', async () => {
    const parent = candidate({ order: 'ikj', ktile: 0, unroll: 1, restrict: false });
    const plan = await proposeOk(
      request(parent, createRng(5), { menu: CPU_MENU.options.filter((o) => o.id === 'cpu.compiler_hints') }),
    );
    expect(planKnobs(plan).restrict).toBe(true);
    const out = await planner.implement({ task: gemm, parent, plan, count: 3, rules: [], rng: createRng(2) });
    if (!out.ok) throw new Error(out.error);
    const knobs = out.value.map((i) => (i.params as { knobs: Knobs }).knobs);
    expect(knobs).toHaveLength(3);
    expect(knobs[0]).toEqual(planKnobs(plan));
    expect(new Set(knobs.map((k) => JSON.stringify(k))).size).toBe(3);
    for (const k of knobs) {
      legal(k);
      expect(k.restrict).toBe(true);
    }
  });

  it('refuses a plan without template knobs', async () => {
    const plan: Plan = { optionId: 'cpu.unroll', optionLabel: 'Loop unrolling', text: 'unroll by 4' };
    const out = await planner.implement({
      task: gemm,
      parent: candidate(undefined),
      plan,
      count: 1,
      rules: [],
      rng: createRng(1),
    });
    expect(out.ok).toBe(false);
  });
});
