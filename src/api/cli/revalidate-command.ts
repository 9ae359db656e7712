import { DEFAULT_SLOWER_BY_PCT, type Revalidation, type Schedule } from '../../schedules/index.js';
import { revalidateSchedules } from '../../search/index.js';
import { UsageError, writeOut, type CliCommand } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { countFlag, nonNegativeFlag, stringFlag } from './flags.js';
import { EXIT } from './run-cli.js';
import { describeOperation, formatMs } from './search-report.js';
import { table } from './table.js';
import { withServices } from './with-services.js';

/** The most schedules one run re-measures. */
const MAX_SCHEDULES = 100_000;

/** One row of the printed table. */
function row(r: Revalidation, s: Schedule): string[] {
  return [
    s.id,
    describeOperation(s.operation),
    `${formatMs(r.storedLatencyMs)} ms`,
    r.latencyMs === null ? '-' : `${formatMs(r.latencyMs)} ms`,
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.status,
  ];
}

/** `skb revalidate`: re-measures stored schedules' final code on a configured target and flags those that no longer hold. */
export const revalidateCommand: CliCommand = {
  name: 'revalidate',
  summary:
    "re-measure stored schedules' final code on a target and flag those whose correctness or speed no longer holds",
  usage: `Usage: skb revalidate [--target T] [--kind K] [--slower-by PCT] [--limit N] [--json]

Builds, checks and times the final code of every stored schedule of target T's hardware family
(oldest first) on T as it is now, e.g. after a compiler, driver or PyTorch upgrade, and records
each measurement beside the schedule's own (the schedule is not changed). A schedule is flagged
"incorrect" (a wrong answer now), "failed" (it no longer builds or runs) or "slower" (more than
PCT percent slower than its stored latency); otherwise it "holds". Flagged schedules, and
schedules measured with other toolchain versions and not revalidated since, rank lower when
searches retrieve seeds; skb schedule ID shows the revalidations.

Options:
  --target T            a target of the targets file (default local: this machine)
  --kind K              only schedules of operations of kind K (gemm, conv2d, ...)
  --slower-by PCT       slowdown that flags a schedule as slower (default ${DEFAULT_SLOWER_BY_PCT})
  --limit N             re-measure at most N schedules
  --json                the revalidation records as JSON, one array

Exit status: 0 when every schedule holds, 3 when any is flagged, 1 on an error.

${ENVIRONMENT_HELP}
`,
  options: {
    target: { type: 'string' },
    kind: { type: 'string' },
    'slower-by': { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(args, io) {
    const targetId = stringFlag(args, 'target') ?? 'local';
    const kind = stringFlag(args, 'kind');
    const slowerByPct = nonNegativeFlag(args, 'slower-by') ?? DEFAULT_SLOWER_BY_PCT;
    if (slowerByPct > 1000) throw new UsageError(`--slower-by is a percentage from 0 to 1000, not ${slowerByPct}`);
    const limit = args.values.limit === undefined ? undefined : countFlag(args, 'limit', 1, MAX_SCHEDULES);
    const json = args.values.json === true;
    return withServices(io, async (services) => {
      if (!services.targetIds.includes(targetId))
        throw new UsageError(
          `Unknown target "${targetId}": use one of ${services.targetIds.join(', ')} (see skb targets list)`,
        );
      const rows: string[][] = [];
      // Re-measured on one member of the target, held like a search holds it.
      const lease = await services.target(targetId).acquire('revalidation', new AbortController().signal);
      const results = await revalidateSchedules(
        { kb: services.kb, target: lease.target },
        {
          ...(kind ? { kind } : {}),
          slowerByPct,
          ...(limit !== undefined ? { limit } : {}),
          onResult: async (r, s) => {
            rows.push(row(r, s));
            // Progress as it goes: a large knowledge base takes a while.
            if (!json) await writeOut(io.stderr, `${s.id}: ${r.status} (${r.message})\n`);
          },
        },
      ).finally(() => lease.release());
      const flagged = results.filter((r) => r.status !== 'holds').length;
      if (json) await writeOut(io.stdout, `${JSON.stringify(results, null, 2)}\n`);
      else if (results.length === 0)
        await writeOut(
          io.stdout,
          `No stored schedules of ${targetId}'s hardware family${kind ? ` of kind ${kind}` : ''} to revalidate.\n`,
        );
      else
        await writeOut(
          io.stdout,
          `${table(['SCHEDULE', 'OPERATION', 'STORED', 'NOW', 'RATIO', 'STATUS'], rows)}\n${results.length} re-measured on ${targetId}: ${results.length - flagged} hold, ${flagged} flagged.\n`,
        );
      return flagged > 0 ? EXIT.flagged : EXIT.ok;
    });
  },
};
