import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createLocalExecutor } from '../../src/targets/local-executor.js';
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

  it('removes every workspace on close', async () => {
    const executor = createLocalExecutor();
    const a = await executor.createWorkspace();
    const b = await executor.createWorkspace();
    await executor.close();
    await expect(stat(a.path)).rejects.toThrow();
    await expect(stat(b.path)).rejects.toThrow();
  });
});
