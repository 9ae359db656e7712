/**
 * Kernel templates: the contract (template.ts), how stored knobs are read under current names,
 * and the one registry of templates by toolchain and operation kind.
 */
export type { KernelTemplate, KnobSpec, KnobValue, Knobs } from './template.js';
export type { CTemplateOptions } from './c-template.js';
export { widestVector } from './c-template.js';
export type { TritonMatmulOptions } from './triton-matmul-template.js';
export { currentKnobNames } from './knobs.js';
export { TRITON_MATMUL_META_PARAMETERS, tritonMatmulOptionsFor } from './triton-matmul-template.js';
export {
  TEMPLATE_TOOLCHAINS,
  gpuTemplateFor,
  hasTemplate,
  kernelTemplateFor,
  templateFor,
  templateKinds,
  type TemplateOptionsByToolchain,
  type TemplateToolchain,
} from './template-registry.js';
