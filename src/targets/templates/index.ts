/**
 * The registry of kernel templates: one per C operation kind, built for the ISA of the target CPU
 * (the vector widths a template offers depend on it).
 */
import { SkbError } from '../../schedules/index.js';
import { C_KINDS, type CKind } from '../c/entry-points.js';
import { createBatchedGemmTemplate } from './batched-gemm-template.js';
import type { TemplateOptions } from './c-common-extra.js';
import { createConv2dTemplate } from './conv2d-template.js';
import { createGemmTemplate } from './gemm-template.js';
import { createLayernormTemplate } from './layernorm-template.js';
import { createMatvecTemplate } from './matvec-template.js';
import { createSoftmaxTemplate } from './softmax-template.js';
import type { KernelTemplate } from './template.js';

export type { KernelTemplate, KnobSpec, KnobValue, Knobs } from './template.js';
export type { TemplateOptions } from './c-common-extra.js';

const FACTORIES: Record<CKind, (options: TemplateOptions) => KernelTemplate> = {
  gemm: createGemmTemplate,
  batched_gemm: createBatchedGemmTemplate,
  conv2d: createConv2dTemplate,
  matvec: createMatvecTemplate,
  softmax: createSoftmaxTemplate,
  layernorm: createLayernormTemplate,
};

/** Whether `kind` has a kernel template (every kind of the C toolchain has one). */
export function hasTemplate(kind: string): kind is CKind {
  return (C_KINDS as readonly string[]).includes(kind);
}

/**
 * The kernel template for an operation kind on a CPU with these ISA flags (the fingerprint's `isa`).
 * Throws BAD_INPUT for a kind without a template.
 */
export function templateFor(kind: string, options: TemplateOptions): KernelTemplate {
  if (!hasTemplate(kind)) {
    throw new SkbError('BAD_INPUT', `There is no kernel template for "${kind}"; templates exist for ${C_KINDS.join(', ')}`);
  }
  return FACTORIES[kind](options);
}
