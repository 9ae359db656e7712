import type { Operation } from '../../schedules/index.js';
import type { CKind } from '../c/entry-points.js';

export type KnobValue = number | string | boolean;
export type Knobs = Record<string, KnobValue>;

/** One knob of a kernel template: its legal values for a given shape, smallest / simplest first. */
export interface KnobSpec {
  name: string;
  /** What the knob does, in a few words ("rows of A per register block"). */
  description: string;
  /** Legal values for this operation; must include the baseline's value. */
  values(op: Operation): KnobValue[];
}

/**
 * A parameterized C code generator for one operation kind: the naive loop nest at its baseline
 * knobs, and faster variants as knobs move. Every knob combination the template accepts must
 * compute the right answer for every shape, remainders included.
 */
export interface KernelTemplate {
  kind: CKind;
  knobs: KnobSpec[];
  /** The knob values that reproduce the naive loop nest a user would write. */
  baseline(op: Operation): Knobs;
  /**
   * Brings knobs into the legal set for this operation (e.g. a tile larger than the matrix is
   * clamped, a combination that is not supported is resolved). Used when a seed's knobs are
   * re-fitted to new sizes.
   */
  legalize(op: Operation, knobs: Knobs): Knobs;
  /** The C source defining `kernel` for these knobs (src/targets/c/entry-points.ts). */
  generate(op: Operation, knobs: Knobs): string;
  /**
   * Which knobs each CPU menu option moves (ids of src/search/menus/cpu-menu.ts). An option a
   * template does not list is not offered for it.
   */
  moves: Partial<Record<string, string[]>>;
  /**
   * Options whose move sets knobs to fixed values for this operation instead of stepping them
   * (e.g. "use the library" goes back to the baseline): merged onto the parent's knobs, and from a
   * parent that already has them the option offers nothing. The option must also be in `moves`.
   */
  fixedMoves?: Partial<Record<string, (op: Operation) => Knobs>>;
  /**
   * Re-fits knobs a seed schedule chose for the operation `from` to the operation `to`, beyond
   * snapping each to a legal value (which `legalize` does): what made them right at the old sizes
   * kept at the new ones. Optional; the result is legalized for `to` afterwards.
   */
  refit?(from: Operation, to: Operation, knobs: Knobs): Knobs;
}
