/**
 * What a `layernorm` operation computes, read once for every toolchain. Two forms by its dims:
 *
 * - rows, { M, N }: each of M rows of N elements normalised (the trailing sizes of the input, N
 *   their product; attrs.shape names them when there are several, "64,256,256", as
 *   nn.LayerNorm's normalized_shape does, and the weight and bias have that shape);
 * - columns, { B, R, I }: the input viewed as B x R x I around the axis attrs.dim, each of the B x I
 *   columns of R elements normalised (KernelBench's RMSNorm over the features of B x F x H x W).
 *
 * attrs: `rms` 1 for RMS normalisation (x / sqrt(mean(x^2) + eps): no mean subtracted, no bias;
 * default 0), `affine` 0 for none of the elementwise weight (and, without rms, bias) of the
 * normalised shape (default 1: the weight and bias nn.LayerNorm has; rows only), `eps` the number
 * added to the variance (default 1e-5, nn.LayerNorm's), `weight` / `bias` the parameters' state_dict
 * names (default "weight" and "bias"), so that a candidate's parameters are found where the
 * reference keeps them. The C toolchain computes the rows form with weight and bias at eps 1e-5.
 */
import { SkbError, type Operation } from '../../schedules/index.js';
import { checkedParamName } from './epilogue-chain.js';

/** nn.LayerNorm's eps, what an operation without attrs.eps adds to the variance. */
const DEFAULT_LAYERNORM_EPS = 1e-5;

const NUMBER = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const SHAPE = /^[1-9]\d{0,9}(,[1-9]\d{0,9}){0,7}$/;

interface FormCommon {
  rms: boolean;
  eps: number;
}

/** Rows of N, the input's trailing sizes `shape` (product N), with the parameters named where affine. */
export interface LayernormRows extends FormCommon {
  form: 'rows';
  M: number;
  N: number;
  shape: number[];
  /** The weight's state_dict name, or null without affine. */
  weight: string | null;
  /** The bias's state_dict name, or null without affine or under rms. */
  bias: string | null;
}

/** Columns of R around the axis `dim` of the input (negative counts from the end). */
export interface LayernormColumns extends FormCommon {
  form: 'columns';
  B: number;
  R: number;
  I: number;
  dim: number;
}

export type LayernormForm = LayernormRows | LayernormColumns;

const ROWS_ATTRS = ['rms', 'affine', 'eps', 'weight', 'bias', 'shape'];
const COLUMN_ATTRS = ['rms', 'affine', 'eps', 'dim'];

function flag(op: Operation, name: string, fallback: 0 | 1, what: string): boolean {
  const v = op.attrs[name] ?? fallback;
  if (v !== 0 && v !== 1) throw new SkbError('BAD_INPUT', `A layernorm operation's attrs.${name} is 0 or 1 (${what})`);
  return v === 1;
}

function epsOf(op: Operation): number {
  const v = op.attrs.eps;
  if (v === undefined) return DEFAULT_LAYERNORM_EPS;
  const value = Number(v);
  if (typeof v !== 'string' || !NUMBER.test(v.trim()) || !Number.isFinite(value))
    throw new SkbError(
      'BAD_INPUT',
      `A layernorm operation's attrs.eps is a number written as a string, such as "1e-5" or "1e-6" (got ${JSON.stringify(v)})`,
    );
  return value;
}

/** The operation's form, or BAD_INPUT saying what to fix. Kind and dims are checked; dtype and layout are the toolchain's. */
export function layernormForm(op: Operation): LayernormForm {
  if (op.kind !== 'layernorm')
    throw new SkbError('BAD_INPUT', `A layernorm form is read from a layernorm operation, not ${op.kind}`);
  const names = Object.keys(op.dims).sort().join(',');
  if (names !== 'M,N' && names !== 'B,I,R')
    throw new SkbError(
      'BAD_INPUT',
      `A layernorm operation names its sizes M and N (M rows of N normalised) or B, R and I (R normalised for each of B x I columns), not ${names}`,
    );
  if (op.epilogue.length) throw new SkbError('BAD_INPUT', 'A layernorm operation has no epilogue');
  const rows = names === 'M,N';
  const allowed = rows ? ROWS_ATTRS : COLUMN_ATTRS;
  const stray = Object.keys(op.attrs).filter((a) => !allowed.includes(a));
  if (stray.length)
    throw new SkbError(
      'BAD_INPUT',
      `A layernorm operation with dims ${rows ? 'M, N' : 'B, R, I'} takes the attributes ${allowed.join(', ')}, not ${stray.join(', ')}`,
    );
  const rms = flag(op, 'rms', 0, '1 for RMS normalisation');
  const eps = epsOf(op);
  if (!rows) {
    if (flag(op, 'affine', 1, '0 for no weight or bias'))
      throw new SkbError(
        'BAD_INPUT',
        'A layernorm over columns (dims B, R, I) has no weight or bias: give attrs.affine 0',
      );
    const dim = op.attrs.dim;
    if (typeof dim !== 'number' || !Number.isInteger(dim) || Math.abs(dim) > 64)
      throw new SkbError(
        'BAD_INPUT',
        'A layernorm over columns (dims B, R, I) gives the normalised axis of its input as attrs.dim, an integer (negative counts from the end)',
      );
    return { form: 'columns', rms, eps, B: op.dims.B!, R: op.dims.R!, I: op.dims.I!, dim };
  }
  const N = op.dims.N!;
  const shapeAttr = op.attrs.shape;
  let shape = [N];
  if (shapeAttr !== undefined) {
    if (typeof shapeAttr !== 'string' || !SHAPE.test(shapeAttr))
      throw new SkbError(
        'BAD_INPUT',
        `A layernorm operation's attrs.shape is the normalised trailing sizes joined by commas, such as "64,256,256" (got ${JSON.stringify(shapeAttr)})`,
      );
    shape = shapeAttr.split(',').map(Number);
    const product = shape.reduce((a, b) => a * b, 1);
    if (product !== N)
      throw new SkbError(
        'BAD_INPUT',
        `A layernorm operation's attrs.shape "${shapeAttr}" multiplies to ${product}, not to its N ${N}`,
      );
  }
  const affine = flag(op, 'affine', 1, '0 for no weight or bias');
  if (!affine && (op.attrs.weight !== undefined || op.attrs.bias !== undefined))
    throw new SkbError('BAD_INPUT', 'A layernorm operation with attrs.affine 0 names no weight or bias parameter');
  if (rms && op.attrs.bias !== undefined)
    throw new SkbError('BAD_INPUT', 'An RMS normalisation (attrs.rms 1) has a weight only, no bias');
  const weight = affine ? checkedParamName(op.attrs.weight ?? 'weight', 'attrs.weight (the weight parameter)') : null;
  const bias = affine && !rms ? checkedParamName(op.attrs.bias ?? 'bias', 'attrs.bias (the bias parameter)') : null;
  if (weight !== null && weight === bias)
    throw new SkbError('BAD_INPUT', `A layernorm operation's weight and bias are two parameters, not both ${weight}`);
  return { form: 'rows', rms, eps, M: op.dims.M!, N, shape, weight, bias };
}

/** Whether the operation is the one the C toolchain computes: rows with weight and bias, eps 1e-5, no rms. */
export function isPlainLayernorm(form: LayernormForm): boolean {
  return form.form === 'rows' && !form.rms && form.weight !== null && form.eps === DEFAULT_LAYERNORM_EPS;
}
