import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { getOperationAST } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { SkbError } from '../../schedules/index.js';
import { toYogaLogger, type Logger } from '../logger.js';
import type { ApiContext } from './context.js';
import { maskError, skbToGraphQLError } from './errors.js';
import { DEFAULT_QUERY_LIMITS, type QueryLimits, useExecutionDeadline, useQueryLimits } from './query-limits.js';
import { resolvers } from './resolvers.js';
import { loadSchemaText } from './schema-file.js';

/** Refuses mutations (before any resolver runs) to callers without write access. */
function useMutationAccess(): Plugin<ApiContext> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation === 'mutation' && !args.contextValue.access.canWrite) {
        setResultAndStopExecution({
          errors: [skbToGraphQLError(new SkbError('UNAUTHORIZED', args.contextValue.access.reason))],
        });
      }
    },
  };
}

export interface GraphqlServerOptions {
  logger: Logger;
  /** What one request may ask (query-limits.ts); DEFAULT_QUERY_LIMITS where a limit is not given. */
  limits?: Partial<QueryLimits>;
  /** Path of schema.graphql; the package root's by default. */
  schemaPath?: string;
}

/**
 * The /graphql endpoint: schema.graphql with thin resolvers, masked internal errors, query limits
 * and an execution deadline, mutation access control, and an offline GraphiQL (its assets are inlined in the page).
 * The caller supplies the per-request ApiContext as yoga's server context.
 */
export function createGraphqlServer(options: GraphqlServerOptions) {
  const limits = { ...DEFAULT_QUERY_LIMITS, ...options.limits };
  return createYoga<ApiContext>({
    schema: createSchema<ApiContext>({ typeDefs: loadSchemaText(options.schemaPath), resolvers }),
    graphqlEndpoint: '/graphql',
    renderGraphiQL,
    graphiql: { title: 'schedule-kb' },
    landingPage: false,
    // Browsers may send multipart and form posts cross-site without a preflight; this API takes JSON only.
    multipart: false,
    cors: false,
    maskedErrors: { maskError, errorMessage: 'Unexpected error.' },
    logging: toYogaLogger(options.logger),
    plugins: [...useQueryLimits(limits), useExecutionDeadline(limits.deadlineMs), useMutationAccess()],
  });
}
