import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SkbError,
  createLibsqlStore,
  exportJsonl,
  parseJsonl,
  pruneBest,
  shapeKey,
  toSchedule,
  type ScheduleContent,
  type Store,
  type TargetRecord,
} from '../../src/schedules/index.js';
import { makeContent, makeCpuTarget, makeGpuTarget } from '../support/fixtures.js';

function importFailure(text: string): SkbError {
  try {
    parseJsonl(text);
  } catch (error) {
    expect(error).toBeInstanceOf(SkbError);
    expect((error as SkbError).code).toBe('IMPORT_FAILED');
    return error as SkbError;
  }
  throw new Error('expected the file to be refused');
}

function lineErrors(error: SkbError): Array<{ line: number; message: string }> {
  return (error.details as { errors: Array<{ line: number; message: string }> }).errors;
}

/** Replaces line `n` (1-based) of an export. */
function editLine(text: string, n: number, edit: (record: Record<string, unknown>) => unknown): string {
  const lines = text.split('\n');
  lines[n - 1] = JSON.stringify(edit(JSON.parse(lines[n - 1]!) as Record<string, unknown>));
  return lines.join('\n');
}

describe('JSON Lines export and import', () => {
  let store: Store;
  let cpu: TargetRecord;
  let gpu: TargetRecord;
  let unused: TargetRecord;
  let contents: ScheduleContent[];

  beforeEach(async () => {
    store = await createLibsqlStore({ url: ':memory:' });
    cpu = makeCpuTarget('local');
    gpu = makeGpuTarget('h100');
    unused = makeCpuTarget('unused', { model: 'Never Used CPU' });
    contents = [
      makeContent({
        target: cpu,
        dims: { M: 512, N: 512, K: 512 },
        latencies: [40, 20, 12.5],
        createdAt: '2026-03-01T10:00:00.000Z',
      }),
      makeContent({
        target: cpu,
        dims: { M: 512, N: 512, K: 512 },
        latencies: [40, 10],
        createdAt: '2026-03-01T09:00:00Z',
        optionIds: ['cpu.register_block'],
      }),
      makeContent({
        target: cpu,
        kind: 'conv2d',
        operation: { attrs: { stride: 2, pad: 1 }, epilogue: ['bias', 'relu'], layout: 'nchw' },
        latencies: [9.5, 7.25, 3.125],
        createdAt: '2026-03-02T00:00:00.000Z',
        extra: {
          negatives: [
            {
              optionId: 'cpu.unroll',
              plan: 'Unroll the K loop by 8 — "quoted" and ünïcode',
              outcome: 'regressed',
              atStep: 1,
              latencyMs: 8.1,
            },
          ],
          models: ['template'],
          provenance: { source: 'seed', note: 'line one\nline two' },
        },
      }),
      makeContent({ target: gpu, kind: 'softmax', latencies: [1.5, 0.75], createdAt: '2026-03-01T09:00:00.000Z' }),
    ];
    await store.insertSchedules(contents, { targets: [cpu, gpu, unused] });
  });

  afterEach(() => {
    store.close();
  });

  async function exportStore(s: Store, pruned = false): Promise<string> {
    const schedules = await s.allSchedules({});
    return exportJsonl(pruned ? pruneBest(schedules) : schedules, await s.listTargets(), { embedderId: 'offline-v1' });
  }

  it('writes a header, the referenced targets, the operations and the schedules in a fixed order', async () => {
    const text = await exportStore(store);
    expect(text.endsWith('\n')).toBe(true);
    const records = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]).toEqual({
      type: 'header',
      format: 'schedule-kb',
      version: 1,
      exporter: 'schedule-kb/1',
      embedder: 'offline-v1',
    });
    expect(records.map((r) => r.type)).toEqual([
      'header',
      'target',
      'target',
      'operation',
      'operation',
      'operation',
      'schedule',
      'schedule',
      'schedule',
      'schedule',
    ]);
    expect(records.filter((r) => r.type === 'target').map((r) => r.key)).toEqual([cpu.key, gpu.key].sort());
    const opKeys = records.filter((r) => r.type === 'operation').map((r) => r.key as string);
    expect(opKeys).toEqual([...opKeys].sort());
    const schedules = records.filter((r) => r.type === 'schedule');
    // 09:00 (two schedules, ordered by id), then 10:00, then the next day.
    const ids = contents.map((c) => toSchedule(c).id);
    expect(schedules.map((r) => r.id)).toEqual([...[ids[1]!, ids[3]!].sort(), ids[0], ids[2]]);
    expect(schedules[0]).not.toHaveProperty('operation');
    expect(text).not.toContain(unused.key);
    // Input order does not matter.
    const shuffled = exportJsonl(
      [...(await store.allSchedules({}))].reverse(),
      [...(await store.listTargets())].reverse(),
      { embedderId: 'offline-v1' },
    );
    expect(shuffled).toBe(text);
  });

  it('round-trips byte for byte through an empty store', async () => {
    const original = await exportStore(store);
    const parsed = parseJsonl(original);
    expect(parsed.header.embedder).toBe('offline-v1');
    expect(parsed.contents).toHaveLength(4);
    const fresh = await createLibsqlStore({ url: ':memory:' });
    const result = await fresh.insertSchedules(parsed.contents, { targets: parsed.targets });
    expect(result.duplicates).toEqual([]);
    expect(await exportStore(fresh)).toBe(original);
    expect(await fresh.allSchedules({})).toEqual(await store.allSchedules({}));
    fresh.close();
  });

  it('reports every schedule of a second import of the same file as a duplicate', async () => {
    const { contents: again, targets } = parseJsonl(await exportStore(store));
    const revision = await store.revision();
    const result = await store.insertSchedules(again, { targets });
    expect(result.inserted).toEqual([]);
    expect([...result.duplicates].sort()).toEqual(contents.map((c) => toSchedule(c).id).sort());
    expect(await store.revision()).toBe(revision);
  });

  it('keeps only the best schedule per operation and target in pruned mode', async () => {
    const all = await store.allSchedules({});
    const best = pruneBest(all);
    const gemmKey = shapeKey(contents[0]!.operation);
    expect(best.filter((s) => shapeKey(s.operation) === gemmKey).map((s) => s.id)).toEqual([
      toSchedule(contents[1]!).id,
    ]);
    expect(best).toHaveLength(3);

    // On equal speedups the earlier schedule wins, then the smaller id.
    const early = toSchedule(makeContent({ target: cpu, latencies: [10, 5], createdAt: '2026-01-01T00:00:00.000Z' }));
    const late = toSchedule(makeContent({ target: cpu, latencies: [10, 5], createdAt: '2026-01-02T00:00:00.000Z' }));
    const onOther = toSchedule(makeContent({ target: gpu, latencies: [10, 9], createdAt: '2026-01-03T00:00:00.000Z' }));
    expect(pruneBest([late, early, onOther]).map((s) => s.id)).toEqual([early.id, onOther.id]);

    // A kept schedule's replayed seed stays, though a faster schedule of the seed's shape is kept too.
    const seed = toSchedule(makeContent({ target: cpu, latencies: [10, 5] }));
    const faster = toSchedule(makeContent({ target: cpu, latencies: [10, 2], finalCode: 'void kernel(void) { }\n' }));
    const grown = makeContent({ target: cpu, kind: 'softmax', latencies: [8, 4] });
    const replaying = toSchedule({
      ...grown,
      steps: grown.steps.map((step) => ({ ...step, replayOf: { scheduleId: seed.id, stepIndex: 0 } })),
    });
    expect(pruneBest([seed, faster]).map((s) => s.id)).toEqual([faster.id]);
    expect(pruneBest([seed, faster, replaying]).map((s) => s.id)).toEqual([seed.id, faster.id, replaying.id]);

    const pruned = await exportStore(store, true);
    expect(
      pruned
        .trimEnd()
        .split('\n')
        .filter((l) => l.includes('"type":"schedule"')),
    ).toHaveLength(3);
    expect(pruned).toBe(exportJsonl(best, [cpu, gpu], { embedderId: 'offline-v1' }));
    expect(new Set(parseJsonl(pruned).contents.map((c) => toSchedule(c).id))).toEqual(new Set(best.map((s) => s.id)));
  });

  it('refuses a truncated file, naming the last line', async () => {
    const text = await exportStore(store);
    const cut = text.slice(0, text.length - 40);
    const error = importFailure(cut);
    const lines = cut.split('\n').length;
    expect(lineErrors(error)).toEqual([{ line: lines, message: expect.stringContaining('truncated') }]);
    expect(error.message).toMatch(
      /^1 line of the file is invalid; nothing was imported\. First: line \d+: the file is truncated/,
    );
  });

  it('collects every bad line with its 1-based line number', async () => {
    let text = await exportStore(store);
    text = editLine(text, 2, (r) => ({ ...r, name: '' }));
    text = editLine(text, 8, (r) => ({ ...r, type: 'comment' }));
    text = editLine(text, 9, (r) => ({ ...r, colour: 'blue' }));
    const lines = text.split('\n');
    lines[5] = '{"type":"operation",';
    text = lines.join('\n');
    const error = importFailure(text);
    const errors = lineErrors(error);
    // Line 7's schedule uses the operation of the broken line 6, so it is reported too.
    expect(errors.map((e) => e.line)).toEqual([2, 6, 7, 8, 9]);
    expect(errors[0]!.message).toContain('name');
    expect(errors[1]!.message).toContain('not valid JSON');
    expect(errors[2]!.message).toContain('no earlier line defines');
    expect(errors[3]!.message).toContain('unknown record type "comment"');
    expect(errors[4]!.message).toContain('colour');
    expect(error.message).toMatch(
      /^5 lines of the file are invalid; nothing was imported\. First: line 2: target: name/,
    );
  });

  it('detects a schedule edited after export', async () => {
    const text = editLine(await exportStore(store), 10, (r) => ({ ...r, bestLatencyMs: 0.01 }));
    const errors = lineErrors(importFailure(text));
    expect(errors).toEqual([{ line: 10, message: expect.stringContaining('edited after export') }]);
  });

  it('refuses a schedule whose operation or target is not defined earlier in the file', async () => {
    const text = await exportStore(store);
    const lines = text.trimEnd().split('\n');
    const gpuTargetLine = lines.findIndex((l) => l.includes(`"key":"${gpu.key}"`));
    const missingTarget = `${lines.filter((_, i) => i !== gpuTargetLine).join('\n')}\n`;
    const errors = lineErrors(importFailure(missingTarget));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain(`target ${gpu.key}, which no earlier line defines`);

    // Moving a schedule above the operations breaks its reference.
    const moved = `${[lines[0]!, lines[9]!, ...lines.slice(1, 9)].join('\n')}\n`;
    const movedErrors = lineErrors(importFailure(moved));
    expect(movedErrors.map((e) => e.line)).toEqual([2]);
    expect(movedErrors[0]!.message).toContain('no earlier line defines');
  });

  it('requires the header first and refuses an empty file or a second header', async () => {
    const text = await exportStore(store);
    const withoutHeader = text.split('\n').slice(1).join('\n');
    expect(lineErrors(importFailure(withoutHeader))[0]).toEqual({
      line: 1,
      message: expect.stringContaining('the first line must be the header'),
    });
    expect(lineErrors(importFailure(''))).toEqual([{ line: 1, message: expect.stringContaining('empty') }]);
    const future = editLine(text, 1, (r) => ({ ...r, version: 2 }));
    expect(lineErrors(importFailure(future))[0]!.message).toContain('version');
    const doubled = `${text + text.split('\n')[0]}\n`;
    expect(lineErrors(importFailure(doubled))).toEqual([
      { line: 11, message: expect.stringContaining('second header') },
    ]);
  });

  it('accepts CRLF line ends and a last line without newline when it is complete', async () => {
    const text = await exportStore(store);
    expect(parseJsonl(text.replaceAll('\n', '\r\n')).contents).toHaveLength(4);
    expect(parseJsonl(text.slice(0, -1)).contents).toHaveLength(4);
  });
});
