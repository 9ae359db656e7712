/**
 * A small seeded generator (mulberry32): a search with the same seed and the same replies draws
 * the same dropout masks and the same choices, so it is reproducible.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** A new independent generator derived from this one (e.g. one per plan sample). */
  fork(): Rng;
  /** The generator's state, to persist and resume it. */
  state(): number;
}

/** A generator started from a 32-bit seed. */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    fork: () => createRng(Math.floor(next() * 4294967296)),
    state: () => s,
  };
}

/** A 32-bit seed from several integers (FNV-1a over their bytes, then an avalanche): one generator per (seed, iteration, parent, slot). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    let v = part >>> 0;
    for (let i = 0; i < 4; i++) {
      h = Math.imul(h ^ (v & 0xff), 0x01000193);
      v >>>= 8;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
