import { shapeKey, structureKey, type Schedule, type Store } from '../schedules/index.js';

/** What ranking needs of a stored schedule; the full schedule is read only for the ones returned. */
export interface ShapeEntry {
  id: string;
  shapeKey: string;
  dims: Record<string, number>;
  speedup: number;
}

/**
 * The sizes of stored schedules, grouped by (structure key, target family) and loaded on first
 * use. Reading whole schedules costs tens of microseconds each, so ranking a popular structure
 * from the store on every query would cost tens of milliseconds; ranking these entries costs
 * microseconds. The knowledge base keeps it in step with its own writes and clears it when
 * another process changed the store.
 */
export interface ShapeCatalog {
  entries(structureKey: string, targetFamily: string): Promise<ShapeEntry[]>;
  noteInserted(schedules: Array<{ schedule: Schedule; targetFamily: string }>): void;
  noteDeleted(id: string): void;
  clear(): void;
}

export function createShapeCatalog(store: Store): ShapeCatalog {
  let groups = new Map<string, Map<string, ShapeEntry>>();
  // Bumped by every change, so a load that raced with one is used once but not kept.
  let generation = 0;
  const groupKey = (sKey: string, family: string): string => `${family}\u0000${sKey}`;
  const entryOf = (s: Schedule): ShapeEntry => ({ id: s.id, shapeKey: shapeKey(s.operation), dims: s.operation.dims, speedup: s.speedup });

  return {
    async entries(sKey, family) {
      const key = groupKey(sKey, family);
      const known = groups.get(key);
      if (known) return [...known.values()];
      const startedAt = generation;
      const loaded = new Map((await store.allSchedules({ structureKey: sKey, targetFamily: family })).map((s) => [s.id, entryOf(s)]));
      if (generation === startedAt) groups.set(key, loaded);
      return [...loaded.values()];
    },
    noteInserted(items) {
      generation += 1;
      for (const { schedule, targetFamily } of items) groups.get(groupKey(structureKey(schedule.operation), targetFamily))?.set(schedule.id, entryOf(schedule));
    },
    noteDeleted(id) {
      generation += 1;
      for (const group of groups.values()) group.delete(id);
    },
    clear() {
      generation += 1;
      groups = new Map();
    },
  };
}
