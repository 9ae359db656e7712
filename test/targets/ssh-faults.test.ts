/**
 * Faults a real sshd will not produce on demand, injected with ssh2's own Server: a connection
 * dropped mid-command, a host that stops answering, refused authentication, a changed host key.
 * Commands the fault server does not sabotage really run here (`sh -c`), so the executor's full
 * wrapper (timeout, prlimit, setpriv) is exercised on every path.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, utils, type Connection, type ServerChannel } from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KILL_GRACE_SECONDS } from '../../src/targets/limits.js';
import { sshFailureReason } from '../../src/targets/ssh-connection.js';
import {
  CLOSE_WAIT_MS,
  createSshExecutor,
  PROBE_OPEN_MS,
  type SshExecutorOptions,
} from '../../src/targets/ssh-executor.js';
import { fingerprintOf, generateKey } from '../support/sshd.js';
import { createSshHostRegistry } from '../../src/targets/ssh-hosts.js';

/** What the fault server does with one exec request. */
type Fault = 'run' | 'drop' | 'freeze';

interface FaultServerOptions {
  hostKeyPath: string;
  /** The one client key accepted; null refuses every authentication attempt. */
  clientPublicKeyPath: string | null;
  /** Decides per command; `connection` counts from 1. */
  onExec?: (command: string, connection: number) => Fault;
}

interface FaultServer {
  port: number;
  stats: {
    connections: number;
    authAttempts: number;
    open: number;
    maxOpen: number;
    keepalives: number;
    commands: string[];
  };
  close(): Promise<void>;
}

/** Starts an ssh2 Server on 127.0.0.1 whose sockets we hold, so faults can cut or freeze them. */
async function startFaultServer(options: FaultServerOptions): Promise<FaultServer> {
  const stats: FaultServer['stats'] = {
    connections: 0,
    authAttempts: 0,
    open: 0,
    maxOpen: 0,
    keepalives: 0,
    commands: [],
  };
  const allowed = options.clientPublicKeyPath ? utils.parseKey(await readFile(options.clientPublicKeyPath)) : null;
  if (allowed instanceof Error) throw allowed;
  const sockets = new Set<Socket>();
  const socketsByPort = new Map<number, Socket>();
  const children = new Set<number>();

  const ssh = new Server(
    {
      hostKeys: [await readFile(options.hostKeyPath)],
      debug: (message: string) => {
        if (message.includes('GLOBAL_REQUEST (keepalive@openssh.com)')) stats.keepalives += 1;
      },
    },
    (client: Connection, info) => {
      const connectionNumber = stats.connections;
      const socket = socketsByPort.get(info.port);
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => {
        stats.authAttempts += 1;
        if (!allowed || ctx.method !== 'publickey' || !allowed.equals(ctx.key.data)) return ctx.reject(['publickey']);
        if (!ctx.signature) return ctx.accept();
        if (ctx.blob && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.accept();
        return ctx.reject(['publickey']);
      });
      client.on('ready', () => {
        client.on('session', (acceptSession) => {
          const session = acceptSession();
          stats.open += 1;
          stats.maxOpen = Math.max(stats.maxOpen, stats.open);
          // A session stops counting once its command has ended, before the exit status goes out:
          // the client can only free its slot after reading that, so the count here never runs
          // ahead of the client's. (Waiting for the channel's close would let another connection's
          // next session, opened at once by the client, arrive first and count one too many.)
          let counted = true;
          const uncount = () => {
            if (counted) stats.open -= 1;
            counted = false;
          };
          session.on('close', uncount);
          session.on('exec', (acceptExec, _reject, info) => {
            stats.commands.push(info.command);
            const stream = acceptExec();
            const fault = options.onExec?.(info.command, connectionNumber) ?? 'run';
            if (fault === 'run') runHere(info.command, stream, children, uncount);
            else if (fault === 'drop') setTimeout(() => socket?.destroy(), 300);
            else socket?.pause();
          });
        });
      });
    },
  );

  const tcp: NetServer = createServer((socket) => {
    stats.connections += 1;
    sockets.add(socket);
    // ssh2 names a connection by the client's port; that is how a fault finds the socket to cut.
    if (socket.remotePort !== undefined) socketsByPort.set(socket.remotePort, socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    ssh.injectSocket(socket);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const address = tcp.address();
  if (typeof address !== 'object' || !address) throw new Error('fault server has no port');

  return {
    port: address.port,
    stats,
    async close() {
      for (const pid of children) killGroup(pid);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Runs the command as sshd would (through a shell, in its own process group) and reports back. */
function runHere(command: string, stream: ServerChannel, children: Set<number>, onEnd: () => void): void {
  const child = spawn('sh', ['-c', command], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const pid = child.pid!;
  children.add(pid);
  stream.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (chunk: Buffer) => stream.write(chunk));
  child.stderr.on('data', (chunk: Buffer) => stream.stderr.write(chunk));
  stream.on('close', () => killGroup(pid));
  child.on('close', (code, signal) => {
    children.delete(pid);
    onEnd();
    if (signal) stream.exit(signal.replace(/^SIG/, ''), false, '');
    else stream.exit(code ?? 255);
    stream.end();
  });
}

let dir: string;
let hostKey: string;
let otherHostKey: string;
let clientKey: string;
let servers: FaultServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skb-ssh-faults-'));
  hostKey = await generateKey(join(dir, 'host'));
  otherHostKey = await generateKey(join(dir, 'host-new'));
  clientKey = await generateKey(join(dir, 'client'));
});

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function serve(options: Partial<FaultServerOptions> = {}): Promise<FaultServer> {
  const server = await startFaultServer({ hostKeyPath: hostKey, clientPublicKeyPath: `${clientKey}.pub`, ...options });
  servers.push(server);
  return server;
}

async function executorFor(server: FaultServer, extra: Partial<SshExecutorOptions> = {}) {
  return createSshExecutor({
    host: '127.0.0.1',
    port: server.port,
    username: 'root',
    privateKeyPath: clientKey,
    hostKeySha256: await fingerprintOf(`${hostKey}.pub`),
    ...extra,
  });
}

const isCandidate = (command: string): boolean => command.includes('FAULT-HERE');

describe('ssh executor faults (ssh2 Server)', () => {
  it('fails a command whose connection drops as connection-lost, and the next command reconnects', async () => {
    const server = await serve({
      onExec: (command, connection) => (isCandidate(command) && connection === 1 ? 'drop' : 'run'),
    });
    const executor = await executorFor(server);
    try {
      const ws = await executor.createWorkspace();
      const error = await ws.exec({ argv: ['sh', '-c', 'sleep 5; echo FAULT-HERE'] }).catch((e: unknown) => e);
      expect(sshFailureReason(error)).toBe('connection-lost');
      expect((error as Error).message).toMatch(/connection lost to root@127\.0\.0\.1:\d+/);

      const again = await ws.exec({ argv: ['sh', '-c', 'echo back FAULT-HERE'] });
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toBe('back FAULT-HERE\n');
      expect(server.stats.connections).toBe(2);
      await ws.dispose();
    } finally {
      await executor.close();
    }
  });

  it('kills a command on a host that stops answering when the local wall timer passes', async () => {
    const server = await serve({
      onExec: (command, connection) => (isCandidate(command) && connection === 1 ? 'freeze' : 'run'),
    });
    const localGraceMs = 500;
    const executor = await executorFor(server, { localGraceMs });
    try {
      const ws = await executor.createWorkspace();
      const wallMs = 1_000;
      const started = Date.now();
      const r = await ws.exec({ argv: ['sh', '-c', 'echo FAULT-HERE'], limits: { wallMs } });
      const took = Date.now() - started;
      expect(r.limitExceeded).toBe('time');
      expect(r.signal).toBe('SIGKILL');
      expect(r.exitCode).toBeNull();
      // The wall limit, timeout's kill grace, our local grace, the wait for a close that never comes,
      // the clean-up probe that finds the connection dead, and slack for a loaded machine.
      expect(took).toBeGreaterThanOrEqual(wallMs);
      expect(took).toBeLessThan(
        wallMs + KILL_GRACE_SECONDS * 1000 + localGraceMs + CLOSE_WAIT_MS + PROBE_OPEN_MS + 2_000,
      );

      // The frozen connection was given up; the workspace goes on over a new one.
      const next = await ws.exec({ argv: ['echo', 'fresh'] });
      expect(next.stdout).toBe('fresh\n');
      expect(server.stats.connections).toBe(2);
    } finally {
      await executor.close();
    }
  });

  it('says a host that resets the connection mid-handshake cannot be reached, as a pool member reports it', async () => {
    // What a host that goes down between two commands looks like to the reconnect: TCP is
    // accepted, then reset before sshd says a word.
    const resetting = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    const port = (resetting.address() as { port: number }).port;
    const executor = await createSshExecutor({
      host: '127.0.0.1',
      port,
      username: 'root',
      privateKeyPath: clientKey,
      hostKeySha256: await fingerprintOf(`${hostKey}.pub`),
    });
    try {
      const error = await executor.createWorkspace().catch((e: unknown) => e);
      expect(sshFailureReason(error)).toBe('unreachable');
      expect((error as Error).message).toMatch(
        new RegExp(`^cannot reach root@127\\.0\\.0\\.1:${port}: the SSH handshake failed \\(read ECONNRESET\\)`),
      );
    } finally {
      await executor.close();
      await new Promise((resolve) => resetting.close(resolve));
    }
  });

  it('says authentication failed when the server accepts none of the keys, and runs nothing', async () => {
    const server = await serve({ clientPublicKeyPath: null });
    const executor = await executorFor(server);
    try {
      const error = await executor.createWorkspace().catch((e: unknown) => e);
      expect(sshFailureReason(error)).toBe('auth-failed');
      expect((error as Error).message).toBe(
        `authentication to root@127.0.0.1:${server.port} failed: the server accepted none of the offered keys; check username, privateKeyPath or agent in the targets file and that the public key is in the server's authorized_keys`,
      );
      expect(server.stats.authAttempts).toBeGreaterThan(0);
      expect(server.stats.commands).toEqual([]);
    } finally {
      await executor.close();
    }
  });

  it('refuses a changed host key before authenticating, so no command runs', async () => {
    const server = await serve({ hostKeyPath: otherHostKey });
    const pinned = await fingerprintOf(`${hostKey}.pub`);
    const seen = await fingerprintOf(`${otherHostKey}.pub`);
    const executor = await executorFor(server);
    try {
      const error = await executor.createWorkspace().catch((e: unknown) => e);
      expect(sshFailureReason(error)).toBe('host-key-changed');
      expect((error as Error).message).toBe(
        `host key of root@127.0.0.1:${server.port} changed: expected ${pinned}, got ${seen}; if the change is expected, update hostKeySha256 in the targets file`,
      );
      expect(server.stats.authAttempts).toBe(0);
      expect(server.stats.commands).toEqual([]);
    } finally {
      await executor.close();
    }
  });

  it('keeps at most maxSessions channels open on one host', async () => {
    const server = await serve();
    const executor = await executorFor(server, { maxSessions: 2 });
    try {
      const workspaces = await Promise.all([1, 2, 3].map(() => executor.createWorkspace()));
      const results = await Promise.all(
        workspaces.flatMap((ws) => [1, 2].map((n) => ws.exec({ argv: ['sh', '-c', `sleep 0.3; echo ${n}`] }))),
      );
      expect(results.map((r) => r.stdout)).toEqual(['1\n', '2\n', '1\n', '2\n', '1\n', '2\n']);
      expect(server.stats.maxOpen).toBe(2);
      expect(server.stats.connections).toBe(1);
    } finally {
      await executor.close();
    }
  });

  it('counts maxSessions per host: two executors (two entries, or two pool members) naming one host share its slots', async () => {
    const server = await serve();
    const hosts = createSshHostRegistry(new Map([[`127.0.0.1:${server.port}`, 2]]));
    const slots = hosts.slots({ host: '127.0.0.1', port: server.port });
    const executors = await Promise.all([1, 2].map(() => executorFor(server, { maxSessions: 4, sessionSlots: slots })));
    try {
      const workspaces = await Promise.all(executors.map((e) => e.createWorkspace()));
      const results = await Promise.all(
        workspaces.flatMap((ws) => [1, 2].map((n) => ws.exec({ argv: ['sh', '-c', `sleep 0.3; echo ${n}`] }))),
      );
      expect(results.map((r) => r.stdout)).toEqual(['1\n', '2\n', '1\n', '2\n']);
      // Two connections (one per executor), never more than the host's two channels open between them.
      expect(server.stats.connections).toBe(2);
      expect(server.stats.maxOpen).toBe(2);
    } finally {
      await Promise.all(executors.map((e) => e.close()));
    }
  });

  it('sends keep-alives at the configured interval and gives up on a host that stops answering them', async () => {
    const server = await serve({ onExec: (command) => (isCandidate(command) ? 'freeze' : 'run') });
    const executor = await executorFor(server, { keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
    try {
      const ws = await executor.createWorkspace();
      const idle = await ws.exec({ argv: ['sleep', '1.2'] });
      expect(idle.exitCode).toBe(0);
      expect(server.stats.keepalives).toBeGreaterThanOrEqual(3);

      const started = Date.now();
      const error = await ws
        .exec({ argv: ['sh', '-c', 'echo FAULT-HERE'], limits: { wallMs: 30_000 } })
        .catch((e: unknown) => e);
      expect(sshFailureReason(error)).toBe('connection-lost');
      // Three unanswered keep-alives at 200 ms, far sooner than the 30 s wall limit.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await executor.close();
    }
  });
});
