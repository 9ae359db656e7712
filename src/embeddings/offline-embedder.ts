import { flopCount, minimumBytes, SkbError, type Operation } from '../schedules/index.js';
import type { EmbeddingDoc, Embedder } from './embedder.js';

/**
 * Sizes in a fixed slot order by the role each dimension plays, so that slot 0 of every GEMM is M
 * and slot 3 of every conv2d is W. Kinds not listed use their dimension names in sorted order.
 */
const DIM_ROLES: Record<string, readonly string[]> = {
  gemm: ['M', 'N', 'K'],
  batched_gemm: ['B', 'M', 'N', 'K'],
  conv2d: ['N', 'C', 'H', 'W', 'K', 'R', 'S'],
  matvec: ['M', 'K'],
  softmax: ['M', 'N'],
  layernorm: ['M', 'N'],
};

const DTYPES: readonly Operation['dtype'][] = ['f32', 'f16', 'bf16', 'f64', 'i8', 'i32'];
const SIZE_SLOTS = 8;
const FLAG_BUCKETS = 8;
const MIN_DIM = 64;

/**
 * How much each block counts in the cosine. The kind dominates (a GEMM is never "near" a
 * softmax), sizes next; plan tokens only separate schedules of one operation, and a query has no
 * steps, so their weight never reorders schedules against a query.
 */
const WEIGHTS = {
  kind: 1.2,
  dtype: 0.6,
  flags: 0.5,
  sizes: 1.0,
  ratios: 0.6,
  intensity: 0.5,
  flops: 0.5,
  steps: 0.6,
} as const;

export interface OfflineEmbedderOptions {
  /** Vector length; the plan-token block gets what the fixed blocks leave. Default 128, at least 64. */
  dim?: number;
}

/**
 * The default embedder: deterministic features computed locally, no network. Each block is
 * weighted and the whole vector is L2-normalized, so cosine distance is meaningful.
 */
export function createOfflineEmbedder(options: OfflineEmbedderOptions = {}): Embedder {
  const dim = options.dim ?? 128;
  if (!Number.isInteger(dim) || dim < MIN_DIM || dim > 4096) {
    throw new SkbError(
      'CONFIG',
      `The offline embedder's dimension must be an integer from ${MIN_DIM} to 4096, not ${dim}.`,
    );
  }
  const layout = makeLayout(dim);
  return {
    id: `offline-v1-${dim}`,
    dim,
    embed: async (docs) => docs.map((doc) => embedOne(doc, dim, layout)),
  };
}

/**
 * The kinds with a slot of their own, frozen with the embedder's id (offline-v1): a kind added to
 * the schema later shares the last slot and is told apart by a hashed token, as custom kinds are,
 * so stored vectors keep their meaning.
 */
const SLOTTED_KINDS = ['gemm', 'batched_gemm', 'conv2d', 'matvec', 'softmax', 'layernorm'] as const;

interface Layout {
  kind: number;
  dtype: number;
  flags: number;
  sizes: number;
  ratios: number;
  intensity: number;
  flops: number;
  steps: number;
  stepBuckets: number;
}

function makeLayout(dim: number): Layout {
  const kind = 0;
  const dtype = kind + SLOTTED_KINDS.length + 1;
  const flags = dtype + DTYPES.length;
  const sizes = flags + FLAG_BUCKETS;
  const ratios = sizes + SIZE_SLOTS;
  const intensity = ratios + SIZE_SLOTS - 1;
  const flops = intensity + 1;
  const steps = flops + 1;
  return { kind, dtype, flags, sizes, ratios, intensity, flops, steps, stepBuckets: dim - steps };
}

function orderedSizes(op: Operation): number[] {
  const roles = DIM_ROLES[op.kind] ?? Object.keys(op.dims).sort();
  const known = roles.filter((r) => op.dims[r] !== undefined);
  const extra = Object.keys(op.dims)
    .filter((n) => !known.includes(n))
    .sort();
  return [...known, ...extra].slice(0, SIZE_SLOTS).map((n) => op.dims[n]!);
}

function embedOne(doc: EmbeddingDoc, dim: number, l: Layout): Float32Array {
  const v = new Float32Array(dim);
  const op = doc.operation;

  const kindIndex = (SLOTTED_KINDS as readonly string[]).indexOf(op.kind);
  v[l.kind + (kindIndex >= 0 ? kindIndex : SLOTTED_KINDS.length)] = WEIGHTS.kind;
  v[l.dtype + DTYPES.indexOf(op.dtype)] = WEIGHTS.dtype;

  const flagTokens = [
    ...(kindIndex < 0 ? [`kind:${op.kind}`] : []),
    `layout:${op.layout ?? '-'}`,
    ...op.epilogue.map((e, i) => `epi:${i}:${e}`),
    ...Object.keys(op.attrs)
      .sort()
      .map((k) => `attr:${k}=${String(op.attrs[k])}`),
  ];
  addHashedBlock(
    v,
    l.flags,
    FLAG_BUCKETS,
    flagTokens.map((t) => [t, 1]),
    WEIGHTS.flags,
  );

  // Centered at 2^8 so that small and large problems point different ways, not just farther.
  const sizes = orderedSizes(op);
  sizes.forEach((s, i) => {
    v[l.sizes + i] = WEIGHTS.sizes * ((Math.log2(s) - 8) / 8);
  });
  for (let i = 0; i + 1 < sizes.length; i++) {
    v[l.ratios + i] = WEIGHTS.ratios * (Math.log2(sizes[i]! / sizes[i + 1]!) / 8);
  }
  const flops = Math.max(1, flopCount(op));
  const bytes = Math.max(1, minimumBytes(op));
  v[l.intensity] = WEIGHTS.intensity * (Math.log2(flops / bytes) / 6);
  v[l.flops] = WEIGHTS.flops * ((Math.log2(flops) - 24) / 12);

  if (doc.steps && doc.steps.length > 0 && l.stepBuckets > 0) {
    const tokens: Array<[string, number]> = [];
    doc.steps.forEach((step, i) => {
      // The option id says what was done; its position says when. Both are worth more than any one plan word.
      tokens.push([`opt:${step.optionId}`, 3], [`opt@${Math.min(i, 7)}:${step.optionId}`, 1]);
      for (const word of planWords(step.plan)) tokens.push([`w:${word}`, 1]);
    });
    addHashedBlock(v, l.steps, l.stepBuckets, tokens, WEIGHTS.steps);
  }

  let norm = 0;
  for (let i = 0; i < dim; i++) norm += v[i]! * v[i]!;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 1;
  for (let i = 0; i < dim; i++) v[i] = v[i]! * scale;
  return v;
}

function planWords(plan: string): string[] {
  return plan
    .toLowerCase()
    .split(/[^a-z0-9_]+/)
    .filter((w) => w.length >= 3 && w.length <= 32)
    .slice(0, 400);
}

/** Signed feature hashing into `buckets` slots from `offset`, the block then scaled to norm `weight`. */
function addHashedBlock(
  v: Float32Array,
  offset: number,
  buckets: number,
  tokens: Array<[string, number]>,
  weight: number,
): void {
  if (tokens.length === 0) return;
  const block = new Float64Array(buckets);
  for (const [token, w] of tokens) {
    const h = fnv1a(token);
    block[h % buckets] = block[h % buckets]! + (h & 0x80000000 ? -w : w);
  }
  let norm = 0;
  for (const x of block) norm += x * x;
  if (norm === 0) return;
  const scale = weight / Math.sqrt(norm);
  for (let i = 0; i < buckets; i++) v[offset + i] = block[i]! * scale;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
