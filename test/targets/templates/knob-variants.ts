/**
 * Shared by the conv2d, matvec, softmax and layernorm template tests: enumerates every value of
 * every knob around a few base settings, and checks all of them through the real C toolchain in one
 * evaluate call per shape (the toolchain compiles them in parallel).
 */
import { expect } from 'vitest';
import { parseOperation, type Operation, type OperationInput } from '../../../src/schedules/index.js';
import { naiveBaseline } from '../../../src/targets/c/baselines.js';
import type { Toolchain } from '../../../src/targets/toolchain.js';
import type { Executor } from '../../../src/targets/executor.js';
import { cpuMenu } from '../../../src/search/menus/cpu-menu.js';
import type { KernelTemplate, Knobs } from '../../../src/targets/templates/template.js';

/** Every vector width a template can offer, so each is compiled and checked on any test machine. */
export const ALL_ISA = ['avx', 'avx2', 'avx512f', 'fma', 'sse4_2'];

/**
 * Each knob at each of its legal values, starting from each base (legalized), de-duplicated. Checks
 * that legalize keeps the value asked for, so every value really is exercised.
 */
export function knobVariants(t: KernelTemplate, op: Operation, bases: Knobs[]): Knobs[] {
  const seen = new Map<string, Knobs>();
  const add = (k: Knobs): void => {
    seen.set(JSON.stringify(k), k);
  };
  add(t.baseline(op));
  for (const b of bases) {
    const base = t.legalize(op, { ...t.baseline(op), ...b });
    add(base);
    for (const spec of t.knobs) {
      for (const value of spec.values(op)) {
        const k = t.legalize(op, { ...base, [spec.name]: value });
        expect(k[spec.name], `legalize kept ${spec.name} = ${String(value)}`).toBe(value);
        add(k);
      }
    }
  }
  return [...seen.values()];
}

/** Evaluates every variant of `t` at `input` and expects each to be correct. Returns how many ran. */
export async function expectVariantsCorrect(
  toolchain: Toolchain,
  executor: Executor,
  t: KernelTemplate,
  input: OperationInput,
  bases: Knobs[],
): Promise<number> {
  const op = parseOperation(input);
  const variants = knobVariants(t, op, bases);
  const results = await toolchain.evaluate({
    operation: op,
    candidates: variants.map((k) => t.generate(op, k)),
    executor,
    timing: { warmup: 0, runs: 1 },
  });
  const failures = results
    .map((r, i) =>
      r.correct
        ? null
        : `${JSON.stringify(variants[i])}: ${r.errorKind} ${r.feedback.join('; ')}\n${r.output.slice(0, 600)}`,
    )
    .filter((f): f is string => f !== null);
  expect(failures, `${t.kind} ${JSON.stringify(input.dims)} ${JSON.stringify(input.attrs ?? {})}`).toEqual([]);
  return variants.length;
}

/** The contract checks every template passes at `input`, independent of the compiler. */
export function expectTemplateContract(t: KernelTemplate, input: OperationInput): void {
  const op = parseOperation(input);
  const base = t.baseline(op);
  expect(t.generate(op, base)).toBe(naiveBaseline(op));
  expect(t.legalize(op, base)).toEqual(base);
  for (const spec of t.knobs) {
    const values = spec.values(op);
    expect(values, spec.name).toContain(base[spec.name]);
    expect(new Set(values.map(String)).size, `${spec.name} values are distinct`).toBe(values.length);
  }
  const ids = new Set(cpuMenu(2).options.map((o) => o.id));
  const names = new Set(t.knobs.map((s) => s.name));
  for (const [id, moved] of Object.entries(t.moves)) {
    expect(ids.has(id), `${id} is a CPU menu id`).toBe(true);
    for (const n of moved ?? []) expect(names.has(n), `${id} moves the knob ${n}`).toBe(true);
  }
  expect(names.size).toBe(t.knobs.length);
  // Every knob is reachable from some menu option.
  const moved = new Set(Object.values(t.moves).flat());
  for (const n of names) expect(moved.has(n), `knob ${n} is moved by some option`).toBe(true);
  // Unknown and illegal values are brought back into the legal set.
  const odd = t.legalize(op, { ...base, bogus: 3, flags: 'Ofast-please' });
  expect(odd).toEqual(base);
  expect(() => t.generate(op, { ...base, flags: 'Ofast-please' })).toThrow(/not legal/);
}
