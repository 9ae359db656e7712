/**
 * The targets file: which machines schedule-kb may run candidates on, and how code is built there.
 * JSON, validated with zod; credentials are referenced (a key file path, the ssh-agent), never
 * written into it. `SKB_TARGETS_FILE` points at it; without it, data/targets.json is used, and
 * without that file, a single "local" target describes this machine.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { SkbError, parseOrThrow, messageOf } from '../schedules/index.js';

const LocalExecutorEntrySchema = z.object({ kind: z.literal('local') }).strict();

const SshExecutorEntrySchema = z
  .object({
    kind: z.literal('ssh'),
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535).default(22),
    username: z.string().min(1).max(64),
    /** Private key file on the machine that runs schedule-kb (`~/` is expanded). */
    privateKeyPath: z.string().min(1).optional(),
    /** true: use the ssh-agent named by SSH_AUTH_SOCK; a string: that agent socket. */
    agent: z.union([z.boolean(), z.string().min(1)]).optional(),
    /** Pinned host key, as `ssh-keyscan -t ed25519 HOST | ssh-keygen -lf -` prints it. */
    hostKeySha256: z
      .string()
      .regex(
        /^SHA256:[A-Za-z0-9+/]{43}=?$/,
        'must look like SHA256:<43 base64 characters>, as ssh-keygen -lf prints it',
      ),
    maxSessions: z.number().int().min(1).max(10).optional(),
  })
  .strict()
  .refine((e) => e.privateKeyPath !== undefined || (e.agent !== undefined && e.agent !== false), {
    message: 'an ssh executor needs privateKeyPath or agent (keys are referenced, never written into the targets file)',
  });

const CToolchainEntrySchema = z
  .object({
    kind: z.literal('c'),
    cc: z
      .string()
      .regex(/^[A-Za-z0-9_./+-]+$/, 'cc is a compiler command such as gcc or /usr/bin/clang-17')
      .default('gcc'),
    cflags: z
      .array(z.string().regex(/^-[A-Za-z0-9_=,.+:/-]+$/, 'each flag starts with "-" and holds no spaces'))
      .max(32)
      .optional(),
    /**
     * How many cores one candidate may use: 1 (the default, so schedules stay comparable with the
     * shipped ones), a number up to the machine's cores, or "all". Above 1 candidates are built
     * with OpenMP and the templates gain a threads knob; the fingerprint records the count.
     */
    threads: z
      .union([z.literal('all'), z.number().int().min(1).max(4096)], {
        error: 'threads is "all" or a whole number of cores from 1 to 4096',
      })
      .optional(),
  })
  .strict();

const KernelBenchToolchainEntrySchema = z
  .object({
    kind: z.literal('kernelbench'),
    /** Python interpreter on the target that has torch installed; default python3 (found on a system PATH only). */
    python: z.string().min(1).max(255).optional(),
    /**
     * Extra environment for harness runs, e.g. CUDA_VISIBLE_DEVICES or LD_LIBRARY_PATH: candidates
     * otherwise see a minimal environment with none of the service's variables.
     */
    env: z
      .record(z.string(), z.string().max(4096))
      .superRefine((env, ctx) => {
        const names = Object.keys(env);
        if (names.length > 32)
          ctx.addIssue({ code: 'custom', message: `at most 32 environment variables (got ${names.length})` });
        for (const name of names.filter((n) => !/^[A-Z_][A-Z0-9_]{0,63}$/.test(n))) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `"${name}" is not an environment name: use upper-case letters, digits and _ (e.g. CUDA_VISIBLE_DEVICES)`,
          });
        }
      })
      .optional(),
    /**
     * Fork each candidate from a warm worker that imported PyTorch and Triton once (default true);
     * false starts a fresh Python per candidate.
     */
    warmWorkers: z.boolean().optional(),
    /** A speedup over eager PyTorch above this sends a candidate to a check before it is admitted (default 10). */
    suspiciousSpeedup: z.number().gt(1).max(1e6).optional(),
    /**
     * The GPUs of each host this target may use, as CUDA_VISIBLE_DEVICES values ("0", "1", or a
     * GPU-/MIG- UUID): each is a member of the target's pool, running one search at a time.
     */
    devices: z
      .array(
        z
          .string()
          .regex(
            /^(\d{1,3}|GPU-[0-9a-fA-F-]{8,64}|MIG-[0-9A-Za-z/-]{1,96})$/,
            'each device is one CUDA_VISIBLE_DEVICES value: an index such as "0", or a GPU- or MIG- UUID as nvidia-smi -L prints it',
          ),
      )
      .min(1, 'list at least one device, or leave devices out to use what the host shows')
      .max(64)
      .refine((ds) => new Set(ds).size === ds.length, 'each device is listed once')
      .optional(),
  })
  .strict()
  .refine((t) => t.devices === undefined || t.env?.CUDA_VISIBLE_DEVICES === undefined, {
    message: 'give the GPUs either as devices (one pool member each) or as env.CUDA_VISIBLE_DEVICES, not both',
  });

/**
 * How a target sandboxes its candidates (see src/targets/sandbox.ts). On by default; a target can
 * opt out only by saying so here, and `skb targets test` then lists what its candidates may do.
 */
const SandboxEntrySchema = z
  .object({
    enabled: z.boolean().default(true),
    /** More directories candidates may read, e.g. a Python environment outside /usr (["/opt/conda"]). */
    readOnlyPaths: z
      .array(
        z
          .string()
          .max(1024)
          .regex(/^\/[^\0\n]*$/, 'each read-only path is absolute, such as /opt/conda')
          .refine((p) => !p.split('/').includes('..'), 'a read-only path may not contain ".."'),
      )
      .max(16)
      .default([]),
  })
  .strict();

const ExecutorEntrySchema = z.discriminatedUnion('kind', [LocalExecutorEntrySchema, SshExecutorEntrySchema]);

/** Where an executor entry runs, as a member's name starts: "local" or user@host:port. */
function placeOf(executor: ExecutorEntry): string {
  return executor.kind === 'local' ? 'local' : `${executor.username}@${executor.host.toLowerCase()}:${executor.port}`;
}

export const TargetEntrySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'id is 1 to 64 lower-case letters, digits, _ . -'),
    /** One short paragraph for prompts: what the hardware is and what matters on it. */
    description: z.string().max(2000).optional(),
    /** The one machine of this target; or give `members`. */
    executor: ExecutorEntrySchema.optional(),
    /**
     * A pool: several machines of one hardware family, each running one search at a time (all of
     * a search's samples are timed on one member). Mutually exclusive with `executor`.
     */
    members: z
      .array(ExecutorEntrySchema)
      .min(1, 'list at least one member, or give executor instead')
      .max(64)
      .refine(
        (ms) => new Set(ms.map(placeOf)).size === ms.length,
        'each member is listed once (two members with the same user, host and port would time on one machine)',
      )
      .optional(),
    toolchain: z.discriminatedUnion('kind', [CToolchainEntrySchema, KernelBenchToolchainEntrySchema]),
    sandbox: SandboxEntrySchema.optional(),
  })
  .strict()
  .refine((t) => (t.executor === undefined) !== (t.members === undefined), {
    message: 'give a target either one executor or a list of members (a pool), not both and not neither',
    path: ['executor'],
  });

export const TargetsFileSchema = z
  .object({
    targets: z
      .array(TargetEntrySchema)
      .min(1, 'list at least one target')
      .refine((ts) => new Set(ts.map((t) => t.id)).size === ts.length, 'target ids must be unique'),
  })
  .strict();

export type TargetEntry = z.infer<typeof TargetEntrySchema>;
export type ExecutorEntry = z.infer<typeof ExecutorEntrySchema>;

/** One member of a target's pool: a machine, and on a GPU target one of its devices. */
export interface MemberEntry {
  /** "local", user@host:port, with " cuda:N" for a device: unique within the target. */
  name: string;
  executor: ExecutorEntry;
  /** The CUDA_VISIBLE_DEVICES value this member's candidates get. */
  device?: string;
}

/** The machines of an entry: its one executor, or each of its members. */
function executorsOf(entry: TargetEntry): ExecutorEntry[] {
  return entry.members ?? (entry.executor ? [entry.executor] : []);
}

/**
 * The members of an entry: each executor (the one, or each of `members`), times each device of a
 * GPU toolchain that lists them. A plain entry is a pool of one.
 */
export function membersOf(entry: TargetEntry): MemberEntry[] {
  const devices = entry.toolchain.kind === 'kernelbench' ? entry.toolchain.devices : undefined;
  return executorsOf(entry).flatMap((executor) =>
    devices
      ? devices.map((device) => ({ name: `${placeOf(executor)} cuda:${device}`, executor, device }))
      : [{ name: placeOf(executor), executor }],
  );
}

/**
 * The most SSH channels schedule-kb opens at once on each host (host:port), counted over every
 * entry and member that names it: the smallest maxSessions any of them sets (4 where none does).
 */
export function sshSessionLimits(file: TargetsFile): Map<string, number> {
  const limits = new Map<string, number>();
  for (const entry of file.targets) {
    for (const executor of executorsOf(entry)) {
      if (executor.kind !== 'ssh') continue;
      const host = sshHostKey(executor);
      const wanted = executor.maxSessions ?? DEFAULT_SSH_SESSIONS;
      limits.set(host, Math.min(limits.get(host) ?? wanted, wanted));
    }
  }
  return limits;
}

/** Channels per host where no entry sets maxSessions. */
export const DEFAULT_SSH_SESSIONS = 4;

/** The host an SSH executor entry names, as session limits are counted: host:port. */
export function sshHostKey(executor: { host: string; port: number }): string {
  return `${executor.host.toLowerCase()}:${executor.port}`;
}
export type TargetsFile = z.infer<typeof TargetsFileSchema>;
export type SshExecutorEntry = z.infer<typeof SshExecutorEntrySchema>;

/** The target used when no targets file exists: this machine, C compiled with gcc. */
export const DEFAULT_TARGETS: TargetsFile = {
  targets: [
    {
      id: 'local',
      description: 'This machine: C kernels compiled with gcc -O3 -march=native and timed on one core.',
      executor: { kind: 'local' },
      toolchain: { kind: 'c', cc: 'gcc' },
    },
  ],
};

/** Validates targets-file content; the error names the file and the path of each bad field. */
export function parseTargetsFile(raw: unknown, source = 'the targets file'): TargetsFile {
  return parseOrThrow(TargetsFileSchema, raw, `Invalid targets in ${source}`, 'CONFIG');
}

export interface LoadTargetsOptions {
  /** An explicit file (SKB_TARGETS_FILE, config.targetsFile); it must exist. */
  file?: string | undefined;
  /** Where data/targets.json is looked for when no file is given; default the working directory. */
  cwd?: string;
}

/**
 * Loads the targets: the given file (which must exist), else data/targets.json if present, else
 * DEFAULT_TARGETS. Returns where they came from, for `skb targets list`.
 */
export async function loadTargets(options: LoadTargetsOptions = {}): Promise<{ source: string; targets: TargetsFile }> {
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file !== undefined && options.file !== '';
  const path = explicit
    ? isAbsolute(options.file!)
      ? options.file!
      : resolve(cwd, options.file!)
    : resolve(cwd, 'data', 'targets.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!explicit && code === 'ENOENT') return { source: 'built-in default', targets: DEFAULT_TARGETS };
    throw new SkbError(
      'CONFIG',
      `Could not read the targets file ${path} (${code ?? String(error)}): check SKB_TARGETS_FILE`,
      undefined,
      { cause: error },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new SkbError('CONFIG', `The targets file ${path} is not valid JSON: ${messageOf(error)}`, undefined, {
      cause: error,
    });
  }
  return { source: path, targets: parseTargetsFile(raw, path) };
}

/** The entry with this id, or a NOT_FOUND error listing the ids there are. */
export function findTarget(file: TargetsFile, id: string): TargetEntry {
  const entry = file.targets.find((t) => t.id === id);
  if (!entry)
    throw new SkbError(
      'NOT_FOUND',
      `No target "${id}" in the targets file; known targets: ${file.targets.map((t) => t.id).join(', ')}`,
    );
  return entry;
}
