// /health latency while abusive GraphQL requests are being refused: the real `skb serve` (its
// shipped seeds, a fresh data directory) is probed alone, then while `--clients` loops send the
// abusive queries of issue 14 (500 aliases of similarSchedules(k: 100), a 5,000-token document,
// deep nesting, introspection fan-out, too many directives, huge k) as fast as they are answered.
//
//   npm run build && node bench/api/health-under-abuse.mjs [--probes 200] [--clients 8]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { probes: { type: 'string', default: '200' }, clients: { type: 'string', default: '8' } },
});
const probes = Number(values.probes);
const clients = Number(values.clients);
const root = new URL('../../', import.meta.url).pathname;

const gemm = { kind: 'gemm', dims: ['M', 'N', 'K'].map((name) => ({ name, size: 512 })) };
const aliased = (n) =>
  `query($op: OperationInput!) { ${Array.from({ length: n }, (_, i) => `a${i}: similarSchedules(operation: $op, target: "local", k: 100) { schedule { finalCode } }`).join(' ')} }`;
const ABUSE = [
  { what: '500 aliases', query: aliased(500), variables: { op: gemm } },
  { what: '20 aliases', query: aliased(20), variables: { op: gemm } },
  { what: '5,000 tokens', query: `{ ${'health { ok } '.repeat(2500)} }` },
  { what: 'deep nesting', query: `{ schedules { nodes { ${'operation { '.repeat(20)}kind${' }'.repeat(20)} } } }` },
  {
    what: 'introspection fan-out',
    query: '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }',
  },
  { what: '80 directives', query: `{ health { ${'ok @skip(if: false) '.repeat(80)} } }` },
  {
    what: 'k = 10^6',
    query: 'query($op: OperationInput!) { similarSchedules(operation: $op, target: "local", k: 1000000) { tier } }',
    variables: { op: gemm },
  },
];

async function startService(dir) {
  const env = {
    ...process.env,
    SKB_DB_URL: `file:${join(dir, 'kb.db')}`,
    SKB_DATA_DIR: dir,
    SKB_SEED_PACKS: 'none',
    SKB_PORT: '0',
  };
  const child = spawn(process.execPath, [join(root, 'bin/skb.js'), 'serve'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk) => {
      out += chunk;
      const match = out.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (match) resolve(match[0]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`skb serve exited with ${code}: ${out}`)));
  });
  const stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return { url, stop };
}

async function probeLatencies(url, n) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const response = await fetch(`${url}/health`);
    if (response.status !== 200) throw new Error(`/health answered ${response.status}`);
    await response.arrayBuffer();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b);
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const row = (label, sorted) =>
  `| ${label} | ${pct(sorted, 50).toFixed(2)} | ${pct(sorted, 99).toFixed(2)} | ${sorted.at(-1).toFixed(2)} |`;

const dir = mkdtempSync(join(tmpdir(), 'skb-abuse-'));
const service = await startService(dir);
try {
  console.log(
    `load average before ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  await probeLatencies(service.url, 20);
  const quiet = await probeLatencies(service.url, probes);

  let running = true;
  const refused = new Map();
  const answered = [];
  const loop = async (offset) => {
    for (let i = offset; running; i++) {
      const abuse = ABUSE[i % ABUSE.length];
      const t0 = performance.now();
      const response = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: abuse.query, variables: abuse.variables }),
      });
      const body = await response.json();
      const code = body.errors?.[0]?.extensions?.code ?? 'ANSWERED';
      const key = `${abuse.what}: ${code}`;
      refused.set(key, (refused.get(key) ?? 0) + 1);
      answered.push(performance.now() - t0);
    }
  };
  const flood = Array.from({ length: clients }, (_, c) => loop(c));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const loaded = await probeLatencies(service.url, probes);
  running = false;
  await Promise.all(flood);

  console.log(`\n/health latency, ms (${probes} probes each; ${clients} abusive clients in the second row)\n`);
  console.log('| probe | p50 | p99 | max |\n|---|---:|---:|---:|');
  console.log(row('quiet', quiet));
  console.log(row('under abuse', loaded));
  const sorted = answered.sort((a, b) => a - b);
  console.log(
    `\nabusive requests: ${sorted.length}, answered in p50 ${pct(sorted, 50).toFixed(1)} ms, p99 ${pct(sorted, 99).toFixed(1)} ms`,
  );
  for (const [key, count] of [...refused].sort()) console.log(`  ${key} x${count}`);
  console.log(
    `load average after ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await service.stop();
  rmSync(dir, { recursive: true, force: true });
}
