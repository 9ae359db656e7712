import { messageOf } from '../schedules/index.js';
import type { KnowledgeBase } from '../search/index.js';
import { createTarget, loadTargets, membersOf } from '../targets/index.js';
import type { Logger } from './logger.js';

/** Names of the configured targets mapped to the keys of their fingerprints, e.g. "local" -> t-…. */
export type TargetNames = ReadonlyMap<string, string>;

/**
 * Fingerprints the configured targets that run on this machine and stores their records, so that
 * `targets` lists this machine and queries may name it ("local") instead of its key. Remote
 * targets are left to their first use: a host that is down must not stop the service starting.
 */
export async function registerLocalTargets(deps: {
  kb: Pick<KnowledgeBase, 'registerTargets'>;
  targetsFile: string | undefined;
  cwd: string;
  logger: Logger;
}): Promise<Map<string, string>> {
  const { targets } = await loadTargets({ file: deps.targetsFile, cwd: deps.cwd });
  const names = new Map<string, string>();
  for (const entry of targets.targets) {
    // A pool registers its first member: its members share one hardware family.
    if (membersOf(entry)[0]!.executor.kind !== 'local') continue;
    const target = createTarget(entry);
    try {
      const record = await target.record();
      await deps.kb.registerTargets([record]);
      names.set(entry.id, record.key);
    } catch (error) {
      deps.logger.warn(`target ${entry.id} could not be fingerprinted and is not registered: ${messageOf(error)}`);
    } finally {
      await target.close();
    }
  }
  return names;
}
