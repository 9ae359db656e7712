/**
 * Feature vectors for the cost model: one template's knobs and one operation's sizes as numbers a
 * tree learner splits on. Numbers (tiles, widths, block sizes) go in as log2(1 + v), so a split
 * halves a range the way tiles double; booleans as 0 / 1; string knobs as one column per value the
 * template offers. Sizes go in as log2 of each dimension and of the flop count, so one model serves
 * every shape of an operation structure.
 */
import { flopCount, type Operation } from '../../schedules/index.js';
import { currentKnobNames, type KernelTemplate, type KnobValue, type Knobs } from '../../targets/index.js';

/** Encodes (operation, knobs) pairs of one template and one operation structure. */
export interface FeatureEncoder {
  /** Column count of every vector. */
  readonly width: number;
  encode(op: Operation, knobs: Readonly<Record<string, unknown>>): number[];
}

/** Numeric value of a stored knob, or null when it is not one this column can read. */
function numeric(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return null;
}

/**
 * The encoder of `template` for operations shaped like `op` (same dimension names). String knobs
 * get their columns from the values the template offers for `op`; a stored value outside them sets
 * none of the columns.
 */
export function featureEncoder(template: KernelTemplate, op: Operation): FeatureEncoder {
  const baseline = template.baseline(op);
  const dimNames = Object.keys(op.dims).sort();
  type Column = (knobs: Record<string, unknown>) => number;
  const columns: Column[] = [];
  for (const spec of template.knobs) {
    const values = spec.values(op);
    const strings = values.filter((v): v is string => typeof v === 'string');
    const fallback: KnobValue = baseline[spec.name] ?? values[0]!;
    const read = (knobs: Record<string, unknown>): unknown => knobs[spec.name] ?? fallback;
    if (strings.length > 0) {
      for (const s of strings) columns.push((knobs) => (read(knobs) === s ? 1 : 0));
    } else {
      columns.push((knobs) => {
        const v = numeric(read(knobs)) ?? numeric(fallback) ?? 0;
        return typeof read(knobs) === 'boolean' ? v : Math.log2(1 + Math.max(0, v));
      });
    }
  }
  return {
    width: columns.length + dimNames.length + 1,
    encode(operation, stored) {
      const knobs = currentKnobNames(template, stored as Knobs);
      return [
        ...columns.map((column) => column(knobs)),
        ...dimNames.map((name) => Math.log2(Math.max(1, operation.dims[name] ?? 1))),
        Math.log2(Math.max(1, flopCount(operation))),
      ];
    },
  };
}
