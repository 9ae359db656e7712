/** A ScheduleFilter as SQL over `schedules s` (and its `schedule_dims`). */
import type { ScheduleFilter } from '../store.js';

/** The conditions and arguments of a filter, for a WHERE clause over `schedules s`. */
export function scheduleFilterSql(filter: ScheduleFilter): { where: string[]; args: Array<string | number> } {
  const where: string[] = [];
  const args: Array<string | number> = [];
  const eq = (column: string, value: string | undefined): void => {
    if (value === undefined) return;
    where.push(`${column} = ?`);
    args.push(value);
  };
  eq('s.kind', filter.kind);
  eq('s.structure_key', filter.structureKey);
  eq('s.shape_key', filter.shapeKey);
  eq('s.target_key', filter.targetKey);
  eq('s.target_family', filter.targetFamily);
  for (const [name, range] of Object.entries(filter.dims ?? {})) {
    const conds = ['d.schedule_seq = s.seq', 'd.name = ?'];
    args.push(name);
    if (range.min !== undefined) {
      conds.push('d.value >= ?');
      args.push(range.min);
    }
    if (range.max !== undefined) {
      conds.push('d.value <= ?');
      args.push(range.max);
    }
    where.push(`EXISTS (SELECT 1 FROM schedule_dims d WHERE ${conds.join(' AND ')})`);
  }
  if (filter.minSpeedup !== undefined) {
    where.push('s.speedup >= ?');
    args.push(filter.minSpeedup);
  }
  if (filter.ids !== undefined) {
    // One JSON argument instead of one placeholder per id keeps long lists under SQLite's variable limit.
    where.push('s.id IN (SELECT value FROM json_each(?))');
    args.push(JSON.stringify(filter.ids));
  }
  return { where, args };
}
