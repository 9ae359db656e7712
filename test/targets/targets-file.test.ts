import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTargetsCommand } from '../../src/api/cli/targets-command.js';
import { runCli } from '../../src/api/cli/run-cli.js';
import { TargetRecordSchema } from '../../src/schedules/index.js';
import { createTarget } from '../../src/targets/target.js';
import { createTargetPool } from '../../src/targets/target-pool.js';
import { writeFakeGpuProbe } from '../support/gpu.js';
import { freePort } from '../support/sshd.js';
import { DEFAULT_TARGETS, loadTargets, parseTargetsFile } from '../../src/targets/targets-file.js';

const HOST_KEY = `SHA256:${'A'.repeat(43)}`;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skb-targets-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('targets file', () => {
  it('ships a default file that describes this machine', async () => {
    const { source, targets } = await loadTargets({ cwd: process.cwd() });
    expect(source).toMatch(/data\/targets\.json$/);
    expect(targets.targets[0]).toMatchObject({ id: 'local', executor: { kind: 'local' }, toolchain: { kind: 'c' } });
  });

  it('falls back to one local target without a file, and refuses a missing explicit file', async () => {
    expect(await loadTargets({ cwd: dir })).toEqual({ source: 'built-in default', targets: DEFAULT_TARGETS });
    await expect(loadTargets({ file: 'nope.json', cwd: dir })).rejects.toThrow(/SKB_TARGETS_FILE/);
  });

  it('names the bad field in its errors', async () => {
    expect(() =>
      parseTargetsFile({ targets: [{ id: 'x', executor: { kind: 'local' }, toolchain: { kind: 'fortran' } }] }),
    ).toThrow(/targets\.0\.toolchain/);
    expect(() =>
      parseTargetsFile({
        targets: [
          {
            id: 'box',
            executor: { kind: 'ssh', host: 'h', username: 'u', hostKeySha256: 'abc', privateKeyPath: '/k' },
            toolchain: { kind: 'c' },
          },
        ],
      }),
    ).toThrow(/targets\.0\.executor\.hostKeySha256/);
    expect(() =>
      parseTargetsFile({
        targets: [
          {
            id: 'box',
            executor: { kind: 'ssh', host: 'h', username: 'u', hostKeySha256: HOST_KEY },
            toolchain: { kind: 'c' },
          },
        ],
      }),
    ).toThrow(/privateKeyPath or agent/);
    expect(() =>
      parseTargetsFile({
        targets: [
          {
            id: 'box',
            executor: { kind: 'ssh', host: 'h', username: 'u', hostKeySha256: HOST_KEY, privateKey: '-----BEGIN' },
            toolchain: { kind: 'c' },
          },
        ],
      }),
    ).toThrow(/privateKey/);
    expect(() => parseTargetsFile({ targets: [DEFAULT_TARGETS.targets[0], DEFAULT_TARGETS.targets[0]] })).toThrow(
      /unique/,
    );
    const path = join(dir, 'broken.json');
    await writeFile(path, '{ "targets": [');
    await expect(loadTargets({ file: path })).rejects.toThrow(/not valid JSON/);
  });

  it('accepts an SSH target that references its key', () => {
    const file = parseTargetsFile({
      targets: [
        {
          id: 'gpu-box',
          executor: { kind: 'ssh', host: 'gpu.example', username: 'bench', hostKeySha256: HOST_KEY, agent: true },
          toolchain: { kind: 'kernelbench' },
        },
      ],
    });
    expect(file.targets[0]!.executor).toMatchObject({ kind: 'ssh', port: 22, agent: true });
  });

  it("passes a KernelBench target's env to its harness runs, and refuses bad names", async () => {
    // A stand-in interpreter that reports a fingerprint named after a variable of its environment:
    // the name comes back only if the targets file's env reached the sandboxed process.
    const bin = await writeFakeGpuProbe(tmpdir(), 'SKB_PROBE_NAME');
    const file = parseTargetsFile({
      targets: [
        {
          id: 'gpu',
          executor: { kind: 'local' },
          toolchain: {
            kind: 'kernelbench',
            python: join(bin, 'python'),
            env: { SKB_PROBE_NAME: 'from-env', CUDA_VISIBLE_DEVICES: '0' },
          },
          // The interpreter lies outside the system directories: the sandbox shows it read-only.
          sandbox: { readOnlyPaths: [bin] },
        },
      ],
    });
    const target = createTarget(file.targets[0]!);
    try {
      expect(await target.fingerprint()).toMatchObject({ kind: 'gpu', name: 'GPU from-env' });
    } finally {
      await target.close();
      await rm(bin, { recursive: true, force: true });
    }
    expect(() =>
      parseTargetsFile({
        targets: [
          { id: 'gpu', executor: { kind: 'local' }, toolchain: { kind: 'kernelbench', env: { 'bad-name': '1' } } },
        ],
      }),
    ).toThrow(/"bad-name" is not an environment name/);
  });

  it('gives each GPU member of a pool its own CUDA_VISIBLE_DEVICES', async () => {
    const bin = await writeFakeGpuProbe(tmpdir(), 'CUDA_VISIBLE_DEVICES');
    const entry = parseTargetsFile({
      targets: [
        {
          id: 'gpus',
          executor: { kind: 'local' },
          toolchain: { kind: 'kernelbench', python: join(bin, 'python'), devices: ['1', '3'] },
          sandbox: { readOnlyPaths: [bin] },
        },
      ],
    }).targets[0]!;
    const pool = createTargetPool(entry);
    try {
      expect(pool.members.map((m) => m.member)).toEqual(['local cuda:1', 'local cuda:3']);
      const fingerprints = await Promise.all(pool.members.map((m) => m.fingerprint()));
      expect(fingerprints.map((f) => (f.kind === 'gpu' ? f.name : f.kind))).toEqual(['GPU 1', 'GPU 3']);
    } finally {
      await pool.close();
      await rm(bin, { recursive: true, force: true });
    }
  });

  it('builds the local target: fingerprint and a knowledge-base record', async () => {
    const target = createTarget(DEFAULT_TARGETS.targets[0]!);
    try {
      const record = await target.record();
      expect(TargetRecordSchema.parse(record)).toEqual(record);
      expect(record.name).toBe('local');
      expect(await target.fingerprint()).toEqual(record.fingerprint);
    } finally {
      await target.close();
    }
  });
});

async function cli(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli([createTargetsCommand()], argv, { stdout, stderr, env, cwd: process.cwd() });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

describe('skb targets', () => {
  it('lists the targets of SKB_TARGETS_FILE', async () => {
    const path = join(dir, 'two.json');
    await writeFile(
      path,
      JSON.stringify({
        targets: [
          DEFAULT_TARGETS.targets[0],
          {
            id: 'remote',
            description: 'A box',
            executor: {
              kind: 'ssh',
              host: 'box',
              port: 2222,
              username: 'me',
              hostKeySha256: HOST_KEY,
              privateKeyPath: '~/.ssh/id_ed25519',
            },
            toolchain: { kind: 'c', cc: 'clang' },
          },
        ],
      }),
    );
    const r = await cli(['targets', 'list'], { SKB_TARGETS_FILE: path });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^local\s+local\s+c \(gcc\)/m);
    expect(r.stdout).toMatch(/^remote\s+ssh me@box:2222\s+c \(clang\)\s+A box$/m);
    expect(r.stdout).not.toContain('id_ed25519');
  });

  it('self-checks a target and prints its fingerprint, key and family', async () => {
    const r = await cli(['targets', 'test', 'local'], {});
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout) as { id: string; key: string; family: string; fingerprint: { kind: string } };
    expect(printed.id).toBe('local');
    expect(printed.key).toMatch(/^t-[0-9a-f]{16}$/);
    expect(printed.family).toMatch(/^cpu-[0-9a-f]{12}$/);
    expect(printed.fingerprint.kind).toBe('cpu');
    expect(r.stderr).toContain('self-check passed');
    // The protections its candidates run under, in the JSON and in words.
    const { sandbox } = JSON.parse(r.stdout) as { sandbox: { tool: string; protections: string[]; missing: string[] } };
    expect(sandbox.tool).toMatch(/^bubblewrap \d/);
    expect(sandbox.missing).toEqual([]);
    expect(r.stderr).toMatch(/^sandbox: bubblewrap /m);
    expect(r.stderr).toMatch(/in force: network: private namespace/);
    expect(r.stderr).toMatch(/in force: processes: private PID namespace/);
  });

  it('reports what a target that opts out of the sandbox leaves open, and checks its read-only paths', async () => {
    const path = join(dir, 'unsandboxed.json');
    await writeFile(
      path,
      JSON.stringify({
        targets: [{ ...DEFAULT_TARGETS.targets[0], id: 'open', sandbox: { enabled: false } }],
      }),
    );
    const r = await cli(['targets', 'test', 'open'], { SKB_TARGETS_FILE: path });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^sandbox: DISABLED in the targets file$/m);
    expect(r.stderr).toMatch(/MISSING: {2}network: candidates reach this host/);
    expect(() =>
      parseTargetsFile({
        targets: [{ ...DEFAULT_TARGETS.targets[0], sandbox: { readOnlyPaths: ['opt/conda'] } }],
      }),
    ).toThrow(/targets\.0\.sandbox\.readOnlyPaths\.0.*absolute/);
  });

  it('reports an unknown target and a failing toolchain', async () => {
    const unknown = await cli(['targets', 'test', 'nowhere'], {});
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No target "nowhere".*local/);
    const path = join(dir, 'badcc.json');
    await writeFile(
      path,
      JSON.stringify({
        targets: [{ id: 'badcc', executor: { kind: 'local' }, toolchain: { kind: 'c', cc: 'no-such-cc' } }],
      }),
    );
    const failed = await cli(['targets', 'test', 'badcc'], { SKB_TARGETS_FILE: path });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/self-check FAILED/);
  });

  it('lists a pool with its members, and checks every member: one that does not answer fails the check', async () => {
    const closed = await freePort();
    const path = join(dir, 'pool.json');
    await writeFile(
      path,
      JSON.stringify({
        targets: [
          {
            id: 'pool',
            members: [
              { kind: 'local' },
              {
                kind: 'ssh',
                host: '127.0.0.1',
                port: closed,
                username: 'me',
                hostKeySha256: HOST_KEY,
                privateKeyPath: '/nonexistent/key',
              },
            ],
            toolchain: { kind: 'c' },
          },
        ],
      }),
    );
    const listed = await cli(['targets', 'list'], { SKB_TARGETS_FILE: path });
    expect(listed.stdout).toMatch(
      new RegExp(`^pool\\s+pool of 2: local, ssh me@127\\.0\\.0\\.1:${closed}\\s+c \\(gcc\\)`, 'm'),
    );
    const checked = await cli(['targets', 'test', 'pool'], { SKB_TARGETS_FILE: path });
    expect(checked.code).toBe(1);
    const report = JSON.parse(checked.stdout) as {
      id: string;
      members: { member: string; ok: boolean; error?: string }[];
    };
    expect(report.id).toBe('pool');
    expect(report.members.map((m) => [m.member, m.ok])).toEqual([
      ['local', true],
      [`me@127.0.0.1:${closed}`, false],
    ]);
    expect(report.members[1]!.error).toMatch(/cannot read the private key|cannot reach/);
    expect(checked.stderr).toMatch(/target pool: self-check passed on local/);
    expect(checked.stderr).toMatch(new RegExp(`target pool: self-check FAILED on me@127\\.0\\.0\\.1:${closed}`));
  });
});
