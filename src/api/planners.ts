import { SkbError, type SearchConfig } from '../schedules/index.js';
import { createLlmPlanner } from '../search/index.js';
import { menuFor } from '../search/index.js';
import { plannerSupport } from '../search/index.js';
import type { Planner } from '../search/index.js';
import { createTemplatePlanner } from '../search/index.js';
import type { Target } from '../targets/index.js';
import { kernelTemplateFor, tritonMatmulOptionsFor, type CTemplateOptions } from '../targets/index.js';
import type { Config } from './config.js';

/**
 * Builds the planner one search runs with. The search service passes the search's settings; where
 * it also passes the target, the planner is built for that target's toolchain and ISA, otherwise
 * for this machine (the C toolchain and its ISA), which is where the template planner measures.
 */
export type PlannerFactory = (config: SearchConfig, target?: Pick<Target, 'id' | 'toolchain'>) => Planner;

/** Why the LLM planner cannot run with this configuration, or null when it can. */
export function llmUnavailable(config: Pick<Config, 'openaiBaseUrl' | 'openaiApiKey'>): string | null {
  return config.openaiBaseUrl || config.openaiApiKey
    ? null
    : 'The llm planner needs an OpenAI-compatible endpoint: set SKB_OPENAI_BASE_URL (e.g. http://localhost:11434/v1) or SKB_OPENAI_API_KEY, or use planner "template"';
}

/** What the Triton template needs to know of a GPU target: from its fingerprint. */
export interface TargetGpu {
  computeCapability: string;
  smCount: number;
}

export interface PlannerFactoryDeps {
  config: Pick<Config, 'openaiBaseUrl' | 'openaiApiKey' | 'models'>;
  /**
   * ISA flags and thread allowance of the targets whose CPU was fingerprinted at start, by target
   * id, and of this machine. A target not listed gets scalar-only, single-threaded templates:
   * slower code, but code that builds there.
   */
  cpu: { byTarget: ReadonlyMap<string, CTemplateOptions>; local: CTemplateOptions };
  /**
   * Compute capability ("9.0") and SM count of the KernelBench targets whose GPU was fingerprinted
   * at start, by target id: the Triton template sizes its shared-memory tiles for the one and
   * re-fits seeds' tiles to the other. Others get the template's A100-safe default and no re-fit.
   */
  gpu?: { byTarget: ReadonlyMap<string, TargetGpu> };
}

/**
 * Planners by `config.planner`: "template" (the default; the registry's kernel templates for the
 * target's toolchain, built for its CPU's ISA or its GPU's shared memory and SMs; no network) or
 * "llm" (the configured OpenAI-compatible endpoint with the search's models, else SKB_MODELS).
 * A planner that cannot run on the toolchain is refused in plannerSupport's words.
 */
export function createPlannerFactory(deps: PlannerFactoryDeps): PlannerFactory {
  const { config } = deps;
  return (search, target) => {
    const toolchain = target?.toolchain.kind ?? 'c';
    const support = plannerSupport(search.planner, toolchain);
    if (!support.ok) throw new SkbError('BAD_INPUT', support.reason);
    if (search.planner === 'llm') {
      const missing = llmUnavailable(config);
      if (missing) throw new SkbError('BAD_INPUT', missing);
      return createLlmPlanner({
        ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
        ...(config.openaiApiKey ? { apiKey: config.openaiApiKey } : {}),
        models: search.models.length ? search.models : config.models,
        menu: menuFor(toolchain, { threads: target ? (deps.cpu.byTarget.get(target.id)?.threads ?? 1) : 1 }),
      });
    }
    if (toolchain === 'kernelbench') {
      const gpu = target ? deps.gpu?.byTarget.get(target.id) : undefined;
      const options = gpu ? tritonMatmulOptionsFor(gpu) : {};
      return createTemplatePlanner({ toolchain, templates: (kind) => kernelTemplateFor(toolchain, kind, options) });
    }
    const cpu = target ? (deps.cpu.byTarget.get(target.id) ?? { isa: [] }) : deps.cpu.local;
    return createTemplatePlanner({ toolchain, templates: (kind) => kernelTemplateFor(toolchain, kind, cpu) });
  };
}
