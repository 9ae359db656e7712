// Resident memory of writes through the libSQL store alone: fills a fresh file database through
// `insertSchedules` in batches (with 128-dimensional embeddings, as the knowledge base writes them)
// and prints RSS and V8 heap after every few batches, after a GC when --expose-gc is given.
// Memory that grows with the number of writes, not with the data, shows up as a steady climb.
//
//   npm run build && node --expose-gc bench/kb/store-memory.mjs [--count 20000] [--batch 1000] [--every 5]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLibsqlStore } from '../../dist/schedules/libsql-store.js';
import { ScheduleContentSchema, makeTargetRecord, parseOperation } from '../../dist/schedules/index.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '1000' },
    every: { type: 'string', default: '5' },
  },
});
const count = Number(values.count);
const batchSize = Number(values.batch);
const every = Number(values.every);

const target = makeTargetRecord('local', 'bench CPU', {
  kind: 'cpu', arch: 'x86_64', model: 'Bench CPU', isa: ['avx2'], caches: { l1d: 32768, l2: 1048576 }, cores: 2, compiler: 'gcc 12',
});

function content(i) {
  return ScheduleContentSchema.parse({
    operation: parseOperation({ kind: 'gemm', dtype: 'f32', epilogue: [], dims: { M: 16 * (1 + (i % 256)), N: 16 * (1 + ((i >> 8) % 256)), K: 16 * (1 + (i >> 16)) } }),
    targetKey: target.key,
    steps: [{ optionId: 'cpu.tile', optionLabel: 'tile', plan: `tile ${i}`, params: { i }, latencyBeforeMs: 10, latencyAfterMs: 5 }],
    finalCode: `/* ${i} */`,
    baselineLatencyMs: 10,
    bestLatencyMs: 5,
    samplesUsed: 4,
    provenance: { source: 'seed', note: `memory ${i}` },
    createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  });
}

const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);
const dir = mkdtempSync(join(tmpdir(), 'skb-store-memory-'));
const store = await createLibsqlStore({ url: `file:${join(dir, 'kb.db')}` });
globalThis.gc?.();
const start = process.memoryUsage().rss;
console.log(`schedules  rss MiB  rss growth MiB  heap MiB`);
const report = (n) => {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  console.log(`${String(n).padStart(9)}  ${mib(rss).padStart(7)}  ${mib(rss - start).padStart(14)}  ${mib(heapUsed).padStart(8)}`);
};
report(0);
for (let done = 0, batches = 0; done < count; done += batchSize) {
  const contents = Array.from({ length: Math.min(batchSize, count - done) }, (_, j) => content(done + j));
  const vectors = contents.map((_, j) => Float32Array.from({ length: 128 }, (_, d) => Math.sin(done + j + d)));
  await store.insertSchedules(contents, { targets: [target], embeddings: { embedderId: 'bench-v1-128', vectors } });
  if (++batches % every === 0 || done + contents.length >= count) report(done + contents.length);
}
store.close();
rmSync(dir, { recursive: true, force: true });
