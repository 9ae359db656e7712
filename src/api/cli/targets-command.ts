import { makeTargetRecord, messageOf } from '../../schedules/index.js';
import { createTargetPool, type Target, type TargetDeps } from '../../targets/index.js';
import { findTarget, loadTargets, membersOf, type MemberEntry, type TargetEntry } from '../../targets/index.js';
import { loadConfig } from '../config.js';
import { UsageError, writeOut, type CliCommand } from './command.js';
import { EXIT } from './run-cli.js';
import { listTargets } from '../target-listing.js';
import { withServices } from './with-services.js';

/** Columns padded to their widest cell, the last left ragged. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Where the entry runs: its one machine, or its pool's members. */
function executorText(entry: TargetEntry): string {
  const members = membersOf(entry);
  const place = (m: MemberEntry): string => (m.executor.kind === 'local' ? m.name : `ssh ${m.name}`);
  return members.length === 1 ? place(members[0]!) : `pool of ${members.length}: ${members.map(place).join(', ')}`;
}

function toolchainText(entry: TargetEntry): string {
  const t = entry.toolchain;
  return t.kind === 'c'
    ? `c (${t.cc}${t.cflags ? ` ${t.cflags.join(' ')}` : ''})`
    : `kernelbench (${t.python ?? 'python3'})`;
}

/**
 * `skb targets list | test <id>`. Toolchains other than C are supplied by `deps` (the KernelBench
 * toolchain lives in its own module).
 */
export function createTargetsCommand(deps: TargetDeps = {}): CliCommand {
  return {
    name: 'targets',
    summary: 'list the configured targets, or self-check one (build and run a tiny program, print its fingerprint)',
    usage: `Usage: skb targets list
       skb targets test <id>

list         prints each target of the targets file (id, executor, toolchain, description), then
             every target the knowledge base holds schedules of: a distinct name, its key,
             whether it is configured here, how many schedules it holds and where they came from
test <id>    builds and runs a tiny program on the target, then prints its hardware
             fingerprint, the key and family measurements on it are filed under, and which
             sandbox protections its candidates run under (JSON; a summary on stderr)

Environment:
  SKB_TARGETS_FILE      the targets file (JSON); default data/targets.json, else one "local" target
                        (this machine, gcc). SSH keys are referenced there by path or agent, never inlined.
`,
    options: {},
    positionals: { min: 1, max: 2 },
    async run(args, io) {
      const [action, id] = args.positionals;
      const config = loadConfig(io.env, io.cwd);
      const { source, targets } = await loadTargets({ file: config.targetsFile, cwd: io.cwd });
      if (action === 'list') {
        if (id !== undefined) throw new UsageError('skb targets list takes no target id');
        const rows = targets.targets.map((t) => [t.id, executorText(t), toolchainText(t), t.description ?? '']);
        const configured = table(['ID', 'EXECUTOR', 'TOOLCHAIN', 'DESCRIPTION'], rows);
        const stored = await withServices(io, async (services) =>
          listTargets(await services.kb.listTargets(), await services.kb.targetSourceCounts(), services.targetNames),
        );
        const storedRows = stored.map((t) => [t.displayName, t.key, String(t.scheduleCount), t.origin]);
        const known = stored.length
          ? table(['NAME', 'KEY', 'SCHEDULES', 'ORIGIN'], storedRows)
          : 'The knowledge base holds no targets yet.';
        await writeOut(io.stdout, `${configured}\n(from ${source})\n\nStored targets:\n${known}\n`);
        return EXIT.ok;
      }
      if (action === 'test') {
        if (id === undefined) throw new UsageError('skb targets test needs the id of a target (see skb targets list)');
        const entry = findTarget(targets, id);
        // Every member of a pool is checked: a pool is as good as the members that answer.
        const pool = createTargetPool(entry, { ...deps, env: io.env });
        try {
          const checks: MemberCheck[] = [];
          for (const member of pool.members) checks.push(await checkMember(entry, member, io.stderr));
          const families = new Set(checks.flatMap((c) => (c.ok ? [c.family] : [])));
          if (families.size > 1)
            await writeOut(
              io.stderr,
              `target ${id}: its members are of ${families.size} hardware families (${[...families].join(', ')}); a pool's members must be one kind of machine\n`,
            );
          const [first] = checks;
          const report = checks.length === 1 ? first : { id: entry.id, members: checks };
          await writeOut(io.stdout, `${JSON.stringify(report, null, 2)}\n`);
          return checks.every((c) => c.ok) && families.size <= 1 ? EXIT.ok : EXIT.failed;
        } finally {
          await pool.close();
        }
      }
      throw new UsageError(`Unknown action "${action}": use skb targets list, or skb targets test <id>`);
    },
  };
}

/** The `skb targets` command with the toolchains built into this module. */
export const targetsCommand: CliCommand = createTargetsCommand();

/** What `skb targets test` found of one member. */
type MemberCheck =
  | { ok: true; id: string; member: string; key: string; family: string; fingerprint: unknown; sandbox: unknown }
  | { ok: false; id: string; member: string; error: string };

/** Self-checks one member: builds and runs a tiny program, fingerprints it, lists its sandbox. */
async function checkMember(entry: TargetEntry, target: Target, stderr: NodeJS.WritableStream): Promise<MemberCheck> {
  const where = `target ${entry.id}${target.member === target.executor.describe ? '' : ` (${target.member})`}`;
  try {
    const check = await target.toolchain.selfCheck(target.executor);
    if (!check.ok) {
      await writeOut(stderr, `${where}: self-check FAILED on ${target.executor.describe}\n${check.output}\n`);
      return { ok: false, id: entry.id, member: target.member, error: check.output };
    }
    const fingerprint = await target.fingerprint();
    const record = makeTargetRecord(entry.id, target.description, fingerprint);
    const sandbox = await target.executor.protections();
    await writeOut(
      stderr,
      `${where}: self-check passed on ${target.executor.describe} (${check.output})\n` +
        `sandbox: ${sandbox.tool ?? 'DISABLED in the targets file'}\n` +
        sandbox.protections.map((p) => `  in force: ${p}\n`).join('') +
        sandbox.missing.map((p) => `  MISSING:  ${p}\n`).join(''),
    );
    return {
      ok: true,
      id: entry.id,
      member: target.member,
      key: record.key,
      family: record.family,
      fingerprint,
      sandbox,
    };
  } catch (error) {
    await writeOut(stderr, `${where}: self-check FAILED on ${target.executor.describe}: ${messageOf(error)}\n`);
    return { ok: false, id: entry.id, member: target.member, error: messageOf(error) };
  }
}
