/**
 * The sandbox every candidate command runs in, built on bubblewrap (`bwrap`, Debian's package
 * `bubblewrap`). It is one more prefix word list for `limitedArgv`, so the local and the SSH
 * executor sandbox alike and the host needs nothing but the package.
 *
 * Why bubblewrap rather than util-linux `unshare`: `unshare` gives the namespaces, but a read-only
 * view of the file system with a private /tmp and one writable directory then needs a mount
 * script run as root inside the new mount namespace; bwrap builds exactly that view from its
 * arguments, runs unprivileged through a user namespace, and its init inside the PID namespace
 * takes every candidate process with it when the command ends.
 *
 * What a sandboxed command sees:
 * - no network: a private network namespace holding only its own, empty loopback device, so neither
 *   the service nor any other port of this host (or beyond) is reachable;
 * - a private PID namespace (plus IPC, UTS and cgroup namespaces): it cannot see or signal the
 *   host's processes, and when the command ends (or `timeout` kills bwrap) the kernel kills every
 *   process left in the namespace, however it detached (setsid, double fork);
 * - the system directories read-only (SYSTEM_PATHS plus a target's `readOnlyPaths`), a fresh /proc,
 *   a minimal /dev, an empty private /tmp and /dev/shm, and its workspace as the only writable
 *   directory. Home directories, the service's data directory and its working tree are not there.
 */
import { constants } from 'node:os';
import { basename, dirname, isAbsolute } from 'node:path';
import { SkbError } from '../schedules/errors.js';
import type { Workspace } from './executor.js';
import { SANDBOX_UID_BASE, SANDBOX_UID_RANGE } from './limits.js';

/** How one target sandboxes its candidates (from its targets-file entry and its toolchain). */
export interface SandboxSettings {
  /** false only when the targets file opts the target out (`"sandbox": { "enabled": false }`). */
  enabled: boolean;
  /** Extra directories made visible read-only, e.g. a Python environment under /opt. */
  readOnlyPaths: readonly string[];
  /** Make the NVIDIA device nodes visible (GPU toolchains). */
  gpu: boolean;
  /** The bubblewrap program; `bwrap` on the system PATH unless a test names another. */
  program?: string;
}

export const DEFAULT_SANDBOX: SandboxSettings = { enabled: true, readOnlyPaths: [], gpu: false };

/**
 * System directories bound read-only when they exist. On merged-/usr systems /bin, /lib and
 * friends are symbolic links; binding them binds what they point to, which is what programs use.
 * /sys is read-only hardware description that lscpu, getconf and the CUDA driver read.
 */
export const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/sys'];

/** Directories too broad to show a candidate just because a toolchain lives below them. */
const TOO_BROAD = new Set(['/', '/tmp', '/home', '/root', '/var', '/srv', '/mnt', '/media', '/run', '/opt']);

/**
 * The installation a toolchain program brings into the sandbox: for `<dir>/bin/<program>` outside
 * the system directories (a virtual environment's python, /opt/clang/bin/clang), `<dir>`; else
 * null (system programs are visible anyway; others need the target's `readOnlyPaths`).
 */
export function installationOf(program: string): string | null {
  if (!isAbsolute(program)) return null;
  const bin = dirname(program);
  if (basename(bin) !== 'bin') return null;
  const installation = dirname(bin);
  if (TOO_BROAD.has(installation)) return null;
  if (SYSTEM_PATHS.some((p) => installation === p || installation.startsWith(`${p}/`))) return null;
  return installation;
}

/**
 * The NVIDIA device nodes a CUDA program opens: the control and UVM nodes, one node per GPU and
 * the capability directory (MIG). Bound with `--dev-bind-try`, so absent ones are skipped.
 */
export const GPU_DEVICE_NODES = [
  '/dev/nvidiactl',
  '/dev/nvidia-uvm',
  '/dev/nvidia-uvm-tools',
  '/dev/nvidia-modeset',
  '/dev/nvidia-caps',
  ...Array.from({ length: 16 }, (_, i) => `/dev/nvidia${i}`),
];

/** The bwrap words that run the rest of the argv inside the sandbox, with `workspace` writable. */
export function sandboxArgv(workspace: string, settings: SandboxSettings): string[] {
  const readOnly = (paths: readonly string[]) => paths.flatMap((p) => ['--ro-bind-try', p, p]);
  const devices = settings.gpu ? GPU_DEVICE_NODES.flatMap((d) => ['--dev-bind-try', d, d]) : [];
  return [
    settings.program ?? 'bwrap',
    '--unshare-all',
    // bwrap's own process is what `timeout` signals; when it dies, so does the sandbox.
    '--die-with-parent',
    // A new session: the candidate cannot push keystrokes into a terminal the service runs in.
    '--new-session',
    ...readOnly(SYSTEM_PATHS),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    ...devices,
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/dev/shm',
    // Mounts apply in order: a target's own paths go after the private /tmp, so they may lie in it.
    ...readOnly(settings.readOnlyPaths),
    '--bind',
    workspace,
    workspace,
    '--chdir',
    workspace,
    '--',
  ];
}

/**
 * bwrap's init reports a command killed by signal N as exit status 128 + N (as a shell does).
 * Decoded back, so a sandboxed SIGSEGV reads as SIGSEGV, as it does without the sandbox.
 */
export function decodeSandboxExit(
  exitCode: number | null,
  signal: string | null,
  sandboxed: boolean,
): { exitCode: number | null; signal: string | null } {
  if (!sandboxed || signal !== null || exitCode === null || exitCode <= 128 || exitCode > 128 + 64) {
    return { exitCode, signal };
  }
  const name = SIGNAL_NAMES.get(exitCode - 128);
  return name ? { exitCode: null, signal: name } : { exitCode, signal };
}

// Exit 124 and 137 come from `timeout` itself (outside the sandbox) and keep their meaning there;
// 137 is also "killed by SIGKILL" from inside, which classifies the same way.
// The first name of each number wins: SIGABRT, not its alias SIGIOT.
const SIGNAL_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.signals)) if (!SIGNAL_NAMES.has(n)) SIGNAL_NAMES.set(n, name);

/** What `skb targets test` reports: which protections hold for the target's candidates. */
export interface SandboxReport {
  /** "bubblewrap 0.8.0", or null when the target opted out of sandboxing. */
  tool: string | null;
  /** One line per protection in force. */
  protections: string[];
  /** One line per protection the target lacks (only when it opted out). */
  missing: string[];
}

/** The protections a sandboxed or unsandboxed target gives, in words for `skb targets test`. */
export function describeProtections(options: {
  tool: string | null;
  settings: SandboxSettings;
  uid: string;
}): SandboxReport {
  const always = [
    'limits: wall time (every process killed at the deadline), address space, processes, output, file size',
    `environment: minimal (PATH, HOME, TMPDIR, LANG), none of the service's variables`,
    `user: ${options.uid}`,
  ];
  if (!options.tool) {
    return {
      tool: null,
      protections: always,
      missing: [
        'network: candidates reach this host and the network (sandbox disabled in the targets file)',
        'processes: no PID namespace; leftovers are killed by uid only when the executor runs as root',
        'file system: candidates can write /tmp and read what their user may read',
      ],
    };
  }
  const visible = [...SYSTEM_PATHS, ...options.settings.readOnlyPaths].join(' ');
  return {
    tool: options.tool,
    protections: [
      "network: private namespace with only its own loopback (the host's loopback, the service included, is unreachable)",
      'processes: private PID namespace; every process dies when the run ends',
      'ipc, uts, cgroup: private namespaces',
      `file system: read-only ${visible}; private /tmp and /dev/shm; the workspace is the only writable directory`,
      ...(options.settings.gpu ? ['devices: minimal /dev plus the NVIDIA device nodes'] : ['devices: minimal /dev']),
      ...always,
    ],
    missing: [],
  };
}

/** The error text when a host cannot sandbox: what is missing and how to get it, from bwrap's own words. */
export function sandboxUnavailable(where: string, output: string, exitCode: number | null): string {
  const said = output.trim().split('\n').slice(-3).join(' | ') || `exit ${exitCode}`;
  const optOut =
    'or, to run its candidates without a sandbox, set "sandbox": { "enabled": false } on this target in the targets file';
  if (exitCode === 127 || /No such file|not found/i.test(said)) {
    return `${where} cannot sandbox candidates: bubblewrap (bwrap) is not installed (${said}). Install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), ${optOut}.`;
  }
  if (/Can't find source path|Can't get type of source/.test(said)) {
    return `${where} cannot sandbox candidates: bubblewrap could not open a directory it must show them (${said}). Every directory above the workspace must be searchable (o+x) by the candidate's user, ${optOut}.`;
  }
  if (/namespace|uid map|Operation not permitted|Permission denied/i.test(said)) {
    return `${where} cannot sandbox candidates: bubblewrap could not create namespaces (${said}). Enable user namespaces (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; in a container, allow unshare/clone in its seccomp profile), ${optOut}.`;
  }
  return `${where} cannot sandbox candidates: a trial run under bubblewrap failed (${said}). Fix bubblewrap on that host, ${optOut}.`;
}

/**
 * Admits workspaces of one executor: the first one runs a trial command through the full wrapper,
 * and a host that cannot sandbox refuses with the error that says what to install. A success is
 * remembered for the executor's life; a failure is not, so installing bubblewrap needs no restart.
 */
export function createSandboxGate(settings: SandboxSettings, where: string) {
  let trial: Promise<string> | undefined;
  return {
    /** The sandbox tool's version ("bubblewrap 0.8.0"), or null when the target opted out. */
    async admit(ws: Workspace): Promise<string | null> {
      if (!settings.enabled) return null;
      trial ??= runTrial(ws, where);
      trial.catch(() => {
        trial = undefined;
      });
      return trial;
    },
    /** A workspace from `create`, admitted; one the host cannot sandbox is disposed again. */
    async open(create: () => Promise<Workspace>): Promise<Workspace> {
      const ws = await create();
      try {
        await this.admit(ws);
      } catch (error) {
        await ws.dispose();
        throw error;
      }
      return ws;
    },
    /** What `skb targets test` prints: the protections candidates of workspaces from `create` run under. */
    async report(create: () => Promise<Workspace>): Promise<SandboxReport> {
      const ws = await this.open(create);
      try {
        const id = await ws.exec({ argv: ['id', '-u'], limits: { wallMs: 20_000 } });
        const uid = Number(id.stdout.trim());
        const ownUid = uid >= SANDBOX_UID_BASE && uid < SANDBOX_UID_BASE + SANDBOX_UID_RANGE;
        return describeProtections({
          tool: await this.admit(ws),
          settings,
          uid: ownUid ? `unprivileged uid ${uid}, one per workspace` : `uid ${uid}, the executor's own login`,
        });
      } finally {
        await ws.dispose();
      }
    },
  };
}

async function runTrial(ws: Workspace, where: string): Promise<string> {
  const r = await ws.exec({
    argv: ['sh', '-c', 'bwrap --version 2>/dev/null || echo bubblewrap'],
    limits: { wallMs: 20_000 },
  });
  if (r.exitCode !== 0) throw new SkbError('TARGET', sandboxUnavailable(where, `${r.stderr}\n${r.stdout}`, r.exitCode));
  return r.stdout.trim().split('\n')[0] || 'bubblewrap';
}
