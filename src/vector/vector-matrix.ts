import type { VectorRow } from "../store/vector-repo.ts";
import { TopK } from "./top-k.ts";
import { matchesVectorFilter, type VectorFilter, type VectorMeta } from "./vector-index.ts";

/** Candidates a scan keeps for the exact re-score: this many per result wanted… */
const CANDIDATES_PER_HIT = 4;
/** …and at least this many. */
const MIN_CANDIDATES = 50;
/**
 * Bytes a row costs outside the typed arrays, besides its id's characters: the id string's header,
 * its place in the ids array and its entry in the id → slot map. Measured in Node (8-byte pointers,
 * so an upper bound for workerd's compressed ones): 100,000 rows with 10-character ids took 79
 * bytes each of JavaScript heap.
 */
const ROW_OVERHEAD_BYTES = 72;
/** Bytes per slot of the per-row tables: start (4), length (2), scale (4), vseq (8), metadata (4). */
const SLOT_BYTES = 22;
/** Bytes an interned metadata record costs (object and strings), as counted. */
const META_BYTES = 200;
/** A sparse row's gap to its next non-zero coordinate fits a byte; a longer gap takes a filler entry. */
const MAX_GAP = 255;

/**
 * A tenant's vectors of one model, quantised for a brute-force scan whose best candidates the
 * index re-scores exactly (from the float32 vectors in D1): see {@link candidates}.
 *
 * Each row keeps one float32 scale (max |v| / 127) and an int8 code per coordinate, in one byte
 * arena, in whichever form is smaller: dense (`dims` codes) or sparse (a (gap, code) byte pair per
 * non-zero code, the gap from the previous non-zero coordinate). The offline embedder's 256-d
 * vectors have ~92 non-zero coordinates (~28 of the 192 hashed lexical ones, all 64 word-vector
 * ones): 184 bytes sparse, where float32 index and value pairs took 552; Workers AI's dense 768-d
 * vectors take 768 bytes instead of 3,072. A rewritten row is appended anew; the arena is
 * compacted when half of it is stale.
 */
export class VectorMatrix {
  /** Highest vseq loaded: rows past it are new or rewritten. */
  maxVseq = 0;
  private ids: (string | null)[] = [];
  private readonly slots = new Map<string, number>();
  /** Per slot: where its codes start in the arena, how many bytes they take (`dims` = dense), its scale. */
  private start = new Uint32Array(64);
  private length = new Uint16Array(64);
  private scale = new Float32Array(64);
  /** The vseq each slot was loaded from: a late, older snapshot never overwrites a newer row. */
  private version = new Float64Array(64);
  /** Per slot, its metadata's index in `metas` (rows share a few distinct records). */
  private metaOf = new Uint32Array(64);
  private metas: VectorMeta[] = [];
  private metaIndex = new Map<string, number>();
  /**
   * The arena (one buffer, of even length): dense rows' codes, and sparse rows' 16-bit entries,
   * gap in the low byte and code in the high one (one load per entry in the scan). Rows start at
   * even offsets.
   */
  private codes: Int8Array;
  private entries: Uint16Array;
  private used = 0;
  private stale = 0;
  /** Characters of the live ids (for {@link bytes}). */
  private idChars = 0;
  /** Scratch for one row's codes. */
  private readonly row: Int8Array;

  constructor(readonly dims: number) {
    // A row's byte length is kept in 16 bits.
    if (dims > 0xffff) throw new Error(`vectors of ${dims} dimensions are not supported`);
    this.codes = new Int8Array(4096);
    this.entries = new Uint16Array(this.codes.buffer);
    this.row = new Int8Array(dims);
  }

  get size(): number {
    return this.slots.size;
  }

  /**
   * Bytes this matrix holds: its typed arrays at their allocated size, and an estimate of its
   * JavaScript objects (ids, the id map, metadata records). The cache's budget counts this.
   */
  get bytes(): number {
    return (
      this.codes.byteLength +
      this.start.length * SLOT_BYTES +
      this.ids.length * ROW_OVERHEAD_BYTES +
      this.idChars +
      this.metas.length * META_BYTES
    );
  }

  upsert(row: VectorRow): void {
    const v = row.vector;
    if (v.length !== this.dims) return;
    const existing = this.slots.get(row.memory_id);
    if (existing !== undefined && this.version[existing]! >= row.vseq) return;

    const codes = this.row;
    let max = 0;
    for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!));
    const scale = Math.fround(max / 127);
    for (let i = 0; i < v.length; i++) {
      // Clamped: the float32 scale may round down, putting max / scale a hair above 127.
      codes[i] = scale ? Math.max(-127, Math.min(127, Math.round(v[i]! / scale))) : 0;
    }
    const entries = this.sparseEntries(codes);
    const sparse = 2 * entries < this.dims;
    const n = sparse ? 2 * entries : this.dims;
    this.reserve(even(n));
    const from = this.used;
    if (sparse) {
      let j = from >> 1;
      let p = 0;
      for (let i = 0; i < codes.length; i++) {
        if (codes[i] === 0) continue;
        for (; i - p > MAX_GAP; p += MAX_GAP) this.entries[j++] = MAX_GAP;
        this.entries[j++] = (i - p) | ((codes[i]! & 0xff) << 8);
        p = i;
      }
    } else {
      this.codes.set(codes, from);
    }
    this.used += even(n);

    let slot = existing;
    if (slot === undefined) {
      slot = this.ids.length;
      this.growSlots(slot + 1);
      this.ids.push(row.memory_id);
      this.slots.set(row.memory_id, slot);
      this.idChars += row.memory_id.length;
    } else {
      this.stale += this.length[slot]!;
    }
    this.start[slot] = from;
    this.length[slot] = n;
    this.scale[slot] = scale;
    this.version[slot] = row.vseq;
    this.metaOf[slot] = this.intern(row);
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
      this.idChars -= id.length;
    }
    if (this.slots.size < this.ids.length / 2 || this.stale > this.used / 2) this.compact();
  }

  /**
   * Compacts when a quarter or more of the allocated room is unused (after a load: growth by half
   * leaves up to a third unused), leaving an eighth to spare.
   */
  fit(): void {
    const live = this.used - this.stale;
    const rows = this.slots.size;
    if (this.codes.length > live * 1.25 + rows + 4096 || this.start.length > rows * 1.25 + 64) this.compact();
  }

  /**
   * The rows passing the filter that may be among the k most similar to `q`, with their quantised
   * scores, best first: the top max(4k, 50), less those that cannot make the top k.
   * Quantisation moves a row's score by at most scale / 2 × Σ|q_i| (each code is within half a
   * step of its coordinate), so a row whose best case is below the k-th best worst case is left out.
   * The exact top k is among the rows returned unless more than max(4k, 50) rows tie within that
   * margin (then the best by quantised score are kept).
   */
  candidates(q: Float32Array, k: number, filter: VectorFilter): { id: string; score: number }[] {
    if (k <= 0) return [];
    const { ids, start, length, scale, metaOf, codes, entries, dims } = this;
    const passes = Object.keys(filter).length
      ? this.metas.map((m) => matchesVectorFilter(m, filter))
      : this.metas.map(() => true);
    const heap = new TopK<number>(Math.max(CANDIDATES_PER_HIT * k, MIN_CANDIDATES));
    for (let slot = 0; slot < ids.length; slot++) {
      if (ids[slot] === null || !passes[metaOf[slot]!]) continue;
      const from = start[slot]!;
      const n = length[slot]!;
      let s = 0;
      if (n === dims) {
        for (let i = 0; i < n; i++) s += q[i]! * codes[from + i]!;
      } else {
        let p = 0;
        for (let j = from >> 1, end = (from + n) >> 1; j < end; j++) {
          const e = entries[j]!;
          p += e & 0xff;
          // The high byte, sign-extended.
          s += q[p]! * ((e << 16) >> 24);
        }
      }
      heap.offer(s * scale[slot]!, slot);
    }
    const top = heap.drain();
    const out = (t: { score: number; item: number }) => ({ id: ids[t.item]!, score: t.score });
    if (top.length <= k) return top.map(out);
    let l1 = 0;
    for (let i = 0; i < q.length; i++) l1 += Math.abs(q[i]!);
    const margin = (slot: number) => (scale[slot]! / 2) * l1 + 1e-9;
    const worst = top.map((t) => t.score - margin(t.item)).sort((a, b) => b - a);
    const bar = worst[k - 1]!;
    return top.filter((t) => t.score + margin(t.item) >= bar).map(out);
  }

  /** Sparse entries of one row's codes: non-zero codes and the fillers their gaps need. */
  private sparseEntries(codes: Int8Array): number {
    let entries = 0;
    let p = 0;
    for (let i = 0; i < codes.length; i++) {
      if (codes[i] === 0) continue;
      const gap = i - p;
      entries += gap > MAX_GAP ? 1 + Math.floor((gap - 1) / MAX_GAP) : 1;
      p = i;
    }
    return entries;
  }

  private intern(m: VectorMeta): number {
    const key = JSON.stringify([m.namespace, m.user_id, m.session_id, m.memory_type]);
    let i = this.metaIndex.get(key);
    if (i === undefined) {
      i = this.metas.length;
      this.metas.push({
        namespace: m.namespace,
        user_id: m.user_id,
        session_id: m.session_id,
        memory_type: m.memory_type,
      });
      this.metaIndex.set(key, i);
    }
    return i;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.codes.length) return;
    // Growth by half: the arena is most of a big tenant's bytes, and doubling would leave up to half unused.
    this.resizeArena(even(Math.max(Math.ceil(this.codes.length * 1.5), this.used + n)));
  }

  private resizeArena(capacity: number): void {
    const codes = new Int8Array(capacity);
    codes.set(this.codes.subarray(0, this.used));
    this.codes = codes;
    this.entries = new Uint16Array(codes.buffer);
  }

  private growSlots(n: number): void {
    if (n <= this.start.length) return;
    this.resizeSlots(Math.max(n, this.start.length * 2));
  }

  private resizeSlots(capacity: number): void {
    const keep = Math.min(capacity, this.ids.length);
    const copy = <A extends Uint32Array | Uint16Array | Float32Array | Float64Array>(a: A, b: A): A => {
      b.set(a.subarray(0, keep) as never);
      return b;
    };
    this.start = copy(this.start, new Uint32Array(capacity));
    this.length = copy(this.length, new Uint16Array(capacity));
    this.scale = copy(this.scale, new Float32Array(capacity));
    this.version = copy(this.version, new Float64Array(capacity));
    this.metaOf = copy(this.metaOf, new Uint32Array(capacity));
  }

  /** Rewrites the arena, the slot tables and the metadata with live rows only, with an eighth to spare. */
  private compact(): void {
    let live = 0;
    for (const slot of this.slots.values()) live += this.length[slot]!;
    const n = this.slots.size;
    // (Plus a byte a row for padding to even offsets.)
    const codes = new Int8Array(even(Math.max(4096, Math.ceil(live * 1.125) + n)));
    const capacity = Math.max(64, Math.ceil(n * 1.125));
    const start = new Uint32Array(capacity);
    const length = new Uint16Array(capacity);
    const scale = new Float32Array(capacity);
    const version = new Float64Array(capacity);
    const metaOf = new Uint32Array(capacity);
    const ids: string[] = [];
    const metas: VectorMeta[] = [];
    const metaIndex = new Map<string, number>();
    const remap = new Map<number, number>();
    let used = 0;
    for (const [id, slot] of this.slots) {
      const from = this.start[slot]!;
      const len = this.length[slot]!;
      codes.set(this.codes.subarray(from, from + len), used);
      const to = ids.length;
      this.slots.set(id, to);
      ids.push(id);
      start[to] = used;
      length[to] = len;
      scale[to] = this.scale[slot]!;
      version[to] = this.version[slot]!;
      const m = this.metaOf[slot]!;
      let mi = remap.get(m);
      if (mi === undefined) {
        mi = metas.length;
        remap.set(m, mi);
        metas.push(this.metas[m]!);
      }
      metaOf[to] = mi;
      used += even(len);
    }
    for (const [key, m] of this.metaIndex) {
      const mi = remap.get(m);
      if (mi !== undefined) metaIndex.set(key, mi);
    }
    this.codes = codes;
    this.entries = new Uint16Array(codes.buffer);
    this.start = start;
    this.length = length;
    this.scale = scale;
    this.version = version;
    this.metaOf = metaOf;
    this.ids = ids;
    this.metas = metas;
    this.metaIndex = metaIndex;
    this.used = used;
    this.stale = 0;
  }
}

/** Rounded up to an even number (rows start at even offsets of the arena). */
function even(n: number): number {
  return n + (n & 1);
}
