// Measurement quality of the targets module. Run after `npm run build`:
//   node bench/targets/run.mjs [--repeats 20] [--size 192] [--skip-ssh]
// 1. Evaluates the same naive gemm candidate `repeats` times and reports the spread of its median
//    latency across evaluations (goal: within 3% on a quiet machine).
// 2. Overhead per evaluation and per command of the local executor, and of the SSH executor when an
//    sshd can be started on loopback (reusing test/support/sshd.ts, transpiled on the fly).
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('../../', import.meta.url);
const dist = (p) => new URL(`dist/${p}`, root);
if (!existsSync(dist('targets/c/c-toolchain.js'))) {
  console.error('bench/targets: run `npm run build` first (dist/targets is missing)');
  process.exit(1);
}
const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '20' },
    size: { type: 'string', default: '192' },
    'skip-ssh': { type: 'boolean' },
  },
});
const repeats = Number(values.repeats);
const size = Number(values.size);

const { parseOperation } = await import(dist('schedules/index.js'));
const { createLocalExecutor } = await import(dist('targets/local-executor.js'));
const { createCToolchain } = await import(dist('targets/c/c-toolchain.js'));
const { naiveBaseline } = await import(dist('targets/c/baselines.js'));

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
  return {
    median,
    min: s[0],
    max: s[s.length - 1],
    spreadPct: ((s[s.length - 1] - s[0]) / median) * 100,
    iqrPct: ((q(0.75) - q(0.25)) / median) * 100,
  };
};
const fmt = (x, d = 3) => Number(x).toFixed(d);

async function medianSpread(executor, toolchain) {
  const operation = parseOperation({ kind: 'gemm', dims: { M: size, N: size, K: size } });
  const code = naiveBaseline(operation);
  const medians = [];
  for (let i = 0; i < repeats; i++) {
    const [r] = await toolchain.evaluate({ operation, candidates: [code], executor, timing: { warmup: 3, runs: 15 } });
    if (!r.correct) throw new Error(`the gemm baseline failed: ${r.errorKind} ${r.output}`);
    medians.push(r.latencyMs);
  }
  return { medians, ...stats(medians) };
}

async function overhead(executor, toolchain) {
  const operation = parseOperation({ kind: 'softmax', dims: { M: 1, N: 8 } });
  const code = naiveBaseline(operation);
  const n = 8;
  const evalMs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const [r] = await toolchain.evaluate({ operation, candidates: [code], executor, timing: { warmup: 0, runs: 1 } });
    evalMs.push(performance.now() - t);
    if (!r.correct) throw new Error(`softmax baseline failed: ${r.output}`);
  }
  const cmdMs = [];
  const wsMs = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const ws = await executor.createWorkspace();
    const t1 = performance.now();
    await ws.exec({ argv: ['true'] });
    const t2 = performance.now();
    await ws.dispose();
    cmdMs.push(t2 - t1);
    wsMs.push(t1 - t0 + (performance.now() - t2));
  }
  return { evaluation: stats(evalMs).median, command: stats(cmdMs).median, workspace: stats(wsMs).median };
}

async function startSshdFromTests() {
  const source = new URL('test/support/sshd.ts', root);
  if (!existsSync(source)) return { skip: 'test/support/sshd.ts is not there' };
  if (!existsSync(dist('targets/ssh-executor.js'))) return { skip: 'dist/targets/ssh-executor.js is not built' };
  const ts = (await import('typescript')).default;
  const out = ts.transpileModule(await readFile(source, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
  });
  const dir = await mkdtemp(join(tmpdir(), 'skb-bench-sshd-'));
  const file = join(dir, 'sshd.mjs');
  await writeFile(file, out.outputText);
  try {
    const { startSshd } = await import(file);
    return { sshd: await startSshd(), cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return { skip: `could not start sshd: ${error.message}` };
  }
}

const toolchain = createCToolchain();
const local = createLocalExecutor();
const fp = await toolchain.fingerprint(local);
console.log(
  `bench/targets on ${fp.model} (${fp.cores} cores, ${fp.compiler}); load average ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`,
);

const spread = await medianSpread(local, toolchain);
console.log(`\n1. gemm ${size}^3 naive baseline, ${repeats} evaluations x (3 warm-up + 15 timed runs), local executor`);
console.log(`   median of medians ${fmt(spread.median)} ms, min ${fmt(spread.min)}, max ${fmt(spread.max)}`);
console.log(
  `   spread of the median (max-min)/median: ${fmt(spread.spreadPct, 1)}%   IQR/median: ${fmt(spread.iqrPct, 1)}%   goal: within 3%`,
);

const rows = [['local', await overhead(local, toolchain)]];
await local.close();

if (values['skip-ssh']) console.log('\n(SSH skipped: --skip-ssh)');
else {
  const started = await startSshdFromTests();
  if (started.skip) console.log(`\n(SSH skipped: ${started.skip})`);
  else {
    const { createSshExecutor } = await import(dist('targets/ssh-executor.js'));
    const { sshd } = started;
    const ssh = createSshExecutor({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKeyPath: sshd.privateKeyPath,
      hostKeySha256: sshd.hostKeySha256,
    });
    try {
      await ssh.createWorkspace().then((ws) => ws.dispose()); // connect once, outside the measurement
      rows.push(['ssh (loopback)', await overhead(ssh, toolchain)]);
    } finally {
      await ssh.close();
      await sshd.stop();
      await started.cleanup();
    }
  }
}

console.log('\n2. overhead (medians, ms)');
console.log('   executor        evaluation*   exec "true"   create+dispose workspace');
for (const [name, o] of rows)
  console.log(
    `   ${name.padEnd(15)} ${fmt(o.evaluation, 1).padStart(11)}   ${fmt(o.command, 1).padStart(11)}   ${fmt(o.workspace, 1).padStart(11)}`,
  );
console.log('   * one softmax 1x8 candidate: workspace, gcc compile of harness + candidate, one timed run, dispose');
console.log(
  JSON.stringify({
    spreadOfMedianPct: spread.spreadPct,
    iqrPct: spread.iqrPct,
    medianMs: spread.median,
    medians: spread.medians,
    overhead: Object.fromEntries(rows),
  }),
);
