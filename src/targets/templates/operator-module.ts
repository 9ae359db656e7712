/**
 * The Python files of the operator templates (elementwise, matvec, reduce, softmax). Each operator
 * is one PyTorch computation on forward's inputs and one Triton entry point, so every file they
 * write has the same frame: the reference problem (Model and its inputs) and ModelNew in the three
 * implementations of triton-implementation.ts (PyTorch, torch.compile of it, the Triton kernel).
 * The templates say what differs: the PyTorch lines, the kernel, its constants and labels.
 */
import type { KnobValue, Knobs } from './template.js';
import { compiledModule, pyLiteral } from './triton-implementation.js';

/** An operator's PyTorch computation: forward's parameters and its body. */
export interface OperatorTorch {
  /** forward's parameters after self, e.g. "x" or "A, B". */
  params: string;
  /** forward's body, lines without indentation; the last returns the result. */
  body: readonly string[];
  /**
   * __init__'s lines after super().__init__(), without indentation: the module's parameters
   * under the reference's state_dict names, so the harness copies the reference's values in.
   */
  init?: readonly string[];
}

/** What ModelNew is when the implementation is the Triton kernel. */
export interface OperatorTriton {
  /** The docstring's description of the kernel and its knobs. */
  label: string;
  /** Module-level constants before the kernel (the knobs it reads as defaults), in order. */
  constants: ReadonlyArray<readonly [string, KnobValue]>;
  /** The kernel and its Python entry point. */
  kernel: string;
  /** forward's body: the entry point's call, e.g. "return skb_softmax(x)". */
  call: string;
  /** Standard-library imports the kernel's wrapper needs, e.g. ["math"]. */
  stdlib?: readonly string[];
}

/** The frame of one operator: its docstring line and PyTorch computation. */
export interface OperatorFrame {
  /** The file's one-line docstring for a description of what the file holds. */
  header: (what: string) => string;
  torch: OperatorTorch;
}

/**
 * A module class running the PyTorch computation. The problem's constructor arguments are accepted
 * and not needed: the operation fixes every size and attribute the computation uses.
 */
export function eagerOperatorClass(className: string, torch: OperatorTorch): string {
  return [
    `class ${className}(nn.Module):`,
    '    def __init__(self, *args):',
    '        super().__init__()',
    ...(torch.init ?? []).map((line) => `        ${line}`),
    '',
    `    def forward(self, ${torch.params}):`,
    ...torch.body.map((line) => `        ${line}`),
    '',
  ].join('\n');
}

/**
 * ModelNew for legal knobs: the PyTorch computation (impl torch, the baseline, described by
 * `torchLabel`), torch.compile of it (impl compile), or the Triton kernel `triton()` describes.
 */
export function operatorModuleSource(
  frame: OperatorFrame,
  knobs: Knobs,
  torchLabel: string,
  triton: () => OperatorTriton,
): string {
  if (knobs.impl === 'compile') {
    const header = frame.header(`torch.compile (mode ${String(knobs.compile_mode)}) of the PyTorch lines`);
    return compiledModule(header, eagerOperatorClass('SkbEager', frame.torch), knobs);
  }
  if (knobs.impl === 'torch') {
    return [
      frame.header(torchLabel),
      'import torch',
      'import torch.nn as nn',
      '',
      '',
      eagerOperatorClass('ModelNew', frame.torch),
    ].join('\n');
  }
  const t = triton();
  return [
    frame.header(t.label),
    ...(t.stdlib?.length ? [...t.stdlib.map((m) => `import ${m}`), ''] : []),
    'import torch',
    'import torch.nn as nn',
    'import triton',
    'import triton.language as tl',
    '',
    ...t.constants.map(([name, value]) => `${name} = ${pyLiteral(value)}`),
    t.kernel,
    '',
    eagerOperatorClass('ModelNew', { ...frame.torch, body: [t.call] }),
  ].join('\n');
}

/** The KernelBench reference problem: Model is the PyTorch computation, on the inputs given as Python expressions. */
export function operatorProblemSource(frame: OperatorFrame, inputs: readonly string[]): string {
  return [
    frame.header('the reference, the PyTorch lines'),
    'import torch',
    'import torch.nn as nn',
    '',
    '',
    eagerOperatorClass('Model', frame.torch),
    '',
    'def get_inputs():',
    `    return [${inputs.join(', ')}]`,
    '',
    '',
    'def get_init_inputs():',
    '    return []',
    '',
  ].join('\n');
}
