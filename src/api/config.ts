import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { SkbError, parseOrThrow } from '../schedules/index.js';
import { DEFAULT_SEARCH_LEASE_MS, PACKAGE_SEED_PACKS } from '../search/index.js';
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from './graphql/query-limits.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** A query limit's variable: a positive whole number, its default when unset. */
const limit = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const EnvSchema = z.object({
  SKB_DB_URL: z
    .string()
    .regex(
      /^(file:|libsql:\/\/|https?:\/\/|wss?:\/\/)/,
      'SKB_DB_URL must start with file:, libsql://, http(s):// or ws(s)://',
    )
    .default('file:data/kb.db'),
  SKB_DB_AUTH_TOKEN: z.string().optional(),
  SKB_DATA_DIR: z.string().min(1).default('data'),
  SKB_HOST: z.string().min(1).default('127.0.0.1'),
  SKB_PORT: z.coerce.number().int().min(0).max(65535).default(4477),
  SKB_API_TOKEN: z.string().min(16, 'SKB_API_TOKEN must be at least 16 characters').optional(),
  SKB_EMBEDDER: z.enum(['offline', 'openai']).default('offline'),
  SKB_EMBEDDING_MODEL: z.string().min(1).default('text-embedding-3-small'),
  SKB_OPENAI_BASE_URL: z.url('SKB_OPENAI_BASE_URL must be a URL such as http://localhost:11434/v1').optional(),
  SKB_OPENAI_API_KEY: z.string().optional(),
  /** Comma-separated model names of the planner ensemble. */
  SKB_MODELS: z.string().default('gpt-4o-mini'),
  SKB_TARGETS_FILE: z.string().optional(),
  SKB_SEED_PACKS: z.string().optional(),
  SKB_SEARCH_LEASE_MS: z.coerce
    .number()
    .int('SKB_SEARCH_LEASE_MS is a whole number of milliseconds')
    .min(100, 'SKB_SEARCH_LEASE_MS is at least 100')
    .max(3_600_000, 'SKB_SEARCH_LEASE_MS is at most 3600000 (an hour)')
    .default(DEFAULT_SEARCH_LEASE_MS),
  SKB_MAX_REQUEST_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(16 * 1024 * 1024),
  SKB_MAX_DEPTH: limit(DEFAULT_QUERY_LIMITS.maxDepth),
  SKB_MAX_ALIASES: limit(DEFAULT_QUERY_LIMITS.maxAliases),
  SKB_MAX_COST: limit(DEFAULT_QUERY_LIMITS.maxCost),
  SKB_MAX_DIRECTIVES: limit(DEFAULT_QUERY_LIMITS.maxDirectives),
  SKB_MAX_TOKENS: limit(DEFAULT_QUERY_LIMITS.maxTokens),
  SKB_QUERY_DEADLINE_MS: limit(DEFAULT_QUERY_LIMITS.deadlineMs),
});

export interface Config {
  dbUrl: string;
  dbAuthToken: string | undefined;
  dataDir: string;
  host: string;
  port: number;
  apiToken: string | undefined;
  embedder: 'offline' | 'openai';
  embeddingModel: string;
  openaiBaseUrl: string | undefined;
  openaiApiKey: string | undefined;
  models: string[];
  targetsFile: string | undefined;
  /** The seed pack manifest imported at start (SKB_SEED_PACKS; the package's own by default), or null for none. */
  seedPacks: string | null;
  /** How long a replica's lease on a search it runs lasts before another replica may resume it (SKB_SEARCH_LEASE_MS). */
  searchLeaseMs: number;
  maxRequestBytes: number;
  /** What one GraphQL request may ask (SKB_MAX_DEPTH ... SKB_QUERY_DEADLINE_MS). */
  queryLimits: QueryLimits;
}

/**
 * Reads SKB_* variables once at start. Every problem is reported together, naming the variable.
 * Without SKB_API_TOKEN the service refuses to listen anywhere but loopback: its generated token
 * (api-token.ts) is meant for this account's own clients.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith('SKB_') && v !== undefined && v !== ''),
  );
  const e = parseOrThrow(EnvSchema, present, 'Invalid configuration', 'CONFIG');
  if (!e.SKB_API_TOKEN && !LOOPBACK.has(e.SKB_HOST)) {
    throw new SkbError(
      'CONFIG',
      `SKB_HOST=${e.SKB_HOST} makes the service reachable from other machines: set SKB_API_TOKEN to the token their clients will send, or listen on 127.0.0.1`,
    );
  }
  if (e.SKB_EMBEDDER === 'openai' && !e.SKB_OPENAI_BASE_URL && !e.SKB_OPENAI_API_KEY) {
    throw new SkbError(
      'CONFIG',
      'SKB_EMBEDDER=openai needs SKB_OPENAI_BASE_URL (for a local server) or SKB_OPENAI_API_KEY',
    );
  }
  const dataDir = isAbsolute(e.SKB_DATA_DIR) ? e.SKB_DATA_DIR : resolve(cwd, e.SKB_DATA_DIR);
  return {
    dbUrl: e.SKB_DB_URL,
    dbAuthToken: e.SKB_DB_AUTH_TOKEN,
    dataDir,
    host: e.SKB_HOST,
    port: e.SKB_PORT,
    apiToken: e.SKB_API_TOKEN,
    embedder: e.SKB_EMBEDDER,
    embeddingModel: e.SKB_EMBEDDING_MODEL,
    openaiBaseUrl: e.SKB_OPENAI_BASE_URL,
    openaiApiKey: e.SKB_OPENAI_API_KEY,
    models: e.SKB_MODELS.split(',')
      .map((m) => m.trim())
      .filter(Boolean),
    targetsFile: e.SKB_TARGETS_FILE,
    seedPacks:
      e.SKB_SEED_PACKS === undefined
        ? PACKAGE_SEED_PACKS
        : e.SKB_SEED_PACKS === 'none'
          ? null
          : resolve(cwd, e.SKB_SEED_PACKS),
    searchLeaseMs: e.SKB_SEARCH_LEASE_MS,
    maxRequestBytes: e.SKB_MAX_REQUEST_BYTES,
    queryLimits: {
      maxDepth: e.SKB_MAX_DEPTH,
      maxAliases: e.SKB_MAX_ALIASES,
      maxCost: e.SKB_MAX_COST,
      maxDirectives: e.SKB_MAX_DIRECTIVES,
      maxTokens: e.SKB_MAX_TOKENS,
      deadlineMs: e.SKB_QUERY_DEADLINE_MS,
    },
  };
}
