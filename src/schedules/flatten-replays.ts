/**
 * Flat plan sequences. A warm-started search measures a seed's whole sequence as one candidate,
 * the replay (option `seed.replay`); a schedule never stores it as one step. Its place is taken by
 * the seed's own steps as applied here, each marked `replayOf` the seed and carrying the latencies
 * before and after the group, so a schedule grown from a schedule grown from a seed still reads as
 * the real optimizations, and warm start can follow each of them.
 *
 * Every schedule the store takes goes through `flattenReplays`, as does every stored schedule once
 * (migration 7): the same function, so equal input stays equal content and equal id.
 */
import { z } from 'zod';
import {
  INVENTED_OPTION_ID,
  OPTION_ID_PATTERN,
  REPLAY_OPTION_ID,
  toSchedule,
  type Derivation,
  type ScheduleContent,
  type Step,
} from './schedule.js';
import { splitHereNote, withoutCostModelNote } from './plan-notes.js';

/** The label a replay candidate carries: the one place a stored replay step names its seed. */
const REPLAY_LABEL = /^Replay of seed schedule (sch_[0-9a-f]{24})$/;

/** `N. [option.id] ` at the start of each step in a replay's plan text. */
const STEP_MARKER = /(?:^|\s)(\d+)\. \[([a-z0-9_.:-]{1,64})\] /g;

/** What the template planner writes in params: the full knob set, and the knobs a step changed. */
const KnobParamsSchema = z.object({
  knobs: z.record(z.string(), z.unknown()),
  changed: z.record(z.string(), z.unknown()),
});

/** A step's option and plan, apart from where and when it was applied. */
type StepBody = Omit<Step, 'replayOf' | 'latencyBeforeMs' | 'latencyAfterMs'>;

/** A stored schedule as flattening needs it: its id now (an older id resolves to the newer) and its flat steps. */
export interface FlatSeed {
  id: string;
  steps: Step[];
}

/** Finds a schedule by id (or by an id it had before it was flattened); null when it is not stored. */
export type SeedLookup = (id: string) => Promise<FlatSeed | null> | FlatSeed | null;

/** The seed a stored replay step names, or null for any other step. */
export function replayedSeedId(step: Pick<Step, 'optionId' | 'optionLabel'>): string | null {
  if (step.optionId !== REPLAY_OPTION_ID) return null;
  return REPLAY_LABEL.exec(step.optionLabel)?.[1] ?? null;
}

/** Whether a schedule still holds a replay as one step. */
export function holdsReplaySteps(content: Pick<ScheduleContent, 'steps'>): boolean {
  return content.steps.some((s) => s.optionId === REPLAY_OPTION_ID);
}

/**
 * The content with every replay step replaced by the seed's steps as applied here, the replayed
 * seeds added to `derivedFrom` (after those it named already), and every seed it names by an id
 * the seed had before flattening named by its id now. Content with nothing to change comes back
 * unchanged (the same object).
 */
export async function flattenReplays(content: ScheduleContent, lookup: SeedLookup): Promise<ScheduleContent> {
  if (!holdsReplaySteps(content) && !content.derivedFrom?.length) return content;
  const steps: Step[] = [];
  const derivedFrom: Derivation[] = [];
  const derive = (entry: Derivation) => {
    if (!derivedFrom.some((d) => d.scheduleId === entry.scheduleId)) derivedFrom.push(entry);
  };
  // A seed named by an id it had before it was flattened is named by its id now.
  for (const entry of content.derivedFrom ?? []) {
    derive({ ...entry, scheduleId: (await lookup(entry.scheduleId))?.id ?? entry.scheduleId });
  }
  for (const step of content.steps) {
    if (step.optionId !== REPLAY_OPTION_ID) {
      steps.push(step);
      continue;
    }
    const named = replayedSeedId(step);
    const seed = named ? await lookup(named) : null;
    const seedId = seed?.id ?? named;
    const group: StepBody[] = seed
      ? seed.steps.map(({ replayOf: _, latencyBeforeMs: _b, latencyAfterMs: _a, ...s }) => s)
      : stepsFromReplayText(step.plan);
    steps.push(...applyGroup(group, step, seedId));
    if (seedId) derive({ scheduleId: seedId });
  }
  const same =
    steps.length === content.steps.length &&
    steps.every((s, i) => s === content.steps[i]) &&
    derivedFrom.every((d, i) => d.scheduleId === content.derivedFrom![i]!.scheduleId);
  if (same) return content;
  return { ...content, steps, ...(derivedFrom.length ? { derivedFrom } : {}) };
}

/**
 * The seed's steps as the replay applied them here: each takes the group's latencies and is
 * marked as replayed. Where the replay recorded template knobs, each step's `changed` keeps the
 * knobs it set that exist here, at the value they took here (re-fitted), and the group's last step
 * takes whatever else the replay changed, so the group together changes exactly what the replay
 * did; `knobs` is the configuration the group reached. A replay whose seed cannot be read (neither
 * stored nor in its text) stays one step, as an invented optimization with its plan text.
 */
function applyGroup(group: StepBody[], replay: Step, seedId: string | null): Step[] {
  const around = { latencyBeforeMs: replay.latencyBeforeMs, latencyAfterMs: replay.latencyAfterMs };
  if (group.length === 0) {
    return [{ ...replay, ...around, optionId: INVENTED_OPTION_ID, optionLabel: 'Replayed sequence' }];
  }
  const here = KnobParamsSchema.safeParse(replay.params);
  const unclaimed = new Set(here.success ? Object.keys(here.data.changed) : []);
  return group.map((step, i) => {
    const marker = seedId ? { replayOf: { scheduleId: seedId, stepIndex: i } } : {};
    const last = i === group.length - 1;
    let params = step.params;
    if (here.success) {
      const own = KnobParamsSchema.safeParse(step.params);
      const keys = own.success ? Object.keys(own.data.changed).filter((k) => k in here.data.knobs) : [];
      for (const k of keys) unclaimed.delete(k);
      const changed = Object.fromEntries(keys.map((k) => [k, here.data.knobs[k]]));
      if (last) for (const k of unclaimed) changed[k] = here.data.changed[k];
      params = { changed, knobs: here.data.knobs } as Step['params'];
    } else if (last && !params && replay.params) params = replay.params;
    const { params: _, ...rest } = step;
    // The seed's search chose the step with its own cost model; that note is not this schedule's.
    const plan = withoutCostModelNote(step.plan);
    return { ...rest, plan, ...(params ? { params } : {}), ...around, ...marker };
  });
}

/**
 * The steps a replay's plan text lists (`Replay the seed's N steps in order: 1. [id] plan 2. ...`),
 * nested replays read through to their own steps; a trailing `(here: ...)` note is left off. Used
 * only where the seed itself is no longer stored, so the steps carry no parameters.
 */
export function stepsFromReplayText(text: string): StepBody[] {
  const marks = [...text.matchAll(STEP_MARKER)];
  const steps = marks.map((m, i) => {
    const start = m.index + m[0].length;
    const end = marks[i + 1]?.index ?? text.length;
    return {
      optionId: m[2]!,
      plan: withoutCostModelNote(splitHereNote(text.slice(start, end)).body),
    };
  });
  return steps
    .filter((s) => s.optionId !== REPLAY_OPTION_ID && OPTION_ID_PATTERN.test(s.optionId) && s.plan.length > 0)
    .map((s) => ({ optionId: s.optionId, optionLabel: s.optionId, plan: s.plan }));
}

/** A schedule that flattening gave a new id: the id and content hash it had, and its id now. */
export interface ScheduleAlias {
  oldId: string;
  oldHash: string;
  newId: string;
}

/**
 * Flattens a batch of schedules, where a replay may name a seed of the same batch (in any order:
 * a seed is flattened before the schedule that replays it) or, through `stored`, one stored
 * before. Returns the flat contents in input order and the aliases of those whose id changed.
 */
export async function flattenBatch(
  contents: readonly ScheduleContent[],
  stored: SeedLookup,
): Promise<{ contents: ScheduleContent[]; aliases: ScheduleAlias[] }> {
  const original = contents.map(toSchedule);
  const indexById = new Map(original.map((s, i) => [s.id, i]));
  const done = new Map<number, ScheduleContent>();
  const busy = new Set<number>();
  const flatten = async (i: number): Promise<ScheduleContent> => {
    const ready = done.get(i);
    if (ready) return ready;
    // A replay loop within the batch cannot be content-addressed; its inner end reads from text.
    busy.add(i);
    const flat = await flattenReplays(contents[i]!, async (id) => {
      const j = indexById.get(id);
      if (j === undefined || busy.has(j)) return j === undefined ? stored(id) : null;
      const seed = await flatten(j);
      return { id: toSchedule(seed).id, steps: seed.steps };
    });
    busy.delete(i);
    done.set(i, flat);
    return flat;
  };
  const flat: ScheduleContent[] = [];
  const aliases: ScheduleAlias[] = [];
  for (const [i, before] of original.entries()) {
    const after = await flatten(i);
    flat.push(after);
    if (after !== contents[i])
      aliases.push({ oldId: before.id, oldHash: before.contentHash, newId: toSchedule(after).id });
  }
  return { contents: flat, aliases };
}
