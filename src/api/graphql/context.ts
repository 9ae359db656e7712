import type { TargetRecord } from '../../schedules/index.js';
import type { KnowledgeBase } from '../../search/knowledge-base.js';
import type { HealthReport } from '../health.js';

/** Whether this request may run mutations, and if not, the sentence that says how to get access. */
export interface WriteAccess {
  canWrite: boolean;
  reason: string;
}

/** What every resolver gets: the services, the caller's access, and per-request caches. */
export interface ApiContext {
  kb: KnowledgeBase;
  access: WriteAccess;
  health: () => Promise<HealthReport>;
  /** Loads a target once per request: a page of schedules usually shares a handful of targets. */
  loadTarget: (key: string) => Promise<TargetRecord | null>;
}

/** Builds the per-request context. */
export function createApiContext(deps: { kb: KnowledgeBase; access: WriteAccess; health: () => Promise<HealthReport> }): ApiContext {
  const targets = new Map<string, Promise<TargetRecord | null>>();
  return {
    ...deps,
    loadTarget(key) {
      let pending = targets.get(key);
      if (!pending) {
        pending = deps.kb.store.getTarget(key);
        targets.set(key, pending);
      }
      return pending;
    },
  };
}
