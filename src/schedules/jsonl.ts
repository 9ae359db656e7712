import { z } from 'zod';
import { canonicalJson } from './canonical.js';
import { SkbError, describeIssues, messageOf } from './errors.js';
import { OperationSchema, exactOperationKey, shapeKey, type Operation } from './operation.js';
import { compareByCreation } from './ordering.js';
import { ScheduleContentSchema, toSchedule, type Schedule, type ScheduleContent } from './schedule.js';
import { TargetRecordSchema, targetFamily, targetKey, type TargetRecord } from './target-record.js';

export const EXPORT_FORMAT = 'schedule-kb';
export const EXPORT_VERSION = 1;
export const EXPORTER = 'schedule-kb/1';

export const ExportHeaderSchema = z
  .object({
    type: z.literal('header'),
    format: z.literal(EXPORT_FORMAT, `format must be "${EXPORT_FORMAT}"`),
    version: z.literal(EXPORT_VERSION, `this schedule-kb reads export version ${EXPORT_VERSION} only`),
    exporter: z.string().min(1).max(64),
    /** The embedding space the exporting knowledge base used; vectors themselves are not exported. */
    embedder: z.string().max(200).nullable(),
  })
  .strict();
export type ExportHeader = z.infer<typeof ExportHeaderSchema>;

const TargetLineSchema = TargetRecordSchema.extend({ type: z.literal('target') }).strict();

const OperationLineSchema = z
  .object({ type: z.literal('operation'), key: z.string().min(1).max(2000), operation: OperationSchema })
  .strict();

/** The fields a schedule line has besides its content (the content's `operation` is replaced by `operationKey`). */
const ScheduleLineMetaSchema = z.object({
  type: z.literal('schedule'),
  id: z.string().regex(/^sch_[0-9a-f]{24}$/, 'id is sch_ followed by 24 hex digits'),
  contentHash: z.string().regex(/^[0-9a-f]{64}$/, 'contentHash is 64 hex digits'),
  operationKey: z.string().min(1).max(2000),
  speedup: z.number().positive().finite(),
});
const META_FIELDS = ['type', 'id', 'contentHash', 'operationKey', 'speedup'] as const;

export interface ParsedExport {
  header: ExportHeader;
  targets: TargetRecord[];
  /** In file order. */
  contents: ScheduleContent[];
}

export interface ImportLineError {
  /** 1-based line number in the file. */
  line: number;
  message: string;
}

/**
 * The best schedule per (operation shape, target): highest speedup, then the earliest, then the
 * smallest id; and every schedule a kept one replays steps of (`replayOf`, transitively), so a
 * pruned file still holds the source of each replayed step (a seed pack built from two builds
 * would otherwise keep a schedule whose seed lost its shape to the other build's).
 */
export function pruneBest(schedules: Schedule[]): Schedule[] {
  const best = new Map<string, Schedule>();
  for (const s of schedules) {
    const key = `${shapeKey(s.operation)}\u0000${s.targetKey}`;
    const current = best.get(key);
    if (!current || s.speedup > current.speedup || (s.speedup === current.speedup && compareByCreation(s, current) < 0))
      best.set(key, s);
  }
  const byId = new Map(schedules.map((s) => [s.id, s]));
  const kept = new Set<Schedule>();
  const pending = [...best.values()];
  while (pending.length) {
    const s = pending.pop()!;
    if (kept.has(s)) continue;
    kept.add(s);
    for (const step of s.steps) {
      const seed = step.replayOf ? byId.get(step.replayOf.scheduleId) : undefined;
      if (seed) pending.push(seed);
    }
  }
  return schedules.filter((s) => kept.has(s));
}

/**
 * Serializes schedules and the targets they refer to as JSON Lines: a header, the referenced
 * targets (by key), the operations (by shape key), then the schedules (by creation time, id).
 * Every line is canonical JSON and nothing depends on when the export ran, so the same knowledge
 * base always exports to the same bytes.
 */
export function exportJsonl(
  schedules: Schedule[],
  targets: TargetRecord[],
  options: { embedderId: string | null },
): string {
  const targetsByKey = new Map(targets.map((t) => [t.key, t]));
  const usedTargets = new Map<string, TargetRecord>();
  const operations = new Map<string, Operation>();
  for (const s of schedules) {
    const target = targetsByKey.get(s.targetKey);
    if (!target)
      throw new SkbError(
        'BAD_INPUT',
        `Schedule ${s.id} refers to target ${s.targetKey}, which was not given to the export: pass every referenced target`,
      );
    usedTargets.set(target.key, target);
    operations.set(exactOperationKey(s.operation), s.operation);
  }
  const byKey = <T>(entries: Iterable<[string, T]>): Array<[string, T]> =>
    [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const lines: unknown[] = [
    {
      type: 'header',
      format: EXPORT_FORMAT,
      version: EXPORT_VERSION,
      exporter: EXPORTER,
      embedder: options.embedderId,
    },
  ];
  for (const [, t] of byKey(usedTargets)) lines.push({ type: 'target', ...t });
  for (const [key, operation] of byKey(operations)) lines.push({ type: 'operation', key, operation });
  for (const s of [...schedules].sort(compareByCreation)) {
    const { operation, id, contentHash, speedup, ...rest } = s;
    lines.push({ type: 'schedule', id, contentHash, operationKey: exactOperationKey(operation), speedup, ...rest });
  }
  return lines.map((l) => `${canonicalJson(l)}\n`).join('');
}

function issues(error: z.ZodError): string {
  return describeIssues(error.issues);
}

/**
 * Reads an export, validating every line before returning anything. All problems are collected
 * and reported together by line number, so a user can fix a file in one pass; on any problem it
 * throws IMPORT_FAILED and the caller imports nothing.
 */
export function parseJsonl(text: string): ParsedExport {
  const errors: ImportLineError[] = [];
  // One entry per line, so the count in the message is a count of lines to fix.
  const fail = (line: number, message: string): void => {
    const last = errors.at(-1);
    if (last?.line === line) last.message = `${last.message}; ${message}`;
    else errors.push({ line, message });
  };
  const rawLines = text.split('\n');
  const endsWithNewline = text.endsWith('\n');
  if (endsWithNewline) rawLines.pop();

  let header: ExportHeader | undefined;
  const targets = new Map<string, { record: TargetRecord; line: number }>();
  const operations = new Map<string, { operation: Operation; line: number }>();
  const contents: ScheduleContent[] = [];
  const scheduleLines = new Map<string, number>();
  let sawFirstLine = false;

  for (const [index, raw] of rawLines.entries()) {
    const lineNo = index + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    const isLast = index === rawLines.length - 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      fail(
        lineNo,
        isLast && !endsWithNewline
          ? 'the file is truncated: the last line is incomplete JSON without a final newline; export the file again'
          : `not valid JSON (${messageOf(error)})`,
      );
      sawFirstLine = true;
      continue;
    }
    const first = !sawFirstLine;
    sawFirstLine = true;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      fail(lineNo, 'each line must be a JSON object with a "type"');
      continue;
    }
    const record = value as Record<string, unknown>;
    const type = record.type;
    if (first && type !== 'header') {
      fail(
        lineNo,
        'the first line must be the header {"type":"header","format":"schedule-kb","version":1,...}; this is not a schedule-kb export',
      );
    }

    switch (type) {
      case 'header': {
        if (!first) {
          fail(lineNo, 'a second header: a file holds one export (do not concatenate exports)');
          break;
        }
        const parsed = ExportHeaderSchema.safeParse(record);
        if (parsed.success) header = parsed.data;
        else fail(lineNo, `header: ${issues(parsed.error)}`);
        break;
      }
      case 'target': {
        const parsed = TargetLineSchema.safeParse(record);
        if (!parsed.success) {
          fail(lineNo, `target: ${issues(parsed.error)}`);
          break;
        }
        const { type: _type, ...t } = parsed.data;
        const earlier = targets.get(t.key);
        if (earlier) {
          fail(lineNo, `target ${t.key} is defined twice (first on line ${earlier.line})`);
          break;
        }
        const key = targetKey(t.fingerprint);
        const family = targetFamily(t.fingerprint);
        if (key !== t.key || family !== t.family) {
          fail(
            lineNo,
            `target ${t.key}: its fingerprint gives key ${key} and family ${family}; the line was edited after export`,
          );
          break;
        }
        targets.set(t.key, { record: t, line: lineNo });
        break;
      }
      case 'operation': {
        const parsed = OperationLineSchema.safeParse(record);
        if (!parsed.success) {
          fail(lineNo, `operation: ${issues(parsed.error)}`);
          break;
        }
        const { key, operation } = parsed.data;
        const derived = exactOperationKey(operation);
        if (derived !== key) {
          fail(lineNo, `operation key "${key}" does not match its operation, whose key is "${derived}"`);
          break;
        }
        const earlier = operations.get(key);
        if (earlier) {
          fail(lineNo, `operation ${key} is defined twice (first on line ${earlier.line})`);
          break;
        }
        operations.set(key, { operation, line: lineNo });
        break;
      }
      case 'schedule': {
        const rest: Record<string, unknown> = { ...record };
        for (const field of META_FIELDS) delete rest[field];
        const meta = ScheduleLineMetaSchema.safeParse(Object.fromEntries(META_FIELDS.map((f) => [f, record[f]])));
        if (!meta.success) {
          fail(lineNo, `schedule: ${issues(meta.error)}`);
          break;
        }
        const { id, contentHash, operationKey, speedup } = meta.data;
        const operation = operations.get(operationKey);
        if (!operation) {
          fail(lineNo, `schedule ${id} refers to operation "${operationKey}", which no earlier line defines`);
          break;
        }
        const parsed = ScheduleContentSchema.safeParse({ ...rest, operation: operation.operation });
        if (!parsed.success) {
          fail(lineNo, `schedule ${id}: ${issues(parsed.error)}`);
          break;
        }
        const content = parsed.data;
        if (!targets.has(content.targetKey)) {
          fail(lineNo, `schedule ${id} refers to target ${content.targetKey}, which no earlier line defines`);
          break;
        }
        const derived = toSchedule(content);
        if (derived.contentHash !== contentHash || derived.id !== id) {
          fail(
            lineNo,
            `schedule ${id}: its id and contentHash do not match its content (which hashes to ${derived.contentHash}); the line was edited after export`,
          );
          break;
        }
        if (derived.speedup !== speedup) {
          fail(
            lineNo,
            `schedule ${id}: speedup ${speedup} does not match baselineLatencyMs / bestLatencyMs = ${derived.speedup}`,
          );
          break;
        }
        const earlier = scheduleLines.get(id);
        if (earlier !== undefined) {
          fail(lineNo, `schedule ${id} appears twice (first on line ${earlier})`);
          break;
        }
        scheduleLines.set(id, lineNo);
        contents.push(content);
        break;
      }
      default:
        fail(lineNo, `unknown record type ${JSON.stringify(type)}: expected header, target, operation or schedule`);
    }
  }

  if (!sawFirstLine) fail(1, 'the file is empty: an export starts with a header line');
  if (errors.length || !header) {
    const first = errors[0];
    throw new SkbError(
      'IMPORT_FAILED',
      `${errors.length} ${errors.length === 1 ? 'line' : 'lines'} of the file ${errors.length === 1 ? 'is' : 'are'} invalid; nothing was imported. First: line ${first?.line}: ${first?.message}`,
      { errors },
    );
  }
  return { header, targets: [...targets.values()].map((t) => t.record), contents };
}
