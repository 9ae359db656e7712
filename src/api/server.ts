import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { KnowledgeBase } from '../search/index.js';
import type { SearchService } from '../search/index.js';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:4477 (the real port when 0 was asked for). */
  url: string;
  port: number;
  /**
   * Stops accepting connections, stops the search service (running searches stay resumable), waits
   * for open requests, then closes the knowledge base (saving its index).
   */
  close(): Promise<void>;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the HTTP service on config.host:config.port over an open knowledge base. */
export async function startServer(deps: {
  kb: KnowledgeBase;
  config: Config;
  logger: Logger;
  targetNames?: ReadonlyMap<string, string>;
  /** The search service; the server closes it on close(). */
  search?: SearchService;
  /** Ids of the targets of the targets file, where startSearch may run a search. */
  targetIds?: readonly string[];
}): Promise<RunningServer> {
  const { kb, config, logger } = deps;
  const app = createApp({
    kb,
    config,
    logger,
    ...(deps.targetNames ? { targetNames: deps.targetNames } : {}),
    ...(deps.search ? { search: deps.search } : {}),
    ...(deps.targetIds ? { targetIds: deps.targetIds } : {}),
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
