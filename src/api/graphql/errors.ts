import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { isSkbError, type SkbError } from '../../schedules/index.js';

/** The message every unexpected (internal) error is replaced with; the real one only goes to the log. */
export const MASKED_MESSAGE = 'Unexpected error.';

/** Codes whose HTTP status the GraphQL response takes on, so that plain HTTP clients notice them too. */
const HTTP_VISIBLE = new Set<SkbError['code']>(['UNAUTHORIZED', 'TOO_LARGE']);

/*
 * graphql 16 ships CommonJS and ESM builds without an exports map, so one process can hold two
 * GraphQLError classes (vitest loads ours as ESM while yoga's dependencies load CommonJS).
 * Errors are therefore recognised by shape and created through yoga's createGraphQLError, which
 * uses the same graphql instance as yoga itself.
 */
function isGraphQLErrorLike(value: unknown): value is GraphQLError {
  return value instanceof Error && 'extensions' in value && 'locations' in value && 'path' in value;
}

function positionOf(from: unknown) {
  return isGraphQLErrorLike(from)
    ? { nodes: from.nodes, source: from.source, positions: from.positions, path: from.path }
    : {};
}

/** A user error as the GraphQL error clients see: its message, `extensions.code` and its details. */
export function skbToGraphQLError(error: SkbError, from?: unknown): GraphQLError {
  return createGraphQLError(error.message, {
    ...positionOf(from),
    extensions: {
      code: error.code,
      ...(error.details ? { details: error.details } : {}),
      ...(HTTP_VISIBLE.has(error.code) ? { http: { status: error.status } } : {}),
    },
  });
}

function rootCause(error: unknown): unknown {
  let current = error;
  while (isGraphQLErrorLike(current) && current.originalError) current = current.originalError;
  return current;
}

/**
 * yoga's `maskError`: SkbErrors keep their message and code; GraphQL's own errors (syntax,
 * validation) pass unchanged; anything else becomes "Unexpected error." with code INTERNAL, and
 * yoga logs the original because the returned error differs from it.
 */
export function maskError(error: unknown): Error {
  const cause = rootCause(error);
  if (isSkbError(cause) && cause.code !== 'INTERNAL') return skbToGraphQLError(cause, error);
  if (isGraphQLErrorLike(error) && isGraphQLErrorLike(cause)) return error;
  return createGraphQLError(MASKED_MESSAGE, {
    ...positionOf(error),
    extensions: { code: 'INTERNAL', unexpected: true },
  });
}
