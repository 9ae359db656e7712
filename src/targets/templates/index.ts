/**
 * Kernel templates: the contract (template.ts), the knob helpers every template and the template
 * planner share, and the one registry of templates by toolchain and operation kind.
 */
export type { KernelTemplate, KnobSpec, KnobValue, Knobs } from './template.js';
export type { CTemplateOptions } from './c-template.js';
export type { TritonMatmulOptions } from './triton-matmul-template.js';
export { currentKnobNames, nearestLegal, numKnob, strKnob } from './knobs.js';
export { tritonMatmulOptionsFor } from './triton-matmul-template.js';
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
