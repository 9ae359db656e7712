/**
 * The web console, served by the service's own hono app at `/` (GraphiQL stays at `/graphql`):
 * schedules, one schedule, searches (one of them live), targets, export and a new-search form.
 * Pages read through the same services as GraphQL, render through hono's JSX (which escapes every
 * value: plan texts and code come from outside), and are sent with a Content-Security-Policy that
 * allows only the console's own stylesheet and script, from the package (no CDN, works offline).
 */
import { listTargets, poolMembersOf } from '../target-listing.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { HttpBindings } from '@hono/node-server';
import type { Context, Env, Hono } from 'hono';
import { isSkbError, type ScheduleFilter } from '../../schedules/index.js';
import type { KnowledgeBase, SearchService } from '../../search/index.js';
import type { WriteAccess } from '../graphql/context.js';
import { createTargetResolver } from '../graphql/context.js';
import { parseScheduleId } from '../graphql/inputs.js';
import { parseSearchConfigArg, parseSearchId, parseTaskArg } from '../graphql/search-inputs.js';
import { parseDimRanges, parseNonNegative, parseShape } from '../cli/flags.js';
import { UsageError } from '../cli/command.js';
import { Problem } from './layout.js';
import { SchedulePage, SchedulesPage, type ScheduleFilterFields } from './schedule-pages.js';
import { NewSearchPage, SearchesPage, SearchPage, type NewSearchFields } from './search-pages.js';
import { TargetsPage } from './targets-page.js';
import type { MemberState } from '../../targets/index.js';

export interface ConsoleDeps {
  kb: KnowledgeBase;
  search?: SearchService;
  targetNames: ReadonlyMap<string, string>;
  targetIds: readonly string[];
  /** The members of each configured target's pool with their state, by target id. */
  memberStates?: () => ReadonlyMap<string, readonly MemberState[]>;
  /** Whether a token from the new-search form grants write access (the mutation's own check). */
  checkToken: (token: string | null) => WriteAccess;
}

const CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "script-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_SIZE = 50;

/** The console's static files: our stylesheet and script, and highlight.js's theme from its package. */
function loadAssets(): Map<string, { type: string; body: string }> {
  const own = (name: string) =>
    readFileSync(new URL(`../../../src/api/console/assets/${name}`, import.meta.url), 'utf8');
  const require = createRequire(import.meta.url);
  return new Map([
    ['console.css', { type: 'text/css; charset=utf-8', body: own('console.css') }],
    ['console.js', { type: 'text/javascript; charset=utf-8', body: own('console.js') }],
    [
      'highlight.css',
      {
        type: 'text/css; charset=utf-8',
        body: readFileSync(require.resolve('highlight.js/styles/github.css'), 'utf8'),
      },
    ],
  ]);
}

/** A bad filter or form value, said in the words of the field it came from. */
function userMessage(error: unknown): string | null {
  if (error instanceof UsageError) return error.message.replace(/^--/, '');
  if (isSkbError(error) && error.status < 500) return error.message;
  return null;
}

type ConsoleEnv = Env & { Bindings: HttpBindings };

/** What `load` finds, or null when the id is malformed (an id that cannot exist is as missing as one that does not). */
async function found<T>(load: () => Promise<T | null>): Promise<T | null> {
  try {
    return await load();
  } catch (error) {
    if (!userMessage(error)) throw error;
    return null;
  }
}

function notFound(c: Context<ConsoleEnv>, what: 'schedule' | 'search', id: string) {
  const plural = what === 'schedule' ? 'schedules' : 'searches';
  return c.html(
    <Problem title={`No such ${what}`} message={`No ${what} ${id}: the ${plural} page lists the ones there are.`} />,
    404,
  );
}

export function mountConsole(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  const assets = loadAssets();
  const resolveTarget = createTargetResolver(deps.targetNames);

  app.use('*', async (c, next) => {
    await next();
    if (c.req.path === '/graphql' || c.req.path === '/health') return;
    c.header('Content-Security-Policy', CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
  });

  // Browsers ask for it on every page; there is none, and a 404 would show as a console error.
  app.get('/favicon.ico', (c) => c.body(null, 204));

  app.get('/console/assets/:name', (c) => {
    const asset = assets.get(c.req.param('name'));
    if (!asset) return c.notFound();
    return c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'max-age=3600' });
  });

  const filterFrom = (c: Context<ConsoleEnv>): { fields: ScheduleFilterFields; filter: ScheduleFilter } => {
    const fields = {
      kind: c.req.query('kind') ?? '',
      target: c.req.query('target') ?? '',
      dims: c.req.query('dims') ?? '',
      minSpeedup: c.req.query('minSpeedup') ?? '',
    };
    const filter: ScheduleFilter = {};
    if (fields.kind) filter.kind = fields.kind;
    if (fields.target) filter.targetKey = resolveTarget(fields.target);
    if (fields.dims) filter.dims = parseDimRanges(fields.dims, 'dimensions');
    if (fields.minSpeedup) filter.minSpeedup = parseNonNegative(fields.minSpeedup, 'min speedup');
    return { fields, filter };
  };

  app.get('/', async (c) => {
    const fields = { kind: '', target: '', dims: '', minSpeedup: '' };
    try {
      const parsed = filterFrom(c);
      const page = await deps.kb.listSchedules(parsed.filter, {
        first: PAGE_SIZE,
        after: c.req.query('after') ?? null,
      });
      return c.html(<SchedulesPage fields={parsed.fields} page={page} />);
    } catch (error) {
      const message = userMessage(error);
      if (!message) throw error;
      return c.html(<SchedulesPage fields={{ ...fields, ...c.req.query() }} page={null} error={message} />, 400);
    }
  });

  app.get('/export', async (c) => {
    try {
      const { filter } = filterFrom(c);
      const jsonl = await deps.kb.exportJsonl({ filter, pruned: c.req.query('pruned') === '1' });
      return c.body(jsonl, 200, {
        'content-type': 'application/x-ndjson; charset=utf-8',
        'content-disposition': 'attachment; filename="schedules.jsonl"',
      });
    } catch (error) {
      const message = userMessage(error);
      if (!message) throw error;
      return c.html(<Problem title="Export" message={message} />, 400);
    }
  });

  app.get('/schedules/:id', async (c) => {
    const schedule = await found(() => deps.kb.getSchedule(parseScheduleId(c.req.param('id'))));
    if (!schedule) return notFound(c, 'schedule', c.req.param('id'));
    const reuses = await deps.kb.listReuses({ scheduleId: schedule.id });
    return c.html(<SchedulePage schedule={schedule} reuses={reuses} />);
  });

  app.get('/targets', async (c) => {
    const targets = listTargets(await deps.kb.listTargets(), await deps.kb.targetSourceCounts(), deps.targetNames);
    const pools = deps.memberStates?.() ?? new Map();
    return c.html(
      <TargetsPage targets={targets.map((t) => ({ ...t, members: poolMembersOf(pools, t.configuredAs, t.key) }))} />,
    );
  });

  const searchService = (): SearchService | null => deps.search ?? null;
  const noSearches = (c: Context<ConsoleEnv>) =>
    c.html(
      <Problem
        title="Searches"
        message="This service was started without a search service: start it with skb serve to run searches."
      />,
      503,
    );

  app.get('/searches', async (c) => {
    const search = searchService();
    if (!search) return noSearches(c);
    return c.html(<SearchesPage page={await search.list({}, { first: PAGE_SIZE })} />);
  });

  const blankForm = (): NewSearchFields => ({
    kind: 'gemm',
    shape: 'M=512,N=512,K=512',
    target: deps.targetIds[0] ?? '',
    budget: '32',
    planner: 'template',
    cold: false,
  });

  app.get('/searches/new', (c) => c.html(<NewSearchPage fields={blankForm()} targets={deps.targetIds} />));

  app.post('/searches', async (c) => {
    const search = searchService();
    if (!search) return noSearches(c);
    const form = await c.req.parseBody();
    const text = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : '');
    const fields: NewSearchFields = {
      kind: text('kind'),
      shape: text('shape'),
      target: text('target'),
      budget: text('budget'),
      planner: text('planner') || 'template',
      cold: text('cold') === '1',
    };
    const access = deps.checkToken(text('token') || null);
    if (!access.canWrite)
      return c.html(<NewSearchPage fields={fields} targets={deps.targetIds} error={access.reason} />, 401);
    try {
      const dims = parseShape(fields.shape, 'shape');
      const task = parseTaskArg(
        {
          operation: { kind: fields.kind, dims: Object.entries(dims).map(([name, size]) => ({ name, size })) },
          target: fields.target,
        },
        deps.targetIds,
      );
      const budget = fields.budget === '' ? undefined : Number(fields.budget);
      const config = parseSearchConfigArg({
        planner: fields.planner,
        ...(budget !== undefined ? { budget } : {}),
        warmStart: { enabled: !fields.cold },
      });
      const started = await search.start(task, config);
      return c.redirect(`/searches/${started.id}`, 303);
    } catch (error) {
      const message = userMessage(error);
      if (!message) throw error;
      return c.html(<NewSearchPage fields={fields} targets={deps.targetIds} error={message} />, 400);
    }
  });

  app.get('/searches/:id', async (c) => {
    const search = searchService();
    if (!search) return noSearches(c);
    const detail = await found(() => search.get(parseSearchId(c.req.param('id'))));
    if (!detail) return notFound(c, 'search', c.req.param('id'));
    return c.html(<SearchPage detail={detail} />);
  });
}
