// What the package ships as knowledge: the CPU reference pack must hold searches worth reusing on
// the layers people tune, made by the search as it is now (flat steps, evidence, budgets of 64+).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJsonl, REPLAY_OPTION_ID, toSchedule } from '../../src/schedules/index.js';
import { PACKAGE_SEED_PACKS, readSeedPackManifest } from '../../src/search/seed-packs.js';

async function shippedCpuPack() {
  const packs = await readSeedPackManifest(PACKAGE_SEED_PACKS);
  const pack = packs.find((p) => p.name === 'cpu-reference')!;
  const text = await readFile(join(PACKAGE_SEED_PACKS, '..', pack.file), 'utf8');
  return { pack, schedules: parseJsonl(text).contents.map(toSchedule) };
}

const FAMILIES = ['gemm', 'batched_gemm', 'conv2d', 'matvec', 'softmax', 'layernorm'];

describe('the shipped cpu-reference pack', () => {
  it('holds at least 60 schedules over the six CPU families, each from a search of budget 64 or more', async () => {
    const { pack, schedules } = await shippedCpuPack();
    expect(pack.version).toBeGreaterThanOrEqual(6);
    expect(schedules.length).toBeGreaterThanOrEqual(60);
    const perFamily = new Map<string, number>();
    for (const s of schedules) perFamily.set(s.operation.kind, (perFamily.get(s.operation.kind) ?? 0) + 1);
    for (const kind of FAMILIES) expect(perFamily.get(kind) ?? 0, kind).toBeGreaterThanOrEqual(5);
    for (const s of schedules) {
      expect(Number(s.settings.budget), s.id).toBeGreaterThanOrEqual(64);
      expect(s.bestLatencyMs, s.id).toBeLessThan(s.baselineLatencyMs);
    }
  });

  it('covers the layers named in the README: ResNet-50 convolutions, BERT projections, LLM decode matvecs', async () => {
    const { schedules } = await shippedCpuPack();
    const has = (kind: string, dims: Record<string, number>, attrs: Record<string, number> = {}) =>
      schedules.some(
        (s) =>
          s.operation.kind === kind &&
          Object.entries(dims).every(([k, v]) => s.operation.dims[k] === v) &&
          Object.entries(attrs).every(([k, v]) => s.operation.attrs[k] === v),
      );
    expect(has('conv2d', { C: 64, H: 56, K: 64, R: 3 }, { pad: 1 })).toBe(true);
    expect(has('conv2d', { C: 1024, H: 14, K: 256, R: 1 })).toBe(true);
    expect(has('gemm', { M: 128, N: 768, K: 3072 })).toBe(true);
    expect(has('matvec', { M: 4096, K: 4096 })).toBe(true);
    expect(has('layernorm', { N: 768 })).toBe(true);
    expect(has('softmax', { M: 2048, N: 2048 })).toBe(true);
  });

  it('stores replays flat, names the seeds it grew from, and says how each schedule was judged and built', async () => {
    const { schedules } = await shippedCpuPack();
    const ids = new Set(schedules.map((s) => s.id));
    for (const s of schedules) {
      expect(s.steps.map((x) => x.optionId)).not.toContain(REPLAY_OPTION_ID);
      for (const x of s.steps) if (x.replayOf) expect(ids.has(x.replayOf.scheduleId), s.id).toBe(true);
      expect(s.evidence?.toolchain.compiler, s.id).toMatch(/gcc/);
      expect(s.evidence?.correctness?.trials, s.id).toBeGreaterThan(0);
    }
    // Warm start was on, so later shapes grew from earlier ones.
    expect(schedules.filter((s) => (s.derivedFrom ?? []).length > 0).length).toBeGreaterThanOrEqual(10);
  });
});
