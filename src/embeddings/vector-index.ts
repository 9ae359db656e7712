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
  /** Search-time candidate list; default 128 (k when k is larger). */
  ef?: number;
}

/** One family's saved graph, as `createHnswIndex` loads it. */
export interface SavedFamilyGraph {
  family: string;
  path: string;
  /** The graph's live labels (the graph file also holds deleted ones and does not know which). */
  labels: number[];
}

/** The HNSW index plus what persistence needs. */
export interface HnswIndex extends VectorIndex {
  /** Families with live vectors, in a stable order. */
  families(): string[];
  /** Writes one family's graph to `path` (the caller makes that atomic). */
  writeFamily(family: string, path: string): void;
  /** The live labels of one family, ascending. */
  labelsOf(family: string): number[];
}

/** Families this small are scanned exactly: the scan is as fast as a graph walk and exact. */
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

/**
 * The HNSW graph of one hardware family (hnswlib-node, cosine space). Searches never cross
 * families, so each family has a graph of its own: a walk visits only nodes it may return, with no
 * per-node filter call back into JavaScript and no candidate list widened by the other families' share.
 */
class FamilyGraph {
  private readonly native: hnswlib.HierarchicalNSW;
  readonly live = new Set<number>();
  // Labels that may still sit in the graph marked deleted: re-adding one must revive its own slot,
  // because recycling another slot under a label the graph still maps would corrupt its lookup.
  private readonly deletedInGraph = new Set<number>();

  constructor(
    private readonly dim: number,
    private readonly options: HnswOptions,
    saved?: SavedFamilyGraph,
  ) {
    this.native = new hnswlib.HierarchicalNSW('cosine', dim);
    if (saved) {
      this.native.readIndexSync(saved.path, true);
      if (this.native.getNumDimensions() !== dim)
        throw new Error(`graph has dimension ${this.native.getNumDimensions()}`);
      const present = new Set(this.native.getIdsList());
      for (const label of saved.labels) {
        if (!present.has(label)) throw new Error(`label ${label} is listed but not in the graph of ${saved.family}`);
        this.live.add(label);
      }
      for (const label of present) if (!this.live.has(label)) this.deletedInGraph.add(label);
    } else {
      this.native.initIndex({
        maxElements: INITIAL_CAPACITY,
        m: options.m ?? 24,
        efConstruction: options.efConstruction ?? 200,
        randomSeed: 100,
        allowReplaceDeleted: true,
      });
    }
  }

  add(label: number, point: number[]): void {
    if (this.native.getCurrentCount() + 1 > this.native.getMaxElements())
      this.native.resizeIndex(this.native.getMaxElements() * 2);
    if (this.deletedInGraph.delete(label) && this.revive(label)) this.native.addPoint(point, label, false);
    else this.native.addPoint(point, label, !this.live.has(label));
    this.live.add(label);
  }

  remove(label: number): void {
    if (!this.live.delete(label)) return;
    this.native.markDelete(label);
    this.deletedInGraph.add(label);
  }

  search(query: number[], k: number): Neighbor[] {
    const want = Math.min(k, this.live.size);
    if (want <= 0) return [];
    if (this.live.size <= EXACT_FAMILY_LIMIT) return this.exact(query, want);
    let ef = Math.max(this.options.ef ?? 128, want);
    for (;;) {
      this.native.setEf(ef);
      const result = this.native.searchKnn(query, want);
      // Deleted nodes still route the walk but are not returned, so a graph with many can come up short.
      if (result.neighbors.length >= want || ef >= this.live.size) {
        return result.neighbors.map((label, i) => ({ label, distance: result.distances[i]! }));
      }
      ef = Math.min(this.live.size, ef * 4);
    }
  }

  write(path: string): void {
    this.native.writeIndexSync(path);
  }

  /** Unmarks a deleted label so addPoint can update it in place; false when its slot was recycled. */
  private revive(label: number): boolean {
    try {
      this.native.unmarkDelete(label);
      return true;
    } catch {
      return false;
    }
  }

  private exact(query: number[], k: number): Neighbor[] {
    let qn = 0;
    for (const x of query) qn += x * x;
    qn = Math.sqrt(qn);
    const out: Neighbor[] = [];
    for (const label of this.live) {
      // Stored points are already normalized by the cosine space.
      const p = this.native.getPoint(label);
      let dot = 0;
      for (let i = 0; i < this.dim; i++) dot += p[i]! * query[i]!;
      out.push({ label, distance: 1 - dot / qn });
    }
    return out.sort((a, b) => a.distance - b.distance || a.label - b.label).slice(0, k);
  }
}

/** An HNSW index with one graph per hardware family; `saved` loads graphs written by `writeFamily`. */
export function createHnswIndex(options: { dim: number; saved?: SavedFamilyGraph[] } & HnswOptions): HnswIndex {
  const { dim } = options;
  const graphs = new Map<string, FamilyGraph>();
  const familyOf = new Map<number, string>();
  for (const saved of options.saved ?? []) {
    if (graphs.has(saved.family)) throw new Error(`family ${saved.family} is listed twice`);
    const graph = new FamilyGraph(dim, options, saved);
    graphs.set(saved.family, graph);
    for (const label of graph.live) {
      if (familyOf.has(label)) throw new Error(`label ${label} is listed in two families`);
      familyOf.set(label, saved.family);
    }
  }
  const graphOf = (family: string): FamilyGraph => {
    let graph = graphs.get(family);
    if (!graph) {
      graph = new FamilyGraph(dim, options);
      graphs.set(family, graph);
    }
    return graph;
  };

  return {
    dim,
    get size() {
      return familyOf.size;
    },
    add(entries) {
      entries.forEach((e, i) => {
        checkVector(e.vector, dim, `Vector ${i} (label ${e.label})`);
        if (!Number.isSafeInteger(e.label) || e.label < 0)
          throw new SkbError('BAD_INPUT', `Label ${e.label} is not a non-negative integer.`);
      });
      for (const e of entries) {
        const old = familyOf.get(e.label);
        if (old !== undefined && old !== e.targetFamily) graphs.get(old)!.remove(e.label);
        graphOf(e.targetFamily).add(e.label, Array.from(e.vector));
        familyOf.set(e.label, e.targetFamily);
      }
    },
    remove(label) {
      const family = familyOf.get(label);
      if (family === undefined) return false;
      graphs.get(family)!.remove(label);
      familyOf.delete(label);
      return true;
    },
    has(label) {
      return familyOf.has(label);
    },
    search(vector, k, family) {
      checkVector(vector, dim, 'The query vector');
      return graphs.get(family)?.search(Array.from(vector), k) ?? [];
    },
    families() {
      return [...graphs.entries()]
        .filter(([, graph]) => graph.live.size > 0)
        .map(([family]) => family)
        .sort();
    },
    writeFamily(family, path) {
      const graph = graphs.get(family);
      if (!graph) throw new Error(`no graph for family ${family}`);
      graph.write(path);
    },
    labelsOf(family) {
      return [...(graphs.get(family)?.live ?? [])].sort((a, b) => a - b);
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
