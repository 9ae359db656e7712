/**
 * What every KernelBench (Triton) template shares: the choice of implementation (the library
 * PyTorch calls, the template's Triton kernel, or the PyTorch lines under torch.compile in one of
 * its modes), the CUDA menu options that switch between them, how the choice is legalized, and the
 * torch.compile module, and the dtypes the operator templates' kernels are written for.
 */
import {
  TORCH_COMPILE_MODES,
  type TorchCompileMode,
  torchCompiledSubclass,
} from '../kernelbench/torch-compile-candidate.js';
import { nearestLegal } from './knobs.js';
import type { KernelTemplate, KnobSpec, KnobValue, Knobs } from './template.js';
import { type Operation, SkbError } from '../../schedules/index.js';

/** The dtypes the Triton operator templates' kernels load, accumulate in f32 and store. */
const OPERATOR_DTYPES: readonly Operation['dtype'][] = ['f32', 'f16', 'bf16'];

/** Refuses an operation whose dtype the `template` (its name in the message) has no kernel for. */
export function requireOperatorDtype(op: Operation, template: string): void {
  if (!OPERATOR_DTYPES.includes(op.dtype))
    throw new SkbError('BAD_INPUT', `The Triton ${template} template takes f32, f16 or bf16, not ${op.dtype}`);
}

/** The `impl` knob: `library` names what the PyTorch lines call (cuBLAS, PyTorch's own kernels). */
export function implKnob(library: string): KnobSpec {
  return {
    name: 'impl',
    description: `${library}, the Triton kernel, or the PyTorch lines under torch.compile`,
    values: () => ['torch', 'triton', 'compile'],
  };
}

export const COMPILE_MODE_KNOB: KnobSpec = {
  name: 'compile_mode',
  description: 'torch.compile mode when impl is compile (what a GPU user gets by compiling)',
  values: () => [...TORCH_COMPILE_MODES],
};

/** The options that choose the implementation, and the knob each moves. */
export const IMPLEMENTATION_MOVES: KernelTemplate['moves'] = {
  'cuda.triton': ['impl'],
  'cuda.cublas': ['impl'],
  'cuda.torch_compile': ['compile_mode'],
};

/** The torch.compile mode after `mode` in TORCH_COMPILE_MODES, wrapping round. */
function nextCompileMode(mode: KnobValue | undefined): TorchCompileMode {
  const at = TORCH_COMPILE_MODES.indexOf(mode as TorchCompileMode);
  return TORCH_COMPILE_MODES[(at + 1) % TORCH_COMPILE_MODES.length]!;
}

/** The GPU templates' first move from the baseline: torch.compile in its default mode. */
export const TORCH_COMPILE_OPTION = 'cuda.torch_compile';

/**
 * The fixed moves between implementations. They go one way each: into Triton with the parent's
 * knobs; back to the library (the baseline, whose knobs are the defaults); into torch.compile in
 * its default mode from a kernel, and from a compiled parent on to its next mode.
 */
export function implementationFixedMoves(
  baseline: (op: Operation) => Knobs,
): NonNullable<KernelTemplate['fixedMoves']> {
  return {
    'cuda.triton': () => ({ impl: 'triton' }),
    'cuda.cublas': (op) => baseline(op),
    [TORCH_COMPILE_OPTION]: (op, parent) => ({
      ...baseline(op),
      impl: 'compile',
      compile_mode: parent.impl === 'compile' ? nextCompileMode(parent.compile_mode) : 'default',
    }),
  };
}

/**
 * The implementation rule every template legalizes with. Under torch.compile the Triton knobs mean
 * nothing: they stay at their defaults (`defaults`), and the mode means something only there
 * (elsewhere it stays at torch.compile's default). `impl` stays "torch" only while every Triton knob
 * is at its default, since a Triton knob moved away from it asks for the Triton kernel. `fitTriton`
 * brings the Triton knobs into the legal set.
 */
export function legalizeImplementation(knobs: Knobs, defaults: Knobs, fitTriton: (knobs: Knobs) => Knobs): Knobs {
  if (knobs.impl === 'compile') {
    const mode = nearestLegal(knobs.compile_mode, [...TORCH_COMPILE_MODES], 'default');
    return { ...defaults, impl: 'compile', compile_mode: mode };
  }
  const triton: Knobs = { ...fitTriton({ ...knobs, compile_mode: 'default' }), compile_mode: 'default' };
  const atDefaults = Object.keys(defaults).every((name) => name === 'impl' || triton[name] === defaults[name]);
  return { ...triton, impl: knobs.impl !== 'triton' && atDefaults ? 'torch' : 'triton' };
}

/**
 * The torch.compile module: `eagerClass` defines `SkbEager` (the PyTorch lines), and ModelNew is it
 * with its forward compiled in `knobs.compile_mode`.
 */
export function compiledModule(header: string, eagerClass: string, knobs: Knobs): string {
  return [
    header,
    'import torch',
    'import torch.nn as nn',
    '',
    '',
    eagerClass,
    '',
    '',
    torchCompiledSubclass('SkbEager', knobs.compile_mode as TorchCompileMode),
  ].join('\n');
}

/** A knob value as a Python literal. */
export function pyLiteral(v: KnobValue): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
}
