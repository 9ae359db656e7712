/**
 * A target: an executor and a toolchain from one targets-file entry, plus the fingerprint of the
 * hardware behind them. The search asks a target to evaluate candidates; the knowledge base files
 * measurements under the fingerprint's key.
 */
import { homedir } from 'node:os';
import { SkbError, makeTargetRecord, type Fingerprint, type TargetRecord } from '../schedules/index.js';
import { createCToolchain } from './c/c-toolchain.js';
import type { Executor } from './executor.js';
import { createKernelBenchToolchain } from './kernelbench/kernelbench-toolchain.js';
import { createLocalExecutor } from './local-executor.js';
import { installationOf, type SandboxSettings } from './sandbox.js';
import { createSshExecutor } from './ssh-executor.js';
import type { SshHostRegistry } from './ssh-hosts.js';
import { membersOf, type MemberEntry, type SshExecutorEntry, type TargetEntry } from './targets-file.js';
import type { CandidateResult, EvaluateRequest, Toolchain } from './toolchain.js';

export interface Target {
  readonly id: string;
  /** Which member of the target's pool this is: "local", user@host:port, with " cuda:N" for a GPU. */
  readonly member: string;
  readonly description: string;
  readonly executor: Executor;
  readonly toolchain: Toolchain;
  /** Probed once, then remembered. */
  fingerprint(): Promise<Fingerprint>;
  /** The record the knowledge base stores for this target (no connection details). */
  record(): Promise<TargetRecord>;
  /** Evaluates candidates for an operation on this target. */
  evaluate(request: Omit<EvaluateRequest, 'executor'>): Promise<CandidateResult[]>;
  close(): Promise<void>;
}

export interface TargetDeps {
  /** Builds the KernelBench toolchain for an entry; default createKernelBenchToolchain({ python }). */
  kernelbench?: (config: Extract<TargetEntry['toolchain'], { kind: 'kernelbench' }>) => Toolchain;
  /** Environment used to resolve `agent: true` (SSH_AUTH_SOCK); default process.env. */
  env?: Record<string, string | undefined>;
  /** Channel slots per SSH host, shared by every target of a service; default each executor its own. */
  sshHosts?: SshHostRegistry;
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? `${homedir()}${path.slice(1)}` : path;
}

/**
 * The sandbox of an entry: on unless the entry opts out; GPU toolchains see the NVIDIA devices.
 * A toolchain named by absolute path outside the system directories (a virtual environment's
 * python, /opt/clang/bin/clang) brings its installation: the directory above its bin/.
 */
export function sandboxOf(entry: TargetEntry): SandboxSettings {
  const program = entry.toolchain.kind === 'c' ? entry.toolchain.cc : entry.toolchain.python;
  const installation = program ? installationOf(program) : null;
  return {
    enabled: entry.sandbox?.enabled ?? true,
    readOnlyPaths: [...(installation ? [installation] : []), ...(entry.sandbox?.readOnlyPaths ?? [])],
    gpu: entry.toolchain.kind === 'kernelbench',
  };
}

function sshExecutor(e: SshExecutorEntry, deps: TargetDeps, sandbox: SandboxSettings): Executor {
  const env = deps.env ?? process.env;
  let agent: string | undefined;
  if (e.agent === true) {
    agent = env.SSH_AUTH_SOCK;
    if (!agent)
      throw new SkbError(
        'CONFIG',
        `Target ${e.username}@${e.host} uses the ssh-agent, but SSH_AUTH_SOCK is not set: start an agent or set privateKeyPath`,
      );
  } else if (typeof e.agent === 'string') {
    agent = e.agent;
  }
  return createSshExecutor({
    host: e.host,
    port: e.port,
    username: e.username,
    hostKeySha256: e.hostKeySha256,
    ...(e.privateKeyPath !== undefined ? { privateKeyPath: expandHome(e.privateKeyPath) } : {}),
    ...(agent !== undefined ? { agent } : {}),
    ...(e.maxSessions !== undefined ? { maxSessions: e.maxSessions } : {}),
    ...(deps.sshHosts ? { sessionSlots: deps.sshHosts.slots(e) } : {}),
    sandbox,
  });
}

/**
 * Builds the target of one targets-file entry: its first member, for a pool (the pool itself is
 * target-pool.ts's). Nothing connects or runs until it is used.
 */
export function createTarget(entry: TargetEntry, deps: TargetDeps = {}): Target {
  return createMemberTarget(entry, membersOf(entry)[0]!, deps);
}

/** Builds the target of one member of an entry: its machine, and its GPU where it names one. */
export function createMemberTarget(entry: TargetEntry, member: MemberEntry, deps: TargetDeps = {}): Target {
  const sandbox = sandboxOf(entry);
  const executor =
    member.executor.kind === 'local' ? createLocalExecutor({ sandbox }) : sshExecutor(member.executor, deps, sandbox);
  let toolchain: Toolchain;
  if (entry.toolchain.kind === 'c') {
    toolchain = createCToolchain({
      cc: entry.toolchain.cc,
      ...(entry.toolchain.cflags ? { cflags: entry.toolchain.cflags } : {}),
      ...(entry.toolchain.threads !== undefined ? { threads: entry.toolchain.threads } : {}),
    });
  } else {
    // A member's GPU is the only one its candidates see.
    const settings =
      member.device === undefined
        ? entry.toolchain
        : { ...entry.toolchain, env: { ...entry.toolchain.env, CUDA_VISIBLE_DEVICES: member.device } };
    toolchain = deps.kernelbench ? deps.kernelbench(settings) : kernelBenchToolchainOf(settings);
  }
  const description = entry.description ?? `${entry.id}: ${executor.describe}, ${entry.toolchain.kind} toolchain`;
  let fingerprint: Promise<Fingerprint> | undefined;
  const target: Target = {
    id: entry.id,
    member: member.name,
    description,
    executor,
    toolchain,
    fingerprint() {
      fingerprint ??= toolchain.fingerprint(executor);
      fingerprint.catch(() => {
        fingerprint = undefined;
      });
      return fingerprint;
    },
    async record() {
      return makeTargetRecord(entry.id, description, await target.fingerprint());
    },
    evaluate(request) {
      return toolchain.evaluate({ ...request, executor });
    },
    async close() {
      await toolchain.close?.();
      return executor.close();
    },
  };
  return target;
}

function kernelBenchToolchainOf(settings: Extract<TargetEntry['toolchain'], { kind: 'kernelbench' }>): Toolchain {
  const { python, env, warmWorkers, suspiciousSpeedup } = settings;
  return createKernelBenchToolchain({
    ...(python !== undefined ? { python } : {}),
    ...(env !== undefined ? { env } : {}),
    ...(warmWorkers !== undefined ? { warmWorkers } : {}),
    ...(suspiciousSpeedup !== undefined ? { suspiciousSpeedup } : {}),
  });
}
