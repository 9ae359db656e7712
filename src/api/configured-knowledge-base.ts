import type { Embedder } from '../embeddings/embedder.js';
import { createOfflineEmbedder } from '../embeddings/offline-embedder.js';
import { createOpenAIEmbedder } from '../embeddings/openai-embedder.js';
import { openKnowledgeBase, type OpenedKnowledgeBase } from '../search/index.js';
import type { Config } from './config.js';

/** The embedder the configuration names: offline by default, an OpenAI-compatible endpoint when SKB_EMBEDDER=openai. */
export async function createConfiguredEmbedder(config: Config): Promise<Embedder> {
  if (config.embedder === 'openai') {
    return createOpenAIEmbedder({
      model: config.embeddingModel,
      ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
      ...(config.openaiApiKey ? { apiKey: config.openaiApiKey } : {}),
    });
  }
  return createOfflineEmbedder();
}

/** Opens the knowledge base the configuration describes (database, data directory, embedder). */
export async function openConfiguredKnowledgeBase(config: Config, embedder?: Embedder): Promise<OpenedKnowledgeBase> {
  return openKnowledgeBase({
    dbUrl: config.dbUrl,
    ...(config.dbAuthToken ? { authToken: config.dbAuthToken } : {}),
    dataDir: config.dataDir,
    embedder: embedder ?? (await createConfiguredEmbedder(config)),
  });
}
