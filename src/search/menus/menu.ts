/** One optimization a planner may choose. Ids are stable: schedules refer to them forever. */
export interface MenuOption {
  /** e.g. "cpu.register_block"; shared by every planner of a toolchain so schedules compare. */
  id: string;
  /** Short label shown in tables, e.g. "Register blocking". */
  label: string;
  /** One or two sentences shown to the LLM in the plan prompt. */
  description: string;
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
