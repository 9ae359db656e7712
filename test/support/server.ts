/**
 * Starts the real HTTP service (hono + graphql-yoga over @hono/node-server) on 127.0.0.1 with an
 * OS-chosen port, over a real libSQL file in a temporary directory, and stops it again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/api/config.js';
import type { Logger } from '../../src/api/logger.js';
import { openConfiguredKnowledgeBase } from '../../src/api/configured-knowledge-base.js';
import { startServer } from '../../src/api/server.js';
import type { Embedder } from '../../src/embeddings/embedder.js';
import type { OpenedKnowledgeBase } from '../../src/search/libsql-knowledge-base.js';

export interface GraphqlReply {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{
      message: string;
      extensions?: { code?: string; details?: Record<string, unknown> } & Record<string, unknown>;
    }>;
  };
}

export interface TestServer {
  url: string;
  /** The knowledge base it serves, with its store underneath for staging rows a test needs. */
  kb: OpenedKnowledgeBase;
  config: Config;
  /** The temporary directory holding the database and the index files. */
  dir: string;
  /** The token mutations need: the configured one, else the one the server generated in `dir`. */
  token: string;
  /** Every line the service logged, as "level message". */
  logs: string[];
  /**
   * POSTs one GraphQL request as JSON with `Authorization: Bearer <token>`: the server's own token
   * unless `token` names another; `token: null` sends none.
   */
  gql(query: string, variables?: Record<string, unknown>, options?: { token?: string | null }): Promise<GraphqlReply>;
  /** Stops the server and closes the knowledge base; removes the directory unless `keepDir`. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

export interface TestServerOptions {
  apiToken?: string;
  maxRequestBytes?: number;
  /** Reuse a directory (e.g. to reopen a database); a fresh temporary one by default. */
  dir?: string;
  embedder?: Embedder;
  /** Configured target names and their keys (what `skb serve` registers from the targets file). */
  targetNames?: ReadonlyMap<string, string>;
  /** Further SKB_* variables the service is configured with (e.g. a query limit). */
  env?: Record<string, string>;
}

/** POSTs one GraphQL request as JSON to `${url}/graphql`, with `Authorization: Bearer <token>` when a token is given. */
export async function postGraphql(
  url: string,
  query: string,
  variables: Record<string, unknown> | undefined,
  token: string | null,
): Promise<GraphqlReply> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
  });
  return { status: response.status, body: (await response.json()) as GraphqlReply['body'] };
}

/** A logger that keeps what it is told, so tests can check what reached the log. */
export function createMemoryLogger(lines: string[]): Logger {
  const keep =
    (level: string) =>
    (message: string, ...meta: unknown[]) => {
      lines.push([level, message, ...meta.map((m) => (m instanceof Error ? m.message : String(m)))].join(' '));
    };
  return { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

/** The configuration a test server runs with: everything under `dir`, loopback, port 0. */
export function testConfig(
  dir: string,
  options: Pick<TestServerOptions, 'apiToken' | 'maxRequestBytes' | 'env'> = {},
): Config {
  return loadConfig(
    {
      SKB_DB_URL: `file:${join(dir, 'kb.db')}`,
      SKB_DATA_DIR: dir,
      // Tests start from an empty knowledge base; the seed pack tests ask for packs.
      SKB_SEED_PACKS: 'none',
      SKB_HOST: '127.0.0.1',
      SKB_PORT: '0',
      ...(options.apiToken ? { SKB_API_TOKEN: options.apiToken } : {}),
      ...(options.maxRequestBytes ? { SKB_MAX_REQUEST_BYTES: String(options.maxRequestBytes) } : {}),
      ...options.env,
    },
    dir,
  );
}

/** Opens a knowledge base in a temporary directory (offline embedder unless given) and serves it. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'skb-api-'));
  const config = testConfig(dir, options);
  const logs: string[] = [];
  const logger = createMemoryLogger(logs);
  const kb = await openConfiguredKnowledgeBase(config, options.embedder);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      kb,
      config,
      logger,
      ...(options.targetNames ? { targetNames: options.targetNames } : {}),
    });
  } catch (error) {
    await kb.close();
    throw error;
  }
  return {
    url: server.url,
    kb,
    config,
    dir,
    logs,
    token: server.apiToken.token,
    gql(query, variables, requestOptions) {
      const token = requestOptions?.token === undefined ? server.apiToken.token : requestOptions.token;
      return postGraphql(server.url, query, variables, token);
    },
    async stop(stopOptions) {
      await server.close();
      if (!stopOptions?.keepDir && !options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
