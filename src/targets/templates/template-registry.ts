/**
 * The registry of kernel templates: for every toolchain that has templates, the operation kinds
 * it has one for and how each is built for a target (a CPU's ISA flags; a GPU's shared memory and
 * SM count). Which planner may run what is decided from this registry in one place
 * (src/search/planner-support.ts).
 */
import { SkbError } from '../../schedules/index.js';
import { C_KINDS, type CKind } from '../c/entry-points.js';
import { createBatchedGemmTemplate } from './batched-gemm-template.js';
import type { CTemplateOptions } from './c-template.js';
import { createConv2dTemplate } from './conv2d-template.js';
import { createGemmTemplate } from './gemm-template.js';
import { createLayernormTemplate } from './layernorm-template.js';
import { createMatvecTemplate } from './matvec-template.js';
import { createSoftmaxTemplate } from './softmax-template.js';
import type { KernelTemplate } from './template.js';
import { createTritonElementwiseTemplate } from './triton-elementwise-template.js';
import { createTritonLayernormTemplate } from './triton-layernorm-template.js';
import { createTritonMatvecTemplate } from './triton-matvec-template.js';
import { createTritonReduceTemplate } from './triton-reduce-template.js';
import { createTritonSoftmaxTemplate } from './triton-softmax-template.js';
import {
  createTritonMatmulTemplate,
  type TritonMatmulKind,
  type TritonMatmulOptions,
} from './triton-matmul-template.js';

/** What a template is built for, by the toolchain it generates code for. */
export interface TemplateOptionsByToolchain {
  c: CTemplateOptions;
  kernelbench: TritonMatmulOptions;
}

/** A toolchain that has kernel templates. */
export type TemplateToolchain = keyof TemplateOptionsByToolchain;

type Factories<T extends TemplateToolchain, K extends string> = Readonly<
  Record<K, (options: TemplateOptionsByToolchain[T]) => KernelTemplate<K>>
>;

const C_TEMPLATES: Factories<'c', CKind> = {
  gemm: createGemmTemplate,
  batched_gemm: createBatchedGemmTemplate,
  conv2d: createConv2dTemplate,
  matvec: createMatvecTemplate,
  softmax: createSoftmaxTemplate,
  layernorm: createLayernormTemplate,
};

/** Operation kinds with a Triton template. */
type KernelBenchKind = TritonMatmulKind | 'matvec' | 'elementwise' | 'reduce' | 'softmax' | 'layernorm';

const KERNELBENCH_TEMPLATES: Factories<'kernelbench', KernelBenchKind> = {
  gemm: (options) => createTritonMatmulTemplate('gemm', options),
  batched_gemm: (options) => createTritonMatmulTemplate('batched_gemm', options),
  matvec: (options) => createTritonMatvecTemplate(options),
  elementwise: () => createTritonElementwiseTemplate(),
  reduce: (options) => createTritonReduceTemplate(options),
  softmax: (options) => createTritonSoftmaxTemplate(options),
  layernorm: (options) => createTritonLayernormTemplate(options),
};

const REGISTRY: { [T in TemplateToolchain]: Factories<T, string> } = {
  c: C_TEMPLATES,
  kernelbench: KERNELBENCH_TEMPLATES,
};

/** Toolchains that have kernel templates, in registry order. */
export const TEMPLATE_TOOLCHAINS = Object.keys(REGISTRY) as readonly TemplateToolchain[];

function isTemplateToolchain(toolchain: string): toolchain is TemplateToolchain {
  return Object.hasOwn(REGISTRY, toolchain);
}

/** Operation kinds with a kernel template on `toolchain`, in registry order; none for a toolchain without templates. */
export function templateKinds(toolchain: string): readonly string[] {
  return isTemplateToolchain(toolchain) ? Object.keys(REGISTRY[toolchain]) : [];
}

/** The template for `kind` on `toolchain`, built with these options; null where the registry has none. */
export function kernelTemplateFor<T extends TemplateToolchain>(
  toolchain: T,
  kind: string,
  options: TemplateOptionsByToolchain[T],
): KernelTemplate | null {
  const factories: Factories<T, string> = REGISTRY[toolchain];
  return Object.hasOwn(factories, kind) ? factories[kind]!(options) : null;
}

/** Whether `kind` has a template on the C toolchain (every kind of the C toolchain has one). */
export function hasTemplate(kind: string): kind is CKind {
  return Object.hasOwn(C_TEMPLATES, kind);
}

/** The C template for an operation kind on a CPU with these ISA flags (the fingerprint's `isa`). Throws BAD_INPUT for a kind without one. */
export function templateFor(kind: string, options: CTemplateOptions): KernelTemplate<CKind> {
  if (!hasTemplate(kind)) {
    throw new SkbError(
      'BAD_INPUT',
      `There is no kernel template for "${kind}"; templates exist for ${C_KINDS.join(', ')}`,
    );
  }
  return C_TEMPLATES[kind](options);
}

/** The KernelBench template for an operation kind on a GPU with these options, or null where there is none. */
export function gpuTemplateFor(kind: string, options: TritonMatmulOptions = {}): KernelTemplate | null {
  return kernelTemplateFor('kernelbench', kind, options);
}
