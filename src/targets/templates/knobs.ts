/**
 * Reading and snapping knob values, for every template of every toolchain and for the template
 * planner: one strict reader per value type, the nearest legal value, and the map from a knob's
 * old name to its current one.
 */
import { SkbError } from '../../schedules/index.js';
import type { Operation } from '../../schedules/index.js';
import type { KernelTemplate, KnobSpec, KnobValue, Knobs } from './template.js';

/** A numeric knob of a legalized knob set; INTERNAL when it is not a number (legalize was skipped). */
export function numKnob(knobs: Knobs, name: string): number {
  const v = knobs[name];
  if (typeof v !== 'number') throw new SkbError('INTERNAL', `Knob ${name} should be a number, got ${String(v)}`);
  return v;
}

/** A string knob of a legalized knob set; INTERNAL when it is not a string (legalize was skipped). */
export function strKnob(knobs: Knobs, name: string): string {
  const v = knobs[name];
  if (typeof v !== 'string') throw new SkbError('INTERNAL', `Knob ${name} should be a string, got ${String(v)}`);
  return v;
}

/**
 * Brings one knob value into `legal`: an exact member stays; a number becomes the largest legal
 * number not above it (or the smallest legal one); anything else becomes `fallback`.
 */
export function nearestLegal(
  value: KnobValue | undefined,
  legal: readonly KnobValue[],
  fallback: KnobValue,
): KnobValue {
  if (value === undefined) return fallback;
  if (legal.includes(value)) return value;
  if (typeof value === 'number') {
    const nums = legal.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
    if (nums.length === 0) return fallback;
    let best = nums[0]!;
    for (const n of nums) if (n <= value) best = n;
    return best;
  }
  return fallback;
}

/**
 * Stored knobs under the template's current names (`renamedKnobs`): a schedule keeps the names it
 * was measured with, so a knob stored under an old name is read as the knob it became. A current
 * name already present wins over an old one.
 */
export function currentKnobNames<V>(
  template: Pick<KernelTemplate, 'renamedKnobs'>,
  knobs: Readonly<Record<string, V>>,
): Record<string, V> {
  const renamed = template.renamedKnobs;
  if (!renamed) return { ...knobs };
  const out: Record<string, V> = {};
  for (const [name, value] of Object.entries(knobs)) {
    const current = Object.hasOwn(renamed, name) ? renamed[name]! : name;
    if (current === name || !Object.hasOwn(knobs, current)) out[current] = value;
  }
  return out;
}

/**
 * Lowers a numeric knob to the next smaller of its legal values for `op` (from `specs`), in place;
 * false when it is already the smallest. What the templates' resource rules shrink with.
 */
export function lowerKnob(specs: readonly KnobSpec[], op: Operation, knobs: Knobs, name: string): boolean {
  const legal = specs.find((s) => s.name === name)!.values(op) as number[];
  const smaller = legal.filter((v) => v < numKnob(knobs, name));
  if (!smaller.length) return false;
  knobs[name] = smaller[smaller.length - 1]!;
  return true;
}
