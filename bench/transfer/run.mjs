// The transfer tier measured: on a machine whose CPU is another hardware family than the one the
// shipped seed pack was measured on, does warm start from that pack (offered only as `transfer`
// seeds) beat a cold search at the same budget? Run after `npm run build`, on that machine:
//   node bench/transfer/run.mjs [--budget 16] [--seed 1] [--ops gemm,conv2d,layernorm] [--out FILE]
// Each operation runs cold and warm on its own fresh knowledge base holding only the package's seed
// packs (so neither run learns from the other), on this machine as the target (`local`). Prints a
// table and writes JSON (default bench/out/transfer.json): baseline, cold best, warm best, the
// speedups, the seeds with their tiers and reasons, and the wall time of each search.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const rootUrl = new URL('../../', import.meta.url);
const root = fileURLToPath(rootUrl);
const dist = (p) => new URL(`dist/${p}`, rootUrl);
if (!existsSync(dist('api/services.js'))) {
  console.error('bench/transfer: run `npm run build` first (dist/api/services.js is missing)');
  process.exit(1);
}
const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    ops: { type: 'string', default: 'gemm,conv2d,layernorm' },
    out: { type: 'string', default: join(root, 'bench', 'out', 'transfer.json') },
  },
});
const budget = Number(values.budget);
const seed = Number(values.seed);
if (!Number.isInteger(budget) || budget < 1)
  throw new Error(`--budget must be a positive integer, got ${values.budget}`);

const { loadConfig } = await import(dist('api/config.js'));
const { openServices } = await import(dist('api/services.js'));
const { createConsoleLogger } = await import(dist('api/logger.js'));

/** Shapes people tune, larger than the pack's, so neither an exact nor a same-family seed exists. */
const OPERATIONS = {
  gemm: { kind: 'gemm', dims: { M: 512, N: 768, K: 768 } },
  conv2d: { kind: 'conv2d', dims: { N: 1, C: 64, H: 28, W: 28, K: 64, R: 3, S: 3 }, attrs: { pad: 1 } },
  layernorm: { kind: 'layernorm', dims: { M: 512, N: 4096 } },
  softmax: { kind: 'softmax', dims: { M: 512, N: 4096 } },
};
const ops = values.ops.split(',').map((name) => {
  const op = OPERATIONS[name];
  if (!op) throw new Error(`--ops: unknown operation ${name}; use ${Object.keys(OPERATIONS).join(', ')}`);
  return [name, op];
});

const logger = { ...createConsoleLogger(), info: () => {} };
const config = (warm) => ({ budget, seed, warmStart: warm ? { enabled: true } : { enabled: false } });

/** One search on a fresh knowledge base holding the package's seed packs only. */
async function search(operation, warm) {
  const dir = await mkdtemp(join(tmpdir(), 'skb-transfer-'));
  const env = { SKB_DB_URL: `file:${join(dir, 'kb.db')}`, SKB_DATA_DIR: join(dir, 'data') };
  const services = await openServices(loadConfig(env, root), { cwd: root, env: process.env, logger });
  try {
    const started = Date.now();
    const record = await services.search.start({ operation, target: 'local' }, config(warm));
    const done = await services.search.wait(record.id);
    const wallS = (Date.now() - started) / 1000;
    if (done.status !== 'finished')
      throw new Error(`search ${done.id} ended ${done.status}: ${done.error ?? done.message}`);
    const seeds = [];
    for (const s of done.seeds) {
      const match = (
        await services.kb.similar({ operation: done.task.operation, targetKey: done.targetKey, k: 10, tiers: [s.tier] })
      ).find((m) => m.schedule.id === s.scheduleId);
      seeds.push({ scheduleId: s.scheduleId, tier: s.tier, outcome: s.outcome, reason: match?.reason ?? null });
    }
    return {
      baselineMs: done.baselineLatencyMs,
      bestMs: done.bestLatencyMs,
      speedup: done.baselineLatencyMs / done.bestLatencyMs,
      samples: done.samplesUsed,
      wallS,
      seeds,
    };
  } finally {
    await services.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const rows = [];
for (const [name, operation] of ops) {
  const cold = await search(operation, false);
  const warm = await search(operation, true);
  rows.push({ name, operation, cold, warm, warmOverCold: cold.bestMs / warm.bestMs });
  console.error(`${name}: cold ${cold.speedup.toFixed(2)}x, warm ${warm.speedup.toFixed(2)}x`);
}
const result = {
  command: `node bench/transfer/run.mjs --budget ${budget} --seed ${seed} --ops ${values.ops}`,
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg() },
  budget,
  seed,
  rows,
};
await mkdir(dirname(values.out), { recursive: true });
await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
console.log(
  '| operation | baseline ms | cold best ms (speedup) | warm best ms (speedup) | warm / cold | seeds (tier) |',
);
console.log('|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.name} | ${r.cold.baselineMs.toPrecision(4)} | ${r.cold.bestMs.toPrecision(4)} (${r.cold.speedup.toFixed(2)}x) | ${r.warm.bestMs.toPrecision(4)} (${r.warm.speedup.toFixed(2)}x) | ${r.warmOverCold.toFixed(2)}x | ${r.warm.seeds.map((s) => `${s.tier}:${s.outcome}`).join(', ') || 'none'} |`,
  );
