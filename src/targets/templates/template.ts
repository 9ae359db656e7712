import type { Operation } from '../../schedules/index.js';

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
 * A parameterized code generator for one operation kind on one toolchain: the code a user would
 * write at its baseline knobs, and faster variants as knobs move. Every knob combination the
 * template accepts must compute the right answer for every shape, remainders included. `K` is the
 * operation kinds the template is for (a C template's `CKind`, the Triton matmul template's kinds);
 * which toolchain it generates for is the registry's to say (src/targets/templates/template-registry.ts).
 */
export interface KernelTemplate<K extends string = string> {
  kind: K;
  knobs: KnobSpec[];
  /** The knob values that reproduce the baseline (the naive loop nest in C, the library call on KernelBench). */
  baseline(op: Operation): Knobs;
  /**
   * Brings knobs into the legal set for this operation (e.g. a tile larger than the matrix is
   * clamped, a combination that is not supported is resolved). Used when a seed's knobs are
   * re-fitted to new sizes.
   */
  legalize(op: Operation, knobs: Knobs): Knobs;
  /**
   * The candidate's source for these knobs, in its toolchain's language: C defining `kernel`
   * (src/targets/c/entry-points.ts), or the Python module of a KernelBench `ModelNew`.
   */
  generate(op: Operation, knobs: Knobs): string;
  /**
   * Which knobs each menu option of the template's toolchain moves (ids of src/search/menus/
   * cpu-menu.ts or cuda-menu.ts). An option a template does not list is not offered for it.
   */
  moves: Partial<Record<string, string[]>>;
  /**
   * Options whose move sets knobs to fixed values for this operation instead of stepping them
   * (e.g. "use the library" goes back to the baseline), given the parent's knobs (a fixed move may
   * step through a short list from where the parent is): merged onto the parent's knobs, and from a
   * parent that already has them the option offers nothing. The option must also be in `moves`.
   */
  fixedMoves?: Partial<Record<string, (op: Operation, parent: Knobs) => Knobs>>;
  /**
   * The option a search takes first from the baseline, once, when its menu offers it: the move to
   * what a user gets without tuning (torch.compile for the GPU templates), so every search has
   * measured that reference before it explores. Optional; it must be a fixed move.
   */
  firstMove?: string;
  /**
   * Composite moves, by menu option: knob sets that change several knobs together, for where no
   * single knob pays on its own (packing pays only with a register block and the right tiles; a
   * vector width only with a vectorizable exp). Each set is merged onto the parent's knobs and
   * legalized for `op`, so it is re-fitted to the shape; the template builds them for its ISA. The
   * option must also be in `moves`, with the knobs that define it (what the option moves on by
   * single steps once its composite moves are measured).
   */
  composites?: Partial<Record<string, (op: Operation) => Knobs[]>>;
  /**
   * Where a single-knob move from `parent` starts (default: the parent itself). A template whose
   * baseline calls a library keeps its own knobs at defaults that need not be a good kernel; a
   * knob moved from there would measure the defaults with one change. The Triton matmul template
   * starts such a move at its first start sized for the shape instead.
   */
  moveBase?: (op: Operation, parent: Knobs) => Knobs;
  /**
   * Re-fits knobs a seed schedule chose for the operation `from` to the operation `to`, beyond
   * snapping each to a legal value (which `legalize` does): what made them right at the old sizes
   * kept at the new ones. Optional; the result is legalized for `to` afterwards.
   */
  refit?(from: Operation, to: Operation, knobs: Knobs): Knobs;
  /**
   * Knobs the template once called by another name, old name -> current name. Stored schedules
   * and candidates keep the names they were measured with (the export format does not change), so
   * whoever reads stored knobs maps them first (`currentKnobNames` in knobs.ts); `legalize` does.
   */
  renamedKnobs?: Readonly<Record<string, string>>;
}
