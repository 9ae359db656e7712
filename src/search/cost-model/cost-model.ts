/**
 * The cost model of the template planner: a random forest (ml-random-forest) that predicts, for one
 * template, how long a kernel takes per flop from its knobs and its operation's sizes, trained on
 * measured points of the knowledge base and of the running search. It ranks moves before they are
 * measured; it is never the truth, only derived data rebuilt from the points it is given.
 *
 * The learner's split search is quadratic in the samples, so a model trains on at most
 * MAX_TRAINING_POINTS (see training-set.ts for which): about a second on one core.
 */
import { RandomForestRegression } from 'ml-random-forest';
import { canonicalJson, flopCount, knobsOf, type MeasuredPoint, type Operation } from '../../schedules/index.js';
import type { KernelTemplate, Knobs } from '../../targets/index.js';
import { featureEncoder } from './features.js';

/** Fewer distinct points than this and the model would only echo noise: no model. */
export const MIN_TRAINING_POINTS = 6;

/** Most points one model trains on. */
export const MAX_TRAINING_POINTS = 320;

/**
 * Every tree sees every feature (ml-random-forest draws a tree's features with replacement when
 * `replacement` is set, and a tree without the pack column cannot learn the valley); the trees
 * differ by their bootstrap sample. ml-cart's regression trees stop at a split that leaves no error
 * (it takes the error as a gain that must exceed the threshold), so the threshold is below zero.
 */
const FOREST = {
  nEstimators: 32,
  maxFeatures: 1.0,
  replacement: false,
  useSampleBagging: true,
  noOOB: true,
  treeOptions: { maxDepth: 12, minNumSamples: 2, gainThreshold: -1 },
} as const;

/** A trained model for one template and one operation. */
export interface CostModel {
  /** Distinct (shape, knobs) points it was trained on. */
  readonly points: number;
  /** Predicted ln(ms per flop) of each knob set on the model's operation: lower is faster. */
  predict(knobs: readonly Knobs[]): number[];
}

/** ln(ms per flop): comparable across the shapes of one structure. */
function target(point: MeasuredPoint): number {
  return Math.log(point.latencyMs) - Math.log(Math.max(1, flopCount(point.operation)));
}

/**
 * Trains a model for `template` on `op` from `points` (all of op's structure), or returns null when
 * fewer than MIN_TRAINING_POINTS distinct ones carry knobs. Points measured more than once (the same
 * shape and knobs) are averaged. Deterministic: the same points in the same order and the same
 * `seed` give the same model.
 */
export function trainCostModel(
  template: KernelTemplate,
  op: Operation,
  points: readonly MeasuredPoint[],
  seed: number,
): CostModel | null {
  const encoder = featureEncoder(template, op);
  const byKey = new Map<string, { x: number[]; sum: number; n: number }>();
  for (const point of points) {
    const knobs = knobsOf(point);
    if (!knobs || !(point.latencyMs > 0)) continue;
    const key = canonicalJson({ dims: point.operation.dims, knobs });
    const seen = byKey.get(key);
    if (seen) {
      seen.sum += target(point);
      seen.n++;
    } else byKey.set(key, { x: encoder.encode(point.operation, knobs), sum: target(point), n: 1 });
  }
  const rows = [...byKey.values()];
  if (rows.length < MIN_TRAINING_POINTS) return null;
  const forest = new RandomForestRegression({
    ...FOREST,
    treeOptions: { ...FOREST.treeOptions },
    seed: seed % 2 ** 31,
  });
  forest.train(
    rows.map((r) => r.x),
    rows.map((r) => r.sum / r.n),
  );
  return {
    points: rows.length,
    predict(knobs) {
      if (knobs.length === 0) return [];
      return forest.predict(knobs.map((k) => encoder.encode(op, k)));
    },
  };
}
