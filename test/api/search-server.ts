/**
 * The real service as `skb serve` assembles it (composition root: knowledge base, this machine's
 * targets, the search service and its planners) on 127.0.0.1 with an OS-chosen port, over a libSQL
 * file in a temporary directory; plus a GraphQL-over-SSE reader for subscriptions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/api/server.js';
import { openServices, type Services } from '../../src/api/services.js';
import { createMemoryLogger, postGraphql, testConfig, type GraphqlReply } from '../support/server.js';

export interface SearchTestServer {
  url: string;
  /** The knowledge base it serves (for staging schedules a test needs). */
  kb: Services['kb'];
  logs: string[];
  /** The token mutations need (the configured one, else the generated one). */
  token: string;
  /** As TestServer.gql: the server's token unless `token` names another; null sends none. */
  gql(query: string, variables?: Record<string, unknown>, options?: { token?: string | null }): Promise<GraphqlReply>;
  stop(): Promise<void>;
}

export async function startSearchServer(
  options: { apiToken?: string; targetsFile?: string } = {},
): Promise<SearchTestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'skb-search-api-'));
  const config = { ...testConfig(dir, options), ...(options.targetsFile ? { targetsFile: options.targetsFile } : {}) };
  const logs: string[] = [];
  const logger = createMemoryLogger(logs);
  // cwd = the empty temporary directory: without a targets file, no data/targets.json there, so
  // the one built-in "local" target.
  const services = await openServices(config, { cwd: dir, env: {}, logger });
  const server = await startServer({
    kb: services.kb,
    config,
    logger,
    search: services.search,
    targetNames: services.targetNames,
    targetIds: services.targetIds,
    memberStates: services.memberStates,
  });
  return {
    url: server.url,
    kb: services.kb,
    logs,
    token: server.apiToken.token,
    gql(query, variables, requestOptions) {
      const token = requestOptions?.token === undefined ? server.apiToken.token : requestOptions.token;
      return postGraphql(server.url, query, variables, token);
    },
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A square gemm of `size` as GraphQL's OperationInput takes it. */
export const gemmInput = (size: number) => ({
  kind: 'gemm',
  dims: [
    { name: 'M', size },
    { name: 'N', size },
    { name: 'K', size },
  ],
});

export interface SseMessage {
  event: string;
  data: unknown;
}

/**
 * POSTs a subscription with `Accept: text/event-stream` and reads the GraphQL-over-SSE stream
 * ("next" events with { data } or { errors }, then "complete") until it completes.
 */
export async function subscribeSse(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  onMessage?: (m: SseMessage) => void,
): Promise<{ status: number; contentType: string; messages: SseMessage[] }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
  });
  const messages: SseMessage[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length === 0 && event === 'message') continue;
      const text = data.join('\n');
      // The "complete" event carries an empty data line.
      const message = { event, data: text ? (JSON.parse(text) as unknown) : null };
      messages.push(message);
      onMessage?.(message);
    }
  }
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', messages };
}
