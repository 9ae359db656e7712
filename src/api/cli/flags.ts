/**
 * Flag values of the listing commands, validated into what the knowledge base takes: a mistake
 * is a UsageError that names the flag and shows a value that would do.
 */
import type { ScheduleFilter } from '../../schedules/index.js';
import { UsageError, type ParsedArgs } from './command.js';

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A whole number from 1 to `max`, or `fallback` when the flag is absent. */
export function countFlag(args: ParsedArgs, name: string, fallback: number, max: number): number {
  const text = stringFlag(args, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max)
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}, not "${text}"`);
  return n;
}

/** A finite number at least 0, or undefined when the flag is absent. */
export function nonNegativeFlag(args: ParsedArgs, name: string): number | undefined {
  const text = stringFlag(args, name);
  return text === undefined ? undefined : parseNonNegative(text, `--${name}`);
}

/** A finite number at least 0; `name` is the flag or field it came from. */
export function parseNonNegative(text: string, name: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new UsageError(`${name} must be a number at least 0, such as 2 or 1.5, not "${text}"`);
  return n;
}

/** "NAME=VALUE,NAME=VALUE" into [name, value] pairs, each name once. */
function namedList(flag: string, text: string, example: string): Array<[string, string]> {
  const seen = new Set<string>();
  return text.split(',').map((part) => {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]{0,31})\s*=\s*(\S.*?)\s*$/.exec(part);
    if (!match)
      throw new UsageError(
        `--${flag} takes NAME=VALUE pairs separated by commas, e.g. ${example}; "${part}" is not one`,
      );
    const [, name, value] = match as unknown as [string, string, string];
    if (seen.has(name)) throw new UsageError(`--${flag} gives ${name} twice; give each dimension once`);
    seen.add(name);
    return [name, value];
  });
}

function whole(flag: string, name: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n))
    throw new UsageError(`--${flag}: ${name} must be a whole number, not "${text}"`);
  return n;
}

/** `--dims M=256..2048,N=512,K=..1024`: inclusive ranges (MIN.., ..MAX, MIN..MAX, or one size). */
export function dimRangesFlag(args: ParsedArgs, name: string): ScheduleFilter['dims'] | undefined {
  const text = stringFlag(args, name);
  return text === undefined ? undefined : parseDimRanges(text, name);
}

/** "M=256..2048,N=512,K=..1024" into inclusive ranges; `name` is the flag or field it came from. */
export function parseDimRanges(text: string, name: string): NonNullable<ScheduleFilter['dims']> {
  const dims: NonNullable<ScheduleFilter['dims']> = {};
  for (const [dim, value] of namedList(name, text, 'M=256..2048,N=512')) {
    const [lo, hi, ...rest] = value.split('..');
    if (rest.length > 0) throw new UsageError(`--${name}: ${dim}=${value} has more than one ".."`);
    const range =
      hi === undefined
        ? { min: whole(name, dim, lo!), max: whole(name, dim, lo!) }
        : {
            ...(lo ? { min: whole(name, dim, lo) } : {}),
            ...(hi ? { max: whole(name, dim, hi) } : {}),
          };
    if (range.min === undefined && range.max === undefined)
      throw new UsageError(`--${name}: ${dim}=.. needs a bound, e.g. ${dim}=256.. or ${dim}=..2048`);
    if (range.min !== undefined && range.max !== undefined && range.min > range.max)
      throw new UsageError(`--${name}: ${dim}=${value} has its minimum above its maximum`);
    dims[dim] = range;
  }
  return dims;
}

/** `--shape M=512,N=512,K=512`: one size per named dimension. */
export function shapeFlag(args: ParsedArgs, name: string): Record<string, number> | undefined {
  const text = stringFlag(args, name);
  return text === undefined ? undefined : parseShape(text, name);
}

/** "M=512,N=512,K=512" into sizes by dimension name. */
export function parseShape(text: string, name: string): Record<string, number> {
  return Object.fromEntries(namedList(name, text, 'M=512,N=512,K=512').map(([dim, v]) => [dim, whole(name, dim, v)]));
}
