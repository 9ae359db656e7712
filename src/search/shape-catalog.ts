import { shapeKey, structureKey, type ReuseStats, type Schedule, type Store } from '../schedules/index.js';
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
 *
 * Each group also keeps the reuse outcomes of its schedules, read once (`Store.reuseStats` over a
 * popular group's thousands of ids took about 1.5 ms, the most of a query at 100,000 schedules)
 * and dropped whenever the reuse records change (`clearReuseStats`, on a new reuse revision).
 */
export interface ShapeCatalog {
  entries(structureKey: string, targetFamily: string): Promise<ShapeEntry[]>;
  /** Reuse outcomes of the group's schedules, by schedule id; schedules never reused are absent. */
  reuseStats(structureKey: string, targetFamily: string): Promise<ReadonlyMap<string, ReuseStats>>;
  clearReuseStats(): void;
  noteInserted(schedules: Array<{ schedule: Schedule; label: number; targetFamily: string }>): void;
  noteDeleted(id: string): void;
  clear(): void;
}

export function createShapeCatalog(store: Store): ShapeCatalog {
  let groups = new Map<string, Map<string, ShapeEntry>>();
  let stats = new Map<string, ReadonlyMap<string, ReuseStats>>();
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
    async reuseStats(sKey, family) {
      const key = groupKey(sKey, family);
      const known = stats.get(key);
      if (known) return known;
      const startedAt = generation;
      const ids = (await this.entries(sKey, family)).map((e) => e.id);
      const loaded = new Map((ids.length ? await store.reuseStats(ids) : []).map((r) => [r.scheduleId, r]));
      if (generation === startedAt) stats.set(key, loaded);
      return loaded;
    },
    noteInserted(items) {
      generation += 1;
      for (const { schedule, label, targetFamily } of items) {
        const key = groupKey(structureKey(schedule.operation), targetFamily);
        groups.get(key)?.set(schedule.id, entryOf(schedule, label));
        // An imported schedule may arrive with reuses recorded before (a re-import after a delete).
        stats.delete(key);
      }
    },
    noteDeleted(id) {
      generation += 1;
      for (const group of groups.values()) group.delete(id);
    },
    clearReuseStats() {
      generation += 1;
      stats = new Map();
    },
    clear() {
      generation += 1;
      groups = new Map();
      stats = new Map();
    },
  };
}
