import { describe, expect, it } from 'vitest';
import { createOfflineEmbedder } from '../../src/embeddings/offline-embedder.js';
import { parseOperation, SkbError, type OperationInput } from '../../src/schedules/index.js';

const cosineDistance = (a: Float32Array, b: Float32Array): number => {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return 1 - dot;
};

const op = (input: OperationInput) => parseOperation(input);

describe('offline embedder', () => {
  const embedder = createOfflineEmbedder();

  it('names its space by version and dimension and returns unit vectors of that dimension', async () => {
    expect(embedder.id).toBe('offline-v1-128');
    expect(createOfflineEmbedder({ dim: 96 }).id).toBe('offline-v1-96');
    const [v] = await embedder.embed([{ operation: op({ kind: 'gemm', dims: { M: 512, N: 512, K: 512 } }) }]);
    expect(v).toHaveLength(128);
    let norm = 0;
    for (const x of v!) norm += x * x;
    expect(norm).toBeCloseTo(1, 5);
    expect(() => createOfflineEmbedder({ dim: 8 })).toThrow(SkbError);
  });

  it('is deterministic: the same document gives the same bytes, across embedder instances', async () => {
    const doc = {
      operation: op({
        kind: 'conv2d',
        dims: { N: 1, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3 },
        epilogue: ['bias', 'relu'],
        attrs: { stride: 1, pad: 1 },
      }),
      steps: [
        { optionId: 'cpu.tile', plan: 'Tile the output by 8x8 and keep the filter in registers.' },
        { optionId: 'cpu.vectorize', plan: 'Vectorize the K loop with AVX2.' },
      ],
    };
    const [a] = await embedder.embed([doc]);
    const [b] = await createOfflineEmbedder().embed([doc]);
    expect(Buffer.from(a!.buffer).equals(Buffer.from(b!.buffer))).toBe(true);
  });

  it('puts similar operations nearer than dissimilar ones', async () => {
    const docs = [
      op({ kind: 'gemm', dims: { M: 512, N: 512, K: 512 } }),
      op({ kind: 'gemm', dims: { M: 1024, N: 512, K: 512 } }),
      op({ kind: 'gemm', dims: { M: 4096, N: 64, K: 8192 } }),
      op({ kind: 'softmax', dims: { M: 512, N: 512 } }),
      op({ kind: 'gemm', dims: { M: 512, N: 512, K: 512 }, dtype: 'f16' }),
      op({ kind: 'conv2d', dims: { N: 1, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3 } }),
    ].map((operation) => ({ operation }));
    const [g512, g1024, gSkinny, softmax, g512h, conv] = await embedder.embed(docs);
    const near = cosineDistance(g512!, g1024!);
    expect(near).toBeLessThan(cosineDistance(g512!, gSkinny!));
    expect(near).toBeLessThan(cosineDistance(g512!, g512h!));
    expect(cosineDistance(g512!, gSkinny!)).toBeLessThan(cosineDistance(g512!, softmax!));
    expect(cosineDistance(g512!, g512h!)).toBeLessThan(cosineDistance(g512!, conv!));
  });

  it('separates schedules of one operation by their steps, without moving them against a step-less query', async () => {
    const operation = op({ kind: 'gemm', dims: { M: 256, N: 256, K: 256 } });
    const tiled = [
      { optionId: 'cpu.tile', plan: 'Tile i and j by 64 for L2.' },
      { optionId: 'cpu.register_block', plan: 'Register block 6x16.' },
    ];
    const tiled2 = [
      { optionId: 'cpu.tile', plan: 'Tile i and j by 32 for L1.' },
      { optionId: 'cpu.register_block', plan: 'Register block 4x16.' },
    ];
    const unrolled = [
      { optionId: 'cpu.unroll', plan: 'Unroll the k loop by 8.' },
      { optionId: 'cpu.compiler_flags', plan: 'Add -march=native -O3.' },
    ];
    const [q, a, b, c] = await embedder.embed([
      { operation },
      { operation, steps: tiled },
      { operation, steps: tiled2 },
      { operation, steps: unrolled },
    ]);
    expect(cosineDistance(a!, b!)).toBeLessThan(cosineDistance(a!, c!));
    expect(cosineDistance(q!, a!)).toBeCloseTo(cosineDistance(q!, c!), 6);
  });
});
