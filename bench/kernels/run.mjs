// Kernel templates against the naive baseline, the CPU's peak and (for gemm) OpenBLAS. Run after
// `npm run build` and `bash bench/kernels/setup.sh`:
//   node bench/kernels/run.mjs [--only gemm] [--threads N] [--json results.json]
// For each case of cases.mjs: the naive baseline, the template at the best knobs of a small greedy
// sweep, and the reference library, all timed by the project's C harness (one thread, or --threads N; caches
// flushed between runs when the problem fits in the LLC). The final comparison re-times the sweep's
// top three in three rounds alternating with the reference and keeps the best median of each.
// Prints a markdown table and the load average before and after: numbers taken under load mean little.
// --only takes comma-separated label prefixes or kinds (--only gemm,batched_gemm); --search-cases
// runs the shapes bench/search compares its searches with. --threads N (default 1) lets every
// kernel use N cores: the templates that parallelize (gemm, batched gemm, conv2d) sweep at N threads
// and OpenBLAS runs on N threads; unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the command.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { CASES, REFERENCES, SEARCH_CASES, TEMPLATES } from './cases.mjs';

const root = new URL('../../', import.meta.url);
const dist = (p) => new URL(`dist/${p}`, root);
if (!existsSync(dist('targets/templates/gemm-template.js'))) {
  console.error('bench/kernels: run `npm run build` first (dist/targets/templates is missing)');
  process.exit(1);
}
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    json: { type: 'string' },
    'search-cases': { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
  },
});
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) {
  console.error(`bench/kernels: --threads takes a whole number of cores, not ${values.threads}`);
  process.exit(1);
}

const { parseOperation, flopCount } = await import(dist('schedules/index.js'));
const { createLocalExecutor } = await import(dist('targets/local-executor.js'));
const { createCToolchain, DEFAULT_CFLAGS } = await import(dist('targets/c/c-toolchain.js'));
const { naiveBaseline } = await import(dist('targets/c/baselines.js'));
const { probeCpu, peakGflopsPerCore } = await import(dist('targets/cpu-fingerprint.js'));

// The naive 1024^3 loop nest takes seconds per call: give runs room, and time it fewer times.
const runLimits = { wallMs: 300_000 };
const SWEEP_TIMING = { warmup: 1, runs: 5 };
const FINAL_TIMING = { warmup: 3, runs: 15 };
const NAIVE_TIMING = { warmup: 1, runs: 3 };
const FINAL_ROUNDS = 3;
const FINALISTS = 3;

const executor = createLocalExecutor();
const toolchain = createCToolchain({ runLimits, threads });
const cpu = await probeCpu(executor);
const isa = cpu.fingerprint.isa;
// The peak of the cores the kernels may use.
const peak = peakGflopsPerCore(cpu.fingerprint, cpu.clockGhz) * threads;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
console.log(
  `bench/kernels on ${cpu.fingerprint.model} (${isa.filter((f) => /avx|fma|sse4/.test(f)).join(' ')}), ${threads} thread${threads === 1 ? '' : 's'}, peak estimate ${peak.toFixed(0)} GFLOP/s at ${cpu.clockGhz ?? '?'} GHz`,
);
const loadBefore = load();
console.log(`load average before: ${loadBefore}`);

const templates = new Map();
async function templateFor(key) {
  if (!templates.has(key)) {
    const spec = TEMPLATES[key];
    const mod = await import(dist(spec.module));
    templates.set(key, mod[spec.factory]({ isa, threads }));
  }
  return templates.get(key);
}

async function evaluate(tc, operation, candidates, timing) {
  const results = await tc.evaluate({ operation, candidates, executor, timing });
  for (const [i, r] of results.entries()) {
    if (!r.correct)
      throw new Error(
        `bench/kernels: a candidate failed (${r.feedback.join('; ')})\n${candidates[i].slice(0, 400)}\n${r.output.slice(0, 800)}`,
      );
  }
  return results.map((r) => r.latencyMs);
}

const rows = [];
// --search-cases: the shapes of bench/search instead of this bench's own.
for (const c of values['search-cases'] ? SEARCH_CASES : CASES) {
  if (values.only && !values.only.split(',').some((o) => c.label.startsWith(o) || c.op.kind === o)) continue;
  const operation = parseOperation(c.op);
  const template = await templateFor(c.template);
  const gflops = (ms) => flopCount(operation) / (ms / 1000) / 1e9;
  const parallel = template.knobs.some((k) => k.name === 'threads');

  const [naiveMs] = await evaluate(toolchain, operation, [naiveBaseline(operation)], NAIVE_TIMING);

  let best = null;
  let tried = 0;
  const timed = new Map();
  for (const stage of c.sweep(template, operation, isa)) {
    const unique = new Map();
    for (const staged of stage(best?.knobs ?? template.baseline(operation))) {
      // Every knob set on all the cores, where the template has a threads knob.
      const knobs = parallel ? template.legalize(operation, { ...staged, threads }) : staged;
      unique.set(JSON.stringify(knobs), knobs);
    }
    if (best) unique.set(JSON.stringify(best.knobs), best.knobs);
    const knobSets = [...unique.values()];
    const latencies = await evaluate(
      toolchain,
      operation,
      knobSets.map((k) => template.generate(operation, k)),
      SWEEP_TIMING,
    );
    tried += knobSets.length;
    for (const [i, ms] of latencies.entries()) {
      if (!best || ms < best.ms) best = { knobs: knobSets[i], ms };
      const key = JSON.stringify(knobSets[i]);
      timed.set(key, Math.min(timed.get(key) ?? Infinity, ms));
    }
  }
  // A sweep on a shared machine can crown a lucky candidate: the final rounds re-time the top few.
  const finalists = [...timed.entries()]
    .sort((a, b) => a[1] - b[1])
    .slice(0, FINALISTS)
    .map(([key]) => JSON.parse(key));
  // The template's best and the reference are timed in alternating rounds, and each keeps its best
  // median: a burst of load from other processes then slows one round, not one side.
  const ref = c.reference ? REFERENCES[c.reference] : null;
  const refToolchain = ref
    ? createCToolchain({ runLimits, threads, cflags: [...DEFAULT_CFLAGS, ...ref.cflags] })
    : null;
  let bestMs = Infinity;
  let refMs = ref ? Infinity : null;
  for (let round = 0; round < FINAL_ROUNDS; round++) {
    const latencies = await evaluate(
      toolchain,
      operation,
      finalists.map((k) => template.generate(operation, k)),
      FINAL_TIMING,
    );
    for (const [i, ms] of latencies.entries()) {
      if (ms < bestMs) {
        bestMs = ms;
        best = { knobs: finalists[i], ms };
      }
    }
    if (ref) {
      const [r] = await evaluate(refToolchain, operation, [ref.source(operation, threads)], FINAL_TIMING);
      refMs = Math.min(refMs, r);
    }
  }
  const refLabel = ref?.label ?? null;
  const row = {
    case: c.label,
    naiveGflops: gflops(naiveMs),
    bestGflops: gflops(bestMs),
    speedup: naiveMs / bestMs,
    peakPct: (gflops(bestMs) / peak) * 100,
    reference: refLabel,
    refGflops: refMs === null ? null : gflops(refMs),
    refPct: refMs === null ? null : (refMs / bestMs) * 100,
    bestKnobs: best.knobs,
    candidatesTried: tried,
    latencyMs: { naive: naiveMs, best: bestMs, reference: refMs },
  };
  rows.push(row);
  console.log(
    `${c.label}: ${row.bestGflops.toFixed(1)} GFLOP/s (${tried} knob sets tried) knobs ${JSON.stringify(best.knobs)}`,
  );
}
await executor.close();

const f = (x, d = 1) => (x === null ? '-' : x.toFixed(d));
console.log(`\nload average after: ${load()}\n`);
console.log('| case | naive GFLOP/s | template GFLOP/s | speedup | % of peak | reference GFLOP/s | % of reference |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.case} | ${f(r.naiveGflops, 2)} | ${f(r.bestGflops)} | ${f(r.speedup)}x | ${f(r.peakPct)}% | ${r.reference ? `${f(r.refGflops)} (${r.reference})` : '-'} | ${r.refPct === null ? '-' : `${f(r.refPct)}%`} |`,
  );
}
if (values.json) {
  await writeFile(
    values.json,
    JSON.stringify(
      { cpu: cpu.fingerprint.model, threads, peakGflops: peak, loadBefore, loadAfter: load(), rows },
      null,
      2,
    ),
  );
}
