/**
 * Which planner can run which operation on which toolchain, decided in one place: the service
 * before it stores a search, the planner factory when it builds a planner and the template planner
 * when it meets an operation all ask `plannerSupport`, so a refusal reads the same wherever it
 * comes from.
 */
import type { SearchConfig } from '../schedules/index.js';
import { TEMPLATE_TOOLCHAINS, templateKinds } from '../targets/index.js';
import { MENU_TOOLCHAINS, hasMenu } from './menus/index.js';

/** The answer: the planner can run, or the sentence that says why not and what to use instead. */
export type PlannerSupport = { ok: true } | { ok: false; reason: string };

const OK: PlannerSupport = { ok: true };

/**
 * Whether `planner` can run an operation of kind `operationKind` on a target of the toolchain
 * `toolchain` (a targets file's `toolchain.kind`); without a kind, whether it can run on that
 * toolchain at all. Every planner needs the toolchain's optimization menu; the template planner
 * also needs a kernel template for the kind on that toolchain, while the LLM planner writes code
 * for any operation. Whether the LLM planner has an endpoint is the configuration's to say
 * (`llmUnavailable` in src/api/planners.ts).
 */
export function plannerSupport(
  planner: SearchConfig['planner'],
  toolchain: string,
  operationKind?: string,
): PlannerSupport {
  if (!hasMenu(toolchain)) {
    return {
      ok: false,
      reason: `No planner runs on the ${toolchain} toolchain: it has no optimization menu (menus exist for ${MENU_TOOLCHAINS.join(', ')})`,
    };
  }
  if (planner === 'llm') return OK;
  const kinds = templateKinds(toolchain);
  if (kinds.length === 0) {
    return {
      ok: false,
      reason: `The template planner has kernel templates for the ${TEMPLATE_TOOLCHAINS.join(' and ')} toolchains only, not for ${toolchain}: use the LLM planner (planner "llm")`,
    };
  }
  if (operationKind !== undefined && !kinds.includes(operationKind)) {
    return {
      ok: false,
      reason: `The template planner has no kernel template for ${operationKind} operations on the ${toolchain} toolchain (it has ${kinds.join(', ')}): use the LLM planner (planner "llm") for this operation`,
    };
  }
  return OK;
}
