/**
 * An executor runs commands for candidate evaluation somewhere: on this machine or on a host over SSH.
 * Every candidate gets its own throwaway workspace; commands run with limits and an environment
 * that holds none of the service's secrets. One contract test suite runs against every executor.
 */
import type { SandboxReport } from './sandbox.js';

export interface ExecLimits {
  /** Wall-clock limit; the command (and every process it started) is killed when it passes. */
  wallMs: number;
  /** Address-space limit per process. */
  memoryBytes: number;
  /** Most processes the command may have at once (fork bombs hit this). */
  maxProcesses: number;
  /** Most bytes kept of stdout and of stderr each; output past it is dropped and the command killed. */
  maxOutputBytes: number;
}

export const DEFAULT_LIMITS: ExecLimits = {
  wallMs: 60_000,
  memoryBytes: 2 * 1024 ** 3,
  maxProcesses: 64,
  maxOutputBytes: 1024 * 1024,
};

export interface ExecRequest {
  /** Program and arguments (no shell), run in the workspace directory. */
  argv: string[];
  limits?: Partial<ExecLimits>;
  /** Extra environment variables for this command; the base environment is minimal and secret-free. */
  env?: Record<string, string>;
  stdin?: string;
  /**
   * Streams stdout here as it arrives instead of keeping it (the result's stdout is then empty and
   * stdout no longer counts against maxOutputBytes): for a long-lived command that answers line by
   * line, such as the KernelBench warm worker.
   */
  onStdout?: (chunk: Buffer) => void;
  /** Aborting kills the command. */
  signal?: AbortSignal;
}

export type LimitKind = 'time' | 'memory' | 'processes' | 'output';

export interface ExecResult {
  exitCode: number | null;
  /** Signal name when the command was killed by one (SIGSEGV, SIGKILL, ...). */
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Set when a limit ended or truncated the command. */
  limitExceeded: LimitKind | null;
  wallMs: number;
}

export interface Workspace {
  /** Directory on the executor's host where files live and commands run. */
  readonly path: string;
  writeFile(relativePath: string, content: string | Uint8Array): Promise<void>;
  readFile(relativePath: string): Promise<Uint8Array>;
  /**
   * Runs one command. Runs of one workspace are sequential: when one ends, every process of the
   * workspace is stopped (its sandbox, and its uid where it has its own), so nothing outlives it.
   */
  exec(request: ExecRequest): Promise<ExecResult>;
  /** Removes the directory and everything in it. */
  dispose(): Promise<void>;
}

export interface Executor {
  readonly kind: 'local' | 'ssh';
  /** Human-readable place, e.g. "local" or "user@host:22". */
  readonly describe: string;
  /**
   * A fresh workspace. The executor's first one checks that the host can sandbox candidates
   * (sandbox.ts) and fails with what to install when it cannot.
   */
  createWorkspace(): Promise<Workspace>;
  /** Which protections this executor's candidates run under, for `skb targets test`. */
  protections(): Promise<SandboxReport>;
  close(): Promise<void>;
}

/**
 * Runs `probe` once per executor and remembers the answer while the executor lives; a probe that
 * fails (a host briefly down) is forgotten, so the next call tries again.
 */
export function probeOncePerExecutor<T>(probe: (executor: Executor) => Promise<T>): (executor: Executor) => Promise<T> {
  const probes = new WeakMap<Executor, Promise<T>>();
  return (executor) => {
    let answer = probes.get(executor);
    if (!answer) {
      answer = probe(executor);
      answer.catch(() => probes.delete(executor));
      probes.set(executor, answer);
    }
    return answer;
  };
}
