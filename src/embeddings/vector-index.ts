import hnswlib from 'hnswlib-node';
import { SkbError } from '../schedules/index.js';

/** One vector in an index: the store's integer label and the hardware family it was measured on. */
export interface VectorEntry {
  label: number;
  targetFamily: string;
  vector: Float32Array;
}

export interface Neighbor {
  label: number;
  /** Cosine distance, 1 - cos: 0 for the same direction, 2 for opposite. */
  distance: number;
}

/**
 * A k-nearest-neighbour index over one embedding space. Every search is restricted to one target
 * family: a schedule measured on other hardware is never a neighbour.
 */
export interface VectorIndex {
  readonly dim: number;
  /** Live (not deleted) vectors. */
  readonly size: number;
  /** Adds or replaces vectors; all are checked first, so a bad one leaves the index unchanged. */
  add(entries: VectorEntry[]): void;
  /** Returns false when the label was not in the index. */
  remove(label: number): boolean;
  has(label: number): boolean;
  /** Up to k nearest vectors of `targetFamily`, nearest first. */
  search(vector: Float32Array, k: number, targetFamily: string): Neighbor[];
}

export interface HnswOptions {
  /** Graph degree; default 24. */
  m?: number;
  /** Build-time candidate list; default 200. */
  efConstruction?: number;
  /** Search-time candidate list before the family filter is accounted for; default 128. */
  ef?: number;
}

/** The HNSW index plus what persistence needs. */
export interface HnswIndex extends VectorIndex {
  /** Writes the graph to `path` (the caller makes that atomic). */
  writeFile(path: string): void;
  /** Live labels grouped by family, for the sidecar metadata. */
  familyLabels(): Record<string, number[]>;
}

/** Families this small are scanned exactly: a filtered graph walk would visit most of the graph to find them. */
const EXACT_FAMILY_LIMIT = 512;
const INITIAL_CAPACITY = 1024;

/** Checks a vector against the index's space before anything is changed. */
export function checkVector(vector: Float32Array, dim: number, what: string): void {
  if (vector.length !== dim) {
    throw new SkbError(
      'EMBEDDING_SPACE_MISMATCH',
      `${what} has dimension ${vector.length} but this embedding space has dimension ${dim}; embed it with the embedder that built the index.`,
      { expected: dim, got: vector.length },
    );
  }
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
  if (!Number.isFinite(norm) || norm === 0) {
    throw new SkbError('BAD_INPUT', `${what} is zero or not finite; cosine distance is undefined for it.`);
  }
}

class FamilyBook {
  readonly familyOf = new Map<number, string>();
  readonly counts = new Map<string, number>();

  set(label: number, family: string): void {
    const old = this.familyOf.get(label);
    if (old !== undefined) this.counts.set(old, this.counts.get(old)! - 1);
    this.familyOf.set(label, family);
    this.counts.set(family, (this.counts.get(family) ?? 0) + 1);
  }

  delete(label: number): boolean {
    const old = this.familyOf.get(label);
    if (old === undefined) return false;
    this.familyOf.delete(label);
    this.counts.set(old, this.counts.get(old)! - 1);
    return true;
  }

  grouped(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [label, family] of this.familyOf) {
      out[family] ??= [];
      out[family].push(label);
    }
    for (const labels of Object.values(out)) labels.sort((a, b) => a - b);
    return out;
  }
}

/**
 * An HNSW index (hnswlib-node, cosine space). `loadFrom` reads a graph written by `writeFile`;
 * `families` must then list its live labels (the graph file does not know about families).
 */
export function createHnswIndex(
  options: { dim: number; loadFrom?: string; families?: Record<string, number[]> } & HnswOptions,
): HnswIndex {
  const { dim } = options;
  const baseEf = options.ef ?? 128;
  const native = new hnswlib.HierarchicalNSW('cosine', dim);
  const book = new FamilyBook();
  // Labels that may still sit in the graph marked deleted: re-adding one must revive its own slot,
  // because recycling another slot under a label the graph still maps would corrupt its lookup.
  const deletedInGraph = new Set<number>();
  if (options.loadFrom) {
    native.readIndexSync(options.loadFrom, true);
    if (native.getNumDimensions() !== dim) throw new Error(`graph has dimension ${native.getNumDimensions()}`);
    const present = new Set(native.getIdsList());
    for (const [family, labels] of Object.entries(options.families ?? {})) {
      for (const label of labels) {
        if (!present.has(label)) throw new Error(`label ${label} is listed but not in the graph`);
        book.set(label, family);
      }
    }
    for (const label of present) if (!book.familyOf.has(label)) deletedInGraph.add(label);
  } else {
    native.initIndex({
      maxElements: INITIAL_CAPACITY,
      m: options.m ?? 24,
      efConstruction: options.efConstruction ?? 200,
      randomSeed: 100,
      allowReplaceDeleted: true,
    });
  }

  /** Unmarks a deleted label so addPoint can update it in place; false when its slot was recycled. */
  function revive(label: number): boolean {
    try {
      native.unmarkDelete(label);
      return true;
    } catch {
      return false;
    }
  }

  function exactWithinFamily(query: number[], k: number, family: string): Neighbor[] {
    let qn = 0;
    for (const x of query) qn += x * x;
    qn = Math.sqrt(qn);
    const out: Neighbor[] = [];
    for (const [label, f] of book.familyOf) {
      if (f !== family) continue;
      // Stored points are already normalized by the cosine space.
      const p = native.getPoint(label);
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += p[i]! * query[i]!;
      out.push({ label, distance: 1 - dot / qn });
    }
    return out.sort((a, b) => a.distance - b.distance || a.label - b.label).slice(0, k);
  }

  return {
    dim,
    get size() {
      return book.familyOf.size;
    },
    add(entries) {
      entries.forEach((e, i) => {
        checkVector(e.vector, dim, `Vector ${i} (label ${e.label})`);
        if (!Number.isSafeInteger(e.label) || e.label < 0)
          throw new SkbError('BAD_INPUT', `Label ${e.label} is not a non-negative integer.`);
      });
      const needed = native.getCurrentCount() + entries.length;
      if (needed > native.getMaxElements()) native.resizeIndex(Math.max(needed, native.getMaxElements() * 2));
      for (const e of entries) {
        const point = Array.from(e.vector);
        if (deletedInGraph.delete(e.label) && revive(e.label)) native.addPoint(point, e.label, false);
        else native.addPoint(point, e.label, !book.familyOf.has(e.label));
        book.set(e.label, e.targetFamily);
      }
    },
    remove(label) {
      if (!book.delete(label)) return false;
      native.markDelete(label);
      deletedInGraph.add(label);
      return true;
    },
    has(label) {
      return book.familyOf.has(label);
    },
    search(vector, k, family) {
      checkVector(vector, dim, 'The query vector');
      const familyCount = book.counts.get(family) ?? 0;
      const want = Math.min(k, familyCount);
      if (want <= 0) return [];
      const query = Array.from(vector);
      if (familyCount <= EXACT_FAMILY_LIMIT) return exactWithinFamily(query, want, family);
      // The filter throws away the other families' nodes, so the candidate list must grow with their share.
      const share = familyCount / book.familyOf.size;
      let ef = Math.min(book.familyOf.size, Math.ceil(Math.max(baseEf, want) / share));
      const filter = (label: number): boolean => book.familyOf.get(label) === family;
      for (;;) {
        native.setEf(ef);
        const result = native.searchKnn(query, Math.min(want, native.getMaxElements()), filter);
        if (result.neighbors.length >= want || ef >= book.familyOf.size) {
          return result.neighbors.map((label, i) => ({ label, distance: result.distances[i]! }));
        }
        ef = Math.min(book.familyOf.size, ef * 4);
      }
    },
    writeFile(path) {
      native.writeIndexSync(path);
    },
    familyLabels() {
      return book.grouped();
    },
  };
}

/**
 * Exact nearest neighbours by scanning every vector: the reference the HNSW index is measured
 * against, and fast enough for small knowledge bases.
 */
export function createExactIndex(options: { dim: number }): VectorIndex {
  const { dim } = options;
  const vectors = new Map<number, { family: string; unit: Float32Array }>();
  const unit = (v: Float32Array): Float32Array => {
    let n = 0;
    for (let i = 0; i < dim; i++) n += v[i]! * v[i]!;
    const s = 1 / Math.sqrt(n);
    return Float32Array.from(v, (x) => x * s);
  };
  return {
    dim,
    get size() {
      return vectors.size;
    },
    add(entries) {
      for (const [i, e] of entries.entries()) checkVector(e.vector, dim, `Vector ${i} (label ${e.label})`);
      for (const e of entries) vectors.set(e.label, { family: e.targetFamily, unit: unit(e.vector) });
    },
    remove(label) {
      return vectors.delete(label);
    },
    has(label) {
      return vectors.has(label);
    },
    search(vector, k, family) {
      checkVector(vector, dim, 'The query vector');
      const q = unit(vector);
      const out: Neighbor[] = [];
      for (const [label, entry] of vectors) {
        if (entry.family !== family) continue;
        let dot = 0;
        for (let i = 0; i < dim; i++) dot += entry.unit[i]! * q[i]!;
        out.push({ label, distance: 1 - dot });
      }
      out.sort((a, b) => a.distance - b.distance || a.label - b.label);
      return out.slice(0, k);
    },
  };
}
