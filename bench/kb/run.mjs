// Knowledge-base benchmark: ingest rate, `similar` latency and resident memory at a few sizes,
// HNSW against exact brute force over the same vectors.
//
//   npm run build && node --expose-gc bench/kb/run.mjs [--sizes 10000,100000] [--queries 1000] [--batch 1000]
//
// Plain JavaScript over the build output (dist/), so it runs without a TypeScript loader.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createOfflineEmbedder, createExactIndex } from '../../dist/embeddings/index.js';
import { openKnowledgeBase } from '../../dist/search/libsql-knowledge-base.js';
import { ScheduleContentSchema, makeTargetRecord, parseOperation } from '../../dist/schedules/index.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    queries: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '1000' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const queryCount = Number(values.queries);
const batchSize = Number(values.batch);
const K = 10;

/** Deterministic pseudo-random numbers, so every run measures the same data. */
function rng(seed) {
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
const targets = [
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

function randomOperation(r) {
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

function randomContent(r, i) {
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

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function timeEach(n, fn) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn(i);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

async function timeEachAsync(n, fn) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

const mb = (bytes) => (bytes / 2 ** 20).toFixed(0);
const rows = [];

for (const size of sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'skb-bench-'));
  const embedder = createOfflineEmbedder();
  const kb = await openKnowledgeBase({ dbUrl: `file:${join(dir, 'kb.db')}`, dataDir: dir, embedder });
  const r = rng(size);
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  for (let done = 0; done < size; done += batchSize) {
    const batch = Array.from({ length: Math.min(batchSize, size - done) }, (_, j) => randomContent(r, done + j));
    await kb.addSchedules(batch, done === 0 ? targets : undefined);
    if ((done / batchSize) % 10 === 9) process.stderr.write(`  ${size}: ${done + batch.length} ingested\n`);
  }
  const ingestS = (performance.now() - t0) / 1000;
  // With --expose-gc, garbage of the ingest (the generated contents) is not counted as resident.
  globalThis.gc?.();
  const { rss: rssKb, heapUsed } = process.memoryUsage();

  const qr = rng(size + 7);
  const queries = Array.from({ length: queryCount }, () => randomOperation(qr));
  const vectors = await embedder.embed(queries.map((operation) => ({ operation })));
  const familyOf = (i) => targets[i % targets.length].family;

  const hnswTimes = timeEach(queryCount, (i) => kb.index.search(vectors[i], K, familyOf(i)));
  const exact = createExactIndex({ dim: embedder.dim });
  exact.add(await kb.store.listEmbeddings(embedder.id));
  const exactTimes = timeEach(queryCount, (i) => exact.search(vectors[i], K, familyOf(i)));
  let hits = 0;
  let total = 0;
  for (let i = 0; i < queryCount; i++) {
    const truth = new Set(exact.search(vectors[i], K, familyOf(i)).map((n) => n.label));
    hits += kb.index.search(vectors[i], K, familyOf(i)).filter((n) => truth.has(n.label)).length;
    total += truth.size;
  }
  const similarOnce = (i) => kb.similar({ operation: queries[i], targetKey: targets[i % targets.length].key, k: K });
  // The first pass loads each (structure, family) group of the shape catalog once; the second is the steady state.
  const similarCold = await timeEachAsync(queryCount, similarOnce);
  const similarTimes = await timeEachAsync(queryCount, similarOnce);
  const closeT = performance.now();
  await kb.close();
  const closeS = (performance.now() - closeT) / 1000;

  const reopenT = performance.now();
  const again = await openKnowledgeBase({ dbUrl: `file:${join(dir, 'kb.db')}`, dataDir: dir, embedder });
  const reopenS = (performance.now() - reopenT) / 1000;
  const loaded = again.index.rebuiltBecause === null;
  await again.close();
  rmSync(dir, { recursive: true, force: true });

  rows.push({
    size,
    'ingest/s': Math.round(size / ingestS),
    'hnsw p50 ms': percentile(hnswTimes, 50).toFixed(3),
    'hnsw p99 ms': percentile(hnswTimes, 99).toFixed(3),
    'exact p50 ms': percentile(exactTimes, 50).toFixed(3),
    'exact p99 ms': percentile(exactTimes, 99).toFixed(3),
    'recall@10': (hits / total).toFixed(4),
    'similar cold p50/p99 ms': `${percentile(similarCold, 50).toFixed(2)} / ${percentile(similarCold, 99).toFixed(2)}`,
    'similar p50 ms': percentile(similarTimes, 50).toFixed(2),
    'similar p99 ms': percentile(similarTimes, 99).toFixed(2),
    'rss MiB': mb(rssKb),
    'rss growth MiB': mb(rssKb - rssBefore),
    'heap MiB': mb(heapUsed),
    'save on close s': closeS.toFixed(2),
    'reopen s': `${reopenS.toFixed(2)}${loaded ? '' : ' (rebuilt)'}`,
  });
  console.table(rows.slice(-1));
}

console.log(
  `\nschedule-kb bench: offline embedder (dim 128), k=${K}, ${queryCount} queries, batches of ${batchSize}, ${targets.length} targets in 2 families`,
);
console.log(
  'hnsw/exact: vector search alone (embedding precomputed); similar: kb.similar end to end (embed, three tiers, store reads),',
);
console.log(
  '"cold" = first pass over the queries (loads each structure group of the shape catalog from the store once), then a second, warm pass',
);
console.table(rows);
