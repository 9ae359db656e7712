/**
 * The template planner on the real kernel templates: every knob value reads as a specific phrase,
 * proposals stay legal on every template, and the generated code of a random walk and of every
 * composite move compiles and matches the reference on the real C toolchain.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseOperation, type OperationInput } from '../../src/schedules/index.js';
import { CPU_MENU } from '../../src/search/menus/cpu-menu.js';
import { knobPhrase } from '../../src/search/plan-text.js';
import type { PlanningTask } from '../../src/search/planner.js';
import { createRng } from '../../src/search/rng.js';
import { createTemplatePlanner } from '../../src/search/template-planner.js';
import { createCToolchain } from '../../src/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import { hasTemplate, templateFor, type Knobs } from '../../src/targets/templates/index.js';

const ISA = ['avx', 'avx2', 'fma', 'avx512f'];
const planner = createTemplatePlanner({
  templates: (kind) => (hasTemplate(kind) ? templateFor(kind, { isa: ISA }) : null),
});

const OPS: OperationInput[] = [
  { kind: 'gemm', dims: { M: 96, N: 80, K: 200 }, epilogue: ['bias', 'relu'] },
  { kind: 'batched_gemm', dims: { B: 2, M: 33, N: 40, K: 65 } },
  { kind: 'conv2d', dims: { N: 1, C: 8, H: 12, W: 12, K: 8, R: 3, S: 3 }, attrs: { stride: 1, pad: 1 } },
  { kind: 'matvec', dims: { M: 64, K: 5000 } },
  { kind: 'softmax', dims: { M: 8, N: 300 } },
  { kind: 'layernorm', dims: { M: 8, N: 300 } },
];

const task = (input: OperationInput): PlanningTask => ({
  operation: parseOperation(input),
  hardware: 'this machine',
  contract: '',
});

describe('template planner on the real templates', () => {
  for (const input of OPS) {
    it(`${input.kind}: every knob value has a specific phrase that names it`, () => {
      const op = parseOperation(input);
      const template = templateFor(op.kind, { isa: ISA });
      const base = template.baseline(op);
      for (const spec of template.knobs) {
        for (const value of spec.values(op)) {
          const phrase = knobPhrase(op, spec, value, { ...base, [spec.name]: value });
          expect(phrase, `${spec.name} = ${String(value)}`).not.toMatch(/^set /);
          if (typeof value === 'number' && value > 1)
            expect(phrase, `${spec.name} = ${value}`).toMatch(new RegExp(`(^|[^0-9])${value}([^0-9]|$)`));
        }
      }
    });
  }

  const executor = createLocalExecutor();
  const toolchain = createCToolchain();
  afterAll(() => executor.close());

  for (const input of OPS) {
    it(`${input.kind}: a random walk of proposals stays legal and its code is correct`, async () => {
      const t = task(input);
      const op = t.operation;
      const template = templateFor(op.kind, { isa: ISA });
      const rng = createRng(11);
      let params = planner.baseline(t).params;
      const codes: string[] = [];
      for (let i = 0; i < 6; i++) {
        const out = await planner.propose({
          task: t,
          parent: { id: `c${i}`, code: '', latencyMs: 1, feedback: [], lineage: [], ...(params ? { params } : {}) },
          iteration: i + 1,
          iterations: 6,
          phase: 'optimize',
          menu: CPU_MENU.options,
          invent: false,
          rules: [],
          rng,
        });
        if (!out.ok) throw new Error(out.error);
        const knobs = (out.value.params as { knobs: Knobs }).knobs;
        expect(template.legalize(op, knobs)).toEqual(knobs);
        for (const spec of template.knobs) expect(spec.values(op)).toContain(knobs[spec.name]);
        const impl = await planner.implement({
          task: t,
          parent: { id: 'p', code: '', latencyMs: 1, feedback: [], lineage: [], ...(params ? { params } : {}) },
          plan: out.value,
          count: 1,
          rules: [],
          rng,
        });
        if (!impl.ok) throw new Error(impl.error);
        codes.push(impl.value[0]!.code);
        params = impl.value[0]!.params;
      }
      const results = await toolchain.evaluate({
        operation: op,
        candidates: codes,
        executor,
        timing: { warmup: 0, runs: 1 },
      });
      for (const r of results) expect(r.correct, r.output).toBe(true);
    });

    it(`${input.kind}: every composite move (cpu.micro_kernel) is legal here, compiles and matches the reference`, async () => {
      const op = parseOperation(input);
      const template = templateFor(op.kind, { isa: ISA });
      const composites = template.composites?.['cpu.micro_kernel']?.(op) ?? [];
      expect(composites.length).toBeGreaterThan(0);
      const knobSets = composites.map((set) => template.legalize(op, { ...template.baseline(op), ...set }));
      for (const knobs of knobSets) expect(template.legalize(op, knobs)).toEqual(knobs);
      const results = await toolchain.evaluate({
        operation: op,
        candidates: knobSets.map((knobs) => template.generate(op, knobs)),
        executor,
        timing: { warmup: 0, runs: 1 },
      });
      for (const [i, r] of results.entries())
        expect(r.correct, `${JSON.stringify(knobSets[i])}: ${r.output}`).toBe(true);
    });
  }
});

describe('template planner: schedules stored before the gemm compiler-hints knob was renamed', () => {
  // Two steps of a shipped gemm seed (data/seed-packs/cpu-reference.jsonl), which still call the knob `hints`.
  const knobs = {
    flags: 'none',
    hints: false,
    kc: 0,
    mc: 0,
    mr: 1,
    nc: 0,
    nv: 1,
    order: 'ikj',
    pack: 'none',
    prefetch: 0,
    unroll: 1,
    vec: 1,
  };
  const shipped = (optionId: string, changed: Knobs, stepIndex: number) => ({
    optionId,
    plan: 'from a shipped seed',
    params: { changed, knobs: { ...knobs, ...changed } },
    scheduleId: 'sch_shipped',
    stepIndex,
  });
  const steps = [shipped('cpu.loop_reorder', { order: 'ikj' }, 0), shipped('cpu.compiler_hints', { hints: true }, 1)];
  const t = task({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });
  const root = { id: 'root', code: '', latencyMs: 1, feedback: [], lineage: [] };

  it('replays their hints as the restrict knob', async () => {
    const out = await planner.replay!({ task: t, parent: root, steps, rules: [], rng: createRng(1) });
    if (!out.ok) throw new Error(out.error);
    expect((out.value[0]!.params as { knobs: Knobs }).knobs).toMatchObject({ order: 'ikj', restrict: true });
    expect(out.value[0]!.params).not.toHaveProperty('knobs.hints');
    expect(out.value[0]!.code).toContain('#pragma GCC ivdep');
  });

  it('follows a forced step that sets hints, and reads a parent stored with hints', async () => {
    const parent = {
      ...root,
      params: {
        knobs: {
          order: 'ikj',
          mc: 0,
          nc: 0,
          kc: 0,
          mr: 1,
          nv: 1,
          vec: 1,
          unroll: 1,
          pack: 'none',
          prefetch: 0,
          flags: 'unroll-loops',
          hints: true,
        },
      },
    };
    const forced = shipped('cpu.compiler_hints', { hints: false }, 1);
    const out = await planner.propose({
      task: t,
      parent,
      iteration: 2,
      iterations: 4,
      phase: 'optimize',
      menu: CPU_MENU.options,
      invent: false,
      forced,
      rules: [],
      rng: createRng(2),
    });
    if (!out.ok) throw new Error(out.error);
    expect(out.value.params).toEqual({
      knobs: {
        order: 'ikj',
        mc: 0,
        nc: 0,
        kc: 0,
        mr: 1,
        nv: 1,
        vec: 1,
        unroll: 1,
        pack: 'none',
        prefetch: 0,
        // A schedule stored before the threads knob ran on one core.
        threads: 1,
        flags: 'unroll-loops',
        restrict: false,
      },
      changed: { restrict: false },
    });
  });
});
