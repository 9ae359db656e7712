import type { Menu } from './menu.js';
import { CPU_MENU } from './cpu-menu.js';
import { CUDA_MENU } from './cuda-menu.js';

export { INVENTED_OPTION_ID, type Menu, type MenuOption } from './menu.js';
export { CPU_MENU } from './cpu-menu.js';
export { CUDA_MENU } from './cuda-menu.js';

/** The optimization menu and rules of a toolchain ("c" or "kernelbench"). */
export function menuFor(toolchainKind: Menu['toolchain']): Menu {
  return toolchainKind === 'c' ? CPU_MENU : CUDA_MENU;
}
