import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTargetsCommand } from '../../src/api/cli/targets-command.js';
import { runCli } from '../../src/api/cli/run-cli.js';
import { TargetRecordSchema } from '../../src/schedules/index.js';
import { createTarget } from '../../src/targets/target.js';
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
    const bin = await mkdtemp(join(tmpdir(), 'skb-env-'));
    const line = JSON.stringify({
      version: 1,
      ok: true,
      errorKind: null,
      phase: null,
      message: null,
      traceback: null,
      fingerprint: {
        kind: 'gpu',
        name: 'NAME',
        smCount: 132,
        computeCapability: '9.0',
        driver: 'd',
        cuda: '13.0',
        torch: '2.11',
        triton: '3.6',
      },
      correctness: null,
      timing: null,
    });
    await writeFile(join(bin, 'python'), `#!/bin/sh\necho 'SKB_RESULT ${line}' | sed "s/NAME/GPU $SKB_PROBE_NAME/"\n`, {
      mode: 0o755,
    });
    await chmod(bin, 0o755);
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
});
