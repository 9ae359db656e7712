/**
 * Where code runs and is measured: targets (an executor and a toolchain behind a fingerprint), the
 * targets file, the kernel templates and the KernelBench problems. Other layers import from here,
 * never from the files behind it.
 */
export { naiveBaseline } from './c/baselines.js';
export { createCToolchain } from './c/c-toolchain.js';
export type { Executor } from './executor.js';
export { createKernelBenchToolchain } from './kernelbench/kernelbench-toolchain.js';
export { kernelBenchProblemFor } from './kernelbench/problems.js';
export { createLocalExecutor } from './local-executor.js';
export { createSshExecutor } from './ssh-executor.js';
export { createTarget } from './target.js';
export type { Target, TargetDeps } from './target.js';
export { findTarget, loadTargets } from './targets-file.js';
export type { TargetEntry, TargetsFile } from './targets-file.js';
export {
  currentKnobNames,
  kernelTemplateFor,
  TEMPLATE_TOOLCHAINS,
  templateKinds,
  TRITON_MATMUL_META_PARAMETERS,
  tritonMatmulOptionsFor,
  widestVector,
} from './templates/index.js';
export type {
  CTemplateOptions,
  KernelTemplate,
  Knobs,
  KnobSpec,
  KnobValue,
  TemplateToolchain,
} from './templates/index.js';
export type { CandidateResult, EvaluateRequest, Toolchain } from './toolchain.js';
