// Schedule reuse end to end: does a knowledge base built from other shapes make a search on a new
// shape better at small budgets? Run after `npm run build`:
//   node bench/reuse/run.mjs [--families gemm,conv2d,matvec,layernorm] [--holdout 1|all]
//                            [--seeds 1,2,3] [--budgets 8,16,32,64] [--kb-budget 64] [--prefix]
//   node bench/reuse/run.mjs --report bench/out/reuse.json   (redraw table and plot only)
// For each family, one shape is held out (--holdout: its index in SHAPES, or `all` to rotate).
// A fresh knowledge base (temp dir) is built from searches on the other shapes (warm start on, as
// a user's grows); then cold (warmStart.enabled=false) and warm searches run on the held-out shape
// at every budget and search seed, each on its own copy of that knowledge base, so no held-out
// result (or its reuse outcomes) leaks into another. Speedup = baseline latency / best latency of
// that search. --prefix reads the results at the smaller budgets from the best-so-far of the
// largest-budget searches instead of running separate searches (the engine only caps samples at
// the budget, so a smaller budget is a prefix of the same seeded search, up to timing noise).
// Writes bench/out/reuse.json, bench/out/reuse.svg and bench/out/reuse.md; prints the table last.
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const rootUrl = new URL('../../', import.meta.url);
const root = fileURLToPath(rootUrl);
const dist = (p) => new URL(`dist/${p}`, rootUrl);
if (!existsSync(dist('api/services.js'))) {
  console.error('bench/reuse: run `npm run build` first (dist/api/services.js is missing)');
  process.exit(1);
}
const { values } = parseArgs({
  options: {
    families: { type: 'string', default: 'gemm,conv2d,matvec,layernorm' },
    holdout: { type: 'string', default: '1' },
    seeds: { type: 'string', default: '1,2,3' },
    budgets: { type: 'string', default: '8,16,32,64' },
    'kb-budget': { type: 'string', default: '64' },
    prefix: { type: 'boolean', default: false },
    report: { type: 'string' },
  },
});
const ints = (text, what) => {
  const xs = text.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 0))
    throw new Error(`--${what} takes comma-separated integers, got ${text}`);
  return xs;
};
// --report redraws the table and plot from an earlier run's reuse.json without searching.
const saved = values.report ? JSON.parse(await readFile(values.report, 'utf8')) : null;
const seeds = saved ? saved.settings.seeds : ints(values.seeds, 'seeds');
const budgets = saved ? saved.settings.budgets : ints(values.budgets, 'budgets').sort((a, b) => a - b);
const maxBudget = budgets.at(-1);
const kbBudget = saved ? saved.settings.kbBudget : Number(values['kb-budget']);
const prefix = saved ? saved.settings.prefix : values.prefix;

const { loadConfig } = await import(dist('api/config.js'));
const { openServices } = await import(dist('api/services.js'));
const { createConsoleLogger } = await import(dist('api/logger.js'));

/** Four shapes per family; every kernel runs well under 5 ms so a sample is dominated by gcc. */
const SHAPES = {
  gemm: [
    { dims: { M: 128, N: 128, K: 128 } },
    { dims: { M: 192, N: 192, K: 192 } },
    { dims: { M: 256, N: 256, K: 256 } },
    { dims: { M: 320, N: 256, K: 192 } },
  ],
  batched_gemm: [
    { dims: { B: 4, M: 64, N: 64, K: 64 } },
    { dims: { B: 4, M: 96, N: 96, K: 96 } },
    { dims: { B: 8, M: 128, N: 128, K: 64 } },
    { dims: { B: 4, M: 128, N: 128, K: 128 } },
  ],
  conv2d: [
    { dims: { N: 1, C: 16, H: 28, W: 28, K: 16, R: 3, S: 3 }, attrs: { pad: 1 } },
    { dims: { N: 1, C: 16, H: 32, W: 32, K: 32, R: 3, S: 3 }, attrs: { pad: 1 } },
    { dims: { N: 1, C: 32, H: 28, W: 28, K: 32, R: 3, S: 3 }, attrs: { pad: 1 } },
    { dims: { N: 1, C: 32, H: 40, W: 40, K: 32, R: 3, S: 3 }, attrs: { pad: 1 } },
  ],
  matvec: [
    { dims: { M: 512, K: 512 } },
    { dims: { M: 1024, K: 768 } },
    { dims: { M: 1024, K: 1024 } },
    { dims: { M: 2048, K: 1024 } },
  ],
  softmax: [
    { dims: { M: 128, N: 512 } },
    { dims: { M: 256, N: 768 } },
    { dims: { M: 256, N: 1024 } },
    { dims: { M: 512, N: 2048 } },
  ],
  layernorm: [
    { dims: { M: 128, N: 512 } },
    { dims: { M: 256, N: 768 } },
    { dims: { M: 256, N: 1024 } },
    { dims: { M: 512, N: 2048 } },
  ],
};
const families = saved ? saved.settings.families : values.families.split(',');
for (const f of families)
  if (!SHAPES[f]) throw new Error(`unknown family ${f}; choose from ${Object.keys(SHAPES).join(', ')}`);
const holdouts = saved
  ? saved.settings.holdouts
  : values.holdout === 'all'
    ? [0, 1, 2, 3]
    : ints(values.holdout, 'holdout');

/** Same settings for every search but budget, seed and warm start. */
const settings = (budget, seed, warm) => ({
  planner: 'template',
  budget,
  beamWidth: 4,
  plansPerCandidate: 2,
  implementationsPerPlan: 1,
  iterations: Math.ceil(budget / 8) + 4,
  earlyStopPatience: 0,
  seed,
  warmStart: { enabled: warm },
});

const logger = { ...createConsoleLogger(), info: () => {} };
const label = (op) =>
  `${op.kind} ${Object.entries(op.dims)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;

/** Opens services on a knowledge base in `dir`, runs `work`, closes them. */
async function withServices(dir, work) {
  const env = { SKB_DB_URL: `file:${join(dir, 'kb.db')}`, SKB_DATA_DIR: join(dir, 'data'), SKB_SEED_PACKS: 'none' };
  const services = await openServices(loadConfig(env, root), { cwd: root, env: process.env, logger });
  try {
    return await work(services);
  } finally {
    await services.close();
  }
}

/** The knowledge base must hold only what this bench put there (no shipped seeds imported on open). */
async function expectEmpty(services) {
  const n = (await services.kb.counts()).schedules;
  if (n !== 0)
    throw new Error(
      `bench/reuse: a fresh knowledge base opened with ${n} schedules (seeds imported on open?); the benchmark needs it empty`,
    );
}

/** Runs one search to the end and returns its speedup and best-so-far speedup by sample (index 0 = before any sample). */
async function runSearch(services, operation, config) {
  const started = await services.search.start({ operation, target: 'local' }, config);
  const done = await services.search.wait(started.id);
  if (done.status !== 'finished')
    throw new Error(
      `search ${done.id} on ${label(operation)} ended ${done.status}: ${done.error ?? done.message ?? ''}`,
    );
  const detail = await services.search.get(done.id);
  const baseline = done.baselineLatencyMs;
  const curve = [1];
  let best = baseline;
  const bySample = [...detail.candidates].filter((c) => c.sample > 0).sort((a, b) => a.sample - b.sample);
  for (const c of bySample) {
    if (c.correct && c.latencyMs !== null && c.latencyMs > 0 && c.latencyMs < best) best = c.latencyMs;
    curve[c.sample] = baseline / best;
  }
  for (let i = 1; i < curve.length; i++) curve[i] ??= curve[i - 1];
  return {
    searchId: done.id,
    baselineMs: baseline,
    bestMs: done.bestLatencyMs,
    speedup: baseline / done.bestLatencyMs,
    samples: done.samplesUsed,
    seeds: done.seeds,
    curve,
  };
}

const geomean = (xs) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const runs = saved ? saved.runs : [];
const t0 = performance.now();
for (const family of saved ? [] : families) {
  for (const h of holdouts) {
    const shapes = SHAPES[family].map((s) => ({ kind: family, ...s }));
    const heldOut = shapes[h];
    const dir = await mkdtemp(join(tmpdir(), 'skb-reuse-'));
    try {
      const snapshot = join(dir, 'kb');
      await mkdir(snapshot);
      const kbRuns = await withServices(snapshot, async (services) => {
        await expectEmpty(services);
        const out = [];
        for (const [i, op] of shapes.entries()) {
          if (i === h) continue;
          const r = await runSearch(services, op, settings(kbBudget, 1, true));
          out.push({ shape: label(op), speedup: r.speedup, seeds: r.seeds.length });
          console.error(`  kb  ${label(op)}: ${r.speedup.toFixed(2)}x`);
        }
        return out;
      });
      const held = { family, shape: label(heldOut), kb: kbRuns, searches: [] };
      const searchBudgets = prefix ? [maxBudget] : budgets;
      for (const seed of seeds) {
        for (const budget of searchBudgets) {
          for (const warm of [false, true]) {
            // Each held-out search gets its own copy of the knowledge base: no result leaks into the next.
            const copy = join(dir, `run-${seed}-${budget}-${warm ? 'warm' : 'cold'}`);
            // The shared-memory file is SQLite's lock table, rebuilt on open (and may vanish while it closes).
            await cp(snapshot, copy, { recursive: true, filter: (src) => !src.endsWith('-shm') });
            const r = await withServices(copy, (services) =>
              runSearch(services, heldOut, settings(budget, seed, warm)),
            );
            await rm(copy, { recursive: true, force: true });
            held.searches.push({ seed, budget, mode: warm ? 'warm' : 'cold', ...r });
            console.error(
              `  ${warm ? 'warm' : 'cold'} ${held.shape} seed ${seed} budget ${budget}: ${r.speedup.toFixed(2)}x (${r.seeds.length} seeds: ${r.seeds.map((s) => `${s.tier}/${s.outcome}`).join(', ')})`,
            );
          }
        }
      }
      runs.push(held);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * Every search of a held-out shape starts from the same naive kernel, but measures it itself, and
 * that measurement's noise (a few percent, more under load) would move a search's speedup as much
 * as a better kernel does. So speedups are over one reference: the median of the shape's baseline
 * measurements, and a search's figures are its best latencies over it. `runs` keep the raw ones.
 */
function onReference(held) {
  const reference = median(held.searches.map((s) => s.baselineMs));
  return {
    ...held,
    reference,
    searches: held.searches.map((s) => {
      const scale = reference / s.baselineMs;
      return { ...s, speedup: s.speedup * scale, curve: s.curve.map((v) => v * scale) };
    }),
  };
}
const judged = runs.map(onReference);

/** Speedup of one (shape, seed, mode) at `budget`: its own search, or the prefix of the largest one. */
function speedupAt(held, seed, mode, budget) {
  const own = held.searches.find((s) => s.seed === seed && s.mode === mode && s.budget === budget);
  if (own) return own.speedup;
  const big = held.searches.find((s) => s.seed === seed && s.mode === mode && s.budget === maxBudget);
  return big.curve[Math.min(budget, big.curve.length - 1)];
}
const curveOf = (held, seed, mode) =>
  held.searches.find((s) => s.seed === seed && s.mode === mode && s.budget === maxBudget).curve;
const valueAt = (curve, n) => curve[Math.min(n, curve.length - 1)];

const perBudget = budgets.map((budget) => {
  const cold = [];
  const warm = [];
  for (const held of judged)
    for (const seed of seeds) {
      cold.push(speedupAt(held, seed, 'cold', budget));
      warm.push(speedupAt(held, seed, 'warm', budget));
    }
  return { budget, cold: geomean(cold), warm: geomean(warm), ratio: geomean(warm) / geomean(cold) };
});

const perShape = judged.map((held) => {
  const needs = seeds.map((seed) => {
    const target = speedupAt(held, seed, 'cold', maxBudget);
    const curve = curveOf(held, seed, 'warm');
    const n = curve.findIndex((v, i) => i > 0 && v >= target);
    return n < 0 ? Infinity : n;
  });
  const end = geomean(
    seeds.map((seed) => speedupAt(held, seed, 'warm', maxBudget) / speedupAt(held, seed, 'cold', maxBudget)),
  );
  return {
    family: held.family,
    shape: held.shape,
    cold: geomean(seeds.map((seed) => speedupAt(held, seed, 'cold', maxBudget))),
    warm: geomean(seeds.map((seed) => speedupAt(held, seed, 'warm', maxBudget))),
    warmOverCold: end,
    samplesToCold: median(needs),
    needs,
  };
});

const samplesAxis = Array.from({ length: maxBudget + 1 }, (_, i) => i);
const meanCurve = (mode) =>
  samplesAxis.map((n) => geomean(judged.flatMap((held) => seeds.map((seed) => valueAt(curveOf(held, seed, mode), n)))));
const curves = { cold: meanCurve('cold'), warm: meanCurve('warm') };

const at16 = perBudget.find((b) => b.budget === 16);
const within16 = perShape.filter((s) => s.samplesToCold <= 16).length / perShape.length;
const worse = perShape.filter((s) => s.warmOverCold < 1).length / perShape.length;
const worse2 = perShape.filter((s) => s.warmOverCold < 0.98).length / perShape.length;
const worst = Math.min(...perShape.map((s) => s.warmOverCold));
// The goals are per shape (geomean over seeds); single seeded runs are noisier and shown beside them.
const pairs = judged.flatMap((held) =>
  seeds.map((seed) => speedupAt(held, seed, 'warm', maxBudget) / speedupAt(held, seed, 'cold', maxBudget)),
);
const goals = [
  {
    goal: 'warm@16 >= 1.3x cold@16 (geomean)',
    value: at16 ? `${at16.ratio.toFixed(2)}x` : 'n/a',
    met: at16 ? at16.ratio >= 1.3 : false,
  },
  {
    goal: 'warm reaches cold@64 within 16 samples on >= 75% of shapes',
    value: `${(within16 * 100).toFixed(0)}%`,
    met: within16 >= 0.75,
  },
  {
    goal: 'warm@64 never more than 2% worse than cold@64',
    value: `lowest warm/cold ${worst.toFixed(3)}`,
    met: worse2 === 0,
  },
];

const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const lines = [];
lines.push(
  `Families ${families.join(', ')}; held out shape ${holdouts.join(',')}; search seeds ${seeds.join(',')}; knowledge base from budget-${kbBudget} searches on the other shapes; ${prefix ? `budgets below ${maxBudget} read from the budget-${maxBudget} searches (--prefix)` : 'one search per budget'}.`,
);
lines.push(
  `Speedups are over the median of each shape's baseline measurements (${judged.map((h) => h.searches.length).join(', ')} searches), not each search's own.`,
);
lines.push('');
lines.push('| budget | cold geomean speedup | warm geomean speedup | warm / cold |');
lines.push('|---:|---:|---:|---:|');
for (const b of perBudget) lines.push(`| ${b.budget} | ${f2(b.cold)}x | ${f2(b.warm)}x | ${f2(b.ratio)}x |`);
lines.push('');
lines.push(
  `| held-out shape | cold@${maxBudget} | warm@${maxBudget} | warm / cold | samples warm needs to reach cold@${maxBudget} (median; per seed) |`,
);
lines.push('|---|---:|---:|---:|---|');
for (const s of perShape)
  lines.push(
    `| ${s.shape} | ${f2(s.cold)}x | ${f2(s.warm)}x | ${f2(s.warmOverCold)} | ${Number.isFinite(s.samplesToCold) ? s.samplesToCold : `>${maxBudget}`} (${s.needs.map((n) => (Number.isFinite(n) ? n : `>${maxBudget}`)).join(', ')}) |`,
  );
lines.push('');
lines.push(
  `Held-out shapes where warm@${maxBudget} ends worse than cold@${maxBudget}: ${(worse * 100).toFixed(0)}% (by more than 2%: ${(worse2 * 100).toFixed(0)}%).`,
);
lines.push(
  `Single (shape, seed) runs where warm@${maxBudget} ends worse than cold@${maxBudget}: ${pairs.filter((r) => r < 1).length} of ${pairs.length} (by more than 2%: ${pairs.filter((r) => r < 0.98).length}; lowest warm/cold ${Math.min(...pairs).toFixed(3)}).`,
);
lines.push('');
lines.push('| goal | measured | met |');
lines.push('|---|---:|---|');
for (const g of goals) lines.push(`| ${g.goal} | ${g.value} | ${g.met ? 'yes' : 'NO'} |`);
const table = lines.join('\n');

/** Geomean speedup against samples, cold and warm, as a hand-written SVG. */
function svg() {
  const W = 640,
    H = 400,
    left = 64,
    right = 20,
    top = 30,
    bottom = 56;
  const ymax = Math.ceil(Math.max(...curves.cold, ...curves.warm) * 1.1);
  const x = (n) => left + (n / maxBudget) * (W - left - right);
  const y = (v) => top + (1 - v / ymax) * (H - top - bottom);
  const path = (c) => c.map((v, n) => `${n === 0 ? 'M' : 'L'}${x(n).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const xt = [0, ...budgets];
  const step = ymax <= 5 ? 0.5 : ymax <= 12 ? 1 : ymax <= 30 ? 5 : 10;
  const yt = [];
  for (let v = 0; v <= ymax + 1e-9; v += step) yt.push(v);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">Geomean speedup over the baseline vs samples (${judged.length} held-out shapes x ${seeds.length} seeds)</text>`,
    ...xt.map(
      (n) =>
        `<line x1="${x(n)}" y1="${y(0)}" x2="${x(n)}" y2="${y(0) + 5}" stroke="black"/><text x="${x(n)}" y="${y(0) + 18}" text-anchor="middle">${n}</text>`,
    ),
    ...yt.map(
      (v) =>
        `<line x1="${left - 5}" y1="${y(v)}" x2="${left}" y2="${y(v)}" stroke="black"/><line x1="${left}" y1="${y(v)}" x2="${W - right}" y2="${y(v)}" stroke="#eee"/><text x="${left - 8}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    ),
    `<line x1="${left}" y1="${y(0)}" x2="${W - right}" y2="${y(0)}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${y(0)}" stroke="black"/>`,
    `<text x="${(left + W - right) / 2}" y="${H - 14}" text-anchor="middle">samples (evaluated implementations)</text>`,
    `<text x="16" y="${(top + y(0)) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + y(0)) / 2})">geomean speedup (x)</text>`,
    `<path d="${path(curves.cold)}" fill="none" stroke="#1f77b4" stroke-width="2"/>`,
    `<path d="${path(curves.warm)}" fill="none" stroke="#d62728" stroke-width="2"/>`,
    ...perBudget.flatMap((b) => [
      `<circle cx="${x(b.budget)}" cy="${y(b.cold)}" r="3.5" fill="#1f77b4"/>`,
      `<circle cx="${x(b.budget)}" cy="${y(b.warm)}" r="3.5" fill="#d62728"/>`,
    ]),
    // Bottom right: the curves rise from the bottom left and end high, so that corner stays clear.
    `<rect x="${W - right - 170}" y="${y(0) - 62}" width="160" height="48" fill="white" stroke="#999"/>`,
    `<line x1="${W - right - 160}" y1="${y(0) - 46}" x2="${W - right - 130}" y2="${y(0) - 46}" stroke="#1f77b4" stroke-width="2"/><text x="${W - right - 122}" y="${y(0) - 42}">cold</text>`,
    `<line x1="${W - right - 160}" y1="${y(0) - 26}" x2="${W - right - 130}" y2="${y(0) - 26}" stroke="#d62728" stroke-width="2"/><text x="${W - right - 122}" y="${y(0) - 22}">warm (reuse)</text>`,
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

const outDir = fileURLToPath(new URL('bench/out/', rootUrl));
await mkdir(outDir, { recursive: true });
const report = {
  settings: { families, holdouts, seeds, budgets, kbBudget, prefix, search: settings(maxBudget, seeds[0], true) },
  seconds: saved ? saved.seconds : (performance.now() - t0) / 1000,
  perBudget,
  perShape,
  curves,
  goals,
  runs,
};
await writeFile(
  join(outDir, 'reuse.json'),
  JSON.stringify(report, (_, v) => (v === Infinity ? null : v), 2),
);
await writeFile(join(outDir, 'reuse.svg'), svg());
await writeFile(join(outDir, 'reuse.md'), `${table}\n`);
console.error(`bench/reuse: ${report.seconds.toFixed(0)} s; wrote bench/out/reuse.{json,svg,md}`);
console.log(table);
