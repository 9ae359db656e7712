/**
 * The template planner: offline autotuning of kernel templates (the C templates on CPU targets, the
 * Triton matmul template on KernelBench targets), the service's default planner. A plan is one menu
 * option of the target's toolchain realized as a knob move on the
 * operation's template (same option ids as the LLM planner, so schedules from both compare), with
 * a readable plan text; code is the template instantiated. It needs no network and no model; with
 * measured points (SearchEvidence) it ranks every legal move by a cost model learned from them
 * (src/search/cost-model/) before it spends a sample, and explores a share of its slots at random.
 */
import { z } from 'zod';
import { SkbError, withCostModelNote, type Operation } from '../schedules/index.js';
import { currentKnobNames, type KernelTemplate, type Knobs, type TemplateToolchain } from '../targets/index.js';
import type { CostModel } from './cost-model/cost-model.js';
import { exploits, modelFor, predictedGflops, rankKnobs, rankMoves } from './cost-model/ranking.js';
import { CPU_MENU, PARALLELIZE_OPTION } from './menus/cpu-menu.js';
import { CUDA_MENU } from './menus/cuda-menu.js';
import type { MenuOption } from './menus/menu.js';
import { describeKnobChanges, joinPhrases } from './plan-text.js';
import { plannerSupport } from './planner-support.js';
import type {
  CandidateView,
  ForcedStep,
  Implementation,
  Plan,
  Planner,
  PlannerOutcome,
  PlanningTask,
  ProposeRequest,
  TriedCode,
} from './planner.js';
import type { Rng } from './rng.js';
import {
  allMoves,
  bind,
  knownMoves,
  diff,
  legalize,
  movableKnobs,
  nearestIndex,
  randomMove,
  refit,
  sameKnobs,
  type Accept,
  type Bound,
} from './template-moves.js';

export interface TemplatePlannerOptions {
  /**
   * The kernel template of an operation kind on this target, or null where there is none: the
   * registry's (src/targets/templates/template-registry.ts), built for the target, or a test's own.
   */
  templates: (kind: string) => KernelTemplate | null;
  /** The toolchain the templates generate for (default "c"): a kind without one is refused in plannerSupport's words. */
  toolchain?: TemplateToolchain;
  /**
   * Share of random moves that jump to any other legal value of the knob instead of a neighbouring
   * one; default 0.2. Jumps let a lineage leave a local optimum that single steps cannot.
   */
  jumpProbability?: number;
}

const KnobValueSchema = z.union([z.number(), z.string(), z.boolean()]);
const KnobsSchema = z.record(z.string(), KnobValueSchema);
/** Parameters the template planner writes on plans, steps and candidates. */
const TemplateParamsSchema = z.object({ knobs: KnobsSchema, changed: KnobsSchema.optional() }).passthrough();

/** Share of the slots without a cost model that take a composite move (see compositeFirst). */
const COMPOSITE_FIRST_SHARE = 0.5;

const OPTION_BY_ID = new Map(
  [...CPU_MENU.options, PARALLELIZE_OPTION, ...CUDA_MENU.options, ...CUDA_MENU.translateOptions].map((o) => [o.id, o]),
);

function optionLabel(id: string): string {
  return OPTION_BY_ID.get(id)?.label ?? id;
}

/** "M=512 N=512 K=512": an operation's sizes in plan text. */
function dimsText(op: Operation): string {
  return Object.entries(op.dims)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/**
 * The knob values a seed step asks for: its `changed` knobs (what the step moved), else the knobs
 * the option moves out of its full knob set, else top-level entries that name knobs
 * ({ MR: 6, NR: 32 }). Knobs under an old name count as the knob they became; only knobs this
 * template has are kept.
 */
function stepTargets(b: Bound, step: Pick<ForcedStep, 'optionId' | 'params'>): Knobs {
  const params = step.params ?? {};
  const parsed = TemplateParamsSchema.safeParse(params);
  let source: Record<string, unknown>;
  if (parsed.success && parsed.data.changed) source = currentKnobNames(b.template, parsed.data.changed);
  else if (parsed.success) {
    const names = new Set(b.template.moves[step.optionId] ?? []);
    source = Object.fromEntries(
      Object.entries(currentKnobNames(b.template, parsed.data.knobs)).filter(([k]) => names.has(k)),
    );
  } else source = currentKnobNames(b.template, params);
  const targets: Knobs = {};
  for (const [k, v] of Object.entries(source)) {
    const value = KnobValueSchema.safeParse(v);
    if (b.specs.has(k) && value.success) targets[k] = value.data;
  }
  return targets;
}

/** Phrases that say where a seed's value had to change for this shape. */
function refitNotes(targets: Knobs, result: Knobs): string[] {
  return Object.entries(targets)
    .filter(([k, v]) => result[k] !== v)
    .map(([k, v]) => `the seed's ${k} = ${String(v)} is re-fitted to ${String(result[k])} for this shape`);
}

/** Creates the template planner. */
export function createTemplatePlanner(options: TemplatePlannerOptions): Planner {
  const jumpProbability = options.jumpProbability ?? 0.2;
  const toolchain = options.toolchain ?? 'c';

  function bound(op: Operation): Bound {
    const template = options.templates(op.kind);
    if (template) return bind(template, op);
    const support = plannerSupport('template', toolchain, op.kind);
    if (!support.ok) throw new SkbError('BAD_INPUT', support.reason);
    throw new SkbError(
      'INTERNAL',
      `The template planner was built without the ${toolchain} template for ${op.kind} that the registry has`,
    );
  }

  /** The parent's knobs, legalized for this shape; the baseline's when the parent has none. */
  function parentKnobs(b: Bound, params: Record<string, unknown> | undefined): Knobs {
    const base = b.template.baseline(b.op);
    const parsed = TemplateParamsSchema.safeParse(params ?? {});
    return parsed.success ? legalize(b, parsed.data.knobs, base) : base;
  }

  /** Moves that change the parent's knobs. */
  const changes =
    (parent: Knobs): Accept =>
    (knobs) =>
      !sameKnobs(knobs, parent);

  /**
   * Moves that change the parent's knobs into a kernel this search has not measured: a template is
   * deterministic, so measuring the same code again spends a sample on nothing new.
   */
  function untried(b: Bound, parent: Knobs, tried: TriedCode | undefined): Accept {
    if (!tried) return changes(parent);
    return (knobs) => !sameKnobs(knobs, parent) && !tried(b.template.generate(b.op, knobs));
  }

  function plan(optionId: string, parent: Knobs, knobs: Knobs, text: string, forced?: ForcedStep): Plan {
    return {
      optionId,
      optionLabel: optionLabel(optionId),
      text,
      params: { knobs, changed: diff(parent, knobs) },
      ...(forced ? { forced } : {}),
    };
  }

  /** An implementation with its full knob set and what it changed relative to the parent (what a seed step replays). */
  function implementation(b: Bound, parent: Knobs, knobs: Knobs): Implementation {
    return {
      code: b.template.generate(b.op, knobs),
      params: { knobs, changed: diff(parent, knobs) },
      plan: changeText(b, parent, knobs),
    };
  }

  function changeText(b: Bound, parent: Knobs, knobs: Knobs): string {
    return joinPhrases(describeKnobChanges(b.op, b.template.knobs, parent, knobs));
  }

  function proposeForced(
    b: Bound,
    parent: Knobs,
    forced: ForcedStep,
    rng: Rng,
    tried: TriedCode | undefined,
  ): PlannerOutcome<Plan> {
    if (movableKnobs(b, forced.optionId).length === 0) {
      return {
        ok: false,
        error: `The seed step's option ${forced.optionId} moves no knob of the ${b.template.kind} template for this shape`,
        usage: [],
      };
    }
    const where = `Following step ${forced.stepIndex + 1} of seed schedule ${forced.scheduleId} (${optionLabel(forced.optionId)})`;
    const fresh = untried(b, parent, tried);
    const targets = stepTargets(b, forced);
    const asks = Object.keys(targets).length > 0;
    // The seed's values on this parent; only the knobs the step moves are re-fitted, the rest are
    // this lineage's own choices. Null when they change nothing here.
    let seeded: Knobs | null = null;
    if (asks) {
      const merged = legalize(b, { ...parent, ...targets }, parent);
      const refitted = refit(b, forced.source, merged);
      const knobs = legalize(
        b,
        { ...merged, ...Object.fromEntries(Object.keys(targets).map((k) => [k, refitted[k]!])) },
        merged,
      );
      if (!sameKnobs(knobs, parent)) seeded = knobs;
    }
    if (seeded && fresh(seeded)) {
      const notes = refitNotes(targets, seeded);
      return {
        ok: true,
        value: plan(
          forced.optionId,
          parent,
          seeded,
          `${where}: ${changeText(b, parent, seeded)}${notes.length ? ` (${notes.join('; ')})` : ''}`,
          forced,
        ),
        usage: [],
      };
    }
    const instead = (knobs: Knobs): PlannerOutcome<Plan> => {
      const why = !asks
        ? 'the seed step carries no knob values for this template'
        : seeded
          ? "the seed's knob values give a kernel this search has measured already"
          : "the seed's knob values are already in place here";
      return {
        ok: true,
        value: plan(
          forced.optionId,
          parent,
          knobs,
          `${where}; ${why}, so instead: ${changeText(b, parent, knobs)}`,
          forced,
        ),
        usage: [],
      };
    };
    const novel = randomMove(b, parent, forced.optionId, rng, jumpProbability, fresh);
    if (novel) return instead(novel);
    // Nothing new along this option: the seed's values measured again, else any change.
    if (seeded) {
      return {
        ok: true,
        value: plan(
          forced.optionId,
          parent,
          seeded,
          `${where}: ${changeText(b, parent, seeded)} (measured again: no other move of this option is new)`,
          forced,
        ),
        usage: [],
      };
    }
    const any = randomMove(b, parent, forced.optionId, rng, jumpProbability, changes(parent));
    if (!any)
      return {
        ok: false,
        error: `No legal move of ${forced.optionId} changes the ${b.template.kind} knobs of this candidate`,
        usage: [],
      };
    return instead(any);
  }

  /**
   * The cost model's plan: every legal move of the offered options (single knobs, composite moves,
   * and the knowledge base's fastest configurations re-fitted here), ranked by predicted time; the
   * best one this search has not measured. Null when every move was measured already.
   */
  function modelPlan(
    b: Bound,
    parent: Knobs,
    offered: MenuOption[],
    model: CostModel,
    request: ProposeRequest,
  ): Plan | null {
    const fresh = untried(b, parent, request.tried);
    const ids = offered.map((o) => o.id);
    const moves = [...allMoves(b, parent, ids, fresh), ...knownMoves(b, parent, ids, request.evidence!.prior, fresh)];
    const [best] = rankMoves(model, moves);
    if (!best) return null;
    const what = best.from
      ? `Take the configuration the knowledge base measured fastest per flop nearest this shape (on ${dimsText(best.from)}), re-fitted here: ${changeText(b, parent, best.knobs)}`
      : changeText(b, parent, best.knobs);
    const pick = { moves: moves.length, predictedGflops: predictedGflops(best.predicted), trainedOn: model.points };
    return plan(best.optionId, parent, best.knobs, withCostModelNote(what, pick));
  }

  /** Whether `knobs` are the template's baseline for the bound operation (the root of every search). */
  function isBaseline(b: Bound, knobs: Knobs): boolean {
    return sameKnobs(knobs, b.template.baseline(b.op));
  }

  /**
   * The template's first move, from the baseline while it is on offer and not yet measured, else
   * null; a request that does not say what was measured (no `tried`) cannot know, so it has none.
   */
  function firstFromBaseline(
    b: Bound,
    parent: Knobs,
    offered: MenuOption[],
    tried: TriedCode | undefined,
  ): Plan | null {
    const id = b.template.firstMove;
    const fixed = id ? b.template.fixedMoves?.[id] : undefined;
    if (!tried || !id || !fixed || !offered.some((o) => o.id === id)) return null;
    if (!isBaseline(b, parent)) return null;
    const knobs = legalize(b, { ...parent, ...fixed(b.op, parent) }, parent);
    return untried(b, parent, tried)(knobs) ? plan(id, parent, knobs, changeText(b, parent, knobs)) : null;
  }

  /**
   * Before the cost model has data (the first iteration of a cold search), half of the slots whose
   * menu offers a composite option take one of its new moves. Drawn uniformly, a composite option
   * is one of about ten, so whether the first iteration measures the kernel the template exists
   * for depended on the seed (sample 3 with one seed, sample 27 with others); single-knob moves
   * keep the other half, so the model still gets a spread of points to learn from.
   */
  function compositeFirst(b: Bound, parent: Knobs, offered: MenuOption[], rng: Rng, accept: Accept): Plan | null {
    const composites = offered.filter((o) => b.template.composites?.[o.id]);
    if (composites.length === 0 || rng.next() >= COMPOSITE_FIRST_SHARE) return null;
    const option = composites[rng.int(composites.length)]!;
    const knobs = randomMove(b, parent, option.id, rng, jumpProbability, accept);
    return knobs ? plan(option.id, parent, knobs, changeText(b, parent, knobs)) : null;
  }

  return {
    id: 'template',
    models: [],

    baseline(task: PlanningTask) {
      const b = bound(task.operation);
      const knobs = b.template.baseline(b.op);
      return { code: b.template.generate(b.op, knobs), params: { knobs } };
    },

    applicableOptions(task: PlanningTask, options: MenuOption[], parent?: CandidateView): MenuOption[] {
      const b = bound(task.operation);
      const acting = options.filter((o) => movableKnobs(b, o.id).length > 0);
      if (!parent) return acting;
      // From this parent, an option whose every move leaves the knobs as they are (the switch into
      // the library from the library itself) can do nothing either.
      const from = parentKnobs(b, parent.params);
      return acting.filter((o) => allMoves(b, from, [o.id], changes(from)).length > 0);
    },

    async propose(request: ProposeRequest): Promise<PlannerOutcome<Plan>> {
      const b = bound(request.task.operation);
      const parent = parentKnobs(b, request.parent.params);
      if (request.forced) return proposeForced(b, parent, request.forced, request.rng, request.tried);

      // A template cannot invent code outside its knobs, so an invent sample is an ordinary move.
      const offered: MenuOption[] = request.menu.filter((o) => movableKnobs(b, o.id).length > 0);
      if (offered.length === 0) {
        return {
          ok: false,
          error: `no menu option of this sample applies to the ${b.template.kind} template`,
          usage: [],
        };
      }
      const first = firstFromBaseline(b, parent, offered, request.tried);
      if (first) return { ok: true, value: first, usage: [] };
      const model = modelFor(b, request.evidence);
      if (exploits(model, request.evidence, request.rng)) {
        const ranked = modelPlan(b, parent, offered, model, request);
        if (ranked) return { ok: true, value: ranked, usage: [] };
      }
      // Draw the option, then the move; if the option cannot change anything here, try the others.
      // Kernels measured before are taken only when the offered options have nothing new.
      const passes = request.tried ? [untried(b, parent, request.tried), changes(parent)] : [changes(parent)];
      if (!model) {
        const composite = compositeFirst(b, parent, offered, request.rng, passes[0]!);
        if (composite) return { ok: true, value: composite, usage: [] };
      }
      for (const accept of passes) {
        const first = request.rng.int(offered.length);
        for (let i = 0; i < offered.length; i++) {
          const option = offered[(first + i) % offered.length]!;
          const knobs = randomMove(b, parent, option.id, request.rng, jumpProbability, accept);
          if (!knobs) continue;
          return { ok: true, value: plan(option.id, parent, knobs, changeText(b, parent, knobs)), usage: [] };
        }
      }
      return {
        ok: false,
        error: `no offered menu option can change the ${b.template.kind} knobs of this candidate`,
        usage: [],
      };
    },

    async implement(request): Promise<PlannerOutcome<Implementation[]>> {
      const b = bound(request.task.operation);
      const parent = parentKnobs(b, request.parent.params);
      const parsed = TemplateParamsSchema.safeParse(request.plan.params ?? {});
      if (!parsed.success) {
        return {
          ok: false,
          error: `The plan carries no template knobs (params.knobs); the template planner implements only its own plans`,
          usage: [],
        };
      }
      const first = legalize(b, parsed.data.knobs, parent);
      const chosen: Knobs[] = [first];
      // The first move from the baseline measures the reference a user gets without tuning, once:
      // the slot's other samples go to another option's plan (its modes are moves from it later).
      if (request.plan.optionId === b.template.firstMove && isBaseline(b, parent))
        return { ok: true, value: [implementation(b, parent, first)], usage: [] };
      // Further implementations: one neighbouring value of a knob the same option moves, so each
      // implementation measures a nearby point instead of repeating the first. When the option has
      // too few (a switch like restrict), neighbours of the other knobs fill the rest, so no sample
      // of the budget is spent on a missing or repeated implementation.
      // A fixed move (into the library, into Triton, into torch.compile) pins the knobs it switched:
      // a further implementation that moved them back would be another option's candidate.
      const movable = movableKnobs(b, request.plan.optionId);
      const fixed = b.template.fixedMoves?.[request.plan.optionId];
      const pinned = fixed ? Object.keys(fixed(b.op, parent)).filter((name) => first[name] !== parent[name]) : movable;
      const own = movable.filter((name) => !fixed || !pinned.includes(name));
      const others = b.template.knobs
        .map((k) => k.name)
        .filter((name) => !movable.includes(name) && !pinned.includes(name) && (b.legal.get(name)?.length ?? 0) > 1);
      const keepsMove = (v: Knobs): boolean => pinned.every((name) => v[name] === first[name]);
      const fresh = untried(b, parent, request.tried);
      const isNew = (v: Knobs): boolean => fresh(v) && !chosen.some((c) => sameKnobs(c, v));
      const model = modelFor(b, request.evidence);
      if (model && request.count > 1) {
        // With a model: the best predicted of every single move from the first implementation that
        // keeps the plan's move (its own knobs may move on), instead of random neighbours.
        const pool = allMoves(b, first, Object.keys(b.template.moves), isNew).filter(
          (m) => m.optionId === request.plan.optionId || keepsMove(m.knobs),
        );
        for (const v of rankKnobs(
          model,
          pool.map((m) => m.knobs),
        )) {
          if (chosen.length >= request.count) break;
          if (isNew(v)) chosen.push(v);
        }
      }
      for (const [names, group] of [
        [own, 'own'],
        [others, 'others'],
      ] as const) {
        const variants = names
          .flatMap((name) => {
            const values = b.legal.get(name)!;
            const at = nearestIndex(values, first[name]);
            return [at - 1, at + 1]
              .filter((i) => i >= 0 && i < values.length)
              .map((i) => legalize(b, { ...first, [name]: values[i]! }, first));
          })
          .filter((v) => group === 'own' || keepsMove(v));
        while (chosen.length < request.count && variants.length > 0) {
          const [v] = variants.splice(request.rng.int(variants.length), 1);
          if (isNew(v!)) chosen.push(v!);
        }
      }
      const value = chosen.map((knobs) => implementation(b, parent, knobs));
      // The first implementation is the plan itself: it keeps the plan's text (a ranked plan says
      // why the cost model chose it), except a seed step's, whose candidate says what it changed here.
      if (!request.plan.forced) value[0] = { ...value[0]!, plan: request.plan.text };
      return { ok: true, value, usage: [] };
    },

    async replay(request): Promise<PlannerOutcome<Implementation[]>> {
      const b = bound(request.task.operation);
      const parent = parentKnobs(b, request.parent.params);
      let knobs = parent;
      let applied = 0;
      for (const step of request.steps) {
        const targets = stepTargets(b, step);
        if (Object.keys(targets).length === 0) continue;
        knobs = legalize(b, { ...knobs, ...targets }, knobs);
        applied++;
      }
      if (applied === 0) {
        return {
          ok: false,
          error: `None of the seed's ${request.steps.length} steps carries knob values of the ${b.template.kind} template`,
          usage: [],
        };
      }
      const asReplayed = knobs;
      knobs = refit(b, request.steps.find((step) => step.source)?.source, knobs);
      const refitted = refitNotes(asReplayed, knobs);
      const notes = refitted.length ? ` (${refitted.join('; ')})` : '';
      if (sameKnobs(knobs, parent)) {
        return {
          ok: false,
          error: `Replaying the seed leaves the ${b.template.kind} knobs as they are for this shape`,
          usage: [],
        };
      }
      const fresh = untried(b, parent, request.tried);
      if (!fresh(knobs)) {
        // Another seed (or an earlier sample) landed on the same kernel: measure its nearest new
        // neighbour along the seed's last option instead of the same code twice.
        const last = [...request.steps].reverse().find((step) => movableKnobs(b, step.optionId).length > 0);
        const near = last ? randomMove(b, knobs, last.optionId, request.rng, 0, fresh) : null;
        if (near) {
          const moved = implementation(b, parent, near);
          return {
            ok: true,
            value: [
              {
                ...moved,
                plan: `${moved.plan ?? ''}${notes}; the replayed kernel was measured already in this search, so one knob of ${optionLabel(last!.optionId)} moved on from it`,
              },
            ],
            usage: [],
          };
        }
      }
      const replayed = implementation(b, parent, knobs);
      return { ok: true, value: [{ ...replayed, plan: `${replayed.plan ?? ''}${notes}` }], usage: [] };
    },
  };
}

/**
 * The knobs the last kernel of a lineage of steps was generated with: each step's knob values
 * (what a replay reads from it, under current names) applied in order over the template's baseline
 * for `op`. Stored values are kept as they are, not legalized, so a caller that shows them (an
 * export) sees what was measured, and must validate them itself: a stored schedule is outside input.
 */
export function lineageKnobs(
  template: KernelTemplate,
  op: Operation,
  steps: ReadonlyArray<Pick<ForcedStep, 'optionId' | 'params'>>,
): Knobs {
  const b = bind(template, op);
  let knobs = template.baseline(op);
  for (const step of steps) knobs = { ...knobs, ...stepTargets(b, step) };
  return knobs;
}
