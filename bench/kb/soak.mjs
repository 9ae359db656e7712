// Memory soak: a real `skb serve` on a knowledge base of --size synthetic schedules answers
// --queries `similarSchedules` GraphQL requests over HTTP (--concurrency at a time); the server's
// resident memory is read from /proc at each checkpoint, with the client-side latency of the
// requests since the previous one.
//
//   npm run build && node bench/kb/soak.mjs [--size 100000] [--queries 100000] [--checkpoints 1000,10000,...] [--concurrency 4] [--distinct 5000]
//
// Plain JavaScript over the build output (dist/), so it runs without a TypeScript loader.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { createOfflineEmbedder } from '../../dist/embeddings/index.js';
import { openKnowledgeBase } from '../../dist/search/libsql-knowledge-base.js';
import { fillKnowledgeBase, randomOperation, rng } from './synthetic.mjs';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '100000' },
    checkpoints: { type: 'string', default: '1000,10000,25000,50000,75000,100000' },
    concurrency: { type: 'string', default: '4' },
    distinct: { type: 'string', default: '5000' },
  },
});
const size = Number(values.size);
const queryCount = Number(values.queries);
const checkpoints = values.checkpoints
  .split(',')
  .map(Number)
  .filter((n) => n <= queryCount);
const concurrency = Number(values.concurrency);

const dir = mkdtempSync(join(tmpdir(), 'skb-soak-'));
const dbUrl = `file:${join(dir, 'kb.db')}`;
const fillStart = performance.now();
const kb = await openKnowledgeBase({ dbUrl, dataDir: dir, embedder: createOfflineEmbedder() });
await fillKnowledgeBase(kb, size);
await kb.close();
process.stderr.write(`filled ${size} schedules in ${((performance.now() - fillStart) / 1000).toFixed(0)} s\n`);

const server = spawn(process.execPath, ['bin/skb.js', 'serve'], {
  env: {
    ...process.env,
    SKB_DB_URL: dbUrl,
    SKB_DATA_DIR: dir,
    SKB_SEED_PACKS: 'none',
    SKB_PORT: '0',
    SKB_API_TOKEN: 'soak-benchmark-token',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let banner = '';
server.stdout.setEncoding('utf8');
while (!/listening on (\S+)/.test(banner)) {
  const [chunk] = await once(server.stdout, 'data');
  banner += chunk;
}
server.stdout.resume();
const base = banner.match(/listening on (\S+)/)[1];

async function graphql(query, variables) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** The server's resident set in MiB, as the kernel counts it. */
function serverRssMiB() {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+) kB/)[1]) / 1024;
}

// Queries for the stored targets (the synthetic ones, not the server's own machine), over a fixed
// pool of operations: a server sees the same operations again, and the pool is larger than any cache.
const storedTargets = (await graphql('{ targets { key description } }')).targets.filter((t) =>
  t.description.startsWith('bench CPU'),
);
const qr = rng(size + 7);
const pool = Array.from({ length: Number(values.distinct) }, () => randomOperation(qr));
const SIMILAR = `query Similar($op: OperationInput!, $target: String!) {
  similarSchedules(operation: $op, target: $target, k: 10) { tier distance score schedule { id speedup steps { optionId plan } } }
}`;
const asInput = (op) => ({
  kind: op.kind,
  dtype: op.dtype,
  epilogue: op.epilogue,
  dims: Object.entries(op.dims).map(([name, value]) => ({ name, size: value })),
});

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const rows = [];
let sent = 0;
let matches = 0;
let window = [];
const started = performance.now();
for (const checkpoint of checkpoints) {
  const lane = async () => {
    while (sent < checkpoint) {
      const i = sent++;
      const target = storedTargets[i % storedTargets.length].key;
      const t = performance.now();
      const data = await graphql(SIMILAR, { op: asInput(pool[i % pool.length]), target });
      window.push(performance.now() - t);
      matches += data.similarSchedules.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  window.sort((a, b) => a - b);
  rows.push({
    queries: checkpoint,
    'rss MiB': serverRssMiB().toFixed(0),
    'p50 ms': percentile(window, 50).toFixed(2),
    'p99 ms': percentile(window, 99).toFixed(2),
    'elapsed s': ((performance.now() - started) / 1000).toFixed(0),
  });
  window = [];
  console.table(rows.slice(-1));
}
server.kill('SIGTERM');
await once(server, 'exit');
rmSync(dir, { recursive: true, force: true });

const at = (n) => Number(rows.find((r) => r.queries === n)?.['rss MiB']);
console.log(
  `\nschedule-kb soak: skb serve on ${size} synthetic schedules, ${queryCount} similarSchedules queries (k=10, ${values.distinct} distinct operations, ${storedTargets.length} targets) over HTTP, ${concurrency} at a time; ${(matches / queryCount).toFixed(1)} matches a query`,
);
console.table(rows);
if (at(10000) && at(queryCount)) {
  console.log(`RSS after ${queryCount} queries / after 10000: ${(at(queryCount) / at(10000)).toFixed(3)}`);
}
