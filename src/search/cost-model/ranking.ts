/**
 * The cost model as the template planner uses it: one model per (iteration's evidence, template
 * kind), trained once and cached for every slot of the iteration; moves ranked by it; and the
 * epsilon-greedy rule that decides whether a plan slot takes the model's best or explores.
 *
 * Epsilon-greedy rather than an upper-confidence rule: the spread of a forest's trees is no
 * calibrated uncertainty with a few dozen points, while a fixed share of random moves is easy to
 * state, never drops to zero, and its random moves are exactly what the planner did before it had
 * a model, so a wrong model costs at most the share of slots it decides.
 */
import type { KernelTemplate, Knobs } from '../../targets/index.js';
import type { SearchEvidence } from '../planner.js';
import type { Rng } from '../rng.js';
import type { Bound, Move } from '../template-moves.js';
import { trainCostModel, type CostModel } from './cost-model.js';
import { trainingSet } from './training-set.js';

const cache = new WeakMap<SearchEvidence, Map<KernelTemplate, CostModel | null>>();

/** The model of this iteration's evidence for `b`'s template and operation, or null without enough points. */
export function modelFor(b: Bound, evidence: SearchEvidence | undefined): CostModel | null {
  if (!evidence) return null;
  let models = cache.get(evidence);
  if (!models) {
    models = new Map();
    cache.set(evidence, models);
  }
  if (!models.has(b.template)) {
    const points = trainingSet(b.op, evidence.own, evidence.prior);
    models.set(b.template, trainCostModel(b.template, b.op, points, evidence.seed));
  }
  return models.get(b.template)!;
}

/**
 * Whether this slot takes the model's ranking: only with a model, and then with probability
 * 1 - explore. The draw is made only when there is a model, so a search with no training data
 * draws (and plans) exactly as the planner did before it had one.
 */
export function exploits(model: CostModel | null, evidence: SearchEvidence | undefined, rng: Rng): model is CostModel {
  return model !== null && evidence !== undefined && rng.next() >= evidence.explore;
}

/** A move with the model's prediction: ln(ms per flop), lower is faster. */
export interface RankedMove extends Move {
  predicted: number;
}

/** Moves sorted by predicted time, fastest first; equal predictions keep their order. */
export function rankMoves(model: CostModel, moves: readonly Move[]): RankedMove[] {
  const predicted = model.predict(moves.map((m) => m.knobs));
  return moves
    .map((m, i) => ({ ...m, predicted: predicted[i]!, index: i }))
    .sort((a, b) => a.predicted - b.predicted || a.index - b.index)
    .map(({ index: _index, ...m }) => m);
}

/** Knob sets sorted by predicted time, fastest first. */
export function rankKnobs(model: CostModel, knobs: readonly Knobs[]): Knobs[] {
  return rankMoves(
    model,
    knobs.map((k) => ({ optionId: '', knobs: k })),
  ).map((m) => m.knobs);
}

/** The GFLOP/s a prediction (ln(ms per flop)) stands for. */
export function predictedGflops(predicted: number): number {
  // predicted = ln(ms / flop), so flop / (ms * 1e6) = 1 / (e^predicted * 1e6).
  return 1 / (Math.exp(predicted) * 1e6);
}
