import type { Operation, Step } from '../schedules/index.js';

/** What an embedder sees of a schedule (or of a query: an operation with no steps). */
export interface EmbeddingDoc {
  operation: Operation;
  steps?: ReadonlyArray<Pick<Step, 'optionId' | 'plan'>>;
}

/**
 * Maps operations and schedules to vectors. `id` names the embedding space (model and version and
 * dimension): vectors of different ids are never compared.
 */
export interface Embedder {
  readonly id: string;
  readonly dim: number;
  embed(docs: EmbeddingDoc[]): Promise<Float32Array[]>;
}
