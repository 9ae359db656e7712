import { existsSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SkbError } from '../../src/schedules/index.js';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
import { DEFAULT_SANDBOX } from '../../src/targets/sandbox.js';
import { runningWith } from './processes.js';
import { describeExecutorContract } from './executor-contract.js';

describeExecutorContract('local', async () => createLocalExecutor());

describe('local executor', () => {
  it('runs candidates as an unprivileged user when the service runs as root', async () => {
    const executor = createLocalExecutor();
    const ws = await executor.createWorkspace();
    try {
      const r = await ws.exec({ argv: ['id', '-u'] });
      const uid = Number(r.stdout.trim());
      if (process.getuid?.() === 0) expect(uid).not.toBe(0);
      else expect(uid).toBe(process.getuid?.());
      const wrote = await ws.exec({ argv: ['sh', '-c', 'echo x > owned.txt'] });
      expect(wrote.exitCode).toBe(0);
    } finally {
      await executor.close();
    }
  });

  it('refuses to follow a symbolic link a command planted in the workspace', async () => {
    const executor = createLocalExecutor();
    const ws = await executor.createWorkspace();
    try {
      await ws.exec({ argv: ['ln', '-s', '/etc/passwd', 'result.json'] });
      await expect(ws.readFile('result.json')).rejects.toThrow();
      await expect(ws.writeFile('result.json', 'x')).rejects.toThrow();
    } finally {
      await executor.close();
    }
  });

  it('refuses to start without bubblewrap, saying what to install and how to opt out', async () => {
    const executor = createLocalExecutor({
      sandbox: { ...DEFAULT_SANDBOX, program: '/nonexistent/bwrap' },
    });
    try {
      const error = await executor.createWorkspace().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SkbError);
      expect((error as SkbError).code).toBe('TARGET');
      expect((error as Error).message).toMatch(/bubblewrap \(bwrap\) is not installed/);
      expect((error as Error).message).toContain('apt-get install bubblewrap');
      expect((error as Error).message).toContain('"sandbox": { "enabled": false }');
      await expect(executor.protections()).rejects.toThrow(/not installed/);
    } finally {
      await executor.close();
    }
  });

  it('runs candidates unsandboxed only when told to, and says what that leaves open', async () => {
    const executor = createLocalExecutor({ sandbox: { ...DEFAULT_SANDBOX, enabled: false } });
    try {
      const report = await executor.protections();
      expect(report.tool).toBeNull();
      expect(report.missing.join('\n')).toMatch(/network: candidates reach this host/);
      const ws = await executor.createWorkspace();
      // Without the sandbox's private /tmp, what a candidate writes there is this machine's.
      const leftover = `/tmp/skb-unsandboxed-${process.pid}-${Date.now()}`;
      const r = await ws.exec({ argv: ['sh', '-c', `echo x > ${leftover}`] });
      expect(r.exitCode).toBe(0);
      expect(existsSync(leftover)).toBe(true);
      rmSync(leftover, { force: true });
      // No PID namespace here: a detached child keeps the output pipe open, and the run is still
      // answered at its own exit, not when the child lets go.
      const marker = `30.${process.pid}${Date.now() % 1e6}`;
      const detached = await ws.exec({ argv: ['sh', '-c', `(setsid sleep ${marker} &); echo done`] });
      expect(detached.stdout).toBe('done\n');
      expect(detached.wallMs).toBeLessThan(10_000);
      if (process.getuid?.() === 0) expect(runningWith(marker)).toEqual([]);
    } finally {
      await executor.close();
    }
  });

  it('removes every workspace on close', async () => {
    const executor = createLocalExecutor();
    const a = await executor.createWorkspace();
    const b = await executor.createWorkspace();
    await executor.close();
    await expect(stat(a.path)).rejects.toThrow();
    await expect(stat(b.path)).rejects.toThrow();
  });
});
