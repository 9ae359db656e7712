/**
 * Hostile candidates, part of the executor contract: C kernels that attack the service, the host
 * and the deadline, evaluated by the C toolchain on the executor under test while the real service
 * serves a knowledge base on loopback. Each must be classified with a clear error kind, the
 * service must stay up with its knowledge base unchanged, and nothing of the candidate may remain.
 *
 * The checks look at this machine (its /proc, its /tmp, its ports): the SSH executor's host under
 * test is this machine's loopback sshd, so both executors' candidates run here.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOperation } from '../../src/schedules/index.js';
import { naiveBaseline } from '../../src/targets/c/baselines.js';
import { createCToolchain } from '../../src/targets/c/c-toolchain.js';
import type { Executor } from '../../src/targets/executor.js';
import type { CandidateResult } from '../../src/targets/toolchain.js';
import { ROOT } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { runningWith } from './processes.js';

const operation = parseOperation({ kind: 'gemm', dims: { M: 8, N: 8, K: 8 } });
const SIGNATURE = 'void kernel(int M, int N, int K, const float *A, const float *B, const float *bias, float *C)';
const HEADERS = [
  'errno.h',
  'fcntl.h',
  'signal.h',
  'stdio.h',
  'stdlib.h',
  'string.h',
  'unistd.h',
  'arpa/inet.h',
  'sys/socket.h',
]
  .map((h) => `#include <${h}>`)
  .join('\n');
/** A correct gemm body, for candidates whose attack is meant to go unnoticed. */
const COMPUTE = `for (int m = 0; m < M; m++) for (int n = 0; n < N; n++) {
    float s = 0; for (int k = 0; k < K; k++) s += A[m * K + k] * B[k * N + n];
    C[m * N + n] = s;
  }`;
const WALL_MS = 3_000;

/** A C function that connects to 127.0.0.1:port, or reports why not on stderr and exits 3. */
const CONNECT = `static int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a; memset(&a, 0, sizeof a);
  a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    fprintf(stderr, "hostile: connect 127.0.0.1:%d: %s\\n", port, strerror(errno));
    exit(3);
  }
  return fd;
}`;

export function describeHostileCandidates(makeExecutor: () => Promise<Executor>, options: { slackMs: number }): void {
  describe('hostile candidates', () => {
    // Everything a candidate starts carries this in its command line, so "nothing remains" can be
    // checked by name on this machine whatever else runs on it.
    const marker = `4242.${randomBytes(4).readUInt32BE(0)}`;
    const toolchain = createCToolchain({
      runLimits: { wallMs: WALL_MS, memoryBytes: 512 * 1024 ** 2, maxOutputBytes: 64 * 1024 },
    });
    let executor: Executor;
    let server: TestServer;
    let before: string;
    let victim: string;
    let decoy: Server;
    let decoyPort: number;
    let decoyConnections = 0;
    // The service's data directory lives in the working tree, outside /tmp, like `npm start`'s.
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    const dataDir = mkdtempSync(join(ROOT, '.tmp', 'skb-hostile-kb-'));

    const exportAll = () => server.kb.exportJsonl({ filter: {}, pruned: false });

    beforeAll(async () => {
      server = await startTestServer({ dir: dataDir });
      const seeds = await server.kb.importJsonl(
        readFileSync(join(ROOT, 'data', 'seed-packs', 'cpu-reference.jsonl'), 'utf8'),
      );
      victim = seeds.scheduleIds[0]!;
      before = await exportAll();
      decoy = createServer((socket) => {
        decoyConnections += 1;
        socket.destroy();
      });
      decoyPort = await new Promise<number>((resolve) =>
        decoy.listen(0, '127.0.0.1', () => resolve((decoy.address() as { port: number }).port)),
      );
      executor = await makeExecutor();
    });

    afterAll(async () => {
      await executor?.close();
      await new Promise((resolve) => decoy?.close(resolve));
      await server?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    /** Evaluates the hostile candidate followed by a good one, which must come out unharmed. */
    async function evaluate(body: string, prelude = ''): Promise<CandidateResult> {
      const code = `${HEADERS}\n${prelude}\n${SIGNATURE} {\n  ${body}\n}\n`;
      const [hostile, good] = await toolchain.evaluate({
        operation,
        candidates: [code, naiveBaseline(operation)],
        executor,
        timing: { warmup: 0, runs: 2 },
      });
      expect(good!.errorKind, good!.output).toBeNull();
      return hostile!;
    }

    it('cannot reach the service on loopback to delete a schedule', async () => {
      const body = JSON.stringify({ query: `mutation { deleteSchedule(id: "${victim}") }` });
      const request = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
      const r = await evaluate(
        `int fd = connect_loopback(${Number(new URL(server.url).port)});
  const char *req = ${JSON.stringify(request)};
  if (write(fd, req, strlen(req)) < 0) exit(5);
  char reply[4096]; ssize_t got = read(fd, reply, sizeof reply - 1);
  fprintf(stderr, "hostile: the service answered %.*s\\n", (int)(got > 0 ? got : 0), reply);
  exit(4);`,
        CONNECT,
      );
      expect(r.errorKind).toBe('runtime');
      // The sandbox's loopback is its own and empty: nothing listens there.
      expect(r.output).toMatch(/hostile: connect 127\.0\.0\.1:\d+: Connection refused/);
      expect(r.output).not.toContain('the service answered');
      expect(await exportAll()).toBe(before);
    });

    it('cannot connect to another loopback port', async () => {
      const r = await evaluate(`connect_loopback(${decoyPort}); exit(4);`, CONNECT);
      expect(r.errorKind).toBe('runtime');
      expect(r.output).toMatch(/hostile: connect 127\.0\.0\.1:\d+: Connection refused/);
      expect(decoyConnections).toBe(0);
    });

    it('cannot hold the run open with a setsid daemon that keeps the output pipe', async () => {
      const started = Date.now();
      const r = await evaluate(
        `if (fork() == 0) { setsid(); execl("/bin/sleep", "sleep", "${marker}", (char *)0); _exit(1); }
  for (;;) { }`,
      );
      expect(r.errorKind).toBe('timeout');
      // The deadline, the kill grace and one good candidate; never the daemon's lifetime.
      expect(Date.now() - started).toBeLessThan(WALL_MS + 15_000 + options.slackMs);
      await expect.poll(() => runningWith(marker), { timeout: 3_000, interval: 100 }).toEqual([]);
    });

    it('is killed at the deadline, children and all, when it ignores SIGTERM', async () => {
      const r = await evaluate(
        `signal(SIGTERM, SIG_IGN);
  if (fork() == 0) { execl("/bin/sleep", "sleep", "${marker}", (char *)0); _exit(1); }
  for (;;) { }`,
      );
      expect(r.errorKind).toBe('timeout');
      await expect.poll(() => runningWith(marker), { timeout: 3_000, interval: 100 }).toEqual([]);
    });

    it('is stopped at the process limit when it forks without end', async () => {
      const r = await evaluate(`for (;;) if (fork() == 0) execl("/bin/sleep", "sleep", "${marker}", (char *)0);`);
      expect(r.errorKind).toBe('limit_exceeded');
      expect(r.feedback[0]).toMatch(/processes/);
      await expect.poll(() => runningWith(marker), { timeout: 3_000, interval: 100 }).toEqual([]);
    });

    it('leaves nothing in /tmp', async () => {
      const path = `/tmp/skb-hostile-${marker}`;
      const r = await evaluate(`FILE *f = fopen("${path}", "w");
  if (f) { fputs("left behind", f); fclose(f); }
  ${COMPUTE}`);
      // The write succeeds in the candidate's private /tmp and goes with it.
      expect(r.correct).toBe(true);
      expect(existsSync(path)).toBe(false);
    });

    it("cannot read the service's environment through /proc/1/environ, nor its data directory", async () => {
      const targets = ['/proc/1/environ', join(dataDir, 'api-token'), join(dataDir, 'kb.db')];
      const r = await evaluate(
        `static int done = 0;
  if (!done) {
    done = 1;
    const char *paths[] = { ${targets.map((t) => JSON.stringify(t)).join(', ')} };
    for (int i = 0; i < ${targets.length}; i++) {
      int fd = open(paths[i], O_RDONLY);
      if (fd < 0) { printf("DENIED %s: %s\\n", paths[i], strerror(errno)); continue; }
      char buf[4096]; ssize_t n = read(fd, buf, sizeof buf);
      for (ssize_t j = 0; j < n; j++) if (buf[j] == 0) buf[j] = '\\n';
      printf("READ %s: %.*s\\n", paths[i], (int)(n > 0 ? n : 0), buf);
      close(fd);
    }
    fflush(stdout);
  }
  ${COMPUTE}`,
      );
      expect(r.correct).toBe(true);
      expect(r.output).not.toContain(server.token);
      expect(r.output).not.toContain('SQLite format');
      for (const secret of Object.values(process.env).filter((v): v is string => (v ?? '').startsWith('sk-'))) {
        expect(r.output).not.toContain(secret);
      }
      expect(r.output).toMatch(new RegExp(`DENIED ${join(dataDir, 'api-token')}: No such file or directory`));
      expect(r.output).toMatch(new RegExp(`DENIED ${join(dataDir, 'kb.db')}: No such file or directory`));
      // The PID namespace's pid 1 is the sandbox's own init, whose environment is the candidate's.
      expect(r.output).not.toMatch(/SKB_API_TOKEN|OPENAI_API_KEY/);
    });

    it('left the service up, its knowledge base unchanged and no candidate process running', async () => {
      const health = (await (await fetch(`${server.url}/health`)).json()) as { ok: boolean };
      expect(health.ok).toBe(true);
      expect(await exportAll()).toBe(before);
      expect(runningWith(marker)).toEqual([]);
    });
  });
}
