import { describe, expect, it } from "vitest";
import { dot, normalize } from "../../src/ai/embedder.ts";
import { normalizeTagFilter } from "../../src/domain/filters.ts";
import type { VectorRow } from "../../src/store/vector-repo.ts";
import { VectorMatrix } from "../../src/vector/vector-matrix.ts";

/** Deterministic pseudo-random unit vectors. */
function vectors(n: number, dims: number, seed = 1): Float32Array[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  return Array.from({ length: n }, () => normalize(Float32Array.from({ length: dims }, rand)));
}

/** Keeps every fourth coordinate. */
function sparse(v: Float32Array): Float32Array {
  return normalize(v.map((x, i) => (i % 4 === 0 ? x : 0)));
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

describe("VectorMatrix", () => {
  it("returns exactly the brute-force top k, best first", () => {
    const dims = 32;
    const vs = vectors(500, dims);
    const m = new VectorMatrix(dims);
    vs.forEach((v, i) => m.upsert(row(`v${i}`, v, i + 1)));
    const [q] = vectors(1, dims, 99);
    const expected = vs
      .map((v, i) => ({ id: `v${i}`, score: dot(q!, v) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 10);
    const got = m.topK(q!, 10, {});
    expect(got.map((h) => h.id)).toEqual(expected.map((h) => h.id));
    got.forEach((h, i) => expect(h.score).toBeCloseTo(expected[i]!.score, 5));
    expect(m.maxVseq).toBe(500);
  });

  it("applies metadata filters while scanning", () => {
    const dims = 8;
    const vs = vectors(20, dims);
    const m = new VectorMatrix(dims);
    vs.forEach((v, i) => m.upsert(row(`v${i}`, v, i + 1, i % 2 ? "odd" : "even")));
    const hits = m.topK(vs[3]!, 50, { namespace: normalizeTagFilter({ eq: "odd" }) });
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
    expect(
      m
        .topK(vs[199]!, 2, {})
        .map((h) => h.id)
        .sort(),
    ).toEqual(["v0", "v199"]);

    m.retainOnly(new Set(["v0", "v5", "v7"]));
    expect(m.size).toBe(3);
    expect(
      m
        .topK(vs[5]!, 10, {})
        .map((h) => h.id)
        .sort(),
    ).toEqual(["v0", "v5", "v7"]);
    expect(m.topK(vs[5]!, 1, {})[0]!.id).toBe("v5");
  });

  it("stays exact through many rewrites (arena compaction) and with sparse vectors", () => {
    const dims = 64;
    const m = new VectorMatrix(dims);
    let current = vectors(100, dims, 7);
    current.forEach((v, i) => m.upsert(row(`v${i}`, v, i + 1)));
    let vseq = 100;
    for (let round = 0; round < 10; round++) {
      current = vectors(100, dims, 100 + round).map((v, i) => (i % 3 === 0 ? sparse(v) : v));
      current.forEach((v, i) => m.upsert(row(`v${i}`, v, ++vseq)));
    }
    expect(m.size).toBe(100);
    const [q] = vectors(1, dims, 5);
    const expected = current
      .map((v, i) => ({ id: `v${i}`, score: dot(q!, v) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 5);
    const got = m.topK(q!, 5, {});
    expect(got.map((h) => h.id)).toEqual(expected.map((h) => h.id));
    got.forEach((h, i) => expect(h.score).toBeCloseTo(expected[i]!.score, 5));
  });

  it("applies snapshots monotonically: an older row never replaces a newer one", () => {
    const [v1, v2] = vectors(2, 8, 11);
    const m = new VectorMatrix(8);
    m.upsert(row("a", v2!, 5));
    m.upsert(row("a", v1!, 3)); // a late, older snapshot
    expect(m.topK(v2!, 1, {})[0]!.score).toBeCloseTo(1, 5);
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
        .topK(vs[0]!, 10, {})
        .map((h) => h.id)
        .sort(),
    ).toEqual(["newer", "old"]);
  });

  it("ignores vectors of another dimension", () => {
    const m = new VectorMatrix(8);
    m.upsert(row("wrong", new Float32Array(4), 1));
    expect(m.size).toBe(0);
  });
});
