// The shapes the shipped seed packs are searched on (scripts/build-seed-kb.mjs), per pack: the
// layers people tune, each family cheapest first. Edit a list and its pack's next build searches
// the new shapes (those already in the --work progress log are skipped).
const gemm = (M, N, K, dtype) => ({ kind: 'gemm', dims: { M, N, K }, ...(dtype ? { dtype } : {}) });
const bmm = (B, M, N, K, dtype) => ({ kind: 'batched_gemm', dims: { B, M, N, K }, ...(dtype ? { dtype } : {}) });
/** NCHW input C x H x W, K filters of R x R (batch 1, as served). */
const conv = (C, H, K, R, attrs = {}) => ({ kind: 'conv2d', dims: { N: 1, C, H, W: H, K, R, S: R }, attrs });
const matvec = (M, K) => ({ kind: 'matvec', dims: { M, K } });
const softmax = (M, N) => ({ kind: 'softmax', dims: { M, N } });
const layernorm = (M, N) => ({ kind: 'layernorm', dims: { M, N } });

/** Per family, cheapest first; interleaved below so every family grows at the same pace. */
const CPU_FAMILIES = [
  [
    // BERT-base (hidden 768, FFN 3072) and BERT-large (hidden 1024, FFN 4096) projections at 128
    // to 512 tokens; Llama-style 4096-wide projections at small batches. Every sample checks
    // against a double-precision reference, so the largest products cost seconds a sample.
    gemm(128, 768, 768),
    gemm(128, 3072, 768),
    gemm(128, 768, 3072),
    gemm(512, 768, 768),
    gemm(128, 1024, 1024),
    gemm(128, 4096, 1024),
    gemm(128, 1024, 4096),
    gemm(256, 1024, 1024),
    gemm(16, 4096, 4096),
    gemm(64, 4096, 1024),
    gemm(32, 4096, 4096),
  ],
  [
    // Attention scores (Q K^T: seq x seq x head) and context (P V: seq x head x seq), one per head.
    bmm(12, 128, 128, 64),
    bmm(12, 128, 64, 128),
    bmm(12, 256, 256, 64),
    bmm(12, 256, 64, 256),
    bmm(16, 384, 384, 64),
    bmm(16, 384, 64, 384),
    bmm(12, 512, 512, 64),
    bmm(12, 512, 64, 512),
    bmm(32, 256, 256, 128),
    bmm(32, 256, 128, 256),
    bmm(4, 256, 256, 256),
  ],
  [
    // ResNet-50 at 224x224: the stem, each stage's 3x3 and its 1x1 reduce / expand, and the
    // stride-2 3x3 that opens stage 2.
    conv(64, 56, 64, 1),
    conv(256, 56, 64, 1),
    conv(64, 56, 256, 1),
    conv(64, 56, 64, 3, { pad: 1 }),
    conv(512, 28, 128, 1),
    conv(128, 28, 128, 3, { pad: 1 }),
    conv(1024, 14, 256, 1),
    conv(256, 14, 256, 3, { pad: 1 }),
    conv(512, 7, 512, 3, { pad: 1 }),
    conv(128, 56, 128, 3, { pad: 1, stride: 2 }),
    conv(3, 224, 64, 7, { pad: 3, stride: 2 }),
  ],
  [
    // LLM decode (one token): BERT and Llama-style projections, FFN up / down.
    matvec(768, 768),
    matvec(3072, 768),
    matvec(768, 3072),
    matvec(1024, 4096),
    matvec(4096, 1024),
    matvec(4096, 4096),
    matvec(2048, 8192),
    matvec(11008, 4096),
    matvec(4096, 11008),
    matvec(14336, 4096),
    matvec(4096, 14336),
  ],
  [
    // Attention probabilities (heads x seq rows of seq) and vocabulary softmax at decode.
    softmax(1536, 128),
    softmax(6144, 384),
    softmax(6144, 512),
    softmax(4096, 1024),
    softmax(2048, 2048),
    softmax(8192, 256),
    softmax(16, 32000),
    softmax(32, 32000),
    softmax(4, 50257),
    softmax(8, 128256),
    softmax(1024, 4096),
  ],
  [
    // Tokens x hidden for BERT-base / large and LLM widths.
    layernorm(128, 768),
    layernorm(512, 768),
    layernorm(512, 1024),
    layernorm(128, 2048),
    layernorm(1024, 1024),
    layernorm(2048, 768),
    layernorm(4096, 768),
    layernorm(512, 4096),
    layernorm(256, 5120),
    layernorm(128, 8192),
    layernorm(2048, 4096),
  ],
];
/**
 * The Triton matmul template on one GPU, bf16 and f32 (its 3xTF32 path): square, LLM-shaped
 * (Llama-style projections at prefill), tall-skinny, small and batched (attention) products.
 */
const GPU_FAMILIES = [
  [gemm(4096, 4096, 4096, 'bf16'), gemm(4096, 4096, 4096, 'f32')],
  [gemm(2048, 11008, 4096, 'bf16'), gemm(2048, 4096, 4096, 'f32')],
  [gemm(16384, 256, 4096, 'bf16'), gemm(8192, 128, 8192, 'f32')],
  [gemm(512, 512, 512, 'bf16'), gemm(1024, 1024, 1024, 'f32')],
  [bmm(32, 512, 512, 128, 'bf16'), bmm(16, 1024, 1024, 64, 'f32')],
];

/** One shape of each family in turn, so a build cut short still covers every family. */
function interleave(families) {
  const longest = Math.max(...families.map((f) => f.length));
  return Array.from({ length: longest }, (_, i) => families.map((f) => f[i]).filter(Boolean)).flat();
}

/** Per pack: its shapes in search order, the target they are searched on, and the default budget. */
export const SEED_PACKS = {
  cpu: { name: 'cpu-reference', shapes: interleave(CPU_FAMILIES), budget: 64 },
  gpu: { name: 'gpu-reference', shapes: interleave(GPU_FAMILIES), budget: 12 },
};
