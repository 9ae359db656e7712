/**
 * A real OpenSSH server on loopback for tests: its own temp dir, generated host and client keys,
 * a free port. The SSH executor's contract suite runs against it, so "works over SSH" means works
 * with the sshd users actually run, not with a simulation of it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { vi } from 'vitest';

const run = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';

export interface TestSshd {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  /** As `ssh-keygen -lf` prints it. */
  hostKeySha256: string;
  /** The server's temp dir (keys, config, pid file). */
  dir: string;
  stop(): Promise<void>;
  /**
   * Takes the host off the network at once, as a crash or a pulled cable would: SIGKILL to the
   * listener and to every process it started, so open connections drop with it (SIGTERM to the
   * listener alone leaves existing sessions running, as OpenSSH intends).
   */
  kill(): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Generates an ed25519 key pair with ssh-keygen; returns the private key path (public key beside it). */
export async function generateKey(path: string): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'skb-test', '-f', path]);
  return path;
}

/** The `SHA256:...` fingerprint of a public key file, computed by ssh-keygen itself. */
export async function fingerprintOf(publicKeyPath: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyPath]);
  const fingerprint = stdout.split(/\s+/)[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);
  return fingerprint;
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `/usr/sbin/sshd -D -e` on 127.0.0.1. Fails (never skips) when OpenSSH's server is not
 * installed, saying how to install it.
 */
export async function startSshd(): Promise<TestSshd> {
  try {
    await access(SSHD_PATH);
  } catch {
    throw new Error(
      `OpenSSH server not found at ${SSHD_PATH}: run \`bash scripts/setup-test-deps.sh\` (it installs openssh-server from Debian) before the SSH tests`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'skb-sshd-'));
  // sshd refuses to start without its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => undefined);
  const hostKey = await generateKey(join(dir, 'host_ed25519'));
  const clientKey = await generateKey(join(dir, 'client_ed25519'));
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${clientKey}.pub`), { mode: 0o600 });
  const hostKeySha256 = await fingerprintOf(`${hostKey}.pub`);

  for (let attempt = 0; ; attempt += 1) {
    const port = await freePort();
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'UsePAM no',
      'MaxSessions 10',
      'MaxStartups 50:30:100',
      'LogLevel ERROR',
      'Subsystem sftp internal-sftp',
      // bash sources the login user's ~/.bashrc for an ssh command only when it is the top-level
      // shell (SHLVL below 2). This machine's bashrc may do slow work (pyenv's rehash takes a lock
      // file and waits up to 60 s for it), and a test that kills sshd mid-session can leave that
      // lock behind for every later login. Tests measure our executor, not the host's shell setup.
      'SetEnv SHLVL=1',
      '',
    ].join('\n');
    const configPath = join(dir, 'sshd_config');
    await writeFile(configPath, config);
    const child = spawn(SSHD_PATH, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    // Up once it accepts connections; one that exited (its port taken, say) never will be.
    const up = await vi
      .waitFor(
        async () => {
          if (exited) return false;
          if (!(await portAccepts(port))) throw new Error('sshd does not accept connections yet');
          return true;
        },
        { timeout: 10_000, interval: 50 },
      )
      .catch(() => false);
    if (up) {
      return {
        host: '127.0.0.1',
        port,
        username: userInfo().username,
        privateKeyPath: clientKey,
        hostKeySha256,
        dir,
        stop: () => stopSshd(child, dir),
        kill: () => killSshd(child),
      };
    }
    await stopSshd(child, null);
    // Another process may have taken the port between freePort and sshd's bind: try another.
    if (attempt >= 2) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`sshd did not start: ${stderr.trim() || 'no output'}`);
    }
  }
}

/** Every process below `pid`, read from /proc (children before their own children). */
async function descendantsOf(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The parent pid is the second field after the command, which is in parentheses and may hold spaces.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isFinite(ppid)) continue;
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

async function killSshd(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (const pid of [child.pid, ...(await descendantsOf(child.pid))]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  await exited;
}

async function stopSshd(child: ChildProcess, dir: string | null): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}
