/**
 * The elementwise epilogue of a matrix product, as KernelBench level 2 writes them: a chain of
 * steps applied to the product in order (`op.epilogue`, e.g. ["bias", "mul", "hardtanh", "gelu"]),
 * each step's argument in the attribute `e<i>` (1-based: `e2: "0.5"`, `e3: "-2,2"`, a bias
 * step's parameter name `e1: "gemm.bias"`). The same chain is written twice: as PyTorch lines
 * (the reference problem and the template's baseline) and as Triton lines fused into the kernel's
 * store, so both compute the same function.
 */
import { SkbError, type Operation } from '../../schedules/index.js';

/** What a step's argument is: none, a number, a [lo, hi] range (either side may be open), or a parameter of N values. */
type ArgKind = 'none' | 'number' | 'range' | 'param';

/** Epilogue steps, with their argument and, where it may be left out, its PyTorch default. */
const STEP_ARGS = {
  bias: { arg: 'param' },
  add: { arg: 'number' },
  sub: { arg: 'number' },
  mul: { arg: 'number' },
  div: { arg: 'number' },
  relu: { arg: 'none' },
  leaky_relu: { arg: 'number', default: '0.01' },
  gelu: { arg: 'none' },
  gelu_tanh: { arg: 'none' },
  silu: { arg: 'none' },
  mish: { arg: 'none' },
  sigmoid: { arg: 'none' },
  tanh: { arg: 'none' },
  hardtanh: { arg: 'range', default: '-1,1' },
  clamp: { arg: 'range' },
  hardswish: { arg: 'none' },
  hardsigmoid: { arg: 'none' },
  elu: { arg: 'number', default: '1.0' },
  selu: { arg: 'none' },
  softplus: { arg: 'none' },
  softsign: { arg: 'none' },
} as const satisfies Record<string, { arg: ArgKind; default?: string }>;

export type EpilogueOp = keyof typeof STEP_ARGS;

/** Epilogue steps the templates fuse, in the order the docs list them. */
export const EPILOGUE_OPS = Object.keys(STEP_ARGS) as readonly EpilogueOp[];

/** One step of the chain with its argument parsed. */
export type EpilogueStep =
  | { op: 'bias'; param: string }
  | { op: 'add' | 'sub' | 'mul' | 'div' | 'leaky_relu' | 'elu'; value: number }
  | { op: 'hardtanh' | 'clamp'; lo: number | null; hi: number | null }
  | {
      op:
        | 'relu'
        | 'gelu'
        | 'gelu_tanh'
        | 'silu'
        | 'mish'
        | 'sigmoid'
        | 'tanh'
        | 'hardswish'
        | 'hardsigmoid'
        | 'selu'
        | 'softplus'
        | 'softsign';
    };

/** The attribute that holds step i's argument (i from 0). */
export function stepAttr(i: number): string {
  return `e${i + 1}`;
}

/** A parameter's name as the module's state_dict spells it: `bias`, `gemm.bias`. */
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,15}(\.[A-Za-z_][A-Za-z0-9_]{0,15})?$/;
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function isEpilogueOp(name: string): name is EpilogueOp {
  return Object.hasOwn(STEP_ARGS, name);
}

function parseNumber(text: string, where: string): number {
  const value = Number(text);
  if (!NUMBER.test(text.trim()) || !Number.isFinite(value))
    throw new SkbError('BAD_INPUT', `${where} is a number such as 0.5 or -2 (got "${text}")`);
  return value;
}

/** The name of a parameter an operation's template reads: valid, or BAD_INPUT naming the attribute. */
export function checkedParamName(value: unknown, where: string): string {
  if (typeof value !== 'string' || !PARAM_NAME.test(value))
    throw new SkbError(
      'BAD_INPUT',
      `${where} names a parameter of the module as its state_dict does, such as bias or gemm.bias (got ${JSON.stringify(value)})`,
    );
  return value;
}

/** The operation's epilogue as parsed steps; BAD_INPUT naming the step or attribute to fix. */
export function epilogueSteps(op: Operation): EpilogueStep[] {
  return op.epilogue.map((name, i) => {
    if (!isEpilogueOp(name))
      throw new SkbError(
        'BAD_INPUT',
        `Epilogue step ${i + 1} "${name}" is not one the templates fuse; they fuse ${EPILOGUE_OPS.join(', ')}`,
      );
    const spec: { arg: ArgKind; default?: string } = STEP_ARGS[name];
    const attr = stepAttr(i);
    const given = op.attrs[attr];
    const where = `attrs.${attr} (the argument of epilogue step ${i + 1}, ${name})`;
    if (spec.arg === 'none') {
      if (given !== undefined) throw new SkbError('BAD_INPUT', `${where} must be left out: ${name} takes no argument`);
      return { op: name } as EpilogueStep;
    }
    // A bias step of a gemm given as two inputs reads the module's `bias` parameter by default.
    const text = given === undefined ? (name === 'bias' ? 'bias' : spec.default) : String(given);
    if (text === undefined) throw new SkbError('BAD_INPUT', `${where} is required`);
    if (spec.arg === 'param') return { op: 'bias', param: checkedParamName(text, where) };
    if (spec.arg === 'number') return { op: name, value: parseNumber(text, where) } as EpilogueStep;
    const parts = text.split(',');
    if (parts.length !== 2)
      throw new SkbError('BAD_INPUT', `${where} is "lo,hi", either side may be empty (got "${text}")`);
    const [lo, hi] = parts.map((p) => (p.trim() === '' ? null : parseNumber(p, where)));
    if (lo === null && hi === null) throw new SkbError('BAD_INPUT', `${where} needs a lower or an upper bound`);
    if (lo != null && hi != null && lo > hi)
      throw new SkbError('BAD_INPUT', `${where}: the lower bound ${lo} is above the upper bound ${hi}`);
    return { op: name, lo: lo ?? null, hi: hi ?? null } as EpilogueStep;
  });
}

/** Python's spelling of a finite number (17 significant digits keep every double). */
export function pyNumber(value: number): string {
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

/** `self.gemm.bias` for the parameter `gemm.bias`. */
export function selfParam(name: string): string {
  return `self.${name}`;
}

/** The PyTorch expression of one step applied to `v` (what the reference module computes). */
function torchStep(step: EpilogueStep, v: string): string {
  const F = 'torch.nn.functional';
  switch (step.op) {
    case 'bias':
      return `${v} + ${selfParam(step.param)}`;
    case 'add':
      return `${v} + ${pyNumber(step.value)}`;
    case 'sub':
      return `${v} - ${pyNumber(step.value)}`;
    case 'mul':
      return `${v} * ${pyNumber(step.value)}`;
    case 'div':
      return `${v} / ${pyNumber(step.value)}`;
    case 'leaky_relu':
      return `${F}.leaky_relu(${v}, negative_slope=${pyNumber(step.value)})`;
    case 'elu':
      return `${F}.elu(${v}, alpha=${pyNumber(step.value)})`;
    case 'hardtanh':
    case 'clamp': {
      const bounds = [
        ...(step.lo !== null ? [`min=${pyNumber(step.lo)}`] : []),
        ...(step.hi !== null ? [`max=${pyNumber(step.hi)}`] : []),
      ];
      return `torch.clamp(${v}, ${bounds.join(', ')})`;
    }
    case 'gelu':
      return `${F}.gelu(${v})`;
    case 'gelu_tanh':
      return `${F}.gelu(${v}, approximate="tanh")`;
    case 'relu':
    case 'sigmoid':
    case 'tanh':
    case 'selu':
      return `torch.${step.op}(${v})`;
    case 'silu':
    case 'mish':
    case 'hardswish':
    case 'hardsigmoid':
    case 'softplus':
    case 'softsign':
      return `${F}.${step.op}(${v})`;
  }
}

/** PyTorch lines `out = ...` for the steps, indented for a method body. */
export function torchEpilogueLines(steps: readonly EpilogueStep[], indent = '        '): string[] {
  return steps.map((s) => `${indent}out = ${torchStep(s, 'out')}`);
}

const SIGMOID = (x: string): string => `(1.0 / (1.0 + tl.exp(-(${x}))))`;
// tanh through the sigmoid: Triton's language has no tanh of its own on every version.
const TANH = (x: string): string => `(2.0 / (1.0 + tl.exp(-2.0 * (${x}))) - 1.0)`;
// softplus as PyTorch computes it at its default beta 1 and threshold 20: the identity above 20.
const SOFTPLUS = (x: string): string => `tl.where(${x} > 20.0, ${x}, tl.log(1.0 + tl.exp(tl.minimum(${x}, 20.0))))`;
// alpha * (e^x - 1) below zero, x above; the exponent is capped so the branch not taken cannot overflow.
const ELU = (x: string, alpha: string): string =>
  `tl.where(${x} > 0.0, ${x}, ${alpha} * (tl.exp(tl.minimum(${x}, 0.0)) - 1.0))`;
// SELU's constants as torch.nn.functional.selu defines them.
const SELU_ALPHA = '1.6732632423543772';
const SELU_SCALE = '1.0507009873554805';

/** The Triton (fp32) expression of one step applied to `x`; a bias step reads the row vector `b`. */
function tritonStep(step: EpilogueStep, x: string, b: string): string {
  switch (step.op) {
    case 'bias':
      return `${x} + ${b}[None, :]`;
    case 'add':
      return `${x} + ${pyNumber(step.value)}`;
    case 'sub':
      return `${x} - ${pyNumber(step.value)}`;
    case 'mul':
      return `${x} * ${pyNumber(step.value)}`;
    case 'div':
      return `${x} / ${pyNumber(step.value)}`;
    case 'relu':
      return `tl.maximum(${x}, 0.0)`;
    case 'leaky_relu':
      return `tl.where(${x} >= 0.0, ${x}, ${x} * ${pyNumber(step.value)})`;
    case 'hardtanh':
    case 'clamp': {
      let e = x;
      if (step.lo !== null) e = `tl.maximum(${e}, ${pyNumber(step.lo)})`;
      if (step.hi !== null) e = `tl.minimum(${e}, ${pyNumber(step.hi)})`;
      return e;
    }
    case 'gelu':
      return `0.5 * ${x} * (1.0 + tl.erf(${x} * 0.7071067811865476))`;
    case 'gelu_tanh':
      return `0.5 * ${x} * (1.0 + ${TANH(`0.7978845608028654 * (${x} + 0.044715 * ${x} * ${x} * ${x})`)})`;
    case 'sigmoid':
      return SIGMOID(x);
    case 'tanh':
      return TANH(x);
    case 'silu':
      return `${x} * ${SIGMOID(x)}`;
    case 'mish':
      return `${x} * ${TANH(SOFTPLUS(x))}`;
    case 'softplus':
      return SOFTPLUS(x);
    case 'hardswish':
      return `${x} * tl.minimum(tl.maximum(${x} + 3.0, 0.0), 6.0) / 6.0`;
    case 'hardsigmoid':
      return `tl.minimum(tl.maximum(${x} + 3.0, 0.0), 6.0) / 6.0`;
    case 'elu':
      return ELU(x, pyNumber(step.value));
    case 'selu':
      return `${SELU_SCALE} * ${ELU(x, SELU_ALPHA)}`;
    case 'softsign':
      return `${x} / (1.0 + tl.abs(${x}))`;
  }
}

/**
 * Triton lines applying the steps to the fp32 tile `out` inside the kernel: a bias step loads its
 * vector through `e<i>_ptr` (masked at N). Unless the output is f32, the value is rounded to the
 * output dtype between steps, as eager PyTorch stores each intermediate in it.
 */
export function tritonEpilogueLines(steps: readonly EpilogueStep[], roundsBetweenSteps: boolean): string[] {
  const lines: string[] = [];
  steps.forEach((step, i) => {
    if (roundsBetweenSteps) lines.push('    out = out.to(c_ptr.dtype.element_ty).to(tl.float32)');
    const b = `e${i + 1}`;
    if (step.op === 'bias')
      lines.push(`    ${b} = tl.load(${b}_ptr + offs_cn, mask=offs_cn < N, other=0.0).to(tl.float32)`);
    lines.push(`    out = ${tritonStep(step, 'out', b)}`);
  });
  return lines;
}

/** The kernel arguments of the steps' parameters (`e1_ptr, ...`), in step order. */
export function tritonEpilogueArgs(steps: readonly EpilogueStep[]): string[] {
  return steps.flatMap((s, i) => (s.op === 'bias' ? [`e${i + 1}_ptr`] : []));
}

/** The parameters the steps read (`gemm.bias`), in step order. */
export function epilogueParams(steps: readonly EpilogueStep[]): string[] {
  return steps.flatMap((s) => (s.op === 'bias' ? [s.param] : []));
}
