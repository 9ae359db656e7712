/**
 * A scripted OpenAI-compatible chat server for tests: real HTTP on 127.0.0.1 with an OS-chosen
 * port, answering POST <any base path>/chat/completions from a queue of scripted replies (then
 * from a handler), and recording every request so tests can assert on the prompts. Replies can be
 * normal, malformed, empty, slow, or HTTP errors, which is how the planner's failure paths are driven.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  path: string;
  model: string;
  system: string;
  user: string;
  body: Record<string, unknown>;
  authorization: string | undefined;
}

export type ScriptedReply =
  /** A normal completion; `delayMs` holds the answer back (past the client's timeout for "slow"). */
  | {
      kind: 'text';
      content: string | null;
      usage?: { prompt_tokens: number; completion_tokens: number } | null;
      delayMs?: number;
    }
  /** An HTTP error status with an OpenAI-style error body. */
  | { kind: 'status'; status: number; retryAfter?: string }
  /** A raw body as is (malformed JSON, or JSON of the wrong shape). */
  | { kind: 'raw'; body: string };

export type ScriptHandler = (request: RecordedRequest) => ScriptedReply | Promise<ScriptedReply>;

export interface ScriptedLlm {
  /** Base URL for the openai client, e.g. http://127.0.0.1:PORT/v1. */
  baseURL: string;
  /** Every chat request received, in arrival order. */
  requests: RecordedRequest[];
  /** Replies given in order to the next requests, before the handler is consulted. */
  enqueue(...replies: ScriptedReply[]): void;
  /** Answers requests once the queue is empty. */
  handle(handler: ScriptHandler): void;
  /** Forgets queued replies, the handler and the recorded requests (between tests). */
  reset(): void;
  close(): Promise<void>;
}

/** Builders for scripted replies. */
export const reply = {
  text: (
    content: string,
    usage: { prompt_tokens: number; completion_tokens: number } | null = { prompt_tokens: 100, completion_tokens: 50 },
  ): ScriptedReply => ({ kind: 'text', content, usage }),
  plan: (optionId: string, plan: string): ScriptedReply => reply.text(`OPTION: ${optionId}\nPLAN:\n${plan}`),
  code: (code: string, fence = 'c'): ScriptedReply =>
    reply.text(`Here is the new code.\n\n\`\`\`${fence}\n${code.trimEnd()}\n\`\`\`\n`),
  empty: (): ScriptedReply => ({ kind: 'text', content: '', usage: null }),
  slow: (delayMs: number, content: string): ScriptedReply => ({ kind: 'text', content, delayMs }),
  status: (status: number, retryAfter?: string): ScriptedReply =>
    retryAfter === undefined ? { kind: 'status', status } : { kind: 'status', status, retryAfter },
  malformedJson: (): ScriptedReply => ({ kind: 'raw', body: '{"choices": [ {"message": ' }),
  wrongShape: (): ScriptedReply => ({
    kind: 'raw',
    body: JSON.stringify({ id: 'x', object: 'chat.completion', choices: [] }),
  }),
};

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
}

/** Starts the scripted server. */
export async function startScriptedLlm(basePath = '/v1'): Promise<ScriptedLlm> {
  const queue: ScriptedReply[] = [];
  let handler: ScriptHandler | undefined;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions'))
        return send(res, 404, JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      const body = await readJson(req);
      const messages = (body.messages ?? []) as Array<{ role: string; content: string }>;
      const recorded: RecordedRequest = {
        path: req.url,
        model: String(body.model),
        system: messages
          .filter((m) => m.role === 'system')
          .map((m) => m.content)
          .join('\n'),
        user: messages
          .filter((m) => m.role === 'user')
          .map((m) => m.content)
          .join('\n'),
        body,
        authorization: req.headers.authorization,
      };
      requests.push(recorded);
      const scripted = queue.shift() ?? (handler ? await handler(recorded) : { kind: 'status' as const, status: 599 });
      if (scripted.kind === 'status') {
        const headers: Record<string, string> =
          scripted.retryAfter === undefined ? {} : { 'retry-after': scripted.retryAfter };
        return send(
          res,
          scripted.status,
          JSON.stringify({ error: { message: `scripted ${scripted.status}`, type: 'scripted' } }),
          headers,
        );
      }
      if (scripted.kind === 'raw') return send(res, 200, scripted.body);
      const payload = JSON.stringify({
        id: `chatcmpl-${requests.length}`,
        object: 'chat.completion',
        created: 0,
        model: recorded.model,
        choices: [{ index: 0, message: { role: 'assistant', content: scripted.content }, finish_reason: 'stop' }],
        ...(scripted.usage
          ? {
              usage: {
                ...scripted.usage,
                total_tokens: scripted.usage.prompt_tokens + scripted.usage.completion_tokens,
              },
            }
          : {}),
      });
      if (!scripted.delayMs) return send(res, 200, payload);
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(res, 200, payload);
      }, scripted.delayMs);
      timers.add(timer);
    })().catch((error: unknown) => send(res, 400, JSON.stringify({ error: { message: String(error) } })));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}${basePath}`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    handle: (h) => {
      handler = h;
    },
    reset: () => {
      queue.length = 0;
      handler = undefined;
      requests.length = 0;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
