/**
 * Walks of the knowledge base's lineage graph: a schedule's ancestors (the seeds it descends from,
 * their seeds, ...) and descendants (the schedules grown from it), along `derivedFrom`.
 */
import { SkbError, type Schedule } from '../schedules/index.js';
import type { KnowledgeBase } from './knowledge-base.js';

/** A schedule met on a walk, and how many derivations away from the start it is (1 = parent or child). */
export interface ScheduleRelative {
  schedule: Schedule;
  generation: number;
}

/** The deepest walk one request may ask for. */
export const MAX_WALK_DEPTH = 32;

/** Breadth-first walk up to `depth` generations; each schedule once, at its nearest generation. */
export async function walkRelatives(
  kb: Pick<KnowledgeBase, 'getSchedule' | 'scheduleChildren'>,
  start: Schedule,
  direction: 'ancestors' | 'descendants',
  depth: number,
): Promise<ScheduleRelative[]> {
  if (!Number.isInteger(depth) || depth < 1 || depth > MAX_WALK_DEPTH) {
    throw new SkbError('BAD_INPUT', `depth must be an integer from 1 to ${MAX_WALK_DEPTH}, not ${depth}`);
  }
  const next = async (s: Schedule): Promise<Schedule[]> => {
    if (direction === 'descendants') return kb.scheduleChildren(s.id);
    // A seed deleted since is a gap in the walk, not an error.
    const parents = await Promise.all((s.derivedFrom ?? []).map((d) => kb.getSchedule(d.scheduleId)));
    return parents.filter((p): p is Schedule => p !== null);
  };
  const seen = new Set([start.id]);
  const found: ScheduleRelative[] = [];
  let frontier = [start];
  for (let generation = 1; generation <= depth && frontier.length > 0; generation++) {
    const reached: Schedule[] = [];
    for (const s of frontier) {
      for (const r of await next(s)) {
        if (seen.has(r.id)) continue;
        seen.add(r.id);
        reached.push(r);
        found.push({ schedule: r, generation });
      }
    }
    frontier = reached;
  }
  return found;
}
