import { describe, expect, it } from "vitest";
import { dot } from "../../src/ai/embedder.ts";
import { OfflineEmbedder } from "../../src/ai/offline-embedder.ts";
import {
  matchesArrayTag,
  matchesNumeric,
  matchesScalarTag,
  normalizeTagFilter,
  numericFilterSchema,
} from "../../src/domain/filters.ts";
import { timestamp } from "../../src/domain/input-limits.ts";
import { selectForForgetting } from "../../src/domain/forget.ts";
import { byteLength, newId } from "../../src/domain/ids.ts";
import { applyPatch, buildMemory, contentHash } from "../../src/domain/memory.ts";
import { packInOrder } from "../../src/domain/pack.ts";
import { DEFAULT_RECENCY, fuseScores, recencyScore, rerankWithRecency } from "../../src/domain/ranking.ts";
import { pruneCommonTerms, queryTerms, stem, words } from "../../src/domain/text.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 1);

describe("filters", () => {
  it("timestamps: epoch seconds and ISO strings become epoch ms; junk is refused", () => {
    expect(timestamp.parse(1_700_000_000)).toBe(1_700_000_000_000);
    expect(timestamp.parse("2024-01-01T00:00:00Z")).toBe(Date.UTC(2024, 0, 1));
    expect(timestamp.safeParse("next tuesday").success).toBe(false);
    expect(numericFilterSchema.safeParse({ gte: 1, bogus: 2 }).success).toBe(false);
  });

  it("folds operator aliases", () => {
    expect(normalizeTagFilter({ not_eq: "a", not_in: ["b"], none: ["c"], ne: "d" }).ne.sort()).toEqual([
      "a",
      "b",
      "c",
      "d",
    ]);
    expect(normalizeTagFilter({ any: ["a", "b"], in_: ["b", "c"] }).any).toEqual(["b"]);
  });

  it("scalar tags: null passes ne and fails eq/any", () => {
    const f = normalizeTagFilter({ ne: "x" });
    expect(matchesScalarTag(null, f)).toBe(true);
    expect(matchesScalarTag("x", f)).toBe(false);
    expect(matchesScalarTag(null, normalizeTagFilter({ any: ["x"] }))).toBe(false);
    expect(matchesScalarTag("x", normalizeTagFilter({ all: ["x", "y"] }))).toBe(false);
  });

  it("array tags: eq is contains, all needs every value, ne excludes", () => {
    expect(matchesArrayTag(["a", "b"], normalizeTagFilter({ eq: "a" }))).toBe(true);
    expect(matchesArrayTag(["a", "b"], normalizeTagFilter({ all: ["a", "c"] }))).toBe(false);
    expect(matchesArrayTag(["a", "b"], normalizeTagFilter({ ne: "b" }))).toBe(false);
    expect(matchesArrayTag([], normalizeTagFilter({ none: ["b"] }))).toBe(true);
  });

  it("numeric: bounds are exclusive or inclusive as named; between is inclusive", () => {
    expect(matchesNumeric(5, { gt: 5 })).toBe(false);
    expect(matchesNumeric(5, { gte: 5, lte: 5 })).toBe(true);
    expect(matchesNumeric(5, { between: [5, 6] })).toBe(true);
    expect(matchesNumeric(null, { ne: 5 })).toBe(true);
    expect(matchesNumeric(null, { gt: 0 })).toBe(false);
  });
});

describe("ranking", () => {
  it("recency follows the AMS half-life formula", () => {
    const m = { created_at: NOW - 30 * DAY, last_accessed: NOW - 7 * DAY };
    expect(recencyScore(m, NOW, DEFAULT_RECENCY)).toBeCloseTo(0.6 * 0.5 + 0.4 * 0.5, 10);
    expect(recencyScore({ created_at: NOW, last_accessed: NOW }, NOW, DEFAULT_RECENCY)).toBe(1);
    // Future timestamps do not push recency above 1.
    expect(recencyScore({ created_at: NOW + DAY, last_accessed: NOW + DAY }, NOW, DEFAULT_RECENCY)).toBe(1);
  });

  const cand = (
    id: string,
    vector: number | null,
    keyword: number,
    ranks: [number | null, number | null] = [null, null],
  ) => ({
    id,
    vector,
    keyword,
    keywordMatch: keyword > 0 ? 1 : 0,
    vectorRank: ranks[0],
    keywordRank: ranks[1],
  });
  const lexical = { alpha: null, noiseFloor: 0.1, semantic: false };

  it("fusion: normalised scores, best on both sides scores 1, hybrid_alpha weighs the vector side", () => {
    const c = [cand("a", 0.9, 3), cand("b", 0.5, 0), cand("c", 0.1, 2)];
    const { ranked } = fuseScores(c, { ...lexical, alpha: 0.5 });
    expect(ranked.map((r) => r.id)).toEqual(["a", "c", "b"]);
    expect(ranked[0]!.relevance).toBeCloseTo(1, 12);
    // b: half the vector side's range above the floor, no keyword score.
    expect(ranked.find((r) => r.id === "b")!.relevance).toBeCloseTo(0.5 * (0.4 / 0.8), 12);
    // c: at the noise floor, so only its keyword score counts.
    expect(ranked.find((r) => r.id === "c")!.relevance).toBeCloseTo(0.5 * (2 / 3), 12);
    expect(fuseScores(c, { ...lexical, alpha: 1 }).ranked.map((r) => r.id)).toEqual(["a", "b", "c"]);
  });

  it("fusion: a side with nothing above its floor gets no weight; trust picks the weight when alpha is unset", () => {
    expect(fuseScores([cand("a", 0.9, 0)], lexical)).toMatchObject({ alpha: 1, ranked: [{ relevance: 1 }] });
    expect(fuseScores([cand("a", 0.05, 2)], lexical)).toMatchObject({ alpha: 0, ranked: [{ relevance: 1 }] });
    expect(fuseScores([cand("a", 0.9, 2), cand("b", 0.2, 1)], lexical).alpha).toBeLessThan(
      fuseScores([cand("a", 0.9, 2), cand("b", 0.2, 1)], { ...lexical, semantic: true }).alpha,
    );
  });

  it("fusion: without hybrid_alpha, the keyword side's coverage of the query moves the weight", () => {
    const semantic = { ...lexical, semantic: true };
    const withMatch = (keywordMatch: number) => [
      { ...cand("a", 0.9, 2, [1, 1]), keywordMatch },
      { ...cand("b", 0.5, 1, [2, 2]), keywordMatch: keywordMatch / 2 },
    ];
    // Some memory holds (nearly) all the query's weighted terms: the keyword side is trusted more.
    expect(fuseScores(withMatch(0.9), semantic).alpha).toBeCloseTo(0.35, 12);
    expect(fuseScores(withMatch(0.6), semantic).alpha).toBeCloseTo(0.5, 12);
    // None holds even 40% of them: the words differ from the question's, meaning decides more.
    expect(fuseScores(withMatch(0.2), semantic).alpha).toBeCloseTo(0.65, 12);
    // Only the keyword list's head counts, so every page of a search weighs alike.
    expect(
      fuseScores([...withMatch(0.6), { ...cand("deep", 0.1, 0.5, [null, 21]), keywordMatch: 1 }], semantic).alpha,
    ).toBeCloseTo(0.5, 12);
    // An explicit hybrid_alpha is taken as given.
    expect(fuseScores(withMatch(0.2), { ...semantic, alpha: 0.3 }).alpha).toBe(0.3);
  });

  it("fusion: a strong keyword hit is not displaced by vector noise", () => {
    // Keyword side: one clear answer. Vector side: near-floor noise that ranks other memories first.
    const c = [cand("answer", 0.15, 8, [5, 1]), cand("n1", 0.2, 0, [1, null]), cand("n2", 0.19, 0.5, [2, 2])];
    expect(fuseScores(c, lexical).ranked[0]!.id).toBe("answer");
  });

  it("packInOrder: consecutive groups within the count and size bounds; an oversized item goes alone", () => {
    const len = (w: string) => w.length;
    expect(packInOrder(["aa", "bb", "cc", "dddddd", "e"], len, 4)).toEqual([["aa", "bb"], ["cc"], ["dddddd"], ["e"]]);
    expect(packInOrder([1, 2, 3, 4, 5], () => 1, 100, 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(packInOrder([], len, 4)).toEqual([]);
  });

  it("recency re-rank uses the weights", () => {
    const items = [
      { item: { id: "old", created_at: NOW - 365 * DAY, last_accessed: NOW - 365 * DAY }, relevance: 1 },
      { item: { id: "new", created_at: NOW, last_accessed: NOW }, relevance: 0.9 },
    ];
    expect(rerankWithRecency(items, NOW, DEFAULT_RECENCY).map((s) => s.item.id)).toEqual(["new", "old"]);
    expect(rerankWithRecency(items, NOW, { ...DEFAULT_RECENCY, recency_weight: 0 }).map((s) => s.item.id)).toEqual([
      "old",
      "new",
    ]);
  });
});

describe("forgetting policy", () => {
  const mem = (
    id: string,
    ageDays: number,
    idleDays: number,
    extra: Partial<{ memory_type: string; pinned: boolean }> = {},
  ) => ({
    id,
    memory_type: (extra.memory_type ?? "semantic") as "semantic",
    created_at: NOW - ageDays * DAY,
    last_accessed: NOW - idleDays * DAY,
    pinned: extra.pinned ?? false,
  });

  it("age and inactivity must both hold when both are set, unless extremely old", () => {
    const ids = selectForForgetting(
      [mem("both", 40, 40), mem("old-active", 40, 1), mem("ancient-active", 400, 1), mem("young", 1, 1)],
      { max_age_days: 30, max_inactive_days: 30 },
      NOW,
    );
    expect(ids.sort()).toEqual(["ancient-active", "both"]);
  });

  it("either threshold alone suffices when only one is set", () => {
    expect(selectForForgetting([mem("a", 40, 1)], { max_age_days: 30 }, NOW)).toEqual(["a"]);
    expect(selectForForgetting([mem("a", 1, 40)], { max_inactive_days: 30 }, NOW)).toEqual(["a"]);
  });

  it("budget keeps the most recent; pinned, pinned_ids and the allowlist protect", () => {
    const ms = [
      mem("r1", 1, 1),
      mem("r2", 2, 2),
      mem("r3", 50, 50),
      mem("p", 99, 99, { pinned: true }),
      mem("e", 90, 90, { memory_type: "episodic" }),
    ];
    expect(selectForForgetting(ms, { budget: 2 }, NOW).sort()).toEqual(["e", "r3"]);
    expect(selectForForgetting(ms, { budget: 2, memory_type_allowlist: ["semantic"] }, NOW)).toEqual(["r3"]);
    expect(selectForForgetting(ms, { max_age_days: 10 }, NOW, new Set(["r3"]))).toEqual(["e"]);
  });
});

describe("text", () => {
  it("takes a query's words without stopwords, never its syntax", () => {
    expect(queryTerms("What do we use for caching?")).toEqual(["use", "caching"]);
    expect(queryTerms('redis" OR 1=1 -- NEAR(x')).toEqual(["redis", "1", "near", "x"]);
    expect(queryTerms("the and of")).toEqual(["the", "and", "of"]);
    expect(queryTerms("!!!")).toEqual([]);
    expect(words("Café crème")).toEqual(["cafe", "creme"]);
  });

  it("prunes terms in over a third of the documents, keeping the rarest when all are common", () => {
    const df: Record<string, number> = { use: 9000, caching: 2000, redis: 400, the: 9900 };
    const f = (t: string) => df[t] ?? 0;
    expect(pruneCommonTerms(["use", "caching", "redis"], f, 10_000)).toEqual(["caching", "redis"]);
    expect(pruneCommonTerms(["use", "the"], f, 10_000)).toEqual(["use"]);
    expect(pruneCommonTerms(["use", "unknown"], f, 10_000)).toEqual(["unknown"]);
    // Small corpora and single terms are left alone.
    expect(pruneCommonTerms(["use", "caching"], f, 300)).toEqual(["use", "caching"]);
    expect(pruneCommonTerms(["use"], f, 10_000)).toEqual(["use"]);
  });

  it("stems as FTS5's porter tokenizer does", () => {
    expect(["use", "caching", "cache", "memories", "authentication"].map(stem)).toEqual([
      "us",
      "cach",
      "cach",
      "memori",
      "authent",
    ]);
  });
});

describe("offline embedder", () => {
  const e = new OfflineEmbedder(256);

  it("is deterministic and unit-length", async () => {
    const [a, b] = await e.embed(["We decided to use Redis for caching", "We decided to use Redis for caching"]);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    expect(dot(a!, a!)).toBeCloseTo(1, 5);
    const [empty] = await e.embed([""]);
    expect(dot(empty!, empty!)).toBe(0);
  });

  it("ranks lexically related text above unrelated text", async () => {
    const [q, related, morph, unrelated] = await e.embed([
      "what do we use for caching",
      "We decided to use Redis for caching",
      "the cache layer",
      "Lunch is served at noon",
    ]);
    expect(dot(q!, related!)).toBeGreaterThan(0.3);
    expect(dot(q!, morph!)).toBeGreaterThan(e.noiseFloor);
    expect(Math.abs(dot(q!, unrelated!))).toBeLessThan(dot(q!, morph!));
  });
});

describe("memory model", () => {
  it("hashes content up to case and spacing", async () => {
    expect(await contentHash("Hello   World ")).toBe(await contentHash("hello world"));
    expect(await contentHash("hello world")).not.toBe(await contentHash("hello there"));
  });

  it("builds defaults and derives the scope", async () => {
    const m = await buildMemory("t", "id", { text: "x", agent_id: "a" }, NOW);
    expect(m).toMatchObject({
      scope: "agent",
      memory_type: "semantic",
      priority: 5,
      pinned: false,
      created_at: NOW,
      last_accessed: NOW,
    });
    expect((await buildMemory("t", "id", { text: "x", session_id: "s", agent_id: "a" }, NOW)).scope).toBe("session");
  });

  it("patches only what is given and rehashes changed text", async () => {
    const m = await buildMemory("t", "id", { text: "x", topics: ["a"] }, NOW);
    const p = await applyPatch(m, { text: "y" }, NOW + 1);
    expect(p.topics).toEqual(["a"]);
    expect(p.memory_hash).toBe(await contentHash("y"));
    expect(p.updated_at).toBe(NOW + 1);
    expect(p.created_at).toBe(NOW);
  });

  it("generates sortable 26-character ids and measures bytes", () => {
    const a = newId(NOW);
    const b = newId(NOW + 1000);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(a.slice(0, 10) < b.slice(0, 10)).toBe(true);
    expect(byteLength("é")).toBe(2);
  });
});
