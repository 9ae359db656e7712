/**
 * Resource limits for candidate commands, expressed as a command prefix so the very same wrapper
 * works on this machine and on any Linux host reached over SSH (it needs only coreutils `timeout`
 * and util-linux `prlimit` / `setpriv`).
 */
import type { ExecLimits, LimitKind } from './executor.js';
import { sandboxArgv, type SandboxSettings } from './sandbox.js';

/**
 * Largest file a candidate may write (RLIMIT_FSIZE). Candidates write binaries and small result
 * files; a cap stops one from filling the disk with a single file. Fixed rather than tied to
 * `maxOutputBytes`, because compiled binaries are legitimately larger than the captured output.
 */
export const MAX_FILE_BYTES = 256 * 1024 ** 2;

/** Seconds `timeout` waits after SIGTERM before it sends SIGKILL to the whole process group. */
export const KILL_GRACE_SECONDS = 2;

/** Where unprivileged candidate users come from when the executor runs as root (see `allocateSandboxUid`). */
export const SANDBOX_UID_BASE = 2_000_000;
export const SANDBOX_UID_RANGE = 1_000_000;

export interface RunAs {
  uid: number;
  gid: number;
}

export interface LimitedArgvOptions {
  /**
   * Run the command as this user. Needed when the executor runs as root: the kernel does not
   * enforce RLIMIT_NPROC for root, so a fork bomb would only stop at the wall-time limit, and root
   * could read every file. The workspace must be writable by this user.
   */
  runAs?: RunAs;
  /** Run the command in the bubblewrap sandbox (see sandbox.ts), with this workspace writable. */
  sandbox?: { workspace: string; settings: SandboxSettings };
}

/**
 * Wraps `argv` so the limits apply to it and to every process it starts:
 * `timeout -k 2 <secs> prlimit --as --nproc --fsize --core=0 -- [setpriv --reuid --regid --clear-groups --] [bwrap ... --] argv`.
 *
 * `timeout` puts itself and the command in one process group and kills the whole group when the
 * wall-time limit passes; it exits 124 then (or dies of SIGKILL when the group ignored SIGTERM).
 * When the command dies of a signal, `timeout` re-raises it, so callers see SIGSEGV as SIGSEGV
 * (through the sandbox, as exit 128 + N: see decodeSandboxExit). In the sandbox, the candidate
 * runs in its own session and PID namespace: `timeout` kills bwrap, and the namespace's end kills
 * the rest. bwrap runs after setpriv, so it runs unprivileged and the candidate's processes keep
 * the candidate's uid on the host, where RLIMIT_NPROC counts them. RLIMIT_NPROC counts every
 * process of the real uid, which is why `runAs` should be a uid used by one workspace only.
 */
export function limitedArgv(argv: string[], limits: ExecLimits, options: LimitedArgvOptions = {}): string[] {
  if (argv.length === 0) throw new Error('limitedArgv: argv is empty');
  const seconds = Math.max(0.001, limits.wallMs / 1000).toFixed(3);
  const prefix = [
    'timeout',
    '-k',
    String(KILL_GRACE_SECONDS),
    seconds,
    'prlimit',
    `--as=${Math.floor(limits.memoryBytes)}`,
    `--nproc=${Math.max(1, Math.floor(limits.maxProcesses))}`,
    `--fsize=${MAX_FILE_BYTES}`,
    '--core=0',
    '--',
  ];
  const drop = options.runAs
    ? ['setpriv', `--reuid=${options.runAs.uid}`, `--regid=${options.runAs.gid}`, '--clear-groups', '--']
    : [];
  const sandbox = options.sandbox?.settings.enabled
    ? sandboxArgv(options.sandbox.workspace, options.sandbox.settings)
    : [];
  return [...prefix, ...drop, ...sandbox, ...argv];
}

/** Quotes argv for a POSIX shell (the SSH executor sends one command string). */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Marker lines the C harness prints on stderr when an allocation or a fork fails, so a candidate
 * that runs out of memory or processes is classified as such rather than as a crash.
 */
export const LIMIT_MARKERS: Record<'memory' | 'processes', string> = {
  memory: 'SKB_LIMIT memory',
  processes: 'SKB_LIMIT processes',
};

const MEMORY_PATTERNS = [
  LIMIT_MARKERS.memory,
  'Cannot allocate memory',
  'memory exhausted',
  'out of memory',
  'std::bad_alloc',
  'MemoryError',
];
const PROCESS_PATTERNS = [LIMIT_MARKERS.processes, 'Cannot fork', 'fork: retry', 'Resource temporarily unavailable'];

export interface ExitFacts {
  exitCode: number | null;
  signal: string | null;
  elapsedMs: number;
  stderr: string;
  limits: ExecLimits;
}

/**
 * Which limit ended a finished command, from what any executor can observe: `timeout`'s exit
 * status after the wall-time limit, or the messages programs print when an allocation or a fork
 * is refused (even when the program carried on and exited 0: a limit was still hit). Output
 * overflow is detected by the executor itself while reading.
 */
export function classifyLimit(facts: ExitFacts): LimitKind | null {
  const pastDeadline = facts.elapsedMs >= facts.limits.wallMs * 0.95;
  const killedByTimeout =
    facts.exitCode === 124 || facts.exitCode === 137 || facts.signal === 'SIGKILL' || facts.signal === 'SIGTERM';
  if (pastDeadline && killedByTimeout) return 'time';
  if (MEMORY_PATTERNS.some((p) => facts.stderr.includes(p))) return 'memory';
  if (PROCESS_PATTERNS.some((p) => facts.stderr.includes(p))) return 'processes';
  return null;
}

const taken = new Set<number>();

/**
 * A uid no other workspace of this process uses, picked at random from a range far above normal
 * accounts so that workspaces of other processes (other test workers, another service) are
 * unlikely to share it. Sharing would make them share the RLIMIT_NPROC count.
 */
export function allocateSandboxUid(): number {
  for (;;) {
    const uid = SANDBOX_UID_BASE + Math.floor(Math.random() * SANDBOX_UID_RANGE);
    if (!taken.has(uid)) {
      taken.add(uid);
      return uid;
    }
  }
}

export function releaseSandboxUid(uid: number): void {
  taken.delete(uid);
}
