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
import { fillKnowledgeBase, randomOperation, rng, targets } from './synthetic.mjs';

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
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  await fillKnowledgeBase(kb, size, { batchSize });
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
