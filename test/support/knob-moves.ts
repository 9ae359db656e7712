/**
 * The knob sets the templates' tests generate: each start, and each knob moved from it to every
 * value it may take for the operation. A value that writes a broken file (or a wrong kernel) shows
 * up in one of them without the cost of every combination.
 */
import type { Operation } from '../../src/schedules/index.js';
import type { KnobSpec, Knobs } from '../../src/targets/templates/template.js';

/** The starts, then each of `specs` (but those named in `skip`) moved to each legal value from each start. */
export function startsAndEachKnobMoved(
  op: Operation,
  starts: readonly Knobs[],
  specs: readonly KnobSpec[],
  skip: readonly string[] = ['impl', 'compile_mode'],
): Knobs[] {
  const out = [...starts];
  for (const from of starts)
    for (const spec of specs) {
      if (skip.includes(spec.name)) continue;
      for (const value of spec.values(op)) out.push({ ...from, [spec.name]: value });
    }
  return out;
}
