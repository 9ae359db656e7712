/** One optimization a planner may choose. Ids are stable: schedules refer to them forever. */
export interface MenuOption {
  /** e.g. "cpu.register_block"; shared by every planner of a toolchain so schedules compare. */
  id: string;
  /** Short label shown in tables, e.g. "Register blocking". */
  label: string;
  /** One or two sentences shown to the LLM in the plan prompt. */
  description: string;
  /**
   * Kept in every plan sample's menu, whatever menu dropout draws: set on the composite options,
   * whose moves cross the valleys no single-knob move can. Dropped from most menus (the default
   * keeps 30% of the options), the move that carries a gemm from ~30 to ~150 GFLOP/s was offered
   * in too few slots for a cold search of 64 samples to find it early enough to tune it.
   */
  neverDropped?: boolean;
}

/** The optimization menu and rules of one toolchain. */
export interface Menu {
  toolchain: 'c' | 'kernelbench';
  options: MenuOption[];
  /** Reduced menu for translate iterations (e.g. "convert an operation to inline CUDA"); empty when the toolchain has none. */
  translateOptions: MenuOption[];
  /** Rules stated in every prompt (what the code must keep doing, what is forbidden). */
  rules: string[];
}

/** Menu option id used for a plan that invents an optimization not on the menu (the schedules' own id for it). */
export { INVENTED_OPTION_ID } from '../../schedules/index.js';
