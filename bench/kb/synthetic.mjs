// The knowledge-base benchmarks' synthetic data: deterministic schedules of six kinds on three
// targets in two CPU families, shared by run.mjs (latency, ingest) and soak.mjs (memory under load).
import { ScheduleContentSchema, makeTargetRecord, parseOperation } from '../../dist/schedules/index.js';

/** Deterministic pseudo-random numbers, so every run measures the same data. */
export function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const cpu = (model, compiler) => ({
  kind: 'cpu',
  arch: 'x86_64',
  model,
  isa: ['avx2', 'fma'],
  caches: { l1d: 32768, l2: 1048576 },
  cores: 2,
  compiler,
});
export const targets = [
  makeTargetRecord('local', 'bench CPU A', cpu('Bench CPU A', 'gcc 12')),
  makeTargetRecord('local-gcc13', 'bench CPU A, newer compiler', cpu('Bench CPU A', 'gcc 13')),
  makeTargetRecord('remote', 'bench CPU B', cpu('Bench CPU B', 'gcc 12')),
];
const OPTIONS = [
  'cpu.tile',
  'cpu.register_block',
  'cpu.unroll',
  'cpu.vectorize',
  'cpu.pack_b',
  'cpu.loop_order',
  'cpu.compiler_flags',
  'cpu.parallel',
];
const WORDS = [
  'tile',
  'the',
  'loop',
  'by',
  'for',
  'registers',
  'cache',
  'L1',
  'L2',
  'unroll',
  'vectorize',
  'AVX2',
  'pack',
  'panel',
  'reorder',
  'hoist',
];

export function randomOperation(r) {
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const size = (lo, hi) => Math.max(1, Math.round(2 ** (lo + r() * (hi - lo)) / 16) * 16 || 16);
  const kind = pick(['gemm', 'gemm', 'gemm', 'batched_gemm', 'conv2d', 'matvec', 'softmax', 'layernorm']);
  const dtype = pick(['f32', 'f32', 'f16', 'bf16']);
  const epilogue = kind === 'gemm' || kind === 'conv2d' ? pick([[], [], ['bias'], ['bias', 'relu']]) : [];
  let dims;
  switch (kind) {
    case 'gemm':
      dims = { M: size(6, 13), N: size(6, 13), K: size(6, 13) };
      break;
    case 'batched_gemm':
      dims = { B: pick([2, 4, 8, 16]), M: size(5, 11), N: size(5, 11), K: size(5, 11) };
      break;
    case 'conv2d':
      dims = {
        N: pick([1, 2, 8]),
        C: size(4, 9),
        H: pick([7, 14, 28, 56, 112]),
        W: pick([7, 14, 28, 56, 112]),
        K: size(4, 9),
        R: pick([1, 3, 5]),
        S: pick([1, 3, 5]),
      };
      break;
    case 'matvec':
      dims = { M: size(8, 14), K: size(8, 14) };
      break;
    default:
      dims = { M: size(6, 13), N: size(6, 13) };
  }
  return parseOperation({ kind, dtype, epilogue, dims });
}

export function randomContent(r, i) {
  const op = randomOperation(r);
  const target = targets[i % targets.length];
  const stepCount = 1 + Math.floor(r() * 4);
  let latency = 1 + r() * 100;
  const baseline = latency;
  const steps = [];
  for (let s = 0; s < stepCount; s++) {
    const optionId = OPTIONS[Math.floor(r() * OPTIONS.length)];
    const after = latency * (0.5 + r() * 0.45);
    const plan = Array.from({ length: 8 }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ');
    steps.push({
      optionId,
      optionLabel: optionId,
      plan,
      params: { i: s },
      latencyBeforeMs: latency,
      latencyAfterMs: after,
    });
    latency = after;
  }
  return ScheduleContentSchema.parse({
    operation: op,
    targetKey: target.key,
    steps,
    finalCode: `/* bench ${i} */`,
    baselineLatencyMs: baseline,
    bestLatencyMs: latency,
    samplesUsed: stepCount * 4,
    provenance: { source: 'seed', note: `bench ${i}` },
    createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  });
}

/** Adds `size` synthetic schedules to `kb` in batches (the targets with the first), logging progress to stderr. */
export async function fillKnowledgeBase(kb, size, { batchSize = 1000, seed = size } = {}) {
  const r = rng(seed);
  for (let done = 0; done < size; done += batchSize) {
    const batch = Array.from({ length: Math.min(batchSize, size - done) }, (_, j) => randomContent(r, done + j));
    await kb.addSchedules(batch, done === 0 ? targets : undefined);
    if ((done / batchSize) % 10 === 9) process.stderr.write(`  ${size}: ${done + batch.length} ingested\n`);
  }
}
