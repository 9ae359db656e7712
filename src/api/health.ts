import type { KnowledgeBase } from '../search/index.js';
import type { Logger } from './logger.js';

/** What /health and the `health` query report. */
export interface HealthReport {
  ok: boolean;
  /** Whether the database answered. */
  database: boolean;
  scheduleCount: number;
  /** Vectors stored in the active embedding space, which is what the ANN index holds. */
  indexSize: number;
  embedderId: string;
  /** The seed packs this database imported, each at its newest version, with the schedules of it it holds now. */
  seedPacks: Array<{ name: string; version: number; schedules: number; offered: number; importedAt: string }>;
}

/** Probes the database through the knowledge base; a failure makes the report not ok rather than an error. */
export function createHealthProbe(deps: { kb: KnowledgeBase; logger: Logger }): () => Promise<HealthReport> {
  const { kb, logger } = deps;
  return async () => {
    const embedderId = kb.embedder.id;
    try {
      const [counts, packs] = await Promise.all([kb.counts(), kb.seedPacks()]);
      return {
        ok: true,
        database: true,
        scheduleCount: counts.schedules,
        indexSize: counts.indexedVectors,
        embedderId,
        seedPacks: packs.map((p) => ({
          name: p.name,
          version: p.version,
          schedules: p.stored,
          offered: p.offered,
          importedAt: p.importedAt,
        })),
      };
    } catch (error) {
      logger.error('health: the database did not answer', error);
      return { ok: false, database: false, scheduleCount: 0, indexSize: 0, embedderId, seedPacks: [] };
    }
  };
}
