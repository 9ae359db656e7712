// The service's own search, cold and warm, over the exhaustive sweep's measurements (offline).
//
//   npm run build && node bench/gpu/replay-search.mjs --tables bench/gpu/tables-h200.json \
//        [--budget 24] [--kb-budget 32] [--seeds 1,2,3] [--out bench/out/gpu-replay.json]
//   node bench/gpu/replay-search.mjs --report bench/gpu/replay-h200.json   (the table again, no search)
//
// bench/gpu/run.py times every configuration of the Triton template's space on the GPU and writes
// tables.json (median ms per configuration, cuBLAS per case). This script runs the real search
// service (beam search, template planner, warm start, knowledge base in a temporary libSQL file)
// against a target whose "measurement" of a candidate is the sweep's time for the configuration the
// candidate's code holds (the template writes its knobs as constants at the top of the file), and
// cuBLAS's time for the torch implementation. A configuration the sweep rejected (wrong answer,
// compile failure) is a failed candidate. So the searches make the decisions they would make on the
// GPU, at no GPU cost, as long as the GPU would measure what the sweep did (timing noise aside).
//
// For every case H (held out in turn): a knowledge base holding the schedules of cold searches
// (budget --kb-budget) on every other case of the table; then, on H, a cold search (warm start off)
// and a warm search (warm start on) at --budget for each --seeds. Reported per case: evaluations
// until the best found is within 2% of the exhaustive best, and best-vs-exhaustive after 5, 10 and
// 20 evaluations (prefixes of the same search: the engine caps samples at the budget, so a smaller
// budget is a prefix). The exhaustive sweep's evaluations = the size of the case's table.
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const rootUrl = new URL('../../', import.meta.url);
const dist = (p) => new URL(`dist/${p}`, rootUrl);
if (!existsSync(dist('search/search-service.js'))) {
  console.error('bench/gpu/replay-search: run `npm run build` first');
  process.exit(1);
}
const { values } = parseArgs({
  options: {
    tables: { type: 'string', default: 'bench/gpu/tables-h200.json' },
    results: { type: 'string' },
    budget: { type: 'string', default: '24' },
    'kb-budget': { type: 'string', default: '32' },
    seeds: { type: 'string', default: '1,2,3' },
    out: { type: 'string', default: 'bench/out/gpu-replay.json' },
    only: { type: 'string', default: '' },
    baseline: { type: 'string', default: 'triton' },
    // The service's default is 2 implementations per plan; 1 keeps the figures of earlier runs comparable.
    impls: { type: 'string', default: '1' },
    report: { type: 'string' },
  },
});

/** The middle value (the mean of the two middle ones for an even count); null counts as never. */
function median(xs) {
  const v = xs.map((x) => x ?? Infinity).sort((a, b) => a - b);
  const m = v.length / 2;
  return v.length % 2 ? v[Math.floor(m)] : (v[m - 1] + v[m]) / 2;
}

/** The markdown table of a run (rows as written to --out), and the summary against the goal. */
function report({ settings, rows }) {
  const within = (r, runs) =>
    runs.filter((x) => x.evalsTo2pct !== null && x.evalsTo2pct <= r.exhaustiveEvals / 10).length;
  const n = settings.seeds.length;
  const f3 = (x) => x.toFixed(3);
  const evals = (x) => (Number.isFinite(x) ? String(x) : 'never');
  const lines = [
    `Budget ${settings.budget} samples per search, search seeds ${settings.seeds.join(',')}; knowledge base of ${settings.kbBudget}-sample cold searches on the other cases; every search starts from the ${settings.baseline === 'triton' ? "template's default Triton kernel" : 'cuBLAS baseline'}.`,
    '',
    '| case | exhaustive evals (10%) | runs within 2% in 10%: cold / warm | median evals to 2%: cold / warm | best / exhaustive after 10 evals (median): cold / warm | after 20 | at the end |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  const total = { cold: 0, warm: 0 };
  const cases = { cold: 0, warm: 0 };
  const at10 = { cold: [], warm: [] };
  for (const r of rows) {
    const hit = { cold: within(r, r.cold), warm: within(r, r.warm) };
    for (const m of ['cold', 'warm']) {
      total[m] += hit[m];
      if (hit[m] * 2 > r[m].length) cases[m]++;
      at10[m].push(...r[m].map((x) => x.at10));
    }
    const pair = (key, fmt) => `${fmt(median(r.cold.map((x) => x[key])))} / ${fmt(median(r.warm.map((x) => x[key])))}`;
    lines.push(
      `| ${r.label} | ${r.exhaustiveEvals} (${Math.floor(r.exhaustiveEvals / 10)}) | ${hit.cold} / ${hit.warm} of ${n} | ${pair('evalsTo2pct', evals)} | ${pair('at10', f3)} | ${pair('at20', f3)} | ${pair('final', f3)} |`,
    );
  }
  const geomean = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
  lines.push(
    '',
    `Within 2% of the exhaustive best using at most 10% of its evaluations, in most runs of a case: warm on ${cases.warm} of ${rows.length} cases, cold on ${cases.cold}; runs: warm ${total.warm} of ${rows.length * n}, cold ${total.cold}.`,
    `Best / exhaustive best after 10 evaluations, geomean over all runs: warm ${f3(geomean(at10.warm))}, cold ${f3(geomean(at10.cold))}.`,
  );
  return lines.join('\n');
}

if (values.report) {
  console.log(report(JSON.parse(await readFile(values.report, 'utf8'))));
  process.exit(0);
}
if (!['triton', 'torch'].includes(values.baseline)) throw new Error('--baseline is triton or torch');
const budget = Number(values.budget);
const kbBudget = Number(values['kb-budget']);
const seeds = values.seeds.split(',').map(Number);
if (![budget, kbBudget, ...seeds].every((x) => Number.isInteger(x) && x > 0))
  throw new Error('--budget, --kb-budget and --seeds take positive integers');

const { loadConfig } = await import(dist('api/config.js'));
const { openConfiguredKnowledgeBase } = await import(dist('api/configured-knowledge-base.js'));
const { createSearchService } = await import(dist('search/search-service.js'));
const { createTemplatePlanner } = await import(dist('search/template-planner.js'));
const { menuFor } = await import(dist('search/menus/index.js'));
const { gpuTemplateFor } = await import(dist('targets/templates/index.js'));
const { poolOfTargets } = await import(dist('targets/target-pool.js'));
const { sharedMemoryBudgetFor } = await import(dist('targets/templates/triton-matmul-template.js'));
const { makeTargetRecord, targetKey, parseOperation } = await import(dist('schedules/index.js'));

const tables = JSON.parse(await readFile(values.tables, 'utf8'));
// run.py writes results.json beside tables.json (kept in the repository as results-<gpu>.json beside tables-<gpu>.json).
const resultsPath =
  values.results ?? join(dirname(values.tables), basename(values.tables).replace('tables', 'results'));
const results = JSON.parse(await readFile(resultsPath, 'utf8')).results;
const fingerprint = tables.fingerprint;
if (!fingerprint) throw new Error(`${values.tables} has no fingerprint (run.py writes it)`);
const record = makeTargetRecord('gpu', 'replayed sweep', fingerprint);
const key = targetKey(fingerprint);
const templateOptions = {
  sharedMemoryBytes: sharedMemoryBudgetFor(fingerprint.computeCapability),
  multiprocessors: fingerprint.smCount,
};

/** The key run.py gives a configuration: json.dumps(cfg, sort_keys=True). */
function configKey(cfg) {
  return `{${Object.keys(cfg)
    .sort()
    .map((k) => `"${k}": ${JSON.stringify(cfg[k])}`)
    .join(', ')}}`;
}

/** The knobs a generated ModelNew holds, or null for the torch (cuBLAS) implementation. */
function knobsOf(code) {
  const read = (name) => {
    const m = code.match(new RegExp(`^${name} = (\\d+|"[a-z0-9]+")$`, 'm'));
    return m ? (m[1].startsWith('"') ? m[1].slice(1, -1) : Number(m[1])) : undefined;
  };
  if (read('BLOCK_M') === undefined) return null;
  return {
    block_k: read('BLOCK_K'),
    block_m: read('BLOCK_M'),
    block_n: read('BLOCK_N'),
    group_m: read('GROUP_M'),
    num_stages: read('NUM_STAGES'),
    num_warps: read('NUM_WARPS'),
    precision: read('PRECISION'),
  };
}

function replayTarget(byOperation) {
  const evaluateOne = (operation, code) => {
    const c = byOperation.get(
      JSON.stringify(operation.dims) + operation.dtype + operation.epilogue.join('+') + operation.kind,
    );
    if (!c) throw new Error(`no table for ${JSON.stringify(operation)}`);
    const knobs = knobsOf(code);
    const base = { samplesMs: [], spreadPct: null, output: '', fingerprintKey: key };
    // As an autotuner over the Triton space (--baseline triton), going back to cuBLAS is outside
    // the space the sweep covers, so it fails like a configuration the sweep rejected.
    if (!knobs && values.baseline === 'triton')
      return {
        ...base,
        correct: false,
        latencyMs: null,
        errorKind: 'runtime',
        feedback: ['cuBLAS is outside the swept Triton space'],
      };
    const ms = knobs ? c.table[configKey(knobs)] : c.cublasMs;
    if (ms === undefined)
      return {
        ...base,
        correct: false,
        latencyMs: null,
        errorKind: 'wrong_answer',
        feedback: ['the sweep rejected this configuration'],
      };
    return {
      ...base,
      samplesMs: [ms],
      correct: true,
      latencyMs: ms,
      errorKind: null,
      feedback: [`latency ${ms.toPrecision(4)} ms (replayed from the sweep)`],
    };
  };
  const toolchain = {
    kind: 'kernelbench',
    evaluate: async (request) => request.candidates.map((code) => evaluateOne(request.operation, code)),
    fingerprint: async () => fingerprint,
    selfCheck: async () => ({ ok: true, output: 'replay' }),
    // Shown to LLM planners only; the template planner's candidates are looked up, never run.
    contract: () => 'A KernelBench ModelNew module (replayed: its knobs are looked up in the sweep)',
  };
  return {
    id: 'gpu',
    member: 'replay',
    description: `${fingerprint.name} (replayed sweep)`,
    executor: null,
    toolchain,
    fingerprint: async () => fingerprint,
    record: async () => record,
    evaluate: (request) => toolchain.evaluate(request),
    close: async () => {},
  };
}

const cases = results
  .filter((r) => tables.tables[r.label] && Object.keys(tables.tables[r.label]).length)
  .map((r) => ({
    label: r.label,
    op: parseOperation(r.op),
    cublasMs: r.cublasMs,
    configs: r.configs,
    table: tables.tables[r.label],
  }));
const byOperation = new Map(
  cases.map((c) => [JSON.stringify(c.op.dims) + c.op.dtype + c.op.epilogue.join('+') + c.op.kind, c]),
);
const target = poolOfTargets('gpu', [replayTarget(byOperation)]);
const planner = createTemplatePlanner({ templates: (kind) => gpuTemplateFor(kind, templateOptions) });
const searchConfig = {
  planner: 'template',
  beamWidth: 2,
  plansPerCandidate: 2,
  implementationsPerPlan: Number(values.impls),
  iterations: 100,
  timing: { warmup: 1, runs: 1 },
};

async function openService(dir) {
  const config = loadConfig(
    { SKB_DB_URL: `file:${join(dir, 'kb.db')}`, SKB_DATA_DIR: dir, SKB_SEED_PACKS: 'none' },
    dir,
  );
  const kb = await openConfiguredKnowledgeBase(config);
  await kb.registerTargets([record]);
  const service = createSearchService({
    searches: kb.searches,
    targets: () => target,
    planners: () => planner,
    menus: menuFor,
    knowledgeBase: kb,
  });
  return {
    kb,
    async run(op, config) {
      // --baseline triton: every search starts from the template's default Triton kernel (given as
      // the task's baseline code), so it is an autotuner over the same space as the sweep and its
      // schedules record the moves from there; torch: the service's default start, cuBLAS.
      const baselineCode =
        values.baseline === 'triton'
          ? gpuTemplateFor(op.kind, templateOptions).generate(op, { impl: 'triton' })
          : undefined;
      const started = await service.start(
        { operation: op, target: 'gpu', ...(baselineCode ? { baselineCode } : {}) },
        config,
      );
      const done = await service.wait(started.id);
      if (done.status !== 'finished') throw new Error(`search ${done.id} ${done.status}: ${done.error}`);
      return { done, detail: await service.get(started.id) };
    },
    async close() {
      await service.close();
      await kb.close();
    },
  };
}

/**
 * Best Triton latency after each sample (sample 0 is the baseline). Candidates that went back to
 * cuBLAS do not count: the comparison is with the exhaustive sweep of the Triton space.
 */
function curveOf(detail) {
  const rows = [...detail.candidates].sort((a, b) => a.sample - b.sample);
  const curve = [];
  let best = Infinity;
  for (const c of rows) {
    if (c.correct && c.latencyMs !== null && knobsOf(c.code)) best = Math.min(best, c.latencyMs);
    curve[c.sample] = best;
  }
  for (let i = 1; i < curve.length; i++) curve[i] ??= curve[i - 1];
  return curve;
}

/** Samples that measured nothing, counted by cause (numbers in the message folded, so causes group). */
function failuresOf(detail) {
  const counts = {};
  for (const c of detail.candidates) {
    if (c.latencyMs !== null || !c.errorKind) continue;
    const cause = `${c.errorKind}: ${c.output}`.replace(/\d+(\.\d+)?/g, 'N').slice(0, 120);
    counts[cause] = (counts[cause] ?? 0) + 1;
  }
  return counts;
}

function summary(curve, best) {
  // Evaluations counted as the sweep counts them: the baseline kernel is one when it is Triton.
  const offset = values.baseline === 'triton' ? 1 : 0;
  const at = (n) => best / curve[Math.max(0, Math.min(n - offset, curve.length - 1))];
  const reached = curve.findIndex((v) => v <= best * 1.02);
  return {
    evalsTo2pct: reached >= 0 ? reached + offset : null,
    at5: at(5),
    at10: at(10),
    at20: at(20),
    final: at(curve.length - 1),
  };
}

const selected = values.only ? cases.filter((c) => values.only.split(',').some((p) => c.label.startsWith(p))) : cases;
const work = await mkdtemp(join(tmpdir(), 'skb-gpu-replay-'));
const rows = [];
try {
  // One knowledge base with cold searches on every case; each held-out case gets a copy without its own schedule.
  const kbDir = join(work, 'kb');
  await mkdir(kbDir);
  const built = await openService(kbDir);
  const scheduleOf = new Map();
  for (const c of cases) {
    const { done } = await built.run(c.op, {
      ...searchConfig,
      budget: kbBudget,
      seed: 1,
      warmStart: { enabled: false },
    });
    scheduleOf.set(c.label, done.scheduleId);
    console.log(
      `kb: ${c.label}: cold search, ${done.samplesUsed} samples, best ${(c.cublasMs / done.bestLatencyMs).toFixed(3)}x cuBLAS, schedule ${done.scheduleId ?? 'none'}`,
    );
  }
  await built.close();

  for (const c of selected) {
    const best = Math.min(...Object.values(c.table));
    // The exhaustive sweep evaluates every configuration, those that turn out wrong included.
    const row = {
      label: c.label,
      exhaustiveEvals: c.configs,
      correctConfigs: Object.keys(c.table).length,
      bestVsCublas: c.cublasMs / best,
      cold: [],
      warm: [],
    };
    for (const seed of seeds) {
      for (const mode of ['cold', 'warm']) {
        const dir = join(work, `${c.label}-${mode}-${seed}`);
        await mkdir(dir);
        await copyFile(join(kbDir, 'kb.db'), join(dir, 'kb.db'));
        const svc = await openService(dir);
        try {
          const own = scheduleOf.get(c.label);
          if (own) await svc.kb.deleteSchedule(own);
          const { done, detail } = await svc.run(c.op, {
            ...searchConfig,
            budget,
            seed,
            warmStart: { enabled: mode === 'warm' },
          });
          const s = summary(curveOf(detail), best);
          row[mode].push({
            seed,
            ...s,
            seeds: done.seeds.map((x) => `${x.tier}:${x.outcome}`),
            failed: failuresOf(detail),
          });
        } finally {
          await svc.close();
        }
      }
    }
    rows.push(row);
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const fmt = (m) =>
      `to2% ${row[m].map((r) => r.evalsTo2pct ?? '-').join('/')}, @10 ${med(row[m].map((r) => r.at10)).toFixed(3)}, @20 ${med(row[m].map((r) => r.at20)).toFixed(3)}`;
    console.log(`${c.label} (exhaustive ${row.exhaustiveEvals}): cold ${fmt('cold')} | warm ${fmt('warm')}`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
await mkdir(dirname(values.out), { recursive: true });
const run = { settings: { budget, kbBudget, seeds, tables: values.tables, baseline: values.baseline }, rows };
await writeFile(values.out, JSON.stringify(run, null, 1));
console.log(`wrote ${values.out}\n`);
console.log(report(run));
