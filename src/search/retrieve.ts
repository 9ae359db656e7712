import {
  SkbError,
  shapeKey,
  structureKey,
  toolchainVersionsOf,
  type Operation,
  type ReuseStats,
  type ReuseTier,
  type Fingerprint,
  type Revalidation,
  type Schedule,
  type Store,
  type TargetRecord,
} from '../schedules/index.js';
import type { Embedder } from '../embeddings/embedder.js';
import { widestVector } from '../targets/index.js';
import type { VectorIndex } from '../embeddings/vector-index.js';
import type { RetrievalMatch, SimilarQuery } from './knowledge-base.js';
import type { ShapeCatalog } from './shape-catalog.js';
import { bestK } from './best-k.js';
import { compareShapes, shapeDistance } from './shape-distance.js';

export interface RetrieveDeps {
  store: Store;
  /** The ANN index of `embedder`'s space. */
  index: VectorIndex;
  embedder: Embedder;
  /** Sizes of stored schedules by structure, for the exact and same-structure tiers. */
  catalog: ShapeCatalog;
}

const ALL_TIERS: readonly ReuseTier[] = ['exact', 'structure', 'similar', 'transfer'];
const TIER_BASE: Record<ReuseTier, number> = { exact: 3, structure: 2, similar: 1, transfer: 0 };
const MAX_K = 1000;

/**
 * A score in (base, base + 1): closeness counts most, then speedup (log2, saturating at 16x),
 * so a tier never overtakes the one above it.
 */
function score(tier: ReuseTier, closeness: number, speedup: number, transferFactor = 1): number {
  const gain = Math.min(1, Math.log2(Math.max(1, speedup)) / 4);
  const quality = 0.7 * Math.max(0, Math.min(1, closeness)) + 0.3 * gain;
  // Past reuses move a schedule within its tier only: up towards 1 or down towards 0, never past either.
  const adjusted = transferFactor >= 1 ? 1 - (1 - quality) / transferFactor : quality * transferFactor;
  return TIER_BASE[tier] + 0.999 * adjusted;
}

const TRANSFER_MIN = 0.5;
const TRANSFER_MAX = 2;

/**
 * How well a schedule transferred when it seeded earlier searches: a factor on its score within
 * its tier (bounded to [0.5, 2]; 1 when never judged), and a note for the reason.
 */
export function transferOf(stats: ReuseStats | undefined): { factor: number; note: string } {
  const judged = stats ? stats.improved + stats.replayed + stats.failed + stats.notImproved : 0;
  if (!stats || judged === 0) return { factor: 1, note: '' };
  const raw = (1 + stats.improved + 0.5 * stats.replayed) / (1 + stats.failed + 0.5 * stats.notImproved);
  const well = stats.improved + stats.replayed;
  return {
    factor: Math.max(TRANSFER_MIN, Math.min(TRANSFER_MAX, raw)),
    note: `; transferred well ${well} of ${judged} time${judged === 1 ? '' : 's'}`,
  };
}

/** Score factor of a schedule measured with other toolchain versions than the target's and not revalidated since. */
const OTHER_TOOLCHAIN_FACTOR = 0.8;
/** Score factor of a schedule whose newest revalidation flagged it (incorrect, slower, failed). */
const FLAGGED_FACTOR = 0.5;

/** Versions of `theirs` that differ from `here`, as "compiler gcc 12 (here gcc 13)" phrases. */
function versionChanges(theirs: Record<string, string>, here: Record<string, string>): string[] {
  return Object.entries(here)
    .filter(([tool, version]) => theirs[tool] !== undefined && theirs[tool] !== version)
    .map(([tool, version]) => `${tool} ${theirs[tool]} (this target: ${version})`);
}

/**
 * Whether schedules measured on `other` may seed searches on `here` through the transfer tier:
 * another family of the same kind, and for CPUs the same architecture (the templates re-fit vector
 * width and tiles to the ISA; code for another architecture would not build).
 */
function transfersTo(other: TargetRecord, here: TargetRecord): boolean {
  if (other.family === here.family || other.fingerprint.kind !== here.fingerprint.kind) return false;
  return (
    other.fingerprint.kind === 'gpu' ||
    (here.fingerprint.kind === 'cpu' && other.fingerprint.arch === here.fingerprint.arch)
  );
}

/** The hardware of a fingerprint in a few words: CPU model or GPU name. */
function describeHardware(fp: Fingerprint): string {
  return fp.kind === 'cpu' ? fp.model : fp.name;
}

/** What the transfer re-fits, from the hardware it was measured on to this target, for the reason. */
function refitNote(from: Fingerprint, to: Fingerprint): string {
  if (from.kind === 'cpu' && to.kind === 'cpu') {
    const kib = (b?: number) => (b ? `${Math.round(b / 1024)} KiB` : 'unknown');
    const threads = (fp: typeof from) => fp.threads ?? 1;
    const cores =
      threads(from) === threads(to)
        ? ''
        : `, to ${threads(to)} thread${threads(to) === 1 ? '' : 's'} (there ${threads(from)})`;
    return `re-fitted to this CPU's ${widestVector(to.isa)}-float vectors (there ${widestVector(from.isa)}) and its L2 of ${kib(to.caches.l2)} (there ${kib(from.caches.l2)})${cores}`;
  }
  if (from.kind === 'gpu' && to.kind === 'gpu')
    return `re-fitted to this GPU's ${to.smCount} SMs, compute capability ${to.computeCapability} (there ${from.smCount}, ${from.computeCapability})`;
  return 're-fitted to this hardware';
}

function describeOperation(op: Operation): string {
  const dims = Object.entries(op.dims)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${op.kind} ${dims} ${op.dtype}${op.layout ? ` ${op.layout}` : ''}${op.epilogue.length ? ` +${op.epilogue.join('+')}` : ''}`;
}

function outcome(s: Schedule): string {
  return `${s.speedup.toFixed(2)}x on that shape in ${s.steps.length} step${s.steps.length === 1 ? '' : 's'}`;
}

/** Ids compared by code unit: deterministic, and far cheaper than localeCompare when ranking thousands. */
function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byScore(a: RetrievalMatch, b: RetrievalMatch): number {
  return b.score - a.score || byId(a.schedule.id, b.schedule.id);
}

/**
 * Schedules to warm-start a search for `query.operation` on `query.targetKey`, in three tiers:
 * exact (same shapeKey), same structure (same structureKey, ranked by shape distance) and similar
 * (nearest in the embedding index). Only schedules measured on the target's hardware family are
 * ever returned. At most `k` matches, best score first.
 */
export async function retrieve(deps: RetrieveDeps, query: SimilarQuery): Promise<RetrievalMatch[]> {
  const { store, index, embedder, catalog } = deps;
  const { operation: op, k } = query;
  if (!Number.isInteger(k) || k < 1 || k > MAX_K)
    throw new SkbError('BAD_INPUT', `k must be an integer from 1 to ${MAX_K}, not ${k}.`);
  const tiers = new Set(query.tiers && query.tiers.length > 0 ? query.tiers : ALL_TIERS);
  const target = await store.getTarget(query.targetKey);
  if (!target) {
    throw new SkbError(
      'NOT_FOUND',
      `No target with key ${query.targetKey} is stored: pass the key of a known target (see the targets list), or import schedules measured on it first.`,
    );
  }
  const family = target.family;
  const here = toolchainVersionsOf(target.fingerprint);
  const versionsOfTarget = new Map<string, Record<string, string> | null>();
  /**
   * How far a schedule's measurement can be trusted on this target: its newest revalidation, if
   * flagged, or its toolchain versions (its evidence's, else its target's) against this target's.
   * A factor on its score within its tier, and a note for the reason.
   */
  const trust = async (s: Schedule, latest: Revalidation | undefined): Promise<{ factor: number; note: string }> => {
    if (latest && latest.status !== 'holds')
      return {
        factor: FLAGGED_FACTOR,
        note: `; revalidated ${latest.measuredAt.slice(0, 10)}: ${latest.status} (${latest.message})`,
      };
    let theirs = s.evidence?.toolchain ?? null;
    if (!theirs) {
      if (!versionsOfTarget.has(s.targetKey)) {
        const record = await store.getTarget(s.targetKey);
        versionsOfTarget.set(s.targetKey, record ? toolchainVersionsOf(record.fingerprint) : null);
      }
      theirs = versionsOfTarget.get(s.targetKey) ?? null;
    }
    const changes = versionChanges(latest ? latest.toolchain : (theirs ?? {}), here);
    if (changes.length === 0)
      return { factor: 1, note: latest ? `; revalidated ${latest.measuredAt.slice(0, 10)}: holds` : '' };
    return {
      factor: OTHER_TOOLCHAIN_FACTOR,
      note: `; ${latest ? 'last revalidated' : 'measured'} with ${changes.join(', ')}: not revalidated with this toolchain`,
    };
  };
  /** Scores and reasons of loaded matches adjusted by trust, best first. */
  const trusted = async (found: RetrievalMatch[]): Promise<RetrievalMatch[]> => {
    const latest = await store.latestRevalidations(found.map((m) => m.schedule.id));
    const adjusted: RetrievalMatch[] = [];
    for (const m of found) {
      const t = await trust(m.schedule, latest.get(m.schedule.id));
      const tierBase = TIER_BASE[m.tier];
      adjusted.push(
        t.factor === 1 && !t.note
          ? m
          : {
              ...m,
              // Within the tier, as transfer: the score's fraction above the tier's base shrinks by the factor.
              score: tierBase + (m.score - tierBase) * t.factor,
              reason: `${m.reason}${t.note}`,
            },
      );
    }
    return adjusted.sort(byScore);
  };
  const matches: RetrievalMatch[] = [];
  const taken = new Set<string>();
  const take = (m: RetrievalMatch): void => {
    matches.push(m);
    taken.add(m.schedule.id);
  };
  const myShape = shapeKey(op);

  const needCatalog = tiers.has('exact') || tiers.has('structure');
  const entries = needCatalog ? await catalog.entries(structureKey(op), family) : [];
  // Outcomes of past reuses of every schedule of the structure (kept by the catalog); the similar tier adds its own.
  const stats = new Map(needCatalog ? await catalog.reuseStats(structureKey(op), family) : []);
  const transfer = (id: string): { factor: number; note: string } => transferOf(stats.get(id));
  /**
   * Full schedules of the chosen entries, in the given order. The catalog groups by family and an
   * id fixes the content (so the target), so no family filter is needed; adding one lets SQLite
   * pick the family index and scan the whole family instead of looking the ids up.
   */
  const load = async (ids: string[]): Promise<Schedule[]> => {
    if (ids.length === 0) return [];
    const byId = new Map((await store.allSchedules({ ids })).map((s) => [s.id, s]));
    return ids.map((id) => byId.get(id)).filter((s): s is Schedule => s !== undefined);
  };

  if (tiers.has('exact')) {
    // The exact score depends only on speedup, so the best k are known before anything is read.
    const best = bestK(
      entries
        .filter((e) => e.shapeKey === myShape)
        .map((e) => ({ id: e.id, score: score('exact', 1, e.speedup, transfer(e.id).factor) })),
      // Twice as many as asked: trust (read with the schedules) may reorder them.
      2 * k,
      (a, b) => b.score - a.score || byId(a.id, b.id),
    );
    const exact = (await load(best.map((e) => e.id)))
      .map(
        (s): RetrievalMatch => ({
          schedule: s,
          tier: 'exact',
          distance: 0,
          score: score('exact', 1, s.speedup, transfer(s.id).factor),
          reason: `exact: same operation and sizes on this hardware family${s.targetKey === query.targetKey ? ' (same target)' : ''}; ${outcome(s)}${transfer(s.id).note}`,
        }),
      )
      .sort(byScore);
    (await trusted(exact)).slice(0, k).forEach(take);
  }

  if (tiers.has('structure') && matches.length < k) {
    const ranked = bestK(
      entries
        .filter((e) => e.shapeKey !== myShape && !taken.has(e.id))
        .map((e) => {
          const distance = shapeDistance(op.dims, e.dims);
          return {
            id: e.id,
            dims: e.dims,
            score: score('structure', 1 / (1 + distance), e.speedup, transfer(e.id).factor),
          };
        }),
      2 * (k - matches.length),
      (a, b) => b.score - a.score || byId(a.id, b.id),
    );
    const schedules = new Map((await load(ranked.map((r) => r.id))).map((s) => [s.id, s]));
    const structural: RetrievalMatch[] = [];
    for (const { id, dims, score: sc } of ranked) {
      const s = schedules.get(id);
      if (!s) continue;
      const cmp = compareShapes(op.dims, dims);
      const kin = [
        cmp.divisible ? 'sizes divide' : '',
        cmp.sameAspect ? 'same aspect ratio' : '',
        cmp.shared >= 2 ? `${cmp.shared} shared dimensions` : '',
      ]
        .filter(Boolean)
        .join(', ');
      structural.push({
        schedule: s,
        tier: 'structure',
        distance: cmp.distance,
        score: sc,
        reason: `same structure; that shape has ${cmp.changes.join(', ')}${kin ? ` (${kin})` : ''}; ${outcome(s)}${transfer(id).note}`,
      });
    }
    (await trusted(structural)).slice(0, k - matches.length).forEach(take);
  }

  if (tiers.has('similar') && matches.length < k && index.size > 0) {
    const [vector] = await embedder.embed([{ operation: op }]);
    // Over-fetch by what is already taken, since those may be among the nearest.
    const neighbors = index.search(vector!, k - matches.length + taken.size, family);
    const schedules = await store.schedulesByLabels(neighbors.map((n) => n.label));
    // schedulesByLabels keeps the order of the labels and drops unknown ones; only when some were
    // dropped (an index behind the store) must each schedule's label be looked up.
    const labels =
      schedules.length === neighbors.length
        ? neighbors.map((n) => n.label)
        : await (async () => {
            const labelOf = new Map(
              (await store.scheduleLabels(schedules.map((s) => s.id))).map((f) => [f.scheduleId, f.label]),
            );
            return schedules.map((s) => labelOf.get(s.id) ?? -1);
          })();
    const distanceOf = new Map(neighbors.map((n) => [n.label, n.distance]));
    const familyOfTarget = new Map<string, string | undefined>([[target.key, family]]);
    const similar: RetrievalMatch[] = [];
    for (const r of await store.reuseStats(schedules.filter((s) => !stats.has(s.id)).map((s) => s.id)))
      stats.set(r.scheduleId, r);
    for (const [i, s] of schedules.entries()) {
      if (!familyOfTarget.has(s.targetKey))
        familyOfTarget.set(s.targetKey, (await store.getTarget(s.targetKey))?.family);
      // The index filters by family already; the store is asked again so a stale index can never leak another family.
      if (familyOfTarget.get(s.targetKey) !== family || taken.has(s.id)) continue;
      const distance = Math.max(0, distanceOf.get(labels[i]!) ?? 2);
      similar.push({
        schedule: s,
        tier: 'similar',
        distance,
        score: score('similar', 1 - distance, s.speedup, transfer(s.id).factor),
        reason: `similar (embedding distance ${distance.toFixed(3)}): ${describeOperation(s.operation)}; ${outcome(s)}${transfer(s.id).note}`,
      });
    }
    (await trusted(similar)).slice(0, k - matches.length).forEach(take);
  }

  // Other hardware, only where this family has too few: labelled, and never as measured here.
  if (tiers.has('transfer') && matches.length < k) {
    const others = (await store.listTargets()).filter((t) => transfersTo(t, target));
    const recordOf = new Map(others.map((t) => [t.key, t]));
    const ranked: Array<{ id: string; dims: Record<string, number>; score: number }> = [];
    for (const otherFamily of new Set(others.map((t) => t.family))) {
      for (const e of await catalog.entries(structureKey(op), otherFamily)) {
        if (taken.has(e.id)) continue;
        ranked.push({
          id: e.id,
          dims: e.dims,
          score: score('transfer', 1 / (1 + shapeDistance(op.dims, e.dims)), e.speedup),
        });
      }
    }
    const best = bestK(ranked, 2 * (k - matches.length), (a, b) => b.score - a.score || byId(a.id, b.id));
    const schedules = new Map((await load(best.map((r) => r.id))).map((s) => [s.id, s]));
    const transferred: RetrievalMatch[] = [];
    for (const { id, dims, score: sc } of best) {
      const s = schedules.get(id);
      const from = s ? recordOf.get(s.targetKey) : undefined;
      if (!s || !from) continue;
      const cmp = compareShapes(op.dims, dims);
      transferred.push({
        schedule: s,
        tier: 'transfer',
        distance: cmp.distance,
        score: sc,
        reason: `transfer: same structure measured on other hardware (${from.name}, ${describeHardware(from.fingerprint)}), not on this target; that shape has ${cmp.changes.join(', ')}; ${outcome(s)} there; ${refitNote(from.fingerprint, target.fingerprint)}`,
      });
    }
    (await trusted(transferred)).slice(0, k - matches.length).forEach(take);
  }

  return matches.sort(byScore);
}
