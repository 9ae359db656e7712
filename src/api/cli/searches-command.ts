import { SearchStatusSchema, SkbError } from '../../schedules/index.js';
import { MAX_PAGE_SIZE } from '../graphql/inputs.js';
import { parseSearchId } from '../graphql/search-inputs.js';
import { UsageError, writeOut, type CliCommand } from './command.js';
import { ENVIRONMENT_HELP } from './env-help.js';
import { EXIT } from './run-cli.js';
import { searchJson, searchListTable, searchSummary } from './search-report.js';
import { withServices } from './with-services.js';

/** `skb searches`: the most recent searches of the configured database. */
export const searchesCommand: CliCommand = {
  name: 'searches',
  summary: 'list searches (newest first), optionally only those with one status',
  usage: `Usage: skb searches [--status STATUS] [--first N]

Lists the searches stored in the configured database: id, status, operation, target, samples
used of the budget, speedup and when it started. Show one with skb search ID.

Options:
  --status STATUS       queued, running, finished, cancelled or failed
  --first N             how many (default 20, at most ${MAX_PAGE_SIZE})

${ENVIRONMENT_HELP}
`,
  options: { status: { type: 'string' }, first: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(args, io) {
    const statusText = args.values.status;
    const status = statusText === undefined ? undefined : SearchStatusSchema.safeParse(statusText);
    if (status && !status.success)
      throw new UsageError(
        `--status must be one of ${SearchStatusSchema.options.join(', ')}, not "${String(statusText)}"`,
      );
    const firstText = typeof args.values.first === 'string' ? args.values.first : '20';
    const first = Number(firstText);
    if (!/^\d+$/.test(firstText) || first < 1 || first > MAX_PAGE_SIZE)
      throw new UsageError(`--first must be a whole number from 1 to ${MAX_PAGE_SIZE}, not "${firstText}"`);
    const page = await withServices(io, (s) =>
      s.search.list(status?.success ? { status: status.data } : {}, { first }),
    );
    await writeOut(
      io.stdout,
      page.items.length ? searchListTable(page.items) : 'No searches yet: start one with skb optimize.\n',
    );
    return EXIT.ok;
  },
};

/** `skb search ID`: one search's summary and accepted plan sequence. */
export const searchCommand: CliCommand = {
  name: 'search',
  summary: 'show one search: baseline, best, speedup, samples and the accepted plan sequence',
  usage: `Usage: skb search ID [--json]

Prints the search's summary (as skb optimize does at its end), or with --json the search, its
accepted steps and its whole candidate tree as JSON.

${ENVIRONMENT_HELP}
`,
  options: { json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const id = parseSearchId(args.positionals[0]);
    const detail = await withServices(io, (s) => s.search.get(id));
    if (!detail) throw new SkbError('NOT_FOUND', `No search ${id}: see skb searches for the ids there are.`);
    await writeOut(io.stdout, args.values.json === true ? searchJson(detail) : searchSummary(detail));
    return EXIT.ok;
  },
};
