/**
 * One chat completion against any OpenAI-compatible endpoint, with our own retries: exponential
 * back-off with jitter on 429, 5xx, timeouts and dropped connections, `Retry-After` honoured up to
 * the back-off ceiling. The openai client's own retries are off so every attempt is timed and
 * recorded here. Failures come back as values; nothing here throws for a bad endpoint or reply.
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { z } from 'zod';
import type { Usage } from '../planner.js';
import type { Prompt } from './prompts.js';

export interface ChatClientOptions {
  /** OpenAI-compatible base URL (e.g. http://localhost:11434/v1); default the OpenAI API. */
  baseURL?: string;
  /** API key; local servers need none. */
  apiKey?: string;
  /** Limit of one attempt, in ms. */
  timeoutMs: number;
  /** Retries after the first attempt for 429, 5xx, timeouts and connection errors. */
  maxRetries: number;
  /** First back-off delay in ms; doubles each retry, with jitter. */
  retryBaseMs: number;
  /** Ceiling of one back-off delay (and of a server's Retry-After) in ms. */
  retryMaxMs: number;
  temperature?: number;
  /** Completion token limit sent as max_tokens; omitted when unset (the server decides). */
  maxTokens?: number;
}

export interface ChatRequest {
  model: string;
  prompt: Prompt;
  purpose: Usage['purpose'];
  signal?: AbortSignal;
}

export type ChatResult = { ok: true; text: string; usage: Usage[] } | { ok: false; error: string; usage: Usage[] };

export interface ChatClient {
  complete(request: ChatRequest): Promise<ChatResult>;
}

const ReplySchema = z.object({
  choices: z
    .array(z.object({ message: z.object({ content: z.string().nullable().optional() }) }))
    .min(1, 'the reply has no choices'),
  usage: z
    .object({
      prompt_tokens: z.number().int().nonnegative().optional(),
      completion_tokens: z.number().int().nonnegative().optional(),
    })
    .nullable()
    .optional(),
});

type Attempt =
  | { kind: 'reply'; text: string }
  | { kind: 'retry'; error: string; afterMs?: number }
  | { kind: 'fail'; error: string };

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function classify(error: unknown, timeoutMs: number): Attempt {
  if (error instanceof APIUserAbortError) return { kind: 'fail', error: 'the request was cancelled' };
  if (error instanceof APIConnectionTimeoutError) return { kind: 'retry', error: `no reply within ${timeoutMs} ms` };
  if (error instanceof APIConnectionError) return { kind: 'retry', error: `connection failed: ${error.message}` };
  if (error instanceof APIError) {
    const status = error.status ?? 0;
    const message = `HTTP ${status}: ${error.message}`;
    if (status === 408 || status === 429 || status >= 500) {
      const afterMs = retryAfterMs(error.headers);
      return afterMs === undefined ? { kind: 'retry', error: message } : { kind: 'retry', error: message, afterMs };
    }
    return { kind: 'fail', error: message };
  }
  // Anything else (a body that is not JSON, a client bug) is this reply's failure, not worth a retry.
  return { kind: 'fail', error: `unreadable reply: ${error instanceof Error ? error.message : String(error)}` };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Creates a chat client for one endpoint; the model is chosen per request (ensembles share it). */
export function createChatClient(options: ChatClientOptions): ChatClient {
  const client = new OpenAI({
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    // Local OpenAI-compatible servers (vLLM, Ollama) need no key, but the client refuses to start without one.
    apiKey: options.apiKey ?? 'unused',
    timeout: options.timeoutMs,
    maxRetries: 0,
  });

  async function attempt(request: ChatRequest, usage: Usage[]): Promise<Attempt> {
    const started = performance.now();
    const record = (promptTokens: number, completionTokens: number): void => {
      usage.push({
        model: request.model,
        promptTokens,
        completionTokens,
        purpose: request.purpose,
        durationMs: Math.round(performance.now() - started),
      });
    };
    // The SDK keeps a listener on the signal it is given for as long as that signal lives; a
    // search's signal lives for the whole search, so each request gets its own, linked here and
    // unlinked when the request ends.
    const linked = new AbortController();
    const forward = (): void => linked.abort(request.signal?.reason);
    if (request.signal?.aborted) forward();
    else request.signal?.addEventListener('abort', forward, { once: true });
    try {
      const reply: unknown = await client.chat.completions.create(
        {
          model: request.model,
          messages: [
            { role: 'system', content: request.prompt.system },
            { role: 'user', content: request.prompt.user },
          ],
          ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
          ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
        },
        { signal: linked.signal },
      );
      const parsed = ReplySchema.safeParse(reply);
      if (!parsed.success) {
        record(0, 0);
        return {
          kind: 'fail',
          error: `malformed reply: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
        };
      }
      record(parsed.data.usage?.prompt_tokens ?? 0, parsed.data.usage?.completion_tokens ?? 0);
      return { kind: 'reply', text: parsed.data.choices[0]?.message.content ?? '' };
    } catch (error) {
      record(0, 0);
      return classify(error, options.timeoutMs);
    } finally {
      request.signal?.removeEventListener('abort', forward);
    }
  }

  return {
    async complete(request) {
      const usage: Usage[] = [];
      const errors: string[] = [];
      for (let retry = 0; ; retry++) {
        const result = await attempt(request, usage);
        if (result.kind === 'reply') return { ok: true, text: result.text, usage };
        errors.push(result.error);
        if (result.kind === 'fail' || retry >= options.maxRetries || request.signal?.aborted) break;
        const backoff = Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** retry) * (0.5 + Math.random() / 2);
        const delay = Math.min(options.retryMaxMs, Math.max(backoff, result.afterMs ?? 0));
        if (!(await sleep(delay, request.signal))) {
          errors.push('the request was cancelled');
          break;
        }
      }
      const tries = errors.length;
      return {
        ok: false,
        error: `${request.model}: ${errors.at(-1)}${tries > 1 ? ` (after ${tries} attempts: ${errors.join(' | ')})` : ''}`,
        usage,
      };
    },
  };
}
