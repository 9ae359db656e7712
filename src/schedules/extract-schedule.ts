/**
 * Extraction of a schedule from a search that ended with a result: the steps from the root to the
 * best candidate (a seed's replay among them is flattened by the store, see flatten-replays.ts),
 * the seeds that lineage descends from, with the siblings along that path that failed or were slower kept as negative
 * evidence for later searches, and every measured candidate's parameters and latency for the cost
 * model.
 */
import {
  INVENTED_OPTION_ID,
  OPTION_ID_PATTERN,
  MAX_MEASUREMENTS,
  type Measurement,
  type NegativeStep,
  type ScheduleContentInput,
  type Step,
} from './schedule.js';
import type { CandidateRecord } from './candidate.js';
import { derivationsOf } from './lineage.js';
import type { LineageStep, SearchRecord } from './search.js';

const MAX_PLAN = 20_000;
const MAX_NEGATIVES = 1024;

export interface ExtractScheduleInput {
  search: SearchRecord;
  /** Every candidate of the search. */
  candidates: CandidateRecord[];
  /** The lineage of the best candidate (the engine's, or `lineageOf` for a cancelled search). */
  lineage: LineageStep[];
  baselineLatencyMs: number;
  bestLatencyMs: number;
  samplesUsed: number;
  /** Key of the target the search measured on. */
  targetKey: string;
  /** The toolchain versions of that target (see toolchainVersionsOf), recorded as evidence. */
  toolchain: Record<string, string>;
  /** Planner id ("template", "llm") and the models that wrote plans and code. */
  planner: string;
  models: string[];
  createdAt?: string;
}

/**
 * The schedule of a search, or null when no step improved on the baseline (nothing worth storing).
 * The result is schedule content as the store validates it.
 */
export function extractSchedule(input: ExtractScheduleInput): ScheduleContentInput | null {
  const { search, candidates, lineage } = input;
  if (lineage.length === 0 || !(input.bestLatencyMs < input.baselineLatencyMs)) return null;
  const root = candidates.find((c) => c.parentId === null);
  if (!root) return null;

  const steps: Step[] = lineage.map((s) => ({
    optionId: OPTION_ID_PATTERN.test(s.optionId) ? s.optionId : INVENTED_OPTION_ID,
    optionLabel: (s.optionLabel || s.optionId).slice(0, 200),
    plan: s.plan.slice(0, MAX_PLAN),
    ...(s.params ? { params: s.params as Step['params'] } : {}),
    latencyBeforeMs: s.latencyBeforeMs,
    latencyAfterMs: s.latencyAfterMs,
  }));

  const path = [root.id, ...lineage.map((s) => s.candidateId)];
  const negatives: NegativeStep[] = [];
  const childrenOf = new Map<string, CandidateRecord[]>();
  for (const c of candidates) {
    if (c.parentId) childrenOf.set(c.parentId, [...(childrenOf.get(c.parentId) ?? []), c]);
  }
  for (const [atStep, id] of path.entries()) {
    const parent = candidates.find((c) => c.id === id);
    const onPath = path[atStep + 1];
    for (const c of childrenOf.get(id) ?? []) {
      if (c.id === onPath || c.optionId === null || !OPTION_ID_PATTERN.test(c.optionId) || !c.plan) continue;
      const slower =
        c.correct &&
        c.latencyMs !== null &&
        !c.admitted &&
        parent?.latencyMs != null &&
        c.latencyMs >= parent.latencyMs;
      if (c.correct && !slower) continue;
      negatives.push({
        optionId: c.optionId,
        plan: c.plan.slice(0, MAX_PLAN),
        ...(c.params ? { params: c.params as NegativeStep['params'] } : {}),
        outcome: c.correct ? 'regressed' : 'failed',
        atStep,
        ...(c.latencyMs !== null && c.latencyMs > 0 ? { latencyMs: c.latencyMs } : {}),
      });
    }
  }

  const byId = new Map(candidates.map((c) => [c.id, c]));
  const best = byId.get(path.at(-1)!);
  const derivedFrom = derivationsOf(
    path.map((id) => byId.get(id)).filter((c): c is CandidateRecord => c !== undefined),
    search.seeds,
  );

  const measurements: Measurement[] = candidates
    .filter((c) => c.correct && c.latencyMs !== null && c.latencyMs > 0 && c.params)
    .slice(0, MAX_MEASUREMENTS)
    .map((c) => ({ params: c.params as Measurement['params'], latencyMs: c.latencyMs! }));

  return {
    operation: search.task.operation,
    targetKey: input.targetKey,
    steps,
    negatives: negatives.slice(0, MAX_NEGATIVES),
    ...(measurements.length ? { measurements } : {}),
    ...(derivedFrom.length ? { derivedFrom } : {}),
    evidence: { ...(best?.evidence ? { correctness: best.evidence } : {}), toolchain: input.toolchain },
    finalCode: candidates.find((c) => c.id === path.at(-1))?.code ?? '',
    baselineLatencyMs: input.baselineLatencyMs,
    bestLatencyMs: input.bestLatencyMs,
    samplesUsed: input.samplesUsed,
    settings: { ...search.config },
    models: [...new Set(input.models)].slice(0, 32),
    provenance: { source: 'search', searchId: search.id, planner: input.planner },
    createdAt: input.createdAt ?? new Date().toISOString(),
  };
}
