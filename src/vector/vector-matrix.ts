import type { VectorRow } from "../store/vector-repo.ts";
import { matchesVectorFilter, type VectorFilter, type VectorHit, type VectorMeta } from "./vector-index.ts";

/**
 * A tenant's vectors of one model, held sparsely for a brute-force scan: each row keeps only
 * its non-zero coordinates (index + value) in one shared arena. The offline embedder's vectors
 * are ~20% dense (≈50 of 256 dimensions), so a 10,000-vector scan does ~0.5 M multiply-adds
 * instead of 2.6 M (5-6 ms → ~1 ms in workerd). Dense vectors work too, at about the cost of a
 * dense scan. A rewritten row is appended anew; the arena is compacted when half of it is stale.
 */
export class VectorMatrix {
  /** Highest vseq loaded: rows past it are new or rewritten. */
  maxVseq = 0;
  private ids: (string | null)[] = [];
  private meta: VectorMeta[] = [];
  private start: number[] = [];
  private length: number[] = [];
  /** The vseq each slot was loaded from: a late, older snapshot never overwrites a newer row. */
  private version: number[] = [];
  private readonly slots = new Map<string, number>();
  private index: Uint16Array;
  private value: Float32Array;
  private used = 0;
  private stale = 0;

  constructor(readonly dims: number) {
    if (dims > 0xffff) throw new Error(`vectors of ${dims} dimensions are not supported`);
    this.index = new Uint16Array(4096);
    this.value = new Float32Array(4096);
  }

  get size(): number {
    return this.slots.size;
  }

  upsert(row: VectorRow): void {
    const v = row.vector;
    if (v.length !== this.dims) return;
    const existing = this.slots.get(row.memory_id);
    if (existing !== undefined && this.version[existing]! >= row.vseq) return;
    let nonZero = 0;
    for (let i = 0; i < v.length; i++) if (v[i] !== 0) nonZero++;
    this.reserve(nonZero);
    const at = this.used;
    for (let i = 0; i < v.length; i++) {
      if (v[i] === 0) continue;
      this.index[this.used] = i;
      this.value[this.used] = v[i]!;
      this.used++;
    }

    let slot = existing;
    if (slot === undefined) {
      slot = this.ids.length;
      this.ids.push(row.memory_id);
      this.meta.push(metaOf(row));
      this.start.push(at);
      this.length.push(nonZero);
      this.version.push(row.vseq);
      this.slots.set(row.memory_id, slot);
    } else {
      this.stale += this.length[slot]!;
      this.meta[slot] = metaOf(row);
      this.start[slot] = at;
      this.length[slot] = nonZero;
      this.version[slot] = row.vseq;
    }
    if (row.vseq > this.maxVseq) this.maxVseq = row.vseq;
    if (this.stale > 4096 && this.stale > this.used / 2) this.compact();
  }

  /**
   * Drops every id not in `keep`, a snapshot of the ids taken at vseq `asOf` (after deletions).
   * Rows loaded from past that snapshot are kept: the snapshot could not have seen them.
   */
  retainOnly(keep: ReadonlySet<string>, asOf = Number.POSITIVE_INFINITY): void {
    for (const [id, slot] of this.slots) {
      if (keep.has(id) || this.version[slot]! > asOf) continue;
      this.slots.delete(id);
      this.ids[slot] = null;
      this.stale += this.length[slot]!;
    }
    if (this.slots.size < this.ids.length / 2 || this.stale > this.used / 2) this.compact();
  }

  /** The k most similar vectors passing the filter, best first. */
  topK(q: Float32Array, k: number, filter: VectorFilter): VectorHit[] {
    const { ids, meta } = this;
    const hasFilter = Object.keys(filter).length > 0;
    const heap = new MinHeap(k);
    for (let slot = 0; slot < ids.length; slot++) {
      if (ids[slot] === null) continue;
      if (hasFilter && !matchesVectorFilter(meta[slot]!, filter)) continue;
      heap.offer(this.dot(q, slot), slot);
    }
    return heap.drain().map(({ score, slot }) => ({ id: ids[slot]!, score }));
  }

  /** Similarity of `q` to the rows of these ids (ids without a row are left out). */
  similarities(q: Float32Array, ids: string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const id of ids) {
      const slot = this.slots.get(id);
      if (slot !== undefined) out.set(id, this.dot(q, slot));
    }
    return out;
  }

  private dot(q: Float32Array, slot: number): number {
    const { index, value } = this;
    let s = 0;
    const end = this.start[slot]! + this.length[slot]!;
    for (let j = this.start[slot]!; j < end; j++) s += q[index[j]!]! * value[j]!;
    return s;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.index.length) return;
    const capacity = Math.max(this.index.length * 2, this.used + n);
    const index = new Uint16Array(capacity);
    const value = new Float32Array(capacity);
    index.set(this.index.subarray(0, this.used));
    value.set(this.value.subarray(0, this.used));
    this.index = index;
    this.value = value;
  }

  /** Rewrites the arena and slot tables with live rows only. */
  private compact(): void {
    let live = 0;
    for (const slot of this.slots.values()) live += this.length[slot]!;
    const index = new Uint16Array(Math.max(4096, live * 2));
    const value = new Float32Array(index.length);
    const ids: string[] = [];
    const meta: VectorMeta[] = [];
    const start: number[] = [];
    const length: number[] = [];
    const version: number[] = [];
    let used = 0;
    for (const [id, slot] of this.slots) {
      const from = this.start[slot]!;
      const n = this.length[slot]!;
      index.set(this.index.subarray(from, from + n), used);
      value.set(this.value.subarray(from, from + n), used);
      this.slots.set(id, ids.length);
      ids.push(id);
      meta.push(this.meta[slot]!);
      start.push(used);
      length.push(n);
      version.push(this.version[slot]!);
      used += n;
    }
    this.index = index;
    this.value = value;
    this.ids = ids;
    this.meta = meta;
    this.start = start;
    this.length = length;
    this.version = version;
    this.used = used;
    this.stale = 0;
  }
}

function metaOf(r: VectorRow): VectorMeta {
  return { namespace: r.namespace, user_id: r.user_id, session_id: r.session_id, memory_type: r.memory_type };
}

/** Keeps the k highest scores seen. */
class MinHeap {
  private readonly scores: number[] = [];
  private readonly slots: number[] = [];

  constructor(private readonly k: number) {}

  offer(score: number, slot: number): void {
    if (this.k <= 0) return;
    if (this.scores.length < this.k) {
      this.scores.push(score);
      this.slots.push(slot);
      this.up(this.scores.length - 1);
    } else if (score > this.scores[0]!) {
      this.scores[0] = score;
      this.slots[0] = slot;
      this.down(0);
    }
  }

  drain(): { score: number; slot: number }[] {
    return this.scores.map((score, i) => ({ score, slot: this.slots[i]! })).sort((a, b) => b.score - a.score);
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.scores[p]! <= this.scores[i]!) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.scores.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.scores[l]! < this.scores[m]!) m = l;
      if (r < n && this.scores[r]! < this.scores[m]!) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    [this.scores[a], this.scores[b]] = [this.scores[b]!, this.scores[a]!];
    [this.slots[a], this.slots[b]] = [this.slots[b]!, this.slots[a]!];
  }
}
