/**
 * Notes a search appends to a step's plan text that are about that search, not about the
 * optimization: a replay's `(here: ...)`, what the replay set on this machine, and the template
 * planner's cost-model pick (how many moves it ranked, what it predicted, on how many kernels).
 * They are written and read here only, so a step carried into another schedule (a replayed seed's
 * step) can leave behind what was true only of the search that made it.
 */

/** The cost model's pick as the template planner states it. */
export interface CostModelPick {
  moves: number;
  predictedGflops: number;
  trainedOn: number;
}

/** What withCostModelNote appends, whatever figures it printed (a prediction may read NaN). */
const COST_MODEL_NOTE = / \(the cost model's pick of [^()]*\)$/;

/** The plan with the cost model's pick appended: `... (the cost model's pick of N moves, ...)`. */
export function withCostModelNote(plan: string, pick: CostModelPick): string {
  return `${plan} (the cost model's pick of ${pick.moves} moves, predicted ${pick.predictedGflops.toFixed(1)} GFLOP/s, trained on ${pick.trainedOn} measured kernels)`;
}

/** The plan without a cost-model note at its end (a replayed step's: that model was another search's). */
export function withoutCostModelNote(plan: string): string {
  return plan.replace(COST_MODEL_NOTE, '');
}

/** A replay's plan with what it set here appended. */
export function withHereNote(plan: string, here: string | undefined): string {
  return here ? `${plan} (here: ${here})` : plan;
}

/**
 * A step's text apart from the `(here: ...)` note a replay appends: the note, or null when the
 * text does not end in one. The note holds plan text, parentheses and all, so its start is found
 * by balancing them from the end.
 */
export function splitHereNote(text: string): { body: string; here: string | null } {
  const trimmed = text.trim();
  const none = { body: trimmed, here: null };
  if (!trimmed.endsWith(')')) return none;
  let depth = 0;
  for (let i = trimmed.length - 1; i >= 0; i--) {
    if (trimmed[i] === ')') depth++;
    else if (trimmed[i] === '(' && --depth === 0) {
      return trimmed.startsWith('(here: ', i)
        ? { body: trimmed.slice(0, i).trimEnd(), here: trimmed.slice(i + '(here: '.length, -1) }
        : none;
    }
  }
  return none;
}
