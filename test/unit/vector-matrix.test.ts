import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dot, normalize } from "../../src/ai/embedder.ts";
import { normalizeTagFilter } from "../../src/domain/filters.ts";
import type { VectorRow } from "../../src/store/vector-repo.ts";
import { VectorMatrix } from "../../src/vector/vector-matrix.ts";

/** Deterministic pseudo-random unit vectors; `zeros` is the share of coordinates set to 0. */
function vectors(n: number, dims: number, seed = 1, zeros = 0): Float32Array[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  return Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: dims }, () => (Math.abs(rand()) < zeros ? 0 : rand()));
    // At least one non-zero coordinate, so the vector normalises.
    v[Math.floor(Math.abs(rand()) * dims)] = 1;
    return normalize(v);
  });
}

function row(id: string, vector: Float32Array, vseq: number, namespace: string | null = null): VectorRow {
  return {
    vseq,
    memory_id: id,
    vector_id: id,
    model: "m",
    vector,
    namespace,
    user_id: null,
    session_id: null,
    memory_type: "semantic",
    state: "indexed",
    sent_at: null,
  };
}

/** The most a row's quantised score can differ from its exact one: half a step of its scale per |q_i|. */
function margin(v: Float32Array, q: Float32Array): number {
  const scale = Math.fround(Math.max(...v.map(Math.abs)) / 127);
  return (scale / 2) * q.reduce((s, x) => s + Math.abs(x), 0) + 1e-9;
}

describe("VectorMatrix", () => {
  it("candidates always include the exact top k, with quantised scores within their bound", () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 1_000_000 }),
          n: fc.integer({ min: 1, max: 300 }),
          // 33: dense rows of odd length (padded); 700: sparse rows with gaps over 255 (filler entries).
          dims: fc.constantFrom(8, 33, 64, 256, 700),
          k: fc.integer({ min: 1, max: 20 }),
          zeros: fc.constantFrom(0, 0.5, 0.8, 0.99),
          filtered: fc.boolean(),
        }),
        ({ seed, n, dims, k, zeros, filtered }) => {
          const vs = vectors(n, dims, seed, zeros);
          const m = new VectorMatrix(dims);
          vs.forEach((v, i) => m.upsert(row(`v${i}`, v, i + 1, i % 3 ? "a" : "b")));
          const [q] = vectors(1, dims, seed + 1, zeros / 2);
          const filter = filtered ? { namespace: normalizeTagFilter({ eq: "a" }) } : {};
          const passing = vs.map((v, i) => ({ id: `v${i}`, v })).filter((_, i) => !filtered || i % 3 !== 0);
          const exact = new Map(passing.map(({ id, v }) => [id, dot(q!, v)]));
          const got = m.candidates(q!, k, filter);
          expect(got.length).toBeGreaterThanOrEqual(Math.min(k, passing.length));
          for (const c of got) {
            const v = vs[Number(c.id.slice(1))]!;
            expect(exact.has(c.id)).toBe(true);
            expect(Math.abs(c.score - exact.get(c.id)!)).toBeLessThanOrEqual(margin(v, q!));
          }
          const kth = [...exact.values()].sort((a, b) => b - a)[Math.min(k, passing.length) - 1]!;
          const ids = new Set(got.map((c) => c.id));
          for (const [id, score] of exact) if (score > kth) expect(ids.has(id)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("holds a sparse row in two bytes per non-zero coordinate, a dense one in one byte per coordinate", () => {
    const m = new VectorMatrix(256);
    const empty = m.bytes;
    const sparse = vectors(1000, 256, 3, 0.9);
    sparse.forEach((v, i) => m.upsert(row(`s${i}`, v, i + 1)));
    m.fit();
    const nonZero = sparse.reduce((n, v) => n + v.filter((x) => x !== 0).length, 0) / sparse.length;
    const perSparse = (m.bytes - empty) / 1000;
    // Codes, the per-row tables (22 bytes), the id and its bookkeeping (~80 bytes), an eighth to spare.
    expect(perSparse).toBeLessThan((2 * nonZero + 22 + 80) * 1.125 + 10);
    const dense = new VectorMatrix(256);
    vectors(1000, 256, 4).forEach((v, i) => dense.upsert(row(`d${i}`, v, i + 1)));
    dense.fit();
    expect((dense.bytes - empty) / 1000).toBeLessThan((256 + 22 + 80) * 1.125 + 10);
  });

  it("applies metadata filters while scanning", () => {
    const dims = 8;
    const vs = vectors(20, dims);
    const m = new VectorMatrix(dims);
    vs.forEach((v, i) => m.upsert(row(`v${i}`, v, i + 1, i % 2 ? "odd" : "even")));
    const hits = m.candidates(vs[3]!, 50, { namespace: normalizeTagFilter({ eq: "odd" }) });
    expect(hits).toHaveLength(10);
    expect(hits[0]!.id).toBe("v3");
    expect(hits.every((h) => Number(h.id.slice(1)) % 2 === 1)).toBe(true);
  });

  it("replaces a rewritten id in place and drops removed ids, compacting when sparse", () => {
    const dims = 8;
    const vs = vectors(200, dims);
    const m = new VectorMatrix(dims);
    vs.forEach((v, i) => m.upsert(row(`v${i}`, v, i + 1)));
    m.upsert(row("v0", vs[199]!, 201));
    expect(m.size).toBe(200);
    const top2 = m.candidates(vs[199]!, 2, {}).slice(0, 2);
    expect(top2.map((h) => h.id).sort()).toEqual(["v0", "v199"]);

    m.retainOnly(new Set(["v0", "v5", "v7"]));
    expect(m.size).toBe(3);
    expect(
      m
        .candidates(vs[5]!, 10, {})
        .map((h) => h.id)
        .sort(),
    ).toEqual(["v0", "v5", "v7"]);
    expect(m.candidates(vs[5]!, 1, {})[0]!.id).toBe("v5");
  });

  it("stays current through many rewrites (arena compaction), of dense and sparse rows", () => {
    const dims = 64;
    const m = new VectorMatrix(dims);
    let current = vectors(100, dims, 7);
    current.forEach((v, i) => m.upsert(row(`v${i}`, v, i + 1)));
    let vseq = 100;
    for (let round = 0; round < 10; round++) {
      current = vectors(100, dims, 100 + round, round % 2 ? 0.8 : 0);
      current.forEach((v, i) => m.upsert(row(`v${i}`, v, ++vseq)));
    }
    expect(m.size).toBe(100);
    const [q] = vectors(1, dims, 5);
    const got = m.candidates(q!, 100, {});
    expect(got).toHaveLength(100);
    for (const c of got) {
      const v = current[Number(c.id.slice(1))]!;
      expect(Math.abs(c.score - dot(q!, v))).toBeLessThanOrEqual(margin(v, q!));
    }
  });

  it("applies snapshots monotonically: an older row never replaces a newer one", () => {
    const [v1, v2] = vectors(2, 8, 11);
    const m = new VectorMatrix(8);
    m.upsert(row("a", v2!, 5));
    m.upsert(row("a", v1!, 3)); // a late, older snapshot
    expect(m.candidates(v2!, 1, {})[0]!.score).toBeCloseTo(1, 1);
    expect(m.maxVseq).toBe(5);
  });

  it("a deletion snapshot drops only rows it could have seen", () => {
    const vs = vectors(3, 8, 12);
    const m = new VectorMatrix(8);
    m.upsert(row("old", vs[0]!, 1));
    m.upsert(row("gone", vs[1]!, 2));
    m.upsert(row("newer", vs[2]!, 9)); // loaded after the id snapshot (taken at vseq 4) was read
    m.retainOnly(new Set(["old"]), 4);
    expect(
      m
        .candidates(vs[0]!, 10, {})
        .map((h) => h.id)
        .sort(),
    ).toEqual(["newer", "old"]);
  });

  it("ignores vectors of another dimension, and scores the zero vector 0", () => {
    const m = new VectorMatrix(8);
    m.upsert(row("wrong", new Float32Array(4), 1));
    expect(m.size).toBe(0);
    m.upsert(row("zero", new Float32Array(8), 2));
    expect(m.candidates(vectors(1, 8)[0]!, 1, {})).toEqual([{ id: "zero", score: 0 }]);
  });
});
