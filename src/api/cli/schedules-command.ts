import type { Schedule, ScheduleFilter } from '../../schedules/index.js';
import { createTargetResolver } from '../graphql/context.js';
import { MAX_PAGE_SIZE } from '../graphql/inputs.js';
import { writeOut, type CliCommand } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { countFlag, dimRangesFlag, nonNegativeFlag, stringFlag } from './flags.js';
import { EXIT } from './run-cli.js';
import { describeOperation } from './search-report.js';
import { table } from './table.js';
import { withServices } from './with-services.js';

/** One row per schedule: what a user scans for (operation, target, speedup, how many steps). */
function scheduleRows(schedules: readonly Schedule[]): string[][] {
  return schedules.map((s) => [
    s.id,
    describeOperation(s.operation),
    s.targetKey,
    `${s.speedup.toFixed(2)}x`,
    String(s.steps.length),
    s.provenance.source,
    s.createdAt,
  ]);
}

const SCHEDULE_HEADER = ['ID', 'OPERATION', 'TARGET', 'SPEEDUP', 'STEPS', 'SOURCE', 'CREATED'];

/** `skb schedules`: the stored schedules, filtered as the schedules query filters them. */
export const schedulesCommand: CliCommand = {
  name: 'schedules',
  summary: 'list stored schedules, filtered by kind, target, dimension ranges and speedup',
  usage: `Usage: skb schedules [--kind K] [--target T] [--dims M=256..2048,...] [--min-speedup X] [--first N] [--json]

Lists the schedules of the configured database, oldest first (as the schedules query pages them):
id, operation, target, speedup, number of steps, source and when it was stored. Show one with
skb schedule ID.

Options:
  --kind K              only operations of kind K (gemm, conv2d, softmax, custom:<name>, ...)
  --target T            only schedules measured on target T: a key (t-...) or a configured name (local)
  --dims RANGES         inclusive ranges on named dimensions: M=256..2048 (both bounds), N=512..
                        (at least), K=..1024 (at most), C=64 (exactly); separated by commas
  --min-speedup X       only schedules at least X times faster than their baseline
  --first N             how many (default 20, at most ${MAX_PAGE_SIZE})
  --json                the total and the schedules (with steps and final code) as JSON

${ENVIRONMENT_HELP}
`,
  options: {
    kind: { type: 'string' },
    target: { type: 'string' },
    dims: { type: 'string' },
    'min-speedup': { type: 'string' },
    first: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(args, io) {
    const first = countFlag(args, 'first', 20, MAX_PAGE_SIZE);
    const kind = stringFlag(args, 'kind');
    const target = stringFlag(args, 'target');
    const dims = dimRangesFlag(args, 'dims');
    const minSpeedup = nonNegativeFlag(args, 'min-speedup');
    const page = await withServices(io, (services) => {
      const filter: ScheduleFilter = {
        ...(kind ? { kind } : {}),
        ...(target ? { targetKey: createTargetResolver(services.targetNames)(target) } : {}),
        ...(dims ? { dims } : {}),
        ...(minSpeedup !== undefined ? { minSpeedup } : {}),
      };
      return services.kb.listSchedules(filter, { first });
    });
    if (args.values.json === true) {
      const body = { totalCount: page.totalCount, hasNextPage: page.hasNextPage, schedules: page.items };
      await writeOut(io.stdout, `${JSON.stringify(body, null, 2)}\n`);
      return EXIT.ok;
    }
    if (page.items.length === 0) {
      await writeOut(io.stdout, 'No stored schedule matches: loosen the filters, or see skb schedules with none.\n');
      return EXIT.ok;
    }
    const more = page.hasNextPage ? ` (the first ${page.items.length}; --first N shows more)` : '';
    await writeOut(
      io.stdout,
      `${table(SCHEDULE_HEADER, scheduleRows(page.items))}\n${page.totalCount} schedule${page.totalCount === 1 ? '' : 's'} match${page.totalCount === 1 ? 'es' : ''}${more}\n`,
    );
    return EXIT.ok;
  },
};
