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
export { createTargetPool, isMemberFailure, MEMBER_RETRY_MS, poolOfTargets } from './target-pool.js';
export type { MemberLease, MemberState, MemberStateName, TargetPool } from './target-pool.js';
export { createSshHostRegistry } from './ssh-hosts.js';
export type { SshHostRegistry } from './ssh-hosts.js';
export { findTarget, loadTargets, membersOf, sshSessionLimits } from './targets-file.js';
export type { MemberEntry, TargetEntry, TargetsFile } from './targets-file.js';
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
