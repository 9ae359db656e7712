/**
 * The SSH executor: workspaces and candidate commands on another host, over one pinned, shared,
 * self-healing SSH connection (ssh2). Commands are wrapped by the same `limitedArgv` as local ones,
 * bubblewrap sandbox included, so limits and protections mean the same everywhere; the wall-time
 * limit is enforced twice, by `timeout` on the host and by a local timer that kills the channel if
 * the host stops answering. A command's result is answered from its exit status, not from the end
 * of its output, which a process that escaped the wrapper could hold open.
 */
import { Semaphore } from 'async-mutex';
import { posix } from 'node:path';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { z } from 'zod';
import { SkbError, parseOrThrow, messageOf } from '../schedules/errors.js';
import {
  DEFAULT_LIMITS,
  type ExecLimits,
  type ExecRequest,
  type ExecResult,
  type Executor,
  type LimitKind,
  type Workspace,
} from './executor.js';
import {
  allocateSandboxUid,
  classifyLimit,
  KILL_GRACE_SECONDS,
  limitedArgv,
  releaseSandboxUid,
  shellQuote,
  type RunAs,
} from './limits.js';
import { sandboxEnv } from './local-executor.js';
import {
  createSshConnector,
  isConnectionLost,
  sshError,
  type LiveSshConnection,
  type SshConnector,
} from './ssh-connection.js';
import { CappedBuffer } from './capped-buffer.js';
import { createLiveWorkspaces } from './live-workspaces.js';
import { createSandboxGate, DEFAULT_SANDBOX, decodeSandboxExit, type SandboxSettings } from './sandbox.js';

/** The connection settings of an SSH target, as the targets file holds them (no key material). */
export const SshExecutorConfigSchema = z
  .object({
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535).default(22),
    username: z.string().min(1).max(64),
    /** Path of a private key file on the machine running schedule-kb. */
    privateKeyPath: z.string().min(1).optional(),
    /** Path of an ssh-agent socket, e.g. the value of SSH_AUTH_SOCK. */
    agent: z.string().min(1).optional(),
    /** Pinned host key: `ssh-keyscan -t ed25519 HOST | ssh-keygen -lf -` prints it. */
    hostKeySha256: z
      .string()
      .regex(
        /^SHA256:[A-Za-z0-9+/]{43}=?$/,
        'must look like SHA256:<43 base64 characters>, as ssh-keygen -lf prints it',
      ),
    /** Most exec and SFTP channels open at once on this host (OpenSSH allows 10 per connection). */
    maxSessions: z.number().int().min(1).max(10).default(4),
    keepaliveIntervalMs: z.number().int().min(100).default(15_000),
    keepaliveCountMax: z.number().int().min(1).default(3),
    connectTimeoutMs: z.number().int().min(100).default(10_000),
    readyTimeoutMs: z.number().int().min(100).default(20_000),
  })
  .strict();
export type SshExecutorConfig = z.input<typeof SshExecutorConfigSchema>;

export interface SshExecutorOptions extends SshExecutorConfig {
  /** Key material, for callers that hold it in memory; never logged, never stored. */
  privateKey?: string | Buffer;
  /** Run candidates as a per-workspace unprivileged uid when the remote user is root; default true. */
  dropPrivileges?: boolean;
  /** Limits used where a request does not set its own. */
  defaultLimits?: Partial<ExecLimits>;
  /** How candidates are sandboxed on the host; default DEFAULT_SANDBOX (bubblewrap, no GPU devices). */
  sandbox?: SandboxSettings;
  /**
   * Channel slots shared with the other executors of this host (see ssh-hosts.ts); default slots
   * of this executor's own, maxSessions of them.
   */
  sessionSlots?: Semaphore;
  /**
   * How long after the wall-time limit and `timeout`'s kill grace the local timer gives up on the
   * host and kills the channel itself; default 2000 ms.
   */
  localGraceMs?: number;
}

/** Internal commands (mktemp, rm, kill sweeps) are short; past this the host is not answering. */
const INTERNAL_COMMAND_MS = 30_000;
/** After we kill a channel, how long we wait for the server to confirm the close before moving on. */
export const CLOSE_WAIT_MS = 1_000;
/** After a kill the host did not confirm, how long a clean-up channel may take to open before we give up on the connection. */
export const PROBE_OPEN_MS = 2_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** After the exit status arrives, how long the output may take to drain before the channel is cut. */
export const EXIT_DRAIN_MS = 500;

/** Creates an executor for one host. Nothing connects until the first workspace is created. */
export function createSshExecutor(options: SshExecutorOptions): Executor {
  const {
    privateKey,
    dropPrivileges = true,
    defaultLimits,
    localGraceMs = 2_000,
    sandbox = DEFAULT_SANDBOX,
    sessionSlots,
    ...rest
  } = options;
  const config = parseOrThrow(
    SshExecutorConfigSchema,
    rest,
    'Invalid SSH target settings (fix the target in the targets file)',
    'CONFIG',
  );
  if (config.privateKeyPath === undefined && config.agent === undefined && privateKey === undefined) {
    throw new SkbError(
      'CONFIG',
      `SSH target ${config.username}@${config.host}:${config.port} has no credentials: set privateKeyPath or agent in the targets file`,
    );
  }
  const connector = createSshConnector({ ...config, ...(privateKey !== undefined ? { privateKey } : {}) });
  const host: SshHost = { connector, slots: sessionSlots ?? new Semaphore(config.maxSessions) };
  const baseLimits: ExecLimits = { ...DEFAULT_LIMITS, ...defaultLimits };
  const live = createLiveWorkspaces();
  const gate = createSandboxGate(sandbox, connector.where);
  const create = async () =>
    live.track(await createSshWorkspace(host, { dropPrivileges, baseLimits, localGraceMs, sandbox }));

  return {
    kind: 'ssh',
    describe: connector.where,
    createWorkspace() {
      return gate.open(create);
    },
    protections() {
      return gate.report(create);
    },
    async close() {
      await live.disposeAll();
      await connector.close();
    },
  };
}

interface SshHost {
  connector: SshConnector;
  /**
   * At most `maxSessions` exec or SFTP channels open at once, first come first served: OpenSSH
   * refuses channels past its own `MaxSessions` (10 by default), and a refusal mid-search would
   * look like a failed candidate.
   */
  slots: Semaphore;
}

/**
 * Runs `use` with one channel slot and the current connection, and fails it with a clear
 * connection-lost error as soon as the connection drops, whatever `use` was waiting for.
 */
async function withConnection<T>(host: SshHost, use: (live: LiveSshConnection) => Promise<T>): Promise<T> {
  const [, release] = await host.slots.acquire();
  try {
    const live = await host.connector.get();
    if (live.lost.aborted) throw live.lost.reason;
    let onLost = (): void => {};
    const lost = new Promise<never>((_, reject) => {
      onLost = () => reject(live.lost.reason);
      live.lost.addEventListener('abort', onLost, { once: true });
    });
    try {
      return await Promise.race([use(live), lost]);
    } finally {
      live.lost.removeEventListener('abort', onLost);
    }
  } finally {
    release();
  }
}

/**
 * Opens a channel, giving the host `withinMs` to answer. A host that accepts TCP but stops
 * answering would otherwise leave the caller waiting for keep-alives to notice; dropping the
 * connection makes `withConnection` fail the call as connection-lost, and the next call reconnects.
 */
function openChannel<T>(
  live: LiveSshConnection,
  withinMs: number,
  open: (callback: (error: Error | undefined, channel: T) => void) => void,
  refused: (error: Error) => SkbError,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => live.discard(), withinMs);
    open((error, channel) => {
      clearTimeout(timer);
      if (error) reject(live.lost.aborted ? live.lost.reason : refused(error));
      else resolve(channel);
    });
  });
}

function openExec(live: LiveSshConnection, where: string, command: string, withinMs: number): Promise<ClientChannel> {
  return openChannel<ClientChannel>(
    live,
    withinMs,
    (cb) => live.client.exec(command, cb),
    (error) =>
      sshError(
        'channel-failed',
        `${where} refused to run a command (${error.message}); lower maxSessions for this target or raise MaxSessions in its sshd_config`,
      ),
  );
}

function openSftp(live: LiveSshConnection, where: string): Promise<SFTPWrapper> {
  return openChannel<SFTPWrapper>(
    live,
    INTERNAL_COMMAND_MS,
    (cb) => live.client.sftp(cb),
    (error) =>
      sshError(
        'channel-failed',
        `${where} refused an SFTP session (${error.message}); enable the sftp subsystem in its sshd_config`,
      ),
  );
}

interface RawOutcome {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Set when we ended the channel ourselves. */
  killedFor: LimitKind | 'abort' | null;
  /** False when we killed the channel and the host never confirmed its close. */
  closeConfirmed: boolean;
  wallMs: number;
}

interface RawRun {
  command: string;
  stdin?: string | undefined;
  maxOutputBytes: number;
  /** The local timer: past it the channel is killed and the outcome says 'time'. */
  deadlineMs: number;
  /** How long the host may take to open the channel; default `deadlineMs`. */
  openWithinMs?: number;
  signal?: AbortSignal | undefined;
  /** Streams stdout here instead of keeping it (see ExecRequest.onStdout). */
  onStdout?: ((chunk: Buffer) => void) | undefined;
}

/** Runs one command string on a channel and collects its outcome; never waits past the deadline. */
function runOnChannel(live: LiveSshConnection, where: string, run: RawRun): Promise<RawOutcome> {
  const started = performance.now();
  if (run.signal?.aborted) {
    // Aborted while waiting for a slot or the connection: never start it.
    return Promise.resolve({
      exitCode: null,
      signal: null,
      stdout: '',
      stderr: '',
      killedFor: 'abort',
      closeConfirmed: true,
      wallMs: 0,
    });
  }
  return openExec(live, where, run.command, run.openWithinMs ?? run.deadlineMs).then(
    (channel) =>
      new Promise<RawOutcome>((resolve) => {
        const out = new CappedBuffer(run.maxOutputBytes);
        const err = new CappedBuffer(run.maxOutputBytes);
        let exitCode: number | null = null;
        let exitSignal: string | null = null;
        let sawExit = false;
        let killedFor: RawOutcome['killedFor'] = null;
        let finished = false;
        let closeWait: NodeJS.Timeout | undefined;
        let closeConfirmed = false;

        const finish = (): void => {
          if (finished) return;
          finished = true;
          clearTimeout(deadline);
          clearTimeout(closeWait);
          run.signal?.removeEventListener('abort', onAbort);
          const killedWithoutExit = killedFor !== null && !sawExit;
          resolve({
            exitCode: killedWithoutExit ? null : exitCode,
            signal: killedWithoutExit ? 'SIGKILL' : exitSignal,
            stdout: out.text(),
            stderr: err.text(),
            killedFor,
            closeConfirmed,
            wallMs: performance.now() - started,
          });
        };
        const kill = (reason: NonNullable<RawOutcome['killedFor']>): void => {
          if (killedFor !== null || finished) return;
          killedFor = reason;
          try {
            // sshd delivers this to the session's process group (killpg), which `timeout` shares.
            channel.signal('KILL');
          } catch {
            // The channel is already closing.
          }
          channel.close();
          // sshd holds the close until the command's output ends, and a host that stopped answering
          // never sends it: answer the caller anyway. The caller's clean-up probes which it was.
          closeWait = setTimeout(finish, CLOSE_WAIT_MS);
        };
        const onAbort = (): void => kill('abort');
        const deadline = setTimeout(() => kill('time'), run.deadlineMs);
        run.signal?.addEventListener('abort', onAbort, { once: true });
        if (run.signal?.aborted) onAbort();

        channel.on('data', (chunk: Buffer) => {
          if (run.onStdout) run.onStdout(chunk);
          else if (!out.push(chunk)) kill('output');
        });
        channel.stderr.on('data', (chunk: Buffer) => {
          if (!err.push(chunk)) kill('output');
        });
        channel.on('exit', (code: number | null, signalName?: string) => {
          sawExit = true;
          exitCode = code;
          exitSignal = signalName ?? null;
          // sshd sends the exit status when the command exits, but closes the channel only when
          // its output ends: a detached descendant holding the output must not hold the answer.
          closeWait = setTimeout(() => {
            channel.close();
            finish();
          }, EXIT_DRAIN_MS);
        });
        // ssh2 repeats the exit status in 'close'. It is the only copy for a command that ends at
        // once (mktemp, a kill sweep): its status can arrive in the same read as the exec reply,
        // and ssh2 emits 'exit' while parsing that read, before this listener exists.
        channel.on('close', (code?: number | null, signalName?: string) => {
          closeConfirmed = true;
          if (!sawExit && (typeof code === 'number' || typeof signalName === 'string')) {
            sawExit = true;
            exitCode = code ?? null;
            exitSignal = signalName ?? null;
          }
          if (!sawExit && killedFor === null && !live.lost.aborted) {
            // sshd always reports an exit status; a close without one means the session died.
            exitSignal = 'SIGKILL';
          }
          // When the connection dropped, withConnection has already rejected; resolving here is moot.
          finish();
        });
        channel.on('error', () => {
          // Channel errors come with a close, or with the connection's loss; both are handled.
        });
        channel.end(run.stdin ?? '');
      }),
  );
}

interface WorkspaceSettings {
  dropPrivileges: boolean;
  baseLimits: ExecLimits;
  localGraceMs: number;
  sandbox: SandboxSettings;
}

/** Runs an internal (trusted, short) command and fails clearly when it does not exit 0. */
async function internal(
  host: SshHost,
  command: string,
  what: string,
  openWithinMs = INTERNAL_COMMAND_MS,
): Promise<string> {
  const where = host.connector.where;
  const outcome = await withConnection(host, (live) =>
    runOnChannel(live, where, { command, maxOutputBytes: 64 * 1024, deadlineMs: INTERNAL_COMMAND_MS, openWithinMs }),
  );
  if (outcome.killedFor === 'time')
    throw sshError('channel-failed', `${where} did not ${what} within ${INTERNAL_COMMAND_MS} ms`);
  if (outcome.exitCode !== 0) {
    throw sshError(
      'channel-failed',
      `${where} could not ${what}: ${outcome.stderr.trim() || `exit ${outcome.exitCode ?? outcome.signal}`}`,
    );
  }
  return outcome.stdout;
}

async function createSshWorkspace(host: SshHost, settings: WorkspaceSettings): Promise<Workspace> {
  const where = host.connector.where;
  const candidateUid = settings.dropPrivileges ? allocateSandboxUid() : null;
  // One round trip: make the directory, give it to the sandbox uid when we are root there, and
  // print its physical path (commands see that one in `pwd`) and our uid.
  const chownIfRoot =
    candidateUid === null ? '' : `if [ "$(id -u)" = 0 ]; then chown ${candidateUid}:${candidateUid} "$d"; fi && `;
  let stdout: string;
  try {
    stdout = await internal(
      host,
      `d=$(mktemp -d "\${TMPDIR:-/tmp}/skb-ws-XXXXXXXX") && ${chownIfRoot}cd "$d" && pwd -P && id -u`,
      'create a workspace directory (mktemp -d)',
    );
  } catch (error) {
    if (candidateUid !== null) releaseSandboxUid(candidateUid);
    throw error;
  }
  const [path, uidText] = stdout.trim().split('\n');
  if (!path?.startsWith('/') || uidText === undefined)
    throw sshError('channel-failed', `${where} answered mktemp with something that is not a directory path`);
  let runAs: RunAs | undefined;
  if (candidateUid !== null) {
    if (uidText.trim() === '0') runAs = { uid: candidateUid, gid: candidateUid };
    else releaseSandboxUid(candidateUid);
  }
  let disposed = false;

  const checkOpen = (): void => {
    if (disposed) throw new SkbError('TARGET', 'This workspace was disposed; create a new one');
  };

  /** The absolute remote path of a workspace-relative one; refuses paths that leave the workspace. */
  const inside = (relativePath: string): { full: string; parts: string[] } => {
    const rel = posix.normalize(relativePath);
    if (posix.isAbsolute(rel) || rel === '..' || rel.startsWith('../') || rel === '.' || rel === '') {
      throw new SkbError('BAD_INPUT', `Workspace path "${relativePath}" must be a relative path inside the workspace`);
    }
    return { full: posix.join(path, rel), parts: rel.split('/') };
  };

  /** Refuses a path whose parent resolves outside the workspace or which is itself a symbolic link. */
  const checkNoEscape = async (sftp: SFTPWrapper, relativePath: string, full: string): Promise<void> => {
    const parent = await sftpCall<string>((cb) => sftp.realpath(posix.dirname(full), cb));
    if (parent !== path && !parent.startsWith(`${path}/`)) {
      throw new SkbError(
        'BAD_INPUT',
        `Workspace path "${relativePath}" leads outside the workspace (through a symbolic link)`,
      );
    }
    const stats = await sftpCall<{ isSymbolicLink(): boolean }>((cb) => sftp.lstat(full, cb)).catch(
      (error: unknown) => {
        if (sftpNoSuchFile(error)) return null;
        throw error;
      },
    );
    if (stats?.isSymbolicLink()) {
      throw new SkbError(
        'BAD_INPUT',
        `Workspace path "${relativePath}" is a symbolic link; the workspace refuses to follow it`,
      );
    }
  };

  const withSftp = <T>(use: (sftp: SFTPWrapper) => Promise<T>): Promise<T> =>
    withConnection(host, async (live) => {
      const sftp = await openSftp(live, where);
      try {
        return await use(sftp);
      } finally {
        // Wait for the close so the slot is free on the server too before the semaphore reuses it.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, CLOSE_WAIT_MS);
          sftp.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          sftp.end();
        });
      }
    });

  // Kills every process of the workspace's uid, including any that left the process group.
  const sweepCommand = runAs
    ? `${shellQuote(['setpriv', `--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', '--', 'kill', '-KILL', '-1'])} 2>/dev/null; true`
    : null;

  /**
   * After we killed a command: stop what is left of it and find out whether the host still
   * answers. A host that cannot open a channel within PROBE_OPEN_MS is given up on (discarded),
   * and the clean-up runs once more over a fresh connection. Best effort: `timeout` on the host
   * bounds anything this misses.
   */
  const afterKill = async (closeConfirmed: boolean): Promise<void> => {
    if (!sweepCommand && closeConfirmed) return;
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      try {
        await internal(host, sweepCommand ?? 'true', 'stop leftover processes', PROBE_OPEN_MS);
        return;
      } catch (error) {
        if (!isConnectionLost(error)) return;
      }
    }
  };

  const ws: Workspace = {
    path,
    async writeFile(relativePath, content) {
      checkOpen();
      const { full, parts } = inside(relativePath);
      await withSftp(async (sftp) => {
        let dir = path;
        for (const part of parts.slice(0, -1)) {
          dir = posix.join(dir, part);
          // lstat, not stat: a directory symlink planted by a command must not redirect mkdir outside.
          const stats = await sftpCall<{ isDirectory(): boolean; isSymbolicLink(): boolean }>((cb) =>
            sftp.lstat(dir, cb),
          ).catch((error: unknown) => {
            if (sftpNoSuchFile(error)) return null;
            throw sftpFailure(where, `inspect ${dir}`, error);
          });
          if (stats?.isSymbolicLink())
            throw new SkbError(
              'BAD_INPUT',
              `Workspace path "${relativePath}" leads through a symbolic link; the workspace refuses to follow it`,
            );
          if (stats && !stats.isDirectory())
            throw new SkbError(
              'BAD_INPUT',
              `Workspace path "${relativePath}" needs ${posix.relative(path, dir)} to be a directory, but it is a file`,
            );
          if (stats) continue;
          await sftpCall<void>((cb) => sftp.mkdir(dir, cb)).catch((error: unknown) => {
            throw sftpFailure(where, `create directory ${dir}`, error);
          });
          if (runAs) await sftpCall<void>((cb) => sftp.chown(dir, runAs.uid, runAs.gid, cb));
        }
        await checkNoEscape(sftp, relativePath, full);
        const data =
          typeof content === 'string'
            ? Buffer.from(content, 'utf8')
            : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
        await sftpCall<void>((cb) => sftp.writeFile(full, data, { mode: 0o644 }, cb)).catch((error: unknown) => {
          throw sftpFailure(where, `write ${relativePath}`, error);
        });
        if (runAs) await sftpCall<void>((cb) => sftp.chown(full, runAs.uid, runAs.gid, cb));
      });
    },
    async readFile(relativePath) {
      checkOpen();
      const { full } = inside(relativePath);
      return withSftp(async (sftp) => {
        await checkNoEscape(sftp, relativePath, full);
        const data = await sftpCall<Buffer>((cb) => sftp.readFile(full, cb)).catch((error: unknown) => {
          if (sftpNoSuchFile(error))
            throw new SkbError('NOT_FOUND', `Workspace file "${relativePath}" does not exist on ${where}`);
          throw sftpFailure(where, `read ${relativePath}`, error);
        });
        return new Uint8Array(data);
      });
    },
    async exec(request: ExecRequest): Promise<ExecResult> {
      checkOpen();
      const { signal } = request;
      if (signal?.aborted) throw signal.reason ?? new DOMException('The command was aborted', 'AbortError');
      const limits: ExecLimits = { ...settings.baseLimits, ...request.limits };
      const env = remoteEnv(path, request.env);
      const argv = limitedArgv(request.argv, limits, {
        ...(runAs ? { runAs } : {}),
        sandbox: { workspace: path, settings: settings.sandbox },
      });
      // The environment travels in the command line: sshd's AcceptEnv usually refuses env requests.
      const command = `cd ${shellQuote([path])} && exec env -i ${shellQuote(env)} ${shellQuote(argv)}`;
      const outcome = await withConnection(host, (live) =>
        runOnChannel(live, where, {
          command,
          stdin: request.stdin,
          maxOutputBytes: limits.maxOutputBytes,
          deadlineMs: limits.wallMs + KILL_GRACE_SECONDS * 1000 + settings.localGraceMs,
          signal,
          onStdout: request.onStdout,
        }),
      );
      const exit = decodeSandboxExit(outcome.exitCode, outcome.signal, settings.sandbox.enabled);
      // Without the sandbox's PID namespace, a process that left the wrapper can outlive the run:
      // the uid sweep stops it whenever anything was cut short.
      if (outcome.killedFor !== null || !outcome.closeConfirmed || (runAs && exit.signal !== null))
        await afterKill(outcome.closeConfirmed);
      if (outcome.killedFor === 'abort')
        throw signal?.reason ?? new DOMException('The command was aborted', 'AbortError');
      const limitExceeded: LimitKind | null =
        outcome.killedFor ?? classifyLimit({ ...exit, elapsedMs: outcome.wallMs, stderr: outcome.stderr, limits });
      return {
        ...exit,
        stdout: outcome.stdout,
        stderr: outcome.stderr,
        limitExceeded,
        wallMs: outcome.wallMs,
      };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        // One command, not two: every command pays for the login shell sshd starts.
        await internal(
          host,
          `${sweepCommand ? `${sweepCommand}; ` : ''}rm -rf -- ${shellQuote([path])}`,
          `remove workspace ${path}`,
        );
      } finally {
        if (runAs) releaseSandboxUid(runAs.uid);
      }
    },
  };
  return ws;
}

/** `NAME=value` words for `env -i`: exactly the minimal environment the local executor gives. */
function remoteEnv(workspacePath: string, extra: Record<string, string> = {}): string[] {
  return Object.entries(sandboxEnv(workspacePath, extra)).map(([name, value]) => {
    if (!ENV_NAME.test(name))
      throw new SkbError(
        'BAD_INPUT',
        `Environment variable name "${name}" is not valid; use letters, digits and underscores`,
      );
    return `${name}=${value}`;
  });
}

function sftpCall<T>(start: (callback: (error: Error | undefined | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, value) => (error ? reject(error) : resolve(value as T)));
  });
}

/** SFTP status 2 is SSH_FX_NO_SUCH_FILE. */
function sftpNoSuchFile(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 2;
}

function sftpFailure(where: string, what: string, error: unknown): SkbError {
  if (error instanceof SkbError) return error;
  return sshError('channel-failed', `${where} could not ${what} over SFTP: ${messageOf(error)}`, error);
}
