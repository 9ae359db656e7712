/**
 * What one GraphQL request may ask of the service, enforced before any resolver runs: GraphQL
 * Armor's plugins for tokens (at parse time), aliases, depth, directives and static cost (at
 * validation), and a deadline on execution. Introspection is exempt from the depth and cost limits
 * (graphql-js's standard introspection query nests 21 levels, for its nine `ofType` levels); what
 * bounds its work is the token limit and graphql-js's own MaxIntrospectionDepthRule (one of the
 * specified rules yoga validates with), which refuses list fields (`fields`, `inputFields`,
 * `interfaces`, `possibleTypes`) nested more than 3 deep, fragments expanded.
 * Every refusal is a typed error (`extensions.code`) naming the limit, its SKB_* variable and how
 * to stay under it; the armor plugins' own errors are replaced, so clients match on our codes.
 */
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { GraphQLError, ValidationContext } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { SkbError } from '../../schedules/index.js';
import type { ApiContext } from './context.js';

export interface QueryLimits {
  /** Deepest selection nesting of an ordinary query (introspection is exempt). */
  maxDepth: number;
  /** Aliased fields per operation (each alias of a field is another full resolution). */
  maxAliases: number;
  /** GraphQL Armor's static cost (objects 2, scalars 1, x1.5 per level; introspection exempt). */
  maxCost: number;
  /** Directives per operation. */
  maxDirectives: number;
  /** Lexical tokens per document, counted while parsing, so a huge document stops early. */
  maxTokens: number;
  /** Milliseconds a query or mutation may execute; subscriptions are long-lived and exempt. */
  deadlineMs: number;
}

/**
 * Defaults: deep enough for every query of schema.graphql (the deepest, a search's seeds with their
 * schedules' steps, nests 5), GraphQL Armor's own alias, directive and token defaults, a cost that
 * admits a full page of schedules with their steps and reuses, and a deadline well above what an
 * import of the largest accepted body takes.
 */
export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 12,
  maxAliases: 15,
  maxCost: 5000,
  maxDirectives: 50,
  maxTokens: 1000,
  deadlineMs: 30_000,
};

/** Each limit's variable, extension code and advice, in the words a refusal uses. */
const REFUSALS = {
  maxDepth: {
    variable: 'SKB_MAX_DEPTH',
    code: 'QUERY_TOO_DEEP',
    advice: 'ask for fewer nested fields',
  },
  maxAliases: {
    variable: 'SKB_MAX_ALIASES',
    code: 'QUERY_TOO_MANY_ALIASES',
    advice: 'send fewer aliased fields per request (split the query into several)',
  },
  maxCost: {
    variable: 'SKB_MAX_COST',
    code: 'QUERY_TOO_COSTLY',
    advice: 'ask for fewer fields or fewer nested objects per request',
  },
  maxDirectives: {
    variable: 'SKB_MAX_DIRECTIVES',
    code: 'QUERY_TOO_MANY_DIRECTIVES',
    advice: 'use fewer @include / @skip directives',
  },
  maxTokens: {
    variable: 'SKB_MAX_TOKENS',
    code: 'QUERY_TOO_MANY_TOKENS',
    advice: 'send a shorter document (pass long values as variables)',
  },
} as const;

type RefusedLimit = keyof typeof REFUSALS;

/** The refusal clients see: armor's finding ("Aliases limit of 15 exceeded, found 500.") plus what to do. */
function refusal(limit: RefusedLimit, value: number, armorError: GraphQLError): GraphQLError {
  const { variable, code, advice } = REFUSALS[limit];
  const finding = armorError.message.replace(/^Syntax Error: /, '');
  return createGraphQLError(`${finding} The limit is set by ${variable}: ${advice}.`, {
    extensions: { code, limit: value, variable },
  });
}

/** armor's onReject for a validation rule: report our error on the validation context instead of throwing its own. */
function reportAs(limit: RefusedLimit, value: number) {
  return {
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        context?.reportError(refusal(limit, value, error));
      },
    ],
  };
}

/** Refuses, before execution, documents past the token, alias, depth, directive and cost limits. */
export function useQueryLimits(limits: QueryLimits): Plugin<ApiContext>[] {
  return [
    maxTokensPlugin({
      n: limits.maxTokens,
      // The parser stops at the first token over the limit: throwing our error ends the parse there.
      onReject: [
        (_context, error) => {
          throw refusal('maxTokens', limits.maxTokens, error);
        },
      ],
    }),
    maxAliasesPlugin({ n: limits.maxAliases, ...reportAs('maxAliases', limits.maxAliases) }),
    maxDepthPlugin({ n: limits.maxDepth, ignoreIntrospection: true, ...reportAs('maxDepth', limits.maxDepth) }),
    maxDirectivesPlugin({ n: limits.maxDirectives, ...reportAs('maxDirectives', limits.maxDirectives) }),
    costLimitPlugin({ maxCost: limits.maxCost, ignoreIntrospection: true, ...reportAs('maxCost', limits.maxCost) }),
  ] as Plugin<ApiContext>[];
}

/**
 * A deadline on every query and mutation: past `deadlineMs` the executor stops resolving and the
 * request answers DEADLINE_EXCEEDED (a client that hangs up stops it the same way). Work a resolver
 * already handed to the database finishes there, but its result is not awaited by the response.
 */
export function useExecutionDeadline(deadlineMs: number): Plugin<ApiContext> {
  return {
    onExecute({ args }) {
      const deadline = new AbortController();
      const timer = setTimeout(
        () =>
          deadline.abort(
            new SkbError(
              'DEADLINE_EXCEEDED',
              `The request ran longer than its deadline of ${deadlineMs} ms (SKB_QUERY_DEADLINE_MS): ask for less per request, for example fewer results (first, k) or fewer fields.`,
            ),
          ),
        deadlineMs,
      );
      // A client that goes away aborts the execution too. Not through AbortSignal.any: on Node 20 the
      // combined signal stays reachable from its sources, and the server grew by about 3 KiB of heap
      // a request (bench/kb/soak.mjs); a listener removed when the execution ends keeps nothing.
      const client = args.contextValue.request?.signal;
      const onClientAbort = (): void => deadline.abort(client?.reason);
      if (client?.aborted) onClientAbort();
      else client?.addEventListener('abort', onClientAbort, { once: true });
      // graphql-tools' executor (yoga's) honours args.signal between fields and rejects with its reason.
      (args as { signal?: AbortSignal }).signal = deadline.signal;
      return {
        onExecuteDone() {
          clearTimeout(timer);
          client?.removeEventListener('abort', onClientAbort);
        },
      };
    },
  };
}
