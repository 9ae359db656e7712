import type { HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { isSkbError, type ErrorCode } from '../schedules/index.js';
import type { KnowledgeBase } from '../search/index.js';
import type { SearchService } from '../search/index.js';
import type { MemberState } from '../targets/index.js';
import { createTokenCheck, createWriteAccessCheck } from './auth.js';
import type { Config } from './config.js';
import { mountConsole } from './console/console-routes.js';
import { MASKED_MESSAGE } from './graphql/errors.js';
import { createApiContext } from './graphql/context.js';
import { createGraphqlServer } from './graphql/yoga.js';
import { createHealthProbe } from './health.js';
import { createConsoleLogger, type Logger } from './logger.js';

/** Content types a GraphQL POST may have. All of them make browsers send a CORS preflight first. */
const GRAPHQL_CONTENT_TYPES = new Set([
  'application/json',
  'application/graphql+json',
  'application/graphql-response+json',
]);

export interface AppDeps {
  kb: KnowledgeBase;
  config: Pick<Config, 'maxRequestBytes'> & Partial<Pick<Config, 'queryLimits'>>;
  /** The token mutations need (resolveApiToken), and where a user finds it, for the refusal message. */
  apiToken: { token: string; hint: string };
  logger?: Logger;
  /** Configured target names ("local") and their keys, so queries may name a target. */
  targetNames?: ReadonlyMap<string, string>;
  /** Runs searches; without it the search fields answer with a CONFIG error. */
  search?: SearchService;
  /** Ids of the targets of the targets file, where startSearch may run a search. */
  targetIds?: readonly string[];
  /** The members of each configured target's pool with their state, for the targets query. */
  memberStates?: () => ReadonlyMap<string, readonly MemberState[]>;
}

/** Every error response outside GraphQL execution has the GraphQL error shape, so clients parse one envelope. */
function errorBody(code: ErrorCode | 'NOT_FOUND' | 'UNSUPPORTED_MEDIA_TYPE', message: string) {
  return { errors: [{ message, extensions: { code } }] };
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) ? 1 : 0)} MiB`
    : `${bytes} bytes`;
}

/**
 * The HTTP application: `/graphql` (graphql-yoga, GraphiQL on GET with Accept: text/html),
 * `/health`, and the web console at `/` (console/console-routes.tsx). Bodies above `config.maxRequestBytes` are refused with 413 before they are parsed:
 * by Content-Length when it is sent, otherwise by counting the bytes as they stream in.
 */
export function createApp(deps: AppDeps): Hono<{ Bindings: HttpBindings }> {
  const logger = deps.logger ?? createConsoleLogger();
  const health = createHealthProbe({ kb: deps.kb, logger });
  const yoga = createGraphqlServer({ logger, ...(deps.config.queryLimits ? { limits: deps.config.queryLimits } : {}) });
  const tokenOptions = { apiToken: deps.apiToken.token, tokenHint: deps.apiToken.hint };
  const checkAccess = createWriteAccessCheck(tokenOptions);
  const maxBytes = deps.config.maxRequestBytes;

  const app = new Hono<{ Bindings: HttpBindings }>();

  const tooLarge = (c: Context) => {
    // The client may still be sending; closing the connection stops it instead of draining the rest.
    c.header('Connection', 'close');
    return c.json(
      errorBody(
        'TOO_LARGE',
        `The request body is larger than ${formatBytes(maxBytes)} (SKB_MAX_REQUEST_BYTES): send less, for example import in smaller batches.`,
      ),
      413,
    );
  };

  app.use('/graphql', async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!GRAPHQL_CONTENT_TYPES.has(type)) {
      return c.json(
        errorBody(
          'UNSUPPORTED_MEDIA_TYPE',
          `POST /graphql needs Content-Type: application/json (got ${type || 'none'}).`,
        ),
        415,
      );
    }
    return next();
  });
  app.use('/graphql', bodyLimit({ maxSize: maxBytes, onError: tooLarge }));

  app.on(['GET', 'POST', 'OPTIONS'], '/graphql', (c) => {
    const context = createApiContext({
      kb: deps.kb,
      access: checkAccess(c.req.raw),
      health,
      ...(deps.targetNames ? { targetNames: deps.targetNames } : {}),
      ...(deps.search ? { search: deps.search } : {}),
      ...(deps.targetIds ? { targetIds: deps.targetIds } : {}),
      ...(deps.memberStates ? { memberStates: deps.memberStates } : {}),
    });
    return yoga.fetch(c.req.raw, context);
  });

  app.get('/health', async (c) => {
    const report = await health();
    return c.json(report, report.ok ? 200 : 503);
  });

  mountConsole(app, {
    kb: deps.kb,
    ...(deps.search ? { search: deps.search } : {}),
    targetNames: deps.targetNames ?? new Map(),
    targetIds: deps.targetIds ?? [],
    ...(deps.memberStates ? { memberStates: deps.memberStates } : {}),
    checkToken: createTokenCheck(tokenOptions),
  });

  app.notFound((c) =>
    c.json(
      errorBody(
        'NOT_FOUND',
        `No route ${c.req.method} ${c.req.path}: use POST /graphql, GET /health, or the console at /.`,
      ),
      404,
    ),
  );

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (isSkbError(error) && error.status < 500)
      return c.json(errorBody(error.code, error.message), error.status as 400);
    logger.error(`${c.req.method} ${c.req.path} failed`, error);
    return c.json(errorBody('INTERNAL', MASKED_MESSAGE), 500);
  });

  return app;
}
