import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { KnowledgeBase } from '../search/index.js';
import type { MemberState } from '../targets/index.js';
import type { SearchService } from '../search/index.js';
import { resolveApiToken, type ApiToken } from './api-token.js';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:4477 (the real port when 0 was asked for). */
  url: string;
  port: number;
  /** The token mutations need, and whether it came from SKB_API_TOKEN or the generated file. */
  apiToken: ApiToken;
  /**
   * Stops accepting connections, stops the search service (running searches stay resumable), waits
   * for open requests, then closes the knowledge base (saving its index).
   */
  close(): Promise<void>;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Where a user finds the token, in the words of the refusal message and of `skb serve`. */
export function tokenHint(apiToken: ApiToken): string {
  return apiToken.source.kind === 'env'
    ? 'the value of SKB_API_TOKEN'
    : `in ${apiToken.source.path} (\`skb token\` prints it)`;
}

/**
 * Starts the HTTP service on config.host:config.port over an open knowledge base. Without
 * SKB_API_TOKEN, the token is the one in the data directory, generated at the first start.
 */
export async function startServer(deps: {
  kb: KnowledgeBase;
  config: Config;
  logger: Logger;
  targetNames?: ReadonlyMap<string, string>;
  /** The search service; the server closes it on close(). */
  search?: SearchService;
  /** Ids of the targets of the targets file, where startSearch may run a search. */
  targetIds?: readonly string[];
  /** The members of each configured target's pool with their state, for the targets query. */
  memberStates?: () => ReadonlyMap<string, readonly MemberState[]>;
}): Promise<RunningServer> {
  const { kb, config, logger } = deps;
  const apiToken = await resolveApiToken(config);
  const app = createApp({
    kb,
    config,
    apiToken: { token: apiToken.token, hint: tokenHint(apiToken) },
    logger,
    ...(deps.targetNames ? { targetNames: deps.targetNames } : {}),
    ...(deps.search ? { search: deps.search } : {}),
    ...(deps.targetIds ? { targetIds: deps.targetIds } : {}),
    ...(deps.memberStates ? { memberStates: deps.memberStates } : {}),
  });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${formatHost(config.host)}:${port}`,
    port,
    apiToken,
    close() {
      closing ??= (async () => {
        // Open progress streams (SSE) end when their searches stop, so the search service goes first.
        await deps.search?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Idle keep-alive connections would otherwise hold close() open until they time out.
          if ('closeIdleConnections' in server) server.closeIdleConnections();
        });
        await kb.close();
        logger.info('schedule-kb stopped');
      })();
      return closing;
    },
  };
}
