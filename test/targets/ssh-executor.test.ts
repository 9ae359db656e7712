import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Workspace } from '../../src/targets/executor.js';
import { createSshExecutor } from '../../src/targets/ssh-executor.js';
import { sshFailureReason } from '../../src/targets/ssh-connection.js';
import { generateKey, startSshd, type TestSshd } from '../support/sshd.js';
import { describeExecutorContract } from './executor-contract.js';
import { runningWith } from './processes.js';

const run = promisify(execFile);
let sshd: TestSshd;

beforeAll(async () => {
  sshd = await startSshd();
});

afterAll(async () => {
  await sshd?.stop();
});

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name in parentheses may hold spaces; the state and the parent pid follow it.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Whether a process of this machine (the sshd under test listens on loopback) runs `argv` below `ancestor`. */
function runsBelow(ancestor: number, argv: string[]): boolean {
  const cmdline = argv.map((a) => `${a}\0`).join('');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') !== cmdline) continue;
      for (let pid = Number(entry); pid > 1; pid = parentOf(pid)) if (pid === ancestor) return true;
    } catch {
      // Gone meanwhile.
    }
  }
  return false;
}

const connection = () => ({
  host: sshd.host,
  port: sshd.port,
  username: sshd.username,
  privateKeyPath: sshd.privateKeyPath,
  hostKeySha256: sshd.hostKeySha256,
});

describeExecutorContract('ssh (OpenSSH on loopback)', async () => createSshExecutor(connection()), { slackMs: 2_000 });

describe('ssh executor against OpenSSH', () => {
  it('reuses one connection for every workspace, and reconnects after sshd drops it mid-command', async () => {
    const executor = createSshExecutor(connection());
    try {
      expect(executor.kind).toBe('ssh');
      expect(executor.describe).toBe(`${sshd.username}@127.0.0.1:${sshd.port}`);
      // The command's wrapper starts with `timeout`, whose parent is the sshd process serving the
      // connection. Seen from this machine: inside the sandbox, pids are the PID namespace's.
      const connectionPid = async (ws: Workspace): Promise<number> => {
        const marker = `31.${Math.floor(Math.random() * 1e9)}`;
        const controller = new AbortController();
        const pending = ws
          .exec({ argv: ['sleep', marker], signal: controller.signal, limits: { wallMs: 20_000 } })
          .catch(() => undefined);
        const wrapper = await vi.waitFor(
          () => {
            const pid = runningWith(marker).find((p) =>
              readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('timeout\0'),
            );
            if (pid === undefined) throw new Error('the command is not running yet');
            return pid;
          },
          { timeout: 10_000, interval: 20 },
        );
        const connection = parentOf(wrapper);
        controller.abort();
        await pending;
        return connection;
      };
      const [a, b] = await Promise.all([executor.createWorkspace(), executor.createWorkspace()]);
      const first = await connectionPid(a);
      expect(first).toBeGreaterThan(1);
      expect(await connectionPid(b)).toBe(first);

      const pending = a.exec({ argv: ['sleep', '30'], limits: { wallMs: 5_000 } });
      await expect
        .poll(() => runsBelow(first, ['sleep', '30']), {
          timeout: 5_000,
          interval: 20,
          message: 'the command runs on the server',
        })
        .toBe(true);
      process.kill(first, 'SIGKILL');
      const error = await pending.catch((e: unknown) => e);
      expect(sshFailureReason(error)).toBe('connection-lost');

      const second = await connectionPid(a);
      expect(second).toBeGreaterThan(1);
      expect(second).not.toBe(first);
      expect(await connectionPid(b)).toBe(second);
    } finally {
      await executor.close();
    }
  });

  it('reports the exit of commands that end at once, many at a time, instead of a lost session', async () => {
    // A command that ends at once can have its exit status arrive in the same read as the reply
    // that opened its channel, which is common on a busy host. Misread, such a workspace create or
    // remove failed as "exit SIGKILL", and a pool took the member down. Busy loops make the host busy.
    const busy = Array.from({ length: 4 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    const executor = createSshExecutor(connection());
    try {
      for (let round = 0; round < 4; round += 1) {
        const spaces = await Promise.all(Array.from({ length: 12 }, () => executor.createWorkspace()));
        const outcomes = await Promise.all(
          spaces.map((ws, i) => ws.exec({ argv: ['sh', '-c', `exit ${i % 3}`], limits: { wallMs: 10_000 } })),
        );
        expect(outcomes.map((o) => [o.exitCode, o.signal])).toEqual(spaces.map((_, i) => [i % 3, null]));
        await Promise.all(spaces.map((ws) => ws.dispose()));
      }
    } finally {
      for (const loop of busy) loop.kill('SIGKILL');
      await executor.close();
    }
  });

  it('runs candidates as an unprivileged user when it logs in as root', async () => {
    const executor = createSshExecutor(connection());
    try {
      const ws = await executor.createWorkspace();
      const r = await ws.exec({ argv: ['id', '-u'] });
      if (sshd.username === 'root') expect(Number(r.stdout.trim())).not.toBe(0);
      const wrote = await ws.exec({ argv: ['sh', '-c', 'mkdir -p sub && echo x > sub/owned.txt'] });
      expect(wrote.exitCode).toBe(0);
      await ws.writeFile('sub/more.txt', 'y');
      const both = await ws.exec({ argv: ['sh', '-c', 'cat sub/owned.txt sub/more.txt && echo z >> sub/more.txt'] });
      expect(both.stdout).toBe('x\ny');
      expect(both.exitCode).toBe(0);
    } finally {
      await executor.close();
    }
  });

  it('refuses to follow symbolic links a command planted in the workspace', async () => {
    const executor = createSshExecutor(connection());
    try {
      const ws = await executor.createWorkspace();
      await ws.exec({ argv: ['ln', '-s', '/etc/passwd', 'result.json'] });
      await ws.exec({ argv: ['ln', '-s', '/tmp', 'outside'] });
      await expect(ws.readFile('result.json')).rejects.toThrow(/symbolic link/);
      await expect(ws.writeFile('result.json', 'x')).rejects.toThrow(/symbolic link/);
      await expect(ws.writeFile('outside/nested/file.txt', 'x')).rejects.toThrow(/symbolic link/);
    } finally {
      await executor.close();
    }
  });

  it('authenticates through an ssh-agent socket when no key file is given', async () => {
    const socketPath = `${sshd.dir}/agent.sock`;
    const agent = spawn('ssh-agent', ['-D', '-a', socketPath], { stdio: 'ignore' });
    try {
      await expect
        .poll(() => existsSync(socketPath), {
          timeout: 5_000,
          interval: 20,
          message: 'ssh-agent listens on its socket',
        })
        .toBe(true);
      await run('ssh-add', ['-q', sshd.privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socketPath } });
      const { privateKeyPath: _unused, ...withoutKey } = connection();
      const executor = createSshExecutor({ ...withoutKey, agent: socketPath });
      try {
        const ws = await executor.createWorkspace();
        const r = await ws.exec({ argv: ['echo', 'via agent'] });
        expect(r.stdout).toBe('via agent\n');
      } finally {
        await executor.close();
      }
    } finally {
      agent.kill();
    }
  });

  it('refuses a server whose host key is not the pinned one, before running anything', async () => {
    const other = `SHA256:${'A'.repeat(43)}`;
    const executor = createSshExecutor({ ...connection(), hostKeySha256: other });
    try {
      const error = await executor.createWorkspace().catch((e: unknown) => e);
      expect(sshFailureReason(error)).toBe('host-key-changed');
      expect((error as Error).message).toBe(
        `host key of ${sshd.username}@127.0.0.1:${sshd.port} changed: expected ${other}, got ${sshd.hostKeySha256}; if the change is expected, update hostKeySha256 in the targets file`,
      );
    } finally {
      await executor.close();
    }
  });

  it('says authentication failed when sshd accepts none of the keys, without naming key material', async () => {
    const stranger = await generateKey(`${sshd.dir}/stranger_ed25519`);
    const executor = createSshExecutor({ ...connection(), privateKeyPath: stranger });
    try {
      const error = await executor.createWorkspace().catch((e: unknown) => e);
      expect(sshFailureReason(error)).toBe('auth-failed');
      expect((error as Error).message).toMatch(/authentication to .* failed/);
      expect((error as Error).message).not.toMatch(/PRIVATE KEY/);
    } finally {
      await executor.close();
    }
  });
});
