/**
 * The LLM planner: Autocomp's plan-then-implement prompts sent to any OpenAI-compatible endpoint,
 * with the work of a search split round-robin across an ensemble of models. A reply that does not
 * follow the format is a failed sample (`ok: false` with its usage), never an exception.
 */
import { z } from 'zod';
import { SkbError, parseOrThrow, type Operation } from '../schedules/index.js';
import { naiveBaseline } from '../targets/index.js';
import { kernelBenchProblemFor } from '../targets/index.js';
import { createChatClient, type ChatClient } from './llm/chat-client.js';
import { parseCodeReply, parsePlanReply } from './llm/parse.js';
import { LANGUAGES, implementPrompt, planPrompt, replayPrompt, type Prompt } from './llm/prompts.js';
import { INVENTED_OPTION_ID, type Menu, type MenuOption } from './menus/menu.js';
import type { Implementation, Plan, Planner, PlannerOutcome, PlanningTask, Usage } from './planner.js';
import type { Rng } from './rng.js';

const OptionsSchema = z.object({
  baseURL: z.url('baseURL must be a URL such as http://localhost:11434/v1').optional(),
  apiKey: z.string().optional(),
  models: z
    .array(z.string().trim().min(1, 'model names must not be empty'))
    .min(1, 'name at least one model (SKB_MODELS)'),
  timeoutMs: z.number().int().positive().default(180_000),
  maxRetries: z.number().int().min(0).max(20).default(3),
  retryBaseMs: z.number().nonnegative().default(1_000),
  retryMaxMs: z.number().nonnegative().default(30_000),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().optional(),
});

export interface LlmPlannerOptions {
  /** OpenAI-compatible base URL (vLLM: http://host:8000/v1, Ollama: http://localhost:11434/v1); default the OpenAI API. */
  baseURL?: string;
  apiKey?: string;
  /** The ensemble: plan and implement requests go to these models in turn. */
  models: string[];
  /** The toolchain's menu: names forced options and chooses the code language and baseline. */
  menu: Menu;
  /** Limit of one model call in ms (default 180 000). */
  timeoutMs?: number;
  /** Retries of a call on 429, 5xx, timeouts and connection errors (default 3). */
  maxRetries?: number;
  /** First back-off delay in ms (default 1 000), doubled per retry with jitter, capped by retryMaxMs (default 30 000). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  temperature?: number;
  maxTokens?: number;
  /** KernelBench only: the problem source of an operation, whose Model becomes the baseline ModelNew (default: the generated gemm / batched_gemm problems). */
  problemFor?: (operation: Operation) => string;
}

type Counter = { next: number | undefined };

/**
 * The baseline of a KernelBench problem: its reference `Model` renamed `ModelNew`, calling the
 * same operations, without the input generators (the harness takes those from the problem).
 */
export function modelNewFromProblem(problemSource: string): string {
  if (!/^class Model\s*\(/m.test(problemSource)) {
    throw new SkbError(
      'BAD_INPUT',
      'The KernelBench problem defines no top-level `class Model(...)`; pass a problem whose reference module is named Model',
    );
  }
  const kept: string[] = [];
  let skipping = false;
  for (const line of problemSource.split('\n')) {
    const topLevel = line.length > 0 && !/^\s/.test(line);
    if (topLevel) skipping = /^def (get_inputs|get_init_inputs)\s*\(/.test(line);
    if (!skipping) kept.push(line);
  }
  return `${kept
    .join('\n')
    .replace(/^class Model(\s*\()/m, 'class ModelNew$1')
    .replace(/super\(\s*Model\s*,/g, 'super(ModelNew,')
    .replace(/\n{3,}$/, '\n')
    .trimEnd()}\n`;
}

/** Creates the LLM planner. Throws CONFIG for unusable options (no models, bad URL). */
export function createLlmPlanner(options: LlmPlannerOptions): Planner {
  const settings = parseOrThrow(
    OptionsSchema,
    { ...options, menu: undefined, problemFor: undefined },
    'Invalid LLM planner settings',
    'CONFIG',
  );
  const { menu } = options;
  const language = LANGUAGES[menu.toolchain];
  const problemFor = options.problemFor ?? kernelBenchProblemFor;
  const client: ChatClient = createChatClient({
    ...(settings.baseURL ? { baseURL: settings.baseURL } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
    timeoutMs: settings.timeoutMs,
    maxRetries: settings.maxRetries,
    retryBaseMs: settings.retryBaseMs,
    retryMaxMs: settings.retryMaxMs,
    ...(settings.temperature !== undefined ? { temperature: settings.temperature } : {}),
    ...(settings.maxTokens !== undefined ? { maxTokens: settings.maxTokens } : {}),
  });
  const models = settings.models;
  const known = new Map<string, MenuOption>([...menu.options, ...menu.translateOptions].map((o) => [o.id, o]));
  // Autocomp splits requests across the ensemble; the starting model comes from the search's rng,
  // so a search with the same seed sends the same requests to the same models.
  const counters: Record<Usage['purpose'], Counter> = { plan: { next: undefined }, implement: { next: undefined } };
  const pickModel = (purpose: Usage['purpose'], rng: Rng): string => {
    const counter = counters[purpose];
    const index = counter.next ?? rng.int(models.length);
    counter.next = (index + 1) % models.length;
    return models[index] as string;
  };
  const optionFor = (id: string, offered: MenuOption[]): MenuOption =>
    known.get(id) ?? offered.find((o) => o.id === id) ?? { id, label: id, description: '' };

  async function implementOnce(
    prompt: Prompt,
    model: string,
    signal: AbortSignal | undefined,
  ): Promise<PlannerOutcome<Implementation>> {
    const reply = await client.complete({ model, prompt, purpose: 'implement', ...(signal ? { signal } : {}) });
    if (!reply.ok) return reply;
    const code = parseCodeReply(reply.text);
    if (!code.ok) return { ok: false, error: `${model}: ${code.error}`, usage: reply.usage };
    return { ok: true, value: { code: code.value.code, model }, usage: reply.usage };
  }

  return {
    id: 'llm',
    models: [...models],

    baseline(task: PlanningTask) {
      return {
        code:
          menu.toolchain === 'c'
            ? naiveBaseline(task.operation)
            : modelNewFromProblem(task.problemSource ?? problemFor(task.operation)),
      };
    },

    async propose(request) {
      const forced = request.forced
        ? { step: request.forced, option: optionFor(request.forced.optionId, request.menu) }
        : undefined;
      const invent = request.invent && !forced;
      const allowed = new Set(
        forced ? [forced.option.id] : invent ? [INVENTED_OPTION_ID] : request.menu.map((o) => o.id),
      );
      if (allowed.size === 0) return { ok: false, error: 'the plan sample was given an empty menu', usage: [] };
      const prompt = planPrompt({
        task: request.task,
        parent: request.parent,
        iteration: request.iteration,
        iterations: request.iterations,
        phase: request.phase,
        menu: request.menu,
        invent,
        ...(forced ? { forced } : {}),
        rules: request.rules,
        language,
      });
      const model = pickModel('plan', request.rng);
      const reply = await client.complete({
        model,
        prompt,
        purpose: 'plan',
        ...(request.signal ? { signal: request.signal } : {}),
      });
      if (!reply.ok) return reply;
      const plan = parsePlanReply(reply.text, invent ? [] : forced ? [forced.option] : request.menu, allowed);
      if (!plan.ok) return { ok: false, error: `${model}: ${plan.error}`, usage: reply.usage };
      const { optionId, text, name } = plan.value;
      const value: Plan = {
        optionId,
        optionLabel:
          optionId === INVENTED_OPTION_ID ? (name ?? 'Invented optimization') : optionFor(optionId, request.menu).label,
        text,
        model,
        ...(request.forced ? { forced: request.forced } : {}),
      };
      return { ok: true, value, usage: reply.usage };
    },

    async implement(request) {
      const prompt = implementPrompt({
        task: request.task,
        parent: request.parent,
        optionId: request.plan.optionId,
        optionLabel: request.plan.optionLabel,
        plan: request.plan.text,
        rules: request.rules,
        language,
      });
      const chosen = Array.from({ length: Math.max(0, request.count) }, () => pickModel('implement', request.rng));
      const results = await Promise.all(chosen.map((model) => implementOnce(prompt, model, request.signal)));
      const usage = results.flatMap((r) => r.usage);
      const done = results.flatMap((r) => (r.ok ? [r.value] : []));
      // Some implementations may fail while others succeed: the engine gets the good ones, and
      // the shortfall against `count` is the number of failed samples.
      if (done.length) return { ok: true, value: done, usage };
      const errors = results.flatMap((r) => (r.ok ? [] : [r.error]));
      return { ok: false, error: errors.join('; ') || 'no implementation was requested', usage };
    },

    async replay(request) {
      if (!request.steps.length) return { ok: false, error: 'a replay needs at least one step', usage: [] };
      const prompt = replayPrompt({
        task: request.task,
        parent: request.parent,
        steps: request.steps.map((step) => ({ step, label: optionFor(step.optionId, []).label })),
        rules: request.rules,
        language,
      });
      const result = await implementOnce(prompt, pickModel('implement', request.rng), request.signal);
      return result.ok ? { ok: true, value: [result.value], usage: result.usage } : result;
    },
  };
}
