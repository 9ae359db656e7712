/**
 * Stored targets as a user reads them: a name no other listed target has, whether the target is
 * configured on this service, and where its schedules came from. The shipped seeds and imports
 * bring the records of the machines that measured them, often named like ours ("local"), so the
 * stored name alone would list two different machines as the same one.
 */
import type { TargetRecord, TargetSourceCount } from '../schedules/index.js';
import type { MemberState } from '../targets/index.js';

export interface ListedTarget extends TargetRecord {
  /** The stored name where it is unique and truthful; otherwise the name with the machine and key. */
  displayName: string;
  /** The targets-file id this target is configured as on this service, or null. */
  configuredAs: string | null;
  scheduleCount: number;
  /** Schedules by source (see TargetSourceCount). */
  sources: { search: number; import: number; seed: number };
  /** One sentence: configured here or not, and where the schedules came from. */
  origin: string;
}

/** The counts of a target that holds no schedules. */
export const NO_SCHEDULES: Readonly<ListedTarget['sources']> = { search: 0, import: 0, seed: 0 };

/** What machine a fingerprint describes, in a few words. */
function machineOf(record: TargetRecord): string {
  const fp = record.fingerprint as Record<string, unknown>;
  const model = fp.kind === 'gpu' ? fp.name : fp.model;
  return typeof model === 'string' && model.trim() ? model.trim() : record.family;
}

function originOf(configuredAs: string | null, sources: ListedTarget['sources']): string {
  const parts = [
    sources.search ? `${sources.search} found by searches of this service` : '',
    sources.import ? `${sources.import} measured elsewhere and imported (the shipped seeds or an import)` : '',
    sources.seed ? `${sources.seed} written as seeds` : '',
  ].filter(Boolean);
  const held = parts.length ? parts.join(', ') : 'no schedules';
  return configuredAs
    ? `configured here as "${configuredAs}" (this machine); ${held}`
    : `not configured on this service; ${held}`;
}

/**
 * Lists `records` with their counts and display names: configured targets first (by id), then the
 * others by name. `configured` maps each targets-file id to the key its fingerprint has now.
 */
export function listTargets(
  records: readonly TargetRecord[],
  counts: readonly TargetSourceCount[],
  configured: ReadonlyMap<string, string>,
): ListedTarget[] {
  const idOfKey = new Map([...configured].map(([id, key]) => [key, id]));
  const byKey = new Map<string, ListedTarget['sources']>();
  for (const c of counts) {
    const sources = byKey.get(c.targetKey) ?? { ...NO_SCHEDULES };
    sources[c.source] += c.count;
    byKey.set(c.targetKey, sources);
  }
  // A name is taken by a configured target, or by more than one stored record.
  const uses = new Map<string, number>();
  for (const r of records) uses.set(r.name, (uses.get(r.name) ?? 0) + 1);
  const configuredNames = new Set(configured.keys());

  const listed = records.map((record): ListedTarget => {
    const configuredAs = idOfKey.get(record.key) ?? null;
    const sources = byKey.get(record.key) ?? NO_SCHEDULES;
    const clashes = configuredAs === null && (configuredNames.has(record.name) || (uses.get(record.name) ?? 0) > 1);
    const where = sources.search === 0 && sources.import + sources.seed > 0 ? 'measured elsewhere, ' : '';
    return {
      ...record,
      displayName: clashes
        ? `${record.name} (${where}${machineOf(record)}, ${record.key})`
        : (configuredAs ?? record.name),
      configuredAs,
      scheduleCount: sources.search + sources.import + sources.seed,
      sources,
      origin: originOf(configuredAs, sources),
    };
  });
  return listed.sort(
    (a, b) =>
      Number(b.configuredAs !== null) - Number(a.configuredAs !== null) ||
      a.displayName.localeCompare(b.displayName) ||
      a.key.localeCompare(b.key),
  );
}

/**
 * The members of the pool configured as `configuredAs`; for a target configured under no id at
 * start (an SSH pool, fingerprinted when first used), every member of the pools one of whose
 * members has its key.
 */
export function poolMembersOf(
  pools: ReadonlyMap<string, readonly MemberState[]>,
  configuredAs: string | null,
  key: string,
): readonly MemberState[] {
  if (configuredAs !== null) return pools.get(configuredAs) ?? [];
  return [...pools.values()].flatMap((members) => (members.some((m) => m.key === key) ? members : []));
}
