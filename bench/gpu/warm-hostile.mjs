// The KernelBench toolchain with warm workers, on a GPU machine, against the fixture candidates of
// test/fixtures/kernelbench (correct, wrong, raising, hanging, forging) and a candidate that kills
// its worker: each result, and the candidate after each hostile one still judged correctly.
//
//   node bench/gpu/warm-hostile.mjs --build /tmp/skb-node/app/build --python "$(command -v python3)"
//
// Plain JavaScript over a build (the device pack's, or dist/ here), so the device needs only Node.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { build: { type: 'string', default: 'dist' }, python: { type: 'string', default: 'python3' } },
});
const build = args.build.endsWith('dist') ? args.build : join(args.build, 'src');
const { createKernelBenchToolchain } = await import(resolve(build, 'targets/kernelbench/kernelbench-toolchain.js'));
const { createLocalExecutor } = await import(resolve(build, 'targets/local-executor.js'));
const { DEFAULT_SANDBOX, installationOf } = await import(resolve(build, 'targets/sandbox.js'));

const fixture = (path) => readFileSync(new URL(`../../test/fixtures/kernelbench/${path}`, import.meta.url), 'utf8');
const problem = fixture('problems/matmul_fp32.py');
const ok = fixture('candidates/matmul_fp32/torch_ok.py');
const killsWorker = `import os, signal
os.kill(os.getppid(), signal.SIGKILL)
${ok}`;
const cases = [
  ['torch_ok', ok],
  ['wrong', fixture('candidates/matmul_fp32/wrong.py')],
  ['torch_ok', ok],
  ['raises', fixture('candidates/matmul_fp32/raises.py')],
  ['forges_result', fixture('candidates/matmul_fp32/forges_result.py')],
  ['torch_ok', ok],
  ['hangs', fixture('candidates/matmul_fp32/hangs.py')],
  ['torch_ok', ok],
  ['kills its worker', killsWorker],
  ['torch_ok', ok],
];

// As a KernelBench target entry gets it: the GPU device nodes, and the Python installation read-only.
const installation = installationOf(args.python);
const executor = createLocalExecutor({
  sandbox: { ...DEFAULT_SANDBOX, gpu: true, readOnlyPaths: installation ? [installation] : [] },
});
const toolchain = createKernelBenchToolchain({ python: args.python, runLimits: { wallMs: 30_000 } });
const rows = [];
try {
  for (const [name, source] of cases) {
    const t0 = performance.now();
    const [evaluation] = await toolchain.evaluateProblem({ problemSource: problem, candidates: [source], executor });
    const r = evaluation.result;
    rows.push({
      candidate: name,
      correct: r.correct,
      errorKind: r.errorKind ?? '',
      'latency ms': r.latencyMs?.toFixed(3) ?? '-',
      'wall s': ((performance.now() - t0) / 1000).toFixed(1),
      feedback: (r.feedback[0] ?? '').slice(0, 90),
    });
    console.log(JSON.stringify(rows.at(-1)));
  }
} finally {
  await toolchain.close();
  await executor.close();
}
console.table(rows);
