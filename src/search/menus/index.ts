import type { Menu } from './menu.js';
import { CPU_MENU, cpuMenu } from './cpu-menu.js';
import { CUDA_MENU } from './cuda-menu.js';

export { INVENTED_OPTION_ID, type Menu, type MenuOption } from './menu.js';
export { CPU_MENU, PARALLELIZE_OPTION, cpuMenu } from './cpu-menu.js';
export { CUDA_MENU } from './cuda-menu.js';

const MENUS: Readonly<Record<Menu['toolchain'], Menu>> = { c: CPU_MENU, kernelbench: CUDA_MENU };

/** Toolchains that have an optimization menu, in menu order. */
export const MENU_TOOLCHAINS = Object.keys(MENUS) as readonly Menu['toolchain'][];

/** Whether `toolchain` has an optimization menu (every planner needs one). */
export function hasMenu(toolchain: string): toolchain is Menu['toolchain'] {
  return Object.hasOwn(MENUS, toolchain);
}

/**
 * The optimization menu and rules of a toolchain ("c" or "kernelbench"); for "c", of a target that
 * lets a candidate use `threads` cores (default 1).
 */
export function menuFor(toolchainKind: Menu['toolchain'], target: { threads?: number } = {}): Menu {
  return toolchainKind === 'c' ? cpuMenu(target.threads ?? 1) : MENUS[toolchainKind];
}
