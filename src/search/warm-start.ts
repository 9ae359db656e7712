/**
 * Warm start: choosing a search's seeds from the knowledge base, steering its plan slots along
 * them, and judging afterwards what each seed did for the search.
 *
 * Slots: the first optimize iteration replays each seed whole (one extra one-sample slot per seed
 * on the baseline, see SeedHook.replays), beside the baseline's normal slots. In every optimize
 * iteration, the first round(guidedShare x plansPerCandidate) slots of a parent follow the next
 * step of the seed its lineage descends from; the baseline's guided slots start the seeds at their
 * first step, one seed per slot in turn. A lineage whose seed has no step left, or that descends
 * from no seed, explores in every slot: reuse never stops exploration.
 */
import {
  SkbError,
  seedOfCandidate,
  type CandidateRecord,
  type Operation,
  type Schedule,
  type SearchSeed,
  type Step,
  type WarmStartConfig,
} from '../schedules/index.js';
import type { SeedHook } from './plan-slots.js';
import type { KnowledgeBase, RetrievalMatch } from './knowledge-base.js';
import type { ForcedStep } from './planner.js';

/** A seed schedule as the engine needs it. */
export interface SeedSchedule {
  scheduleId: string;
  steps: Step[];
  /** The operation the schedule was measured on. */
  operation: Operation;
}

/**
 * Whether a seed's step made the seed faster where it was measured. A guided slot spends one
 * sample of the budget on one step, so it follows only the steps that paid off there (a move to
 * torch.compile that tied with cuBLAS before the Triton kernel that won, say); the whole replay
 * still carries every step.
 */
function paidOff(step: Step): boolean {
  return step.latencyAfterMs < step.latencyBeforeMs;
}

/** Retrieves the seeds of a search (always within the target's hardware family) and names their reuse records. */
export async function chooseSeeds(
  kb: Pick<KnowledgeBase, 'similar'>,
  query: { searchId: string; operation: Operation; targetKey: string; warmStart: WarmStartConfig },
): Promise<SearchSeed[]> {
  const { warmStart } = query;
  if (!warmStart.enabled || warmStart.seeds === 0) return [];
  let matches: RetrievalMatch[];
  try {
    matches = await kb.similar({
      operation: query.operation,
      targetKey: query.targetKey,
      k: warmStart.seeds,
      tiers: warmStart.tiers,
    });
  } catch (error) {
    // A target nothing was ever stored for has no schedules to offer: the search runs cold.
    if (error instanceof SkbError && error.code === 'NOT_FOUND') return [];
    throw error;
  }
  return matches
    .filter((m) => m.schedule.steps.length > 0)
    .map((m, i) => ({
      scheduleId: m.schedule.id,
      tier: m.tier,
      distance: m.distance,
      // Derived from the search, so a resumed search finds the reuse records it already wrote.
      reuseId: `reu_${query.searchId}_${String(i).padStart(2, '0')}`,
      outcome: 'pending' as const,
    }));
}

function forcedStep(seed: SeedSchedule, stepIndex: number): ForcedStep {
  const step = seed.steps[stepIndex]!;
  return {
    optionId: step.optionId,
    plan: step.plan,
    ...(step.params ? { params: step.params } : {}),
    scheduleId: seed.scheduleId,
    stepIndex,
    source: seed.operation,
  };
}

/**
 * The engine's seed hook for these seeds. Stored steps are flat (a seed's replay is stored as the
 * seed's own steps), so guided slots can follow each of them; steps whose option is not on this
 * menu (an invented optimization, another toolchain's option) are skipped when slots are guided,
 * and the whole replay still carries them, since the planner re-fits their parameters.
 */
export function createSeedPlan(input: {
  seeds: SeedSchedule[];
  guidedShare: number;
  plansPerCandidate: number;
  menuOptionIds: Iterable<string>;
}): SeedHook {
  const seeds = input.seeds.filter((s) => s.steps.length > 0);
  const onMenu = new Set(input.menuOptionIds);
  const byId = new Map(seeds.map((s) => [s.scheduleId, s]));
  const guided = Math.round(input.guidedShare * input.plansPerCandidate);
  const nextOnMenu = (seed: SeedSchedule, from: number): ForcedStep | undefined => {
    for (let i = from; i < seed.steps.length; i++)
      if (onMenu.has(seed.steps[i]!.optionId) && paidOff(seed.steps[i]!)) return forcedStep(seed, i);
    return undefined;
  };
  return {
    replays: seeds.map((seed) => ({
      scheduleId: seed.scheduleId,
      steps: seed.steps.map((_, i) => forcedStep(seed, i)),
    })),
    forcedStep({ iteration, parent, planIndex, lineageSeed }) {
      if (planIndex >= guided || seeds.length === 0) return undefined;
      if (lineageSeed) {
        const seed = byId.get(lineageSeed.scheduleId);
        return seed ? nextOnMenu(seed, lineageSeed.stepIndex + 1) : undefined;
      }
      // Only the baseline starts seeds (its lineage is empty); other lineages descend from none and explore.
      if (parent.lineage.length > 0) return undefined;
      // Rotated by iteration, so a baseline that stays in the beam starts the other seeds too.
      return nextOnMenu(seeds[((iteration - 1) * guided + planIndex) % seeds.length]!, 0);
    },
  };
}

/** Seeds as the engine needs them, read from the store; a seed deleted since the search started is left out. */
export async function loadSeedSchedules(
  getSchedule: (id: string) => Promise<Schedule | null>,
  seeds: SearchSeed[],
): Promise<SeedSchedule[]> {
  const loaded = await Promise.all(seeds.map((s) => getSchedule(s.scheduleId)));
  return loaded
    .filter((s): s is Schedule => s !== null)
    .map((s) => ({ scheduleId: s.id, steps: s.steps, operation: s.operation }));
}

/**
 * What each seed did for a finished search: `improved` when the best candidate descends from it,
 * `replayed` when one of its descendants (the replay, a forced step, or what grew from them) was
 * correct and beat the baseline, else `failed`. `gain` is baseline / the fastest correct
 * descendant, left out when none was correct.
 */
export function judgeSeeds(
  seeds: SearchSeed[],
  candidates: CandidateRecord[],
  baselineMs: number,
  bestId: string,
): SearchSeed[] {
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const seedOf = new Map(candidates.map((c) => [c.id, seedOfCandidate(byId, c)?.scheduleId ?? null]));
  const best = byId.get(bestId);
  return seeds.map((seed) => {
    const fastest = candidates
      .filter(
        (c) =>
          c.parentId !== null &&
          c.correct &&
          !c.suspect &&
          c.latencyMs !== null &&
          c.latencyMs > 0 &&
          seedOf.get(c.id) === seed.scheduleId,
      )
      .reduce<number | null>((min, c) => (min === null || c.latencyMs! < min ? c.latencyMs! : min), null);
    const improved = best !== undefined && best.parentId !== null && seedOf.get(best.id) === seed.scheduleId;
    const outcome: SearchSeed['outcome'] = improved
      ? 'improved'
      : fastest !== null && fastest < baselineMs
        ? 'replayed'
        : 'failed';
    const { gain: _previous, ...rest } = seed;
    return { ...rest, outcome, ...(fastest !== null ? { gain: baselineMs / fastest } : {}) };
  });
}
