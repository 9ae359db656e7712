import { describe, expect, it } from 'vitest';
import {
  createExactIndex,
  createHnswIndex,
  type VectorEntry,
  type VectorIndex,
} from '../../src/embeddings/vector-index.js';
import { SkbError } from '../../src/schedules/index.js';
import { makeVector } from '../support/fixtures.js';

const DIM = 64;
const FAMILIES = ['cpu-aaaaaaaaaaaa', 'cpu-bbbbbbbbbbbb', 'gpu-cccccccccccc'];

function entries(n: number, dim = DIM, familyOf = (i: number) => FAMILIES[i % FAMILIES.length]!): VectorEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    label: i + 1,
    targetFamily: familyOf(i),
    vector: makeVector(dim, i + 1),
  }));
}

const implementations: Array<[string, (dim: number) => VectorIndex]> = [
  ['hnsw', (dim) => createHnswIndex({ dim })],
  ['exact', (dim) => createExactIndex({ dim })],
];

describe.each(implementations)('vector index contract: %s', (_name, make) => {
  it('returns only the asked family, nearest first, and finds a stored vector at distance 0', () => {
    const index = make(DIM);
    const data = entries(3000);
    index.add(data);
    expect(index.size).toBe(3000);
    const familyOf = new Map(data.map((e) => [e.label, e.targetFamily]));
    for (let q = 0; q < 30; q++) {
      const target = data[q * 97]!;
      for (const family of FAMILIES) {
        const hits = index.search(target.vector, 10, family);
        expect(hits).toHaveLength(10);
        expect(hits.every((h) => familyOf.get(h.label) === family)).toBe(true);
        for (let i = 1; i < hits.length; i++)
          expect(hits[i]!.distance).toBeGreaterThanOrEqual(hits[i - 1]!.distance - 1e-6);
        if (family === target.targetFamily) {
          expect(hits[0]!.label).toBe(target.label);
          expect(hits[0]!.distance).toBeCloseTo(0, 5);
        }
      }
    }
    expect(index.search(data[0]!.vector, 10, 'gpu-000000000000')).toEqual([]);
  });

  it('never returns a removed vector and can add it back', () => {
    const index = make(DIM);
    const data = entries(2000);
    index.add(data);
    const victim = data[5]!;
    expect(index.search(victim.vector, 1, victim.targetFamily)[0]!.label).toBe(victim.label);
    expect(index.remove(victim.label)).toBe(true);
    expect(index.remove(victim.label)).toBe(false);
    expect(index.has(victim.label)).toBe(false);
    expect(index.size).toBe(1999);
    const after = index.search(victim.vector, 50, victim.targetFamily);
    expect(after.map((h) => h.label)).not.toContain(victim.label);
    index.add([victim]);
    expect(index.search(victim.vector, 1, victim.targetFamily)[0]!.label).toBe(victim.label);
  });

  it('refuses a vector of another dimension and changes nothing', () => {
    const index = make(DIM);
    index.add(entries(10));
    const bad = [
      ...entries(3).map((e) => ({ ...e, label: e.label + 100 })),
      { label: 999, targetFamily: FAMILIES[0]!, vector: makeVector(DIM + 1, 5) },
    ];
    let caught: unknown;
    try {
      index.add(bad);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SkbError);
    expect((caught as SkbError).code).toBe('EMBEDDING_SPACE_MISMATCH');
    expect(index.size).toBe(10);
    expect(index.has(101)).toBe(false);
    expect(() => index.search(makeVector(DIM - 1, 1), 5, FAMILIES[0]!)).toThrow(/dimension 63/);
  });

  it('moves a vector to its new family when it is added again under another family', () => {
    const index = make(DIM);
    const data = entries(1200);
    index.add(data);
    const moved = { ...data[0]!, targetFamily: 'gpu-dddddddddddd' };
    index.add([moved]);
    expect(index.size).toBe(1200);
    expect(index.search(moved.vector, 3, 'gpu-dddddddddddd').map((h) => h.label)).toEqual([moved.label]);
    expect(index.search(moved.vector, 10, data[0]!.targetFamily).map((h) => h.label)).not.toContain(moved.label);
  });
});

describe('HNSW against exact brute force', () => {
  it('has recall@10 of at least 0.95 on 10,000 random vectors of dimension 64', () => {
    const n = 10_000;
    const family = 'cpu-aaaaaaaaaaaa';
    const data = entries(n, DIM, () => family);
    const hnsw = createHnswIndex({ dim: DIM });
    const exact = createExactIndex({ dim: DIM });
    hnsw.add(data);
    exact.add(data);
    const queries = 300;
    let found = 0;
    for (let q = 0; q < queries; q++) {
      const query = makeVector(DIM, 1_000_000 + q);
      const truth = new Set(exact.search(query, 10, family).map((h) => h.label));
      found += hnsw.search(query, 10, family).filter((h) => truth.has(h.label)).length;
    }
    const recall = found / (queries * 10);
    expect(recall).toBeGreaterThanOrEqual(0.95);
  });

  it('keeps recall when the asked family is a small share of the index (selective filter)', () => {
    const n = 10_000;
    // One vector in 12 belongs to the rare family: 834 of them, above the exact-scan cut-off.
    const data = entries(n, DIM, (i) => (i % 12 === 0 ? 'gpu-rrrrrrrrrrrr' : 'cpu-aaaaaaaaaaaa'));
    const hnsw = createHnswIndex({ dim: DIM });
    const exact = createExactIndex({ dim: DIM });
    hnsw.add(data);
    exact.add(data);
    let found = 0;
    const queries = 100;
    for (let q = 0; q < queries; q++) {
      const query = makeVector(DIM, 2_000_000 + q);
      const truth = new Set(exact.search(query, 10, 'gpu-rrrrrrrrrrrr').map((h) => h.label));
      const hits = hnsw.search(query, 10, 'gpu-rrrrrrrrrrrr');
      expect(hits).toHaveLength(10);
      found += hits.filter((h) => truth.has(h.label)).length;
    }
    expect(found / (queries * 10)).toBeGreaterThanOrEqual(0.95);
  });
});
