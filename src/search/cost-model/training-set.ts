/**
 * Which measured points a cost model trains on, at most MAX_TRAINING_POINTS: the running search's
 * own (they are of this very shape; the latest when there are too many), then the knowledge base's,
 * nearest shape first, so a large knowledge base lends the shapes most like this one.
 */
import type { MeasuredPoint, Operation } from '../../schedules/index.js';
import { shapeDistance } from '../shape-distance.js';
import { MAX_TRAINING_POINTS } from './cost-model.js';

/** Most of the cap the search's own points may take, so the knowledge base always lends some. */
const OWN_SHARE = 0.75;

export function trainingSet(
  op: Operation,
  own: readonly MeasuredPoint[],
  prior: readonly MeasuredPoint[],
  max = MAX_TRAINING_POINTS,
): MeasuredPoint[] {
  const mine = own.slice(-Math.floor(max * OWN_SHARE));
  const room = max - mine.length;
  const lent = prior
    .map((point, index) => ({ point, index, distance: shapeDistance(point.operation.dims, op.dims) }))
    .sort((a, b) => a.distance - b.distance || a.index - b.index)
    .slice(0, room)
    .map((p) => p.point);
  return [...lent, ...mine];
}
