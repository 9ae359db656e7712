/**
 * How far apart two shapes of one structure are, for ranking same-structure schedules.
 *
 * The base is the sum over dimensions of |log2 ratio| (a doubling costs 1 wherever it happens).
 * Two kinds of kinship shrink it, because schedules transfer better across them: sizes that
 * divide each other (Ansor's "compatible" records, where tiles still fit evenly), and Autocomp's
 * "same aspect ratio or two shared dimensions".
 */
export interface ShapeComparison {
  distance: number;
  /** Per dimension, in sorted name order: "M x2", "N same", "K /2", "H x1.5". */
  changes: string[];
  /** Every dimension divides the other's (in either direction). */
  divisible: boolean;
  /** All sizes scaled by one factor. */
  sameAspect: boolean;
  /** Number of equal dimensions. */
  shared: number;
}

/** Kinship discounts: multiplied into the base distance. */
const ASPECT_OR_SHARED_FACTOR = 0.5;
const DIVISIBLE_FACTOR = 0.75;

function formatRatio(ratio: number): string {
  const r = ratio >= 1 ? ratio : 1 / ratio;
  const text = Number.isInteger(r) ? String(r) : r.toFixed(2).replace(/\.?0+$/, '');
  return ratio >= 1 ? `x${text}` : `/${text}`;
}

/**
 * The distance alone, without the per-dimension text: what ranking many candidates needs.
 * Dimensions present on one side only count as 2^8 apart; they cannot occur within one structure key.
 */
export function shapeDistance(from: Record<string, number>, to: Record<string, number>): number {
  return measure(from, to).distance;
}

/** Compares two shapes; `changes` describe `to` relative to `from` ("M x2": to's M is twice from's). */
export function compareShapes(from: Record<string, number>, to: Record<string, number>): ShapeComparison {
  const names = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
  const changes = names.map((name) => {
    const a = from[name];
    const b = to[name];
    if (a === undefined || b === undefined) return `${name} ${a === undefined ? 'added' : 'dropped'}`;
    return a === b ? `${name} same` : `${name} ${formatRatio(b / a)}`;
  });
  return { ...measure(from, to), changes };
}

function measure(from: Record<string, number>, to: Record<string, number>): Omit<ShapeComparison, 'changes'> {
  let base = 0;
  let shared = 0;
  let divisible = true;
  let sameAspect = true;
  let firstRatio: number | undefined;
  for (const name in from) {
    const a = from[name]!;
    const b = to[name];
    if (b === undefined) {
      base += 8;
      divisible = false;
      sameAspect = false;
      continue;
    }
    const lr = Math.log2(b / a);
    base += Math.abs(lr);
    if (a === b) shared += 1;
    if (a % b !== 0 && b % a !== 0) divisible = false;
    if (firstRatio === undefined) firstRatio = lr;
    else if (Math.abs(lr - firstRatio) > 1e-9) sameAspect = false;
  }
  for (const name in to) {
    if (from[name] === undefined) {
      base += 8;
      divisible = false;
      sameAspect = false;
    }
  }
  let distance = base;
  if (sameAspect || shared >= 2) distance *= ASPECT_OR_SHARED_FACTOR;
  if (divisible) distance *= DIVISIBLE_FACTOR;
  return { distance, divisible, sameAspect, shared };
}
