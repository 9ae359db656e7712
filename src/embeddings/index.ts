export type { Embedder, EmbeddingDoc } from './embedder.js';
export { createOfflineEmbedder, type OfflineEmbedderOptions } from './offline-embedder.js';
export { createOpenAIEmbedder, embeddingText, type OpenAIEmbedderOptions } from './openai-embedder.js';
export {
  createHnswIndex,
  createExactIndex,
  checkVector,
  type VectorIndex,
  type VectorEntry,
  type Neighbor,
  type HnswIndex,
  type HnswOptions,
} from './vector-index.js';
export {
  openAnnIndex,
  indexBaseName,
  type AnnIndex,
  type OpenAnnIndexOptions,
  type RebuildReason,
} from './ann-index.js';
