import { describe, expect, it } from 'vitest';
import { bestK } from '../../src/search/best-k.js';
import { createRng } from '../../src/search/rng.js';

describe('bestK', () => {
  const byScoreThenId = (a: { id: number; score: number }, b: { id: number; score: number }) =>
    b.score - a.score || a.id - b.id;

  it('gives what a full sort and slice gives, ties included, for every k', () => {
    const random = createRng(7);
    // Scores from a small set, so many items tie and the id must break them.
    const items = Array.from({ length: 500 }, (_, id) => ({ id, score: random.int(20) }));
    const sorted = [...items].sort(byScoreThenId);
    for (const k of [1, 2, 3, 10, 99, 499, 500, 1000]) {
      expect(bestK(items, k, byScoreThenId)).toEqual(sorted.slice(0, k));
    }
  });

  it('returns nothing for k of zero or less, and everything sorted when k exceeds the items', () => {
    expect(bestK([3, 1, 2], 0, (a, b) => a - b)).toEqual([]);
    expect(bestK([3, 1, 2], -1, (a, b) => a - b)).toEqual([]);
    expect(bestK([3, 1, 2], 5, (a, b) => a - b)).toEqual([1, 2, 3]);
  });
});
