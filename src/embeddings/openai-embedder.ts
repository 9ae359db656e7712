import OpenAI from 'openai';
import { z } from 'zod';
import { SkbError, describeIssues, messageOf } from '../schedules/index.js';
import type { EmbeddingDoc, Embedder } from './embedder.js';

export interface OpenAIEmbedderOptions {
  /** An OpenAI-compatible endpoint, e.g. http://localhost:11434/v1; default the OpenAI API. */
  baseURL?: string;
  apiKey?: string;
  model: string;
  /**
   * Requested vector length (sent as `dimensions`). Without it the first reply decides, which
   * costs one probe request when the embedder is created.
   */
  dim?: number;
  /** Per-request timeout in ms; default 30 000. */
  timeoutMs?: number;
}

const ReplySchema = z.object({
  data: z
    .array(z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number().finite()).min(1) }))
    .min(1),
});

const MAX_BATCH = 256;

/** The text an embedding model sees: the operation first, then the steps in order. */
export function embeddingText(doc: EmbeddingDoc): string {
  const op = doc.operation;
  const dims = Object.entries(op.dims)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const lines = [
    `operation: ${op.kind} ${op.dtype}${op.layout ? ` layout ${op.layout}` : ''}${op.epilogue.length ? ` epilogue ${op.epilogue.join('+')}` : ''}`,
    `sizes: ${dims}`,
  ];
  const attrs = Object.entries(op.attrs);
  if (attrs.length) lines.push(`attributes: ${attrs.map(([k, v]) => `${k}=${String(v)}`).join(', ')}`);
  for (const [i, step] of (doc.steps ?? []).entries())
    lines.push(`step ${i + 1} [${step.optionId}]: ${step.plan.slice(0, 2000)}`);
  return lines.join('\n');
}

/**
 * An embedder backed by any OpenAI-compatible embeddings endpoint. Every reply is validated
 * (one vector per input, all of the embedder's dimension); a model that changes dimension is
 * refused rather than mixed into the index. Async because, without `dim`, one probe request
 * learns the dimension that names the embedding space.
 */
export async function createOpenAIEmbedder(options: OpenAIEmbedderOptions): Promise<Embedder> {
  if (options.dim !== undefined && (!Number.isInteger(options.dim) || options.dim < 1)) {
    throw new SkbError('CONFIG', `The embedding dimension must be a positive integer, not ${options.dim}.`);
  }
  const client = new OpenAI({
    baseURL: options.baseURL,
    // Local OpenAI-compatible servers need no key, but the client refuses to start without one.
    apiKey: options.apiKey ?? 'not-needed',
    timeout: options.timeoutMs ?? 30_000,
    maxRetries: 2,
  });
  const where = options.baseURL ?? 'the OpenAI API';

  async function request(texts: string[], expectedDim: number | undefined): Promise<Float32Array[]> {
    let raw: unknown;
    try {
      raw = await client.embeddings.create({
        model: options.model,
        input: texts,
        // Some compatible servers cannot encode base64, which the client would otherwise ask for.
        encoding_format: 'float',
        ...(options.dim !== undefined ? { dimensions: options.dim } : {}),
      });
    } catch (error) {
      throw new SkbError(
        'CONFIG',
        `The embedding request to ${where} (model ${options.model}) failed: ${messageOf(error)}. Check SKB_OPENAI_BASE_URL, SKB_OPENAI_API_KEY and SKB_EMBEDDING_MODEL.`,
        undefined,
        { cause: error },
      );
    }
    const parsed = ReplySchema.safeParse(raw);
    if (!parsed.success) {
      throw new SkbError(
        'CONFIG',
        `The embedding service at ${where} sent a malformed reply (${describeIssues(parsed.error.issues)}); check that SKB_OPENAI_BASE_URL points at an OpenAI-compatible /embeddings endpoint.`,
      );
    }
    const data = parsed.data.data;
    if (data.length !== texts.length) {
      throw new SkbError(
        'CONFIG',
        `The embedding service at ${where} returned ${data.length} vectors for ${texts.length} inputs; it is not answering embedding requests correctly.`,
      );
    }
    const out: Array<Float32Array | undefined> = new Array(texts.length);
    for (const item of data) {
      if (item.index >= texts.length || out[item.index]) {
        throw new SkbError(
          'CONFIG',
          `The embedding service at ${where} returned a bad or repeated index ${item.index}.`,
        );
      }
      const d = expectedDim ?? item.embedding.length;
      if (item.embedding.length !== d) {
        throw new SkbError(
          'EMBEDDING_SPACE_MISMATCH',
          `Model ${options.model} at ${where} returned a vector of dimension ${item.embedding.length} where this embedding space has ${d}; vectors of different dimensions cannot share an index. Pin the model (and SKB_EMBEDDING_MODEL) or start a new data directory.`,
        );
      }
      expectedDim = d;
      out[item.index] = Float32Array.from(item.embedding);
    }
    return out as Float32Array[];
  }

  const dim =
    options.dim ??
    (
      await request(
        [embeddingText({ operation: { kind: 'gemm', dims: { M: 1 }, dtype: 'f32', epilogue: [], attrs: {} } })],
        undefined,
      )
    )[0]!.length;

  return {
    id: `openai:${options.model}:${dim}`,
    dim,
    async embed(docs) {
      const vectors: Float32Array[] = [];
      for (let i = 0; i < docs.length; i += MAX_BATCH) {
        vectors.push(...(await request(docs.slice(i, i + MAX_BATCH).map(embeddingText), dim)));
      }
      return vectors;
    },
  };
}
