/**
 * The local executor: each workspace is a fresh directory under the system temp directory, each
 * command a detached process group wrapped in `limitedArgv` and run in the bubblewrap sandbox.
 * When the service runs as root, every workspace gets its own unprivileged uid, so process limits
 * hold and leftovers can be killed by uid. A run ends at its deadline whatever its descendants do
 * with the output pipes: the result is answered from the exit of the wrapper, not from the pipes.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { SkbError } from '../schedules/index.js';
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
  type RunAs,
} from './limits.js';
import { CappedBuffer } from './capped-buffer.js';
import { createLiveWorkspaces } from './live-workspaces.js';
import { createSandboxGate, DEFAULT_SANDBOX, decodeSandboxExit, type SandboxSettings } from './sandbox.js';

/** The PATH candidates see: system directories only, never the service's own PATH. */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LocalExecutorOptions {
  /** Parent directory of workspaces; default the system temp directory. */
  root?: string;
  /** Run candidates as a per-workspace unprivileged uid; default: when this process runs as root. */
  dropPrivileges?: boolean;
  /** Limits used where a request does not set its own. */
  defaultLimits?: Partial<ExecLimits>;
  /** How candidates are sandboxed; default DEFAULT_SANDBOX (bubblewrap, no GPU devices). */
  sandbox?: SandboxSettings;
}

/**
 * After the wrapper exits, how long its output pipes may take to drain. A process that escaped the
 * wrapper and still holds them (possible only without the sandbox) is not waited for.
 */
export const PIPE_DRAIN_MS = 250;

/**
 * The minimal environment of a candidate command. Nothing is copied from `process.env`, so API
 * tokens and provider keys of the service never reach a candidate.
 */
export function sandboxEnv(workspacePath: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: SANDBOX_PATH, HOME: workspacePath, TMPDIR: workspacePath, LANG: 'C', LC_ALL: 'C', ...extra };
}

/** Creates the executor for this machine. */
export function createLocalExecutor(options: LocalExecutorOptions = {}): Executor {
  const root = options.root ?? tmpdir();
  const drop = options.dropPrivileges ?? process.getuid?.() === 0;
  const baseLimits: ExecLimits = { ...DEFAULT_LIMITS, ...options.defaultLimits };
  const sandbox = options.sandbox ?? DEFAULT_SANDBOX;
  const gate = createSandboxGate(sandbox, 'This machine');
  const live = createLiveWorkspaces();
  let rootReady: Promise<void> | undefined;
  const create = async () => {
    if (drop) {
      rootReady ??= letCandidatesTraverse(root);
      await rootReady;
    }
    return live.track(await createLocalWorkspace(root, drop, baseLimits, sandbox));
  };
  return {
    kind: 'local',
    describe: 'local',
    createWorkspace() {
      return gate.open(create);
    },
    protections() {
      return gate.report(create);
    },
    async close() {
      await live.disposeAll();
    },
  };
}

/**
 * Candidates run as their own uid, and bubblewrap opens their workspace by path as that uid, so
 * every directory down to the workspace root must be searchable by others (o+x: enter, not list;
 * workspace names are random). Private directories of ours under the system temp directory
 * (mkdtemp makes them 0700) get that bit; anything else that blocks the way is an error.
 */
async function letCandidatesTraverse(root: string): Promise<void> {
  const temp = await realpath(tmpdir());
  for (let dir = await realpath(root); ; dir = dirname(dir)) {
    const info = await stat(dir);
    if ((info.mode & 0o001) === 0) {
      const ours = info.uid === process.getuid?.() && (dir === temp || dir.startsWith(`${temp}${sep}`));
      if (!ours) {
        throw new SkbError(
          'TARGET',
          `Candidates cannot reach workspaces under ${root}: ${dir} is not searchable by other users (chmod o+x ${dir}, or use another root)`,
        );
      }
      await chmod(dir, (info.mode & 0o7777) | 0o001);
    }
    if (dir === dirname(dir)) return;
  }
}

async function createLocalWorkspace(
  root: string,
  drop: boolean,
  baseLimits: ExecLimits,
  sandbox: SandboxSettings,
): Promise<Workspace> {
  const path = await realpath(await mkdtemp(join(root, 'skb-ws-')));
  let runAs: RunAs | undefined;
  if (drop) {
    const uid = allocateSandboxUid();
    runAs = { uid, gid: uid };
    await chown(path, uid, uid);
  }
  let disposed = false;

  /** Resolves a workspace-relative path; refuses paths that leave the workspace, symlinks included. */
  async function resolveInside(relativePath: string): Promise<string> {
    const rel = normalize(relativePath);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`) || rel === '.') {
      throw new SkbError('BAD_INPUT', `Workspace path "${relativePath}" must be a relative path inside the workspace`);
    }
    const full = join(path, rel);
    const parent = await realpath(dirname(full));
    const fromRoot = relative(path, parent);
    if (fromRoot.startsWith('..') || isAbsolute(fromRoot)) {
      throw new SkbError(
        'BAD_INPUT',
        `Workspace path "${relativePath}" leads outside the workspace (through a symbolic link)`,
      );
    }
    return join(parent, rel.split(sep).pop()!);
  }

  async function sweep(): Promise<void> {
    // Kills every process of the workspace's uid, including any that left the process group with
    // setsid(). kill(-1) never signals the caller itself.
    if (!runAs) return;
    await new Promise<void>((resolve) => {
      const child = spawn(
        'setpriv',
        [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', '--', 'kill', '-KILL', '-1'],
        {
          stdio: 'ignore',
          env: { PATH: SANDBOX_PATH },
        },
      );
      child.on('error', () => resolve());
      child.on('close', () => resolve());
    });
  }

  const ws: Workspace = {
    path,
    async writeFile(relativePath, content) {
      if (disposed) throw new SkbError('TARGET', 'This workspace was disposed; create a new one');
      const rel = normalize(relativePath);
      if (runAs) {
        // Create parent directories one by one so each is owned by the candidate's uid.
        const parts = rel.split(sep).slice(0, -1);
        let dir = path;
        for (const part of parts) {
          dir = join(dir, part);
          await mkdir(dir, { recursive: true });
          await chown(dir, runAs.uid, runAs.gid);
        }
      } else {
        await mkdir(dirname(join(path, rel)), { recursive: true });
      }
      const full = await resolveInside(relativePath);
      const handle = await open(
        full,
        fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW,
        0o644,
      );
      try {
        await handle.writeFile(content);
        if (runAs) await handle.chown(runAs.uid, runAs.gid);
      } finally {
        await handle.close();
      }
    },
    async readFile(relativePath) {
      const full = await resolveInside(relativePath);
      const handle = await open(full, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      try {
        return new Uint8Array(await handle.readFile());
      } finally {
        await handle.close();
      }
    },
    async exec(request) {
      if (disposed) throw new SkbError('TARGET', 'This workspace was disposed; create a new one');
      try {
        return await runLimited(path, request, { ...baseLimits, ...request.limits }, runAs, sandbox);
      } finally {
        // Nothing of the candidate outlives its run: the sandbox's PID namespace sees to that, and
        // the uid sweep also catches what a target without the sandbox left behind.
        await sweep();
      }
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await sweep();
      await rm(path, { recursive: true, force: true });
      if (runAs) releaseSandboxUid(runAs.uid);
    },
  };
  return ws;
}

function runLimited(
  cwd: string,
  request: ExecRequest,
  limits: ExecLimits,
  runAs: RunAs | undefined,
  sandbox: SandboxSettings,
): Promise<ExecResult> {
  const { signal } = request;
  if (signal?.aborted)
    return Promise.reject(signal.reason ?? new DOMException('The command was aborted', 'AbortError'));
  const argv = limitedArgv(request.argv, limits, {
    ...(runAs ? { runAs } : {}),
    sandbox: { workspace: cwd, settings: sandbox },
  });
  const started = performance.now();
  return new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd,
      env: sandboxEnv(cwd, request.env),
      // Own session and process group, so one kill(-pgid) reaches everything the command started.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let limitHit: LimitKind | null = null;
    let aborted = false;
    let settled = false;
    let drain: NodeJS.Timeout | undefined;
    const out = new CappedBuffer(limits.maxOutputBytes);
    const err = new CappedBuffer(limits.maxOutputBytes);

    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    };
    const onData = (buffer: CappedBuffer) => (chunk: Buffer) => {
      if (!buffer.push(chunk) && limitHit === null) {
        limitHit = 'output';
        killGroup();
      }
    };
    child.stdout.on('data', request.onStdout ?? onData(out));
    child.stderr.on('data', onData(err));

    /** Answers once, from what was read so far; pipes some escaped process still holds are cut. */
    const settle = (exitCode: number | null, exitSignal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(backstop);
      clearTimeout(drain);
      signal?.removeEventListener('abort', onAbort);
      // Leftovers of the group (a background child that kept the pipes open) go too.
      killGroup();
      child.stdout.destroy();
      child.stderr.destroy();
      if (aborted) {
        reject(signal?.reason ?? new DOMException('The command was aborted', 'AbortError'));
        return;
      }
      const wallMs = performance.now() - started;
      const stderr = err.text();
      const exit = decodeSandboxExit(exitCode, exitSignal, sandbox.enabled);
      resolve({
        ...exit,
        stdout: out.text(),
        stderr,
        limitExceeded: limitHit ?? classifyLimit({ ...exit, elapsedMs: wallMs, stderr, limits }),
        wallMs,
      });
    };

    // `timeout` inside the wrapper is the primary wall-time limit; this one catches a wrapper that
    // itself hangs (it should never fire), and answers even if the wrapper never exits.
    const backstop = setTimeout(
      () => {
        limitHit ??= 'time';
        killGroup();
        drain = setTimeout(() => settle(null, 'SIGKILL'), PIPE_DRAIN_MS);
      },
      limits.wallMs + (KILL_GRACE_SECONDS + 2) * 1000,
    );
    const onAbort = (): void => {
      aborted = true;
      killGroup();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdin.on('error', () => {
      // The command may exit without reading its input (EPIPE); that is its business.
    });
    child.stdin.end(request.stdin ?? '');

    child.on('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(backstop);
      signal?.removeEventListener('abort', onAbort);
      reject(
        new SkbError(
          'TARGET',
          `Could not start "${argv[0]}" on this machine: ${error.message}. Install coreutils and util-linux.`,
        ),
      );
    });
    // The wrapper's exit decides the result; its pipes get a moment to drain, not a veto.
    child.on('exit', (exitCode, exitSignal) => {
      clearTimeout(drain);
      drain = setTimeout(() => settle(exitCode, exitSignal), PIPE_DRAIN_MS);
    });
    child.on('close', (exitCode, exitSignal) => settle(exitCode, exitSignal));
  });
}
