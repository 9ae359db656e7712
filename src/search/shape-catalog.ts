import { shapeKey, structureKey, type Schedule, type Store } from '../schedules/index.js';
import type { ShapeRow } from '../schedules/store.js';

/** What ranking needs of a stored schedule; the full schedule is read only for the ones returned. */
export type ShapeEntry = ShapeRow;

/**
 * The sizes of stored schedules, grouped by (structure key, target family) and loaded on first
 * use from `Store.listShapes`, which reads indexed columns and the operation's sizes but never the
 * content. Reading and validating whole schedules costs tens of microseconds each, so a popular
 * structure would cost tens of milliseconds per query; ranking these entries costs microseconds.
 * The knowledge base keeps it in step with its own writes and clears it when another process
 * changed the store.
 */
export interface ShapeCatalog {
  entries(structureKey: string, targetFamily: string): Promise<ShapeEntry[]>;
  noteInserted(schedules: Array<{ schedule: Schedule; label: number; targetFamily: string }>): void;
  noteDeleted(id: string): void;
  clear(): void;
}

export function createShapeCatalog(store: Store): ShapeCatalog {
  let groups = new Map<string, Map<string, ShapeEntry>>();
  // Bumped by every change, so a load that raced with one is used once but not kept.
  let generation = 0;
  const groupKey = (sKey: string, family: string): string => `${family}\u0000${sKey}`;
  const entryOf = (s: Schedule, label: number): ShapeEntry => ({
    id: s.id,
    label,
    shapeKey: shapeKey(s.operation),
    dims: s.operation.dims,
    speedup: s.speedup,
  });

  return {
    async entries(sKey, family) {
      const key = groupKey(sKey, family);
      const known = groups.get(key);
      if (known) return [...known.values()];
      const startedAt = generation;
      const loaded = new Map(
        (await store.listShapes({ structureKey: sKey, targetFamily: family })).map((e) => [e.id, e]),
      );
      if (generation === startedAt) groups.set(key, loaded);
      return [...loaded.values()];
    },
    noteInserted(items) {
      generation += 1;
      for (const { schedule, label, targetFamily } of items)
        groups
          .get(groupKey(structureKey(schedule.operation), targetFamily))
          ?.set(schedule.id, entryOf(schedule, label));
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
