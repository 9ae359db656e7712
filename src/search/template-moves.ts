/**
 * Knob moves on one template bound to one operation: snapping knobs to the legal values of the
 * shape, seeds' knobs re-fitted to it, a random move of a menu option (what the template planner
 * does without a cost model), and every legal move of the offered options (what a cost model
 * ranks): single-knob moves and the template's composite moves.
 */
import { flopCount, knobsOf, type MeasuredPoint, type Operation } from '../schedules/index.js';
import { currentKnobNames, type KernelTemplate, type KnobSpec, type KnobValue, type Knobs } from '../targets/index.js';
import type { Rng } from './rng.js';

/** Random draws tried before falling back to an exhaustive scan for a move that changes the knobs. */
const RANDOM_ATTEMPTS = 24;

/** One template bound to one operation: knob specs with their legal values for that shape. */
export interface Bound {
  template: KernelTemplate;
  op: Operation;
  specs: Map<string, KnobSpec>;
  legal: Map<string, KnobValue[]>;
}

export function bind(template: KernelTemplate, op: Operation): Bound {
  const specs = new Map(template.knobs.map((k) => [k.name, k]));
  const legal = new Map(template.knobs.map((k) => [k.name, k.values(op)]));
  return { template, op, specs, legal };
}

export function sameKnobs(a: Knobs, b: Knobs): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

/** The knobs `after` sets to another value than `before`. */
export function diff(before: Knobs, after: Knobs): Knobs {
  const changed: Knobs = {};
  for (const [k, v] of Object.entries(after)) if (before[k] !== v) changed[k] = v;
  return changed;
}

/** Index of `value` in `values`, or of the nearest value (log-ratio for numbers) when absent. */
export function nearestIndex(values: readonly KnobValue[], value: KnobValue | undefined): number {
  const exact = values.indexOf(value as KnobValue);
  if (exact >= 0 || typeof value !== 'number') return Math.max(exact, 0);
  let best = 0;
  let bestDistance = Infinity;
  values.forEach((v, i) => {
    if (typeof v !== 'number') return;
    const d = v > 0 && value > 0 ? Math.abs(Math.log(v / value)) : Math.abs(v - value);
    if (d < bestDistance) {
      best = i;
      bestDistance = d;
    }
  });
  return best;
}

/**
 * Snaps every knob to a legal value for this shape (a tile of 256 on a 64-wide matrix becomes the
 * nearest legal tile), fills missing knobs from `fallback`, then lets the template resolve
 * combinations it does not support. Knobs stored under an old name count as the knob they became.
 */
export function legalize(b: Bound, stored: Knobs, fallback: Knobs): Knobs {
  const knobs = currentKnobNames(b.template, stored);
  const snapped: Knobs = {};
  for (const spec of b.template.knobs) {
    const values = b.legal.get(spec.name)!;
    const wanted = knobs[spec.name] ?? fallback[spec.name];
    if (wanted !== undefined && values.includes(wanted)) snapped[spec.name] = wanted;
    else if (typeof wanted === 'number') snapped[spec.name] = values[nearestIndex(values, wanted)]!;
    else snapped[spec.name] = fallback[spec.name] ?? values[0]!;
  }
  return b.template.legalize(b.op, snapped);
}

/** The template's re-fit of knobs a seed chose for `source` to this operation, legalized; as they are without either. */
export function refit(b: Bound, source: Operation | undefined, knobs: Knobs): Knobs {
  if (!source || !b.template.refit) return knobs;
  return legalize(b, b.template.refit(source, b.op, knobs), knobs);
}

/** Knobs an option moves on this template, keeping only those with a choice for this shape. */
export function movableKnobs(b: Bound, optionId: string): string[] {
  return (b.template.moves[optionId] ?? []).filter((name) => (b.legal.get(name)?.length ?? 0) > 1);
}

/** Whether a move is worth a sample: it changes the knobs, and (when the search says) its code is new. */
export type Accept = (knobs: Knobs) => boolean;

/** The option's composite moves from `parent`, legalized for this shape (none when it has none). */
function compositeMoves(b: Bound, parent: Knobs, optionId: string): Knobs[] {
  const sets = b.template.composites?.[optionId]?.(b.op) ?? [];
  return sets.map((set) => legalize(b, { ...parent, ...set }, parent));
}

/**
 * A random legal move of `optionId` that `accept` takes: one of its composite moves when it has
 * any that is new, else one knob moved, mostly to a neighbouring value, sometimes a jump.
 */
export function randomMove(
  b: Bound,
  parent: Knobs,
  optionId: string,
  rng: Rng,
  jumpProbability: number,
  accept: Accept,
): Knobs | null {
  const names = movableKnobs(b, optionId);
  if (names.length === 0) return null;
  const base = moveBase(b, parent);
  const fixed = b.template.fixedMoves?.[optionId];
  if (fixed) {
    const moved = legalize(b, { ...parent, ...fixed(b.op, parent) }, parent);
    return accept(moved) ? moved : null;
  }
  const composites = compositeMoves(b, parent, optionId).filter(accept);
  if (composites.length > 0) return composites[rng.int(composites.length)]!;
  for (let attempt = 0; attempt < RANDOM_ATTEMPTS; attempt++) {
    const name = names[rng.int(names.length)]!;
    const values = b.legal.get(name)!;
    const at = nearestIndex(values, base[name]);
    let next: number;
    if (rng.next() < jumpProbability) {
      next = rng.int(values.length - 1);
      if (next >= at) next++;
    } else {
      const neighbours = [at - 1, at + 1].filter((i) => i >= 0 && i < values.length);
      next = neighbours[rng.int(neighbours.length)]!;
    }
    const moved = legalize(b, { ...base, [name]: values[next]! }, parent);
    if (accept(moved)) return moved;
  }
  // The template may fold many values back onto the parent's (combination rules), and the
  // search may have measured the rest already; scan in order.
  for (const name of names) {
    for (const value of b.legal.get(name)!) {
      if (value === base[name]) continue;
      const moved = legalize(b, { ...base, [name]: value }, parent);
      if (accept(moved)) return moved;
    }
  }
  return null;
}

/** Where single-knob moves from `parent` start: the template's move base, else the parent. */
function moveBase(b: Bound, parent: Knobs): Knobs {
  return b.template.moveBase?.(b.op, parent) ?? parent;
}

/** One legal move and the menu option it realizes. */
export interface Move {
  optionId: string;
  knobs: Knobs;
  /** For a configuration taken from a measured point of another shape: that shape's operation. */
  from?: Operation;
}

/**
 * Every distinct legal move of the offered options from `parent` that `accept` takes, in option
 * order: the fixed move, the composite moves, then every other legal value of each knob the option
 * moves. What a cost model ranks; a knob set reached by two options keeps the first.
 */
export function allMoves(b: Bound, parent: Knobs, optionIds: readonly string[], accept: Accept): Move[] {
  const seen = new Set<string>();
  const moves: Move[] = [];
  const add = (optionId: string, knobs: Knobs): void => {
    const key = knobKey(b, knobs);
    if (seen.has(key) || !accept(knobs)) return;
    seen.add(key);
    moves.push({ optionId, knobs });
  };
  for (const optionId of optionIds) {
    const names = movableKnobs(b, optionId);
    if (names.length === 0) continue;
    const fixed = b.template.fixedMoves?.[optionId];
    if (fixed) {
      add(optionId, legalize(b, { ...parent, ...fixed(b.op, parent) }, parent));
      continue;
    }
    for (const knobs of compositeMoves(b, parent, optionId)) add(optionId, knobs);
    const base = moveBase(b, parent);
    for (const name of names) {
      for (const value of b.legal.get(name)!) {
        if (value !== base[name]) add(optionId, legalize(b, { ...base, [name]: value }, parent));
      }
    }
  }
  return moves;
}

/** One key per distinct knob set of this template (what two moves must differ in). */
function knobKey(b: Bound, knobs: Knobs): string {
  return JSON.stringify(b.template.knobs.map((k) => knobs[k.name]));
}

/** Most configurations of other shapes offered as moves in one slot. */
const KNOWN_MOVES = 8;

/**
 * The fastest configurations (per flop) among `points`, nearest shape first within equal speed
 * ranks, re-fitted to this shape, as moves from `parent`: each realized by the offered option that
 * moves most of the knobs it changes. What a seed would teach, offered to the cost model to rank.
 */
export function knownMoves(
  b: Bound,
  parent: Knobs,
  optionIds: readonly string[],
  points: readonly MeasuredPoint[],
  accept: Accept,
): Move[] {
  const fastest = points
    .flatMap((point) => {
      const knobs = knobsOf(point);
      if (!knobs) return [];
      const perFlop = point.latencyMs / Math.max(1, flopCount(point.operation));
      return [{ point, knobs: knobs as Knobs, perFlop }];
    })
    .sort((x, y) => x.perFlop - y.perFlop);
  const moves: Move[] = [];
  const seen = new Set<string>();
  for (const { point, knobs: stored } of fastest) {
    if (moves.length >= KNOWN_MOVES) break;
    const knobs = refit(b, point.operation, legalize(b, stored, parent));
    const key = knobKey(b, knobs);
    if (seen.has(key) || !accept(knobs)) continue;
    seen.add(key);
    const changed = Object.keys(diff(parent, knobs));
    let option: string | null = null;
    let covered = 0;
    for (const id of optionIds) {
      const names = new Set(movableKnobs(b, id));
      const n = changed.filter((name) => names.has(name)).length;
      if (n > covered) [option, covered] = [id, n];
    }
    if (option) moves.push({ optionId: option, knobs, from: point.operation });
  }
  return moves;
}
