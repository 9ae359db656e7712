import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIEmbedder, embeddingText } from '../../src/embeddings/openai-embedder.js';
import { parseOperation, SkbError } from '../../src/schedules/index.js';

/** What the scripted server answers, chosen per model name so one server serves every case. */
type Behaviour = 'ok' | 'malformed' | 'short' | 'grows' | 'http500';

function vectorFor(text: string, dim: number): number[] {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return Array.from({ length: dim }, (_, i) => (((h + i * 2654435761) >>> 0) % 1000) / 1000 - 0.5);
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

describe('OpenAI-compatible embedder against a scripted server', () => {
  let server: Server;
  let baseURL: string;
  const seen: Array<{
    model: string;
    input: string[];
    dimensions?: number;
    encoding: unknown;
    auth: string | undefined;
  }> = [];
  let calls = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      void body(req).then((b) => {
        const model = String(b.model);
        const input = b.input as string[];
        seen.push({
          model,
          input,
          dimensions: b.dimensions as number | undefined,
          encoding: b.encoding_format,
          auth: req.headers.authorization,
        });
        calls += 1;
        const behaviour = model.split('-')[0] as Behaviour;
        const dim = typeof b.dimensions === 'number' ? b.dimensions : behaviour === 'grows' && calls > 1 ? 12 : 8;
        res.setHeader('content-type', 'application/json');
        if (req.url !== '/v1/embeddings') return res.writeHead(404).end('{}');
        if (behaviour === 'http500') return res.writeHead(500).end(JSON.stringify({ error: { message: 'boom' } }));
        if (behaviour === 'malformed')
          return res.end(JSON.stringify({ object: 'list', data: [{ index: 0, embedding: 'not a vector' }] }));
        const data = input.map((text, index) => ({ object: 'embedding', index, embedding: vectorFor(text, dim) }));
        res.end(
          JSON.stringify({
            object: 'list',
            model,
            data: behaviour === 'short' ? data.slice(1) : data,
            usage: { prompt_tokens: 1, total_tokens: 1 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const gemm = parseOperation({ kind: 'gemm', dims: { M: 64, N: 64, K: 64 } });
  const docs = [{ operation: gemm }, { operation: gemm, steps: [{ optionId: 'cpu.tile', plan: 'Tile by 32.' }] }];

  it('learns the dimension from a probe, names the space by model and dimension, and returns the served vectors in order', async () => {
    const embedder = await createOpenAIEmbedder({ baseURL, apiKey: 'sk-test', model: 'ok-model' });
    expect(embedder.dim).toBe(8);
    expect(embedder.id).toBe('openai:ok-model:8');
    const vectors = await embedder.embed(docs);
    expect(vectors.map((v) => Array.from(v))).toEqual(
      docs.map((d) => Array.from(Float32Array.from(vectorFor(embeddingText(d), 8)))),
    );
    const last = seen.at(-1)!;
    expect(last.auth).toBe('Bearer sk-test');
    expect(last.encoding).toBe('float');
    expect(last.input[1]).toContain('step 1 [cpu.tile]: Tile by 32.');
  });

  it('asks for a given dimension and checks it', async () => {
    const embedder = await createOpenAIEmbedder({ baseURL, model: 'ok-model', dim: 16 });
    expect(embedder.id).toBe('openai:ok-model:16');
    const [v] = await embedder.embed([docs[0]!]);
    expect(v).toHaveLength(16);
    expect(seen.at(-1)!.dimensions).toBe(16);
  });

  it('refuses a reply whose dimension changed since the first one', async () => {
    calls = 0;
    const embedder = await createOpenAIEmbedder({ baseURL, model: 'grows-model' });
    expect(embedder.dim).toBe(8);
    const error = await embedder.embed(docs).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SkbError);
    expect((error as SkbError).code).toBe('EMBEDDING_SPACE_MISMATCH');
    expect((error as SkbError).message).toMatch(/dimension 12 where this embedding space has 8/);
  });

  it('turns a malformed reply, a short reply and an HTTP error into clear errors', async () => {
    const malformed = await createOpenAIEmbedder({ baseURL, model: 'malformed-model', dim: 8 });
    await expect(malformed.embed(docs)).rejects.toThrow(
      /malformed reply \(data\.0\.embedding: .*\).*SKB_OPENAI_BASE_URL/,
    );
    const short = await createOpenAIEmbedder({ baseURL, model: 'short-model', dim: 8 });
    await expect(short.embed(docs)).rejects.toThrow(/returned 1 vectors for 2 inputs/);
    const failing = createOpenAIEmbedder({ baseURL, model: 'http500-model', timeoutMs: 2000 });
    await expect(failing).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/embedding request to .* failed/),
    });
  });
});
