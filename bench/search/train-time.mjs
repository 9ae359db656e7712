// How long the template planner's cost model takes to train and to rank, at the training-set sizes
// a search reaches (the cap is MAX_TRAINING_POINTS). Run after `npm run build`:
//   node bench/search/train-time.mjs [--repeats 3]
// Points are random legal gemm knob sets on nine shapes with random latencies: no structure to
// learn, so the trees grow as deep as they may (the slow case).
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const dist = (p) => new URL(`../../dist/${p}`, import.meta.url);
const { MAX_TRAINING_POINTS, trainCostModel } = await import(dist('search/cost-model/cost-model.js'));
const { templateFor } = await import(dist('targets/templates/index.js'));
const { parseOperation } = await import(dist('schedules/index.js'));
const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' } } });

const gemm = templateFor('gemm', { isa: ['avx2', 'avx512f'] });
let state = 7;
const random = () => {
  state = (state * 1103515245 + 12345) % 2147483648;
  return state / 2147483648;
};
const pick = (xs) => xs[Math.floor(random() * xs.length)];
const randomKnobs = (op) => gemm.legalize(op, Object.fromEntries(gemm.knobs.map((k) => [k.name, pick(k.values(op))])));
const points = Array.from({ length: MAX_TRAINING_POINTS }, () => {
  const operation = parseOperation({
    kind: 'gemm',
    dims: { M: pick([128, 256, 512]), N: pick([128, 256, 1024]), K: 256 },
  });
  return { operation, params: { knobs: randomKnobs(operation) }, latencyMs: 1 + random() * 10 };
});
const here = parseOperation({ kind: 'gemm', dims: { M: 512, N: 512, K: 512 } });
const moves = Array.from({ length: 200 }, () => randomKnobs(here));

console.log(
  `load average before: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log('| points | train ms (best of repeats) | rank 200 moves ms |');
console.log('|---:|---:|---:|');
for (const n of [32, 64, 160, MAX_TRAINING_POINTS]) {
  let train = Infinity;
  let rank = Infinity;
  for (let i = 0; i < Number(values.repeats); i++) {
    const t0 = performance.now();
    const model = trainCostModel(gemm, here, points.slice(0, n), i + 1);
    const t1 = performance.now();
    model.predict(moves);
    train = Math.min(train, t1 - t0);
    rank = Math.min(rank, performance.now() - t1);
  }
  console.log(`| ${n} | ${train.toFixed(0)} | ${rank.toFixed(1)} |`);
}
