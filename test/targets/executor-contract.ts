/**
 * The one contract every executor (local, SSH) must meet. Each executor's test file calls
 * `describeExecutorContract` with a factory; the suite uses only the Executor interface and POSIX
 * shell commands, so it says nothing about where the commands run.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor, Workspace } from '../../src/targets/executor.js';
import { describeHostileCandidates } from './hostile-candidates.js';
import { runningWith } from './processes.js';

export interface ExecutorContractOptions {
  /** Extra wall time the executor needs per command (connection set-up); default 0. */
  slackMs?: number;
}

const SECRETS: Record<string, string> = {
  SKB_API_TOKEN: 'skb-secret-token-0123456789abcdef',
  OPENAI_API_KEY: 'sk-test-secret-key-do-not-leak',
  SKB_OPENAI_API_KEY: 'sk-other-secret-key-do-not-leak',
};

/** A sleep duration no other process uses, so its command line marks this test's processes (about 30 s). */
const uniqueSleep = (): string => `30.${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`;

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

export function describeExecutorContract(
  name: string,
  makeExecutor: () => Promise<Executor>,
  options: ExecutorContractOptions = {},
): void {
  const slack = options.slackMs ?? 0;

  describe(`executor contract: ${name}`, () => {
    let executor: Executor;
    let ws: Workspace;
    const saved: Record<string, string | undefined> = {};

    beforeAll(async () => {
      for (const [k, v] of Object.entries(SECRETS)) {
        saved[k] = process.env[k];
        process.env[k] = v;
      }
      executor = await makeExecutor();
      ws = await executor.createWorkspace();
    });

    afterAll(async () => {
      await ws?.dispose();
      await executor?.close();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });

    it('writes files that commands can read, and reads files that commands wrote', async () => {
      await ws.writeFile('in/data.txt', 'hello workspace\n');
      const cat = await ws.exec({ argv: ['cat', 'in/data.txt'] });
      expect(cat.exitCode).toBe(0);
      expect(cat.stdout).toBe('hello workspace\n');
      const made = await ws.exec({ argv: ['sh', '-c', 'printf "%s" "made by command" > out.txt'] });
      expect(made.exitCode).toBe(0);
      expect(text(await ws.readFile('out.txt'))).toBe('made by command');
      await ws.writeFile('bin.dat', new Uint8Array([0, 1, 2, 255]));
      expect([...(await ws.readFile('bin.dat'))]).toEqual([0, 1, 2, 255]);
    });

    it('runs commands in the workspace directory', async () => {
      const pwd = await ws.exec({ argv: ['pwd'] });
      expect(pwd.stdout.trim()).toBe(ws.path);
    });

    it('refuses paths that leave the workspace', async () => {
      await expect(ws.writeFile('../escape.txt', 'x')).rejects.toThrow(/workspace/);
      await expect(ws.readFile('/etc/hostname')).rejects.toThrow(/workspace/);
    });

    it('reports exit codes, stderr and signals', async () => {
      const failed = await ws.exec({ argv: ['sh', '-c', 'echo oops >&2; exit 3'] });
      expect(failed.exitCode).toBe(3);
      expect(failed.stderr).toContain('oops');
      expect(failed.limitExceeded).toBeNull();
      const segv = await ws.exec({ argv: ['sh', '-c', 'kill -SEGV $$'] });
      expect(segv.signal).toBe('SIGSEGV');
      expect(segv.limitExceeded).toBeNull();
    });

    it('passes stdin and extra environment variables', async () => {
      const r = await ws.exec({
        argv: ['sh', '-c', 'cat; printf "|%s" "$GREETING"'],
        stdin: 'from stdin',
        env: { GREETING: 'hi' },
      });
      expect(r.stdout).toBe('from stdin|hi');
    });

    it('gives commands an environment without the service secrets', async () => {
      const r = await ws.exec({ argv: ['env'] });
      expect(r.exitCode).toBe(0);
      for (const [k, v] of Object.entries(SECRETS)) {
        expect(r.stdout).not.toContain(v);
        expect(r.stdout).not.toContain(`${k}=`);
      }
      expect(r.stdout).toContain('PATH=');
    });

    it('kills every process of the command when the wall-time limit passes', async () => {
      const marker = uniqueSleep();
      const started = Date.now();
      const r = await ws.exec({
        argv: ['sh', '-c', `sleep ${marker} & (setsid sleep ${marker} &); sleep ${marker}`],
        limits: { wallMs: 500 },
      });
      expect(r.limitExceeded).toBe('time');
      expect(Date.now() - started).toBeLessThan(10_000 + slack);
      // A killed process takes a moment to go.
      await expect.poll(() => runningWith(marker), { timeout: 3_000 + slack, interval: 100 }).toEqual([]);
    });

    it('answers at the exit of the command even when a detached child keeps its output open', async () => {
      const marker = uniqueSleep();
      const r = await ws.exec({
        argv: ['sh', '-c', `(setsid sleep ${marker} &); echo done`],
        limits: { wallMs: 20_000 },
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('done\n');
      expect(r.wallMs).toBeLessThan(10_000);
      await expect.poll(() => runningWith(marker), { timeout: 3_000 + slack, interval: 100 }).toEqual([]);
    });

    it('runs commands sandboxed: no network, a private /tmp, nothing writable but the workspace', async () => {
      const marker = uniqueSleep();
      const r = await ws.exec({
        argv: [
          'sh',
          '-c',
          `echo x > /tmp/skb-contract-${marker} && echo tmp-ok; ` +
            'touch /usr/skb-contract 2>&1; ' +
            `test -e ${JSON.stringify(process.cwd())} && echo sees-tree || echo no-tree; ` +
            "grep -c ':' /proc/net/dev; echo ps=$(ls /proc | grep -c '^[0-9]')",
        ],
      });
      expect(r.stdout).toContain('tmp-ok');
      expect(existsSync(`/tmp/skb-contract-${marker}`)).toBe(false);
      expect(r.stdout).toMatch(/Read-only file system/);
      expect(r.stdout).toContain('no-tree');
      // /proc/net/dev lists only the sandbox's own lo; the PID namespace holds a handful of processes, not the host's.
      expect(r.stdout).toMatch(/\n1\nps=\d\n$/);
      const report = await executor.protections();
      expect(report.tool).toMatch(/^bubblewrap \d/);
      expect(report.protections.join('\n')).toMatch(/network: private namespace/);
      expect(report.missing).toEqual([]);
    });

    it('caps output and stops a command that prints without end', async () => {
      const r = await ws.exec({ argv: ['yes', 'spam'], limits: { maxOutputBytes: 64 * 1024, wallMs: 20_000 } });
      expect(r.limitExceeded).toBe('output');
      expect(r.stdout.length).toBeLessThanOrEqual(64 * 1024);
      expect(r.stdout.startsWith('spam\nspam\n')).toBe(true);
    });

    it('streams stdout to onStdout while the command runs, past the output cap, and keeps stderr', async () => {
      const chunks: string[] = [];
      let sawFirstBeforeExit = false;
      // The command waits for a file that is written only once its first line has been streamed.
      const run = ws.exec({
        argv: [
          'sh',
          '-c',
          'echo first; while [ ! -f go ]; do sleep 0.05; done; head -c 200000 /dev/zero | tr "\\0" x; echo; echo warn >&2',
        ],
        limits: { maxOutputBytes: 64 * 1024, wallMs: 20_000 },
        onStdout: (chunk) => {
          chunks.push(chunk.toString('utf8'));
          if (!sawFirstBeforeExit && chunks.join('').includes('first\n')) {
            sawFirstBeforeExit = true;
            void ws.writeFile('go', '');
          }
        },
      });
      const r = await run;
      expect(sawFirstBeforeExit).toBe(true);
      expect(r.exitCode).toBe(0);
      expect(r.limitExceeded).toBeNull();
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('warn\n');
      expect(chunks.join('').length).toBe('first\n'.length + 200_001);
    });

    it('refuses allocations past the memory limit', async () => {
      const r = await ws.exec({
        argv: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=512M', 'count=1'],
        limits: { memoryBytes: 128 * 1024 ** 2 },
      });
      expect(r.exitCode).not.toBe(0);
      expect(r.limitExceeded).toBe('memory');
      const small = await ws.exec({
        argv: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1M', 'count=4'],
        limits: { memoryBytes: 128 * 1024 ** 2 },
      });
      expect(small.exitCode).toBe(0);
    });

    it('stops a fork bomb at the process limit, and the next command still runs', async () => {
      const r = await ws.exec({
        argv: ['sh', '-c', 'bomb() { bomb | bomb & }; bomb; sleep 2'],
        limits: { maxProcesses: 24, wallMs: 8_000 },
      });
      expect(['processes', 'time']).toContain(r.limitExceeded);
      const next = await ws.exec({ argv: ['sh', '-c', 'echo still fine'] });
      expect(next.exitCode).toBe(0);
      expect(next.stdout).toBe('still fine\n');
    });

    it('kills the command when the abort signal fires', async () => {
      const controller = new AbortController();
      const started = Date.now();
      const marker = uniqueSleep();
      const pending = ws.exec({
        argv: ['sh', '-c', `sleep ${marker}`],
        signal: controller.signal,
        limits: { wallMs: 60_000 },
      });
      setTimeout(() => controller.abort(), 400);
      await expect(pending).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(10_000 + slack);
      // A killed process takes a moment to go.
      await expect.poll(() => runningWith(marker), { timeout: 3_000 + slack, interval: 100 }).toEqual([]);
    });

    it('keeps concurrent workspaces apart and removes them on dispose', async () => {
      const [a, b] = await Promise.all([executor.createWorkspace(), executor.createWorkspace()]);
      try {
        expect(a.path).not.toBe(b.path);
        await Promise.all([a.writeFile('who.txt', 'a'), b.writeFile('who.txt', 'b')]);
        const [ra, rb] = await Promise.all([
          a.exec({ argv: ['cat', 'who.txt'] }),
          b.exec({ argv: ['cat', 'who.txt'] }),
        ]);
        expect(ra.stdout).toBe('a');
        expect(rb.stdout).toBe('b');
      } finally {
        await a.dispose();
      }
      const exists = await b.exec({ argv: ['sh', '-c', 'test -e "$1" && echo present || echo removed', 'sh', a.path] });
      expect(exists.stdout.trim()).toBe('removed');
      await b.dispose();
      await expect(b.exec({ argv: ['true'] })).rejects.toThrow();
    });

    describeHostileCandidates(makeExecutor, { slackMs: slack });
  });
}
