// Spread of repeated medians: times the fastest candidate a search stored, seven times under the
// C toolchain's adaptive defaults and seven times at a fixed count (3 warm-up, 15 runs), and prints
// the medians, their spread ((max - min) / median), the runs taken, why timing stopped, and the wall
// time per evaluation. Run a search first, e.g.
//
//   SKB_DB_URL=file:/tmp/b/kb.db skb optimize --op gemm --shape M=512,N=768,K=1152 --budget 16 --cold
//   npm run build && node bench/timing/repeat-medians.mjs --db /tmp/b/kb.db --op gemm --shape M=512,N=768,K=1152
import { parseArgs } from 'node:util';
import { createClient } from '@libsql/client';
import { parseOperation } from '../../dist/schedules/index.js';
import { createCToolchain } from '../../dist/targets/c/c-toolchain.js';
import { createLocalExecutor } from '../../dist/targets/local-executor.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    op: { type: 'string' },
    shape: { type: 'string' },
    reps: { type: 'string', default: '7' },
  },
});
if (!values.db || !values.op || !values.shape) {
  console.error('usage: node bench/timing/repeat-medians.mjs --db FILE --op KIND --shape M=..,N=..[,K=..] [--reps 7]');
  process.exit(2);
}
const dims = Object.fromEntries(values.shape.split(',').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]));
const operation = parseOperation({ kind: values.op, dims });
const reps = Number(values.reps);

const db = createClient({ url: `file:${values.db}` });
const fastest = (
  await db.execute(
    "SELECT record FROM candidates WHERE json_extract(record, '$.latencyMs') IS NOT NULL ORDER BY json_extract(record, '$.latencyMs') LIMIT 1",
  )
).rows[0];
if (!fastest) throw new Error(`${values.db} holds no measured candidate`);
const code = JSON.parse(String(fastest.record)).code;
db.close();

const executor = createLocalExecutor();
const toolchain = createCToolchain();
const settings = [
  ['adaptive (defaults)', {}],
  ['fixed 3 + 15', { minRuns: 15, stableSpreadPct: 0, budgetMs: 600_000 }],
];
for (const [name, timing] of settings) {
  const medians = [];
  const runs = [];
  const stops = [];
  const started = Date.now();
  for (let i = 0; i < reps; i++) {
    const [r] = await toolchain.evaluate({ operation, candidates: [code], executor, timing });
    if (!r.correct) throw new Error(`the stored candidate failed: ${r.feedback.join('; ')}`);
    medians.push(r.latencyMs);
    runs.push(r.samplesMs.length);
    stops.push(r.timingStop);
  }
  const sorted = [...medians].sort((a, b) => a - b);
  const middle = sorted[Math.floor(sorted.length / 2)];
  const spread = ((sorted.at(-1) - sorted[0]) / middle) * 100;
  console.log(
    `${name}: medians ${medians.map((m) => m.toFixed(3)).join(' ')} ms; spread ${spread.toFixed(2)}%; ` +
      `runs ${runs.join(',')}; stops ${stops.join(',')}; ${((Date.now() - started) / reps / 1000).toFixed(2)} s per evaluation`,
  );
}
await executor.close();
