import type { MeasuredPoint, Operation } from '../schedules/index.js';
import type { MenuOption } from './menus/menu.js';
import type { Rng } from './rng.js';

/** What a planner sees of a candidate: its code, its measurement and, for templates, its knob values. */
export interface CandidateView {
  id: string;
  code: string;
  latencyMs: number;
  /** Feedback lines from the evaluation (achieved GFLOP/s, fraction of peak, ...). */
  feedback: string[];
  /** Planner-specific state, e.g. the template's knob values. */
  params?: Record<string, unknown>;
  /** The accepted plans from the root to this candidate, in order. */
  lineage: Array<{ optionId: string; plan: string }>;
}

/** The task as planners see it. */
export interface PlanningTask {
  operation: Operation;
  /** Short hardware description for prompts, from the target. */
  hardware: string;
  /** The toolchain's contract for candidate code (signature, layouts, epilogue). */
  contract: string;
  /** KernelBench targets: the task's own problem source (Model, get_inputs), when it gave one. */
  problemSource?: string;
}

/**
 * A step a plan must follow: used by warm start to steer a plan slot to the next step of a seed
 * schedule (the option is forced; the seed's plan text and parameters are hints).
 */
export interface ForcedStep {
  optionId: string;
  plan: string;
  params?: Record<string, unknown>;
  /** The schedule the step comes from. */
  scheduleId: string;
  stepIndex: number;
  /** The operation that schedule was measured on: planners re-fit the step's parameters from its sizes. */
  source?: Operation;
}

/**
 * Whether this search has already evaluated exactly this code. A planner that can choose among
 * many moves (the template planner) avoids spending a sample on a kernel measured before.
 */
export type TriedCode = (code: string) => boolean;

/**
 * What a planner may learn from before it plans: measured points of this operation's structure on
 * this hardware family. One object per iteration (a learner may cache what it derives from it);
 * the same stored samples give the same evidence, so a resumed search plans as its first run did.
 */
export interface SearchEvidence {
  /** The knowledge base's points, read once when the search starts (none for a cold search). */
  readonly prior: readonly MeasuredPoint[];
  /** This search's correct, measured candidates before this iteration, in sample order. */
  readonly own: readonly MeasuredPoint[];
  /** For a learner's own randomness: derived from the search's seed and the iteration. */
  readonly seed: number;
  /** Share of plan slots that explore (a random legal move) instead of taking the model's best (SearchConfig.explore). */
  readonly explore: number;
}

export interface ProposeRequest {
  task: PlanningTask;
  parent: CandidateView;
  /** 1-based iteration and the planned total ("phase i of T"). */
  iteration: number;
  iterations: number;
  phase: 'translate' | 'optimize';
  /** Menu of this plan sample, after dropout (each sample gets its own subset). */
  menu: MenuOption[];
  /** Ask for an optimization not on the menu instead (Autocomp's escape). */
  invent: boolean;
  forced?: ForcedStep;
  rules: string[];
  rng: Rng;
  tried?: TriedCode;
  evidence?: SearchEvidence;
  signal?: AbortSignal;
}

export interface Plan {
  optionId: string;
  optionLabel: string;
  text: string;
  /** Structured parameters (knob changes) where the planner has them. */
  params?: Record<string, unknown>;
  /** The forced seed step this plan follows, when any. */
  forced?: ForcedStep;
  /** Model that wrote the plan, when an LLM did. */
  model?: string;
}

export interface ImplementRequest {
  task: PlanningTask;
  parent: CandidateView;
  plan: Plan;
  /** How many implementations to return (Autocomp samples several per plan). */
  count: number;
  rules: string[];
  rng: Rng;
  tried?: TriedCode;
  evidence?: SearchEvidence;
  signal?: AbortSignal;
}

export interface Implementation {
  code: string;
  /** What this implementation did, when it differs from the plan's text (a template variant moves a neighbouring value). */
  plan?: string;
  /** Planner state of the new candidate (e.g. the template's knob values after the move). */
  params?: Record<string, unknown>;
  model?: string;
}

export interface ReplayRequest {
  task: PlanningTask;
  parent: CandidateView;
  steps: ForcedStep[];
  rules: string[];
  rng: Rng;
  tried?: TriedCode;
  signal?: AbortSignal;
}

/** Token usage of one model call. */
export interface Usage {
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** What the call was for. */
  purpose: 'plan' | 'implement';
  durationMs: number;
}

/** A planner returns its work or, for one sample, a failure that counts as a failed sample. */
export type PlannerOutcome<T> = { ok: true; value: T; usage: Usage[] } | { ok: false; error: string; usage: Usage[] };

/**
 * Plan-then-implement. `propose` returns one plan for one plan sample (the engine asks once per
 * sample, each with its own dropout menu); `implement` turns a plan into `count` code versions.
 * Neither throws for a bad model reply: they return `ok: false`, and the engine counts it.
 */
export interface Planner {
  /** "template" or "llm". */
  readonly id: string;
  /** Model names (empty for the template planner). */
  readonly models: string[];
  /** The root candidate's code and params for a task (the naive baseline, or a given code). */
  baseline(task: PlanningTask): { code: string; params?: Record<string, unknown> };
  /**
   * The options of `options` this planner can act on for the task (from `parent`, where given);
   * each sample's dropout menu is drawn from them, so no sample is spent on a menu the planner can
   * do nothing with. Optional: without it (an LLM can act on any option) every option is drawn from.
   */
  applicableOptions?(task: PlanningTask, options: MenuOption[], parent?: CandidateView): MenuOption[];
  propose(request: ProposeRequest): Promise<PlannerOutcome<Plan>>;
  implement(request: ImplementRequest): Promise<PlannerOutcome<Implementation[]>>;
  /**
   * Warm start, iteration 1: replay a seed's whole sequence on the baseline in one go (template:
   * knobs re-fitted to the new sizes; LLM: the ordered plan list in one implement call).
   * Optional: a planner without it gets no replay slot.
   */
  replay?(request: ReplayRequest): Promise<PlannerOutcome<Implementation[]>>;
}
