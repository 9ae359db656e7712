import { z } from 'zod';
import { SkbError, parseOrThrow } from './errors.js';

/** Bumped whenever the way keys are derived changes; old keys then never collide with new ones. */
export const OPERATION_KEY_VERSION = 1;

export const KNOWN_KINDS = [
  'gemm',
  'batched_gemm',
  'conv2d',
  'matvec',
  'softmax',
  'layernorm',
  'elementwise',
  'reduce',
] as const;

export const OperationKindSchema = z
  .string()
  .regex(
    /^(gemm|batched_gemm|conv2d|matvec|softmax|layernorm|elementwise|reduce|custom:[a-z0-9][a-z0-9_.-]{0,62})$/,
    `kind must be one of ${KNOWN_KINDS.join(', ')} or custom:<name> (lower case letters, digits, _ . -)`,
  );

export const DtypeSchema = z.enum(['f32', 'f16', 'bf16', 'f64', 'i8', 'i32']);

const DimNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, 'dimension names are identifiers such as M, N, K');

export const OperationSchema = z
  .object({
    kind: OperationKindSchema,
    /** Named sizes, e.g. { M: 512, N: 512, K: 512 }. */
    dims: z
      .record(
        DimNameSchema,
        z
          .number()
          .int()
          .positive()
          .max(2 ** 40),
      )
      .refine(
        (d) => Object.keys(d).length > 0 && Object.keys(d).length <= 16,
        'an operation has 1 to 16 named dimensions',
      ),
    dtype: DtypeSchema.default('f32'),
    /** Memory layout, e.g. "row", "nchw", "tn". */
    layout: z
      .string()
      .regex(/^[a-z0-9_]{1,16}$/)
      .optional(),
    /** Fused epilogue in application order, e.g. ["bias", "relu"]. */
    epilogue: z
      .array(z.string().regex(/^[a-z0-9_]{1,16}$/))
      .max(8)
      .default([]),
    /** Structural parameters that are not sizes (stride, padding, transposition). */
    attrs: z
      .record(
        z.string().regex(/^[a-z][a-zA-Z0-9_]{0,31}$/),
        z.union([z.number().int(), z.string().max(32), z.boolean()]),
      )
      .default({}),
  })
  .strict();

export type Operation = z.infer<typeof OperationSchema>;
export type OperationInput = z.input<typeof OperationSchema>;

/** Validates an operation from outside (API, file, CLI) with a message that names the bad field. */
export function parseOperation(input: unknown): Operation {
  return parseOrThrow(OperationSchema, input, 'Invalid operation');
}

function attrsPart(attrs: Operation['attrs']): string {
  const keys = Object.keys(attrs).sort();
  return keys.length ? keys.map((k) => `${k}=${String(attrs[k])}`).join(',') : '-';
}

/** Layouts that mean what an omitted layout means, per kind (row-major operands, `nn` products, NCHW). */
const DEFAULT_LAYOUTS: Readonly<Record<string, readonly string[]>> = {
  gemm: ['nn', 'row'],
  batched_gemm: ['nn', 'row'],
  matvec: ['n', 'row'],
  conv2d: ['nchw'],
  softmax: ['row'],
  layernorm: ['row'],
  elementwise: ['row'],
  reduce: ['row'],
};

/** Attribute values that mean what an omitted attribute means, per kind. */
const DEFAULT_ATTRS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  conv2d: { stride: 1, pad: 0, dilation: 1, groups: 1 },
  softmax: { log: 0 },
  reduce: { keepdim: 0 },
  // Layer normalisation with weight and bias, as nn.LayerNorm and the C toolchain compute it.
  layernorm: { rms: 0, affine: 1 },
};

/**
 * Attributes of a matrix product that name or parametrize without changing its structure: the
 * parameter holding B (`weight`: "gemm.weight") and the arguments of its epilogue steps (`e1`:
 * "0.5", `e2`: "gemm.bias"; src/targets/templates/epilogue-chain.ts). A product scaled by 0.5 and
 * one scaled by 2 are the same kernel.
 */
export function isEpilogueArgumentAttr(name: string): boolean {
  return name === 'weight' || /^e[1-8]$/.test(name);
}

/**
 * Attributes of a normalisation that name or parametrize without changing its kernel: its
 * parameters' names (`weight`, `bias`), the trailing sizes they have (`shape`, whose product is N)
 * and the number added to the variance (`eps`). A layer norm at eps 1e-5 and one at 1e-6 are the
 * same kernel.
 */
const LAYERNORM_ARGUMENT_ATTRS: ReadonlySet<string> = new Set(['weight', 'bias', 'shape', 'eps']);

/** Per kind, the attributes its keys drop (they name or parametrize without changing the structure). */
const ARGUMENT_ATTRS: Readonly<Record<string, (name: string) => boolean>> = {
  gemm: isEpilogueArgumentAttr,
  batched_gemm: isEpilogueArgumentAttr,
  elementwise: isEpilogueArgumentAttr,
  layernorm: (name) => LAYERNORM_ARGUMENT_ATTRS.has(name),
};

/**
 * The operation as its keys see it: layouts and attributes at their default values dropped, so
 * `stride: 1` or `layout: "nn"` key the same as saying nothing, and a product's naming and
 * epilogue arguments (isEpilogueArgumentAttr) and a normalisation's parameter names, shape and
 * eps dropped. Stored content keeps what was given (its
 * hash and id do not change); only the keys are canonical.
 */
function keyedForm(op: Operation): { layout: string | undefined; attrs: Operation['attrs'] } {
  const layout = op.layout !== undefined && DEFAULT_LAYOUTS[op.kind]?.includes(op.layout) ? undefined : op.layout;
  const defaults = DEFAULT_ATTRS[op.kind] ?? {};
  const isArgument = Object.hasOwn(ARGUMENT_ATTRS, op.kind) ? ARGUMENT_ATTRS[op.kind]! : () => false;
  const attrs = Object.fromEntries(
    Object.entries(op.attrs).filter(([name, value]) => defaults[name] !== value && !isArgument(name)),
  );
  return { layout, attrs };
}

function keyOf(op: Operation, form: { layout: string | undefined; attrs: Operation['attrs'] }): string {
  const dimNames = Object.keys(op.dims).sort().join(',');
  return [
    `op${OPERATION_KEY_VERSION}`,
    op.kind,
    op.dtype,
    form.layout ?? '-',
    op.epilogue.length ? op.epilogue.join('+') : '-',
    dimNames,
    attrsPart(form.attrs),
  ].join('|');
}

function withSizes(op: Operation, structure: string): string {
  const sizes = Object.keys(op.dims)
    .sort()
    .map((k) => `${k}=${op.dims[k]}`)
    .join(',');
  return `${structure}|${sizes}`;
}

/**
 * Everything but the sizes: kind, dtype, layout, epilogue, dimension names and structural attributes
 * (defaults dropped). Two GEMMs of different sizes share it.
 */
export function structureKey(op: Operation): string {
  return keyOf(op, keyedForm(op));
}

/** The structure key plus the sizes: equal only for the very same problem. */
export function shapeKey(op: Operation): string {
  return withSizes(op, structureKey(op));
}

/**
 * A key of the operation exactly as written, defaults included: export files name operations by
 * it, so two operations that differ only in a spelled-out default stay two lines and every
 * schedule imports byte for byte (and files written before keys were canonical still import).
 */
export function exactOperationKey(op: Operation): string {
  return withSizes(op, keyOf(op, { layout: op.layout, attrs: op.attrs }));
}

/**
 * Floating-point operations one call performs, used for GFLOP/s, arithmetic intensity and the
 * embedder. Unknown kinds fall back to the product of their sizes.
 */
export function flopCount(op: Operation): number {
  const d = op.dims;
  const g = (name: string, fallback = 1): number => d[name] ?? fallback;
  switch (op.kind) {
    case 'gemm':
      return 2 * g('M') * g('N') * g('K');
    case 'batched_gemm':
      return 2 * g('B') * g('M') * g('N') * g('K');
    case 'matvec':
      return 2 * g('M') * g('K', g('N'));
    case 'conv2d': {
      const { outH, outW } = conv2dOutputSize(op);
      return 2 * g('N') * g('K') * outH * outW * g('C') * g('R') * g('S');
    }
    case 'softmax':
      return 5 * g('M') * g('N');
    case 'layernorm':
      // Rows (M x N) or columns (B x R x I): the same work per element.
      return 8 * g('M') * g('N') * g('B') * g('R') * g('I');
    case 'elementwise':
      return g('M') * g('N') * Math.max(1, op.epilogue.length);
    case 'reduce':
      return g('B') * g('R') * g('I');
    default:
      return Object.values(d).reduce((a, b) => a * b, 1);
  }
}

/** Output height and width of a conv2d from its sizes and its stride / padding attributes. */
export function conv2dOutputSize(op: Operation): { outH: number; outW: number } {
  const stride = typeof op.attrs.stride === 'number' ? op.attrs.stride : 1;
  const pad = typeof op.attrs.pad === 'number' ? op.attrs.pad : 0;
  const H = op.dims.H ?? 1;
  const W = op.dims.W ?? 1;
  const R = op.dims.R ?? 1;
  const S = op.dims.S ?? 1;
  return {
    outH: Math.max(0, Math.floor((H + 2 * pad - R) / stride) + 1),
    outW: Math.max(0, Math.floor((W + 2 * pad - S) / stride) + 1),
  };
}

const DTYPE_BYTES: Record<Operation['dtype'], number> = { f32: 4, f16: 2, bf16: 2, f64: 8, i8: 1, i32: 4 };

export function dtypeBytes(dtype: Operation['dtype']): number {
  return DTYPE_BYTES[dtype];
}

/** Compulsory bytes moved (each input read once, the output written once). */
export function minimumBytes(op: Operation): number {
  const d = op.dims;
  const g = (name: string, fallback = 1): number => d[name] ?? fallback;
  const b = dtypeBytes(op.dtype);
  switch (op.kind) {
    case 'gemm':
      return b * (g('M') * g('K') + g('K') * g('N') + g('M') * g('N'));
    case 'batched_gemm':
      return b * g('B') * (g('M') * g('K') + g('K') * g('N') + g('M') * g('N'));
    case 'matvec':
      return b * (g('M') * g('K', g('N')) + g('K', g('N')) + g('M'));
    case 'conv2d': {
      const { outH, outW } = conv2dOutputSize(op);
      return (
        b * (g('N') * g('C') * g('H') * g('W') + g('K') * g('C') * g('R') * g('S') + g('N') * g('K') * outH * outW)
      );
    }
    case 'softmax':
    case 'elementwise':
      return b * 2 * g('M') * g('N');
    case 'layernorm':
      return b * 2 * g('M') * g('N') * g('B') * g('R') * g('I');
    case 'reduce':
      return b * g('B') * g('I') * (g('R') + 1);
    default:
      return b * Object.values(d).reduce((a, v) => a * v, 1);
  }
}

/** Parses "M=512,N=512,K=512" (the CLI's --shape) into dims. */
export function parseShapeSpec(spec: string): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z][A-Za-z0-9_]*)=(\d+)$/.exec(part);
    if (!m)
      throw new SkbError(
        'BAD_INPUT',
        `Bad shape entry "${part}": write sizes as NAME=INTEGER separated by commas, e.g. M=512,N=512,K=512`,
      );
    dims[m[1]!] = Number(m[2]);
  }
  if (Object.keys(dims).length === 0)
    throw new SkbError('BAD_INPUT', 'The shape is empty: give sizes such as M=512,N=512,K=512');
  return dims;
}
