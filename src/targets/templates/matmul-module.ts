/**
 * The PyTorch module around a matrix product with an epilogue chain, shared by the KernelBench
 * problem generated for an operation (`Model`, the reference) and the Triton template's candidates
 * (`ModelNew`): the same parameters under the same state_dict names, the same forward inputs, and
 * at the library baseline the same PyTorch lines.
 *
 * Two forms. Given two inputs (`forward(self, A, B)`), as KernelBench level 1 writes products. Given
 * a weight (the attribute `weight`, a parameter name such as `gemm.weight`: an `nn.Linear`'s, N x K
 * used transposed under layout "nt", or K x N under "nn"), as level 2 writes them:
 * `forward(self, x)` with the weight and any bias steps' vectors as parameters of the module.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { checkedParamName, epilogueParams, epilogueSteps, selfParam, torchEpilogueLines } from './epilogue-chain.js';

/**
 * Operand layouts of a matmul in BLAS naming: the first letter is A, the second B; "n" stored as
 * used ([B,] M x K and [B,] K x N), "t" stored transposed and used through a transposed view, as in
 * KernelBench's `torch.matmul(A.T, B)` problems. No layout means "nn".
 */
export const MATMUL_LAYOUTS = ['nn', 'tn', 'nt', 'tt'] as const;

/** Which operands of a gemm / batched_gemm are stored transposed; BAD_INPUT for another layout. */
export function matmulTransposes(op: Operation): { a: boolean; b: boolean } {
  const layout = op.layout ?? 'nn';
  if (!(MATMUL_LAYOUTS as readonly string[]).includes(layout)) {
    throw new SkbError(
      'BAD_INPUT',
      `A ${op.kind} layout is one of ${MATMUL_LAYOUTS.join(', ')} (A then B; t = stored transposed), not "${layout}"`,
    );
  }
  return { a: layout[0] === 't', b: layout[1] === 't' };
}

export const TORCH_DTYPES: Partial<Record<Operation['dtype'], string>> = {
  f32: 'torch.float32',
  f16: 'torch.float16',
  bf16: 'torch.bfloat16',
};

/** The torch dtype of an operation the KernelBench modules support; BAD_INPUT otherwise. */
export function torchDtype(op: Operation): string {
  const dtype = TORCH_DTYPES[op.dtype];
  if (!dtype) throw new SkbError('BAD_INPUT', `KernelBench matrix products are f32, f16 or bf16, not ${op.dtype}`);
  return dtype;
}

/** A named size of the operation; BAD_INPUT naming the ones it has. */
export function matmulDim(op: Operation, name: string): number {
  const v = op.dims[name];
  if (v === undefined)
    throw new SkbError(
      'BAD_INPUT',
      `A ${op.kind} needs the dimension ${name} (has ${Object.keys(op.dims).join(', ')})`,
    );
  return v;
}

/** The weight parameter's name (attrs.weight), or null for the two-input form. */
export function weightParam(op: Operation): string | null {
  const name = op.attrs.weight;
  if (name === undefined) return null;
  if (op.kind !== 'gemm') throw new SkbError('BAD_INPUT', `attrs.weight is for gemm operations, not ${op.kind}`);
  return checkedParamName(name, 'attrs.weight (the parameter that holds the matrix B)');
}

/** The forward inputs and the two operands' expressions, untransposed (`A`, `B` or `x`, `self.gemm.weight`). */
export function matmulOperandNames(op: Operation): { inputs: string[]; a: string; b: string } {
  const weight = weightParam(op);
  return weight === null ? { inputs: ['A', 'B'], a: 'A', b: 'B' } : { inputs: ['x'], a: 'x', b: selfParam(weight) };
}

/** The operands as torch.matmul takes them for the operation's layout: transposed views, never copies. */
export function matmulOperandViews(op: Operation): [string, string] {
  const t = matmulTransposes(op);
  const { a, b } = matmulOperandNames(op);
  return [t.a ? `${a}.transpose(-2, -1)` : a, t.b ? `${b}.transpose(-2, -1)` : b];
}

/** Stored shape of each operand: [B,] rows x cols, swapped where the layout stores it transposed. */
function storedShape(op: Operation, rows: number, cols: number, transposed: boolean, batched: boolean): number[] {
  return [...(batched ? [matmulDim(op, 'B')] : []), ...(transposed ? [cols, rows] : [rows, cols])];
}

/** The shapes of the forward inputs, in order. */
export function matmulInputShapes(op: Operation): number[][] {
  const t = matmulTransposes(op);
  const batched = op.kind === 'batched_gemm';
  const a = storedShape(op, matmulDim(op, 'M'), matmulDim(op, 'K'), t.a, batched);
  if (weightParam(op) !== null) return [a];
  return [a, storedShape(op, matmulDim(op, 'K'), matmulDim(op, 'N'), t.b, batched)];
}

/** Every parameter of the module with its shape: the weight (if any), then each bias step's vector of N. */
export function matmulParameters(op: Operation): { name: string; shape: number[] }[] {
  const weight = weightParam(op);
  const t = matmulTransposes(op);
  const params =
    weight === null
      ? []
      : [{ name: weight, shape: storedShape(op, matmulDim(op, 'K'), matmulDim(op, 'N'), t.b, false) }];
  for (const name of epilogueParams(epilogueSteps(op))) {
    if (!params.some((p) => p.name === name)) params.push({ name, shape: [matmulDim(op, 'N')] });
  }
  return params;
}

/**
 * `__init__` lines that create the parameters under their state_dict names (a dotted name gets a
 * plain nn.Module as its container); `init(shape)` is the initial value's expression.
 */
export function parameterLines(op: Operation, init: (shape: number[]) => string): string[] {
  const lines: string[] = [];
  const containers = new Set<string>();
  for (const p of matmulParameters(op)) {
    const dot = p.name.indexOf('.');
    if (dot > 0 && !containers.has(p.name.slice(0, dot))) {
      containers.add(p.name.slice(0, dot));
      lines.push(`        self.${p.name.slice(0, dot)} = nn.Module()`);
    }
    lines.push(`        ${selfParam(p.name)} = nn.Parameter(${init(p.shape)})`);
  }
  return lines;
}

/**
 * The PyTorch lines of forward (ending in `return out`) that compute the product and the chain the
 * way the reference does: an nn.Linear-style weight ("nt") through torch.nn.functional.linear, with
 * its own module's bias folded in when the chain starts with it (addmm, as nn.Linear runs it).
 */
export function torchMatmulLines(op: Operation): string[] {
  const steps = epilogueSteps(op);
  const weight = weightParam(op);
  const [a, b] = matmulOperandViews(op);
  const t = matmulTransposes(op);
  let first: string;
  let rest = steps;
  if (weight !== null && t.b && !t.a) {
    const ownBias = weight.includes('.') ? `${weight.slice(0, weight.lastIndexOf('.'))}.bias` : null;
    const folded = steps[0]?.op === 'bias' && steps[0].param === ownBias;
    first = `        out = torch.nn.functional.linear(x, ${selfParam(weight)}${folded ? `, ${selfParam(ownBias!)}` : ''})`;
    if (folded) rest = steps.slice(1);
  } else first = `        out = torch.matmul(${a}, ${b})`;
  return [first, ...torchEpilogueLines(rest), '        return out'];
}

/** A module class: parameters made by `init`, forward over the operation's inputs with `body`. */
export function matmulModuleClass(
  op: Operation,
  className: string,
  init: (shape: number[]) => string,
  body: readonly string[],
): string {
  const params = parameterLines(op, init);
  return [
    `class ${className}(nn.Module):`,
    // The problem's constructor arguments are accepted and not needed: the sizes are the operation's.
    '    def __init__(self, *args):',
    '        super().__init__()',
    ...params,
    '',
    `    def forward(self, ${matmulOperandNames(op).inputs.join(', ')}):`,
    ...body,
    '',
  ].join('\n');
}

/**
 * The one-line docstring every generated file opens with. Only validated fields go in (kind,
 * sizes, dtype, layout, step names): attribute text never reaches the Python source unchecked.
 */
export function matmulHeader(op: Operation, what: string): string {
  return `"""${op.kind} ${JSON.stringify(op.dims)} ${op.dtype}${op.layout ? `, layout ${op.layout}` : ''}${op.epilogue.length ? ` with ${op.epilogue.join(' then ')}` : ''}: ${what} (generated by schedule-kb)."""`;
}
