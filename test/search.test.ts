import { describe, expect, it } from "vitest";
import { OfflineEmbedder } from "../src/ai/offline-embedder.ts";
import { daysAgo, runScheduled, search, store, tenantApi, type Api } from "./support/api.ts";
import { FakeVectorize } from "./support/fake-vectorize.ts";
import { FakeWorkersAi } from "./support/fake-workers-ai.ts";

const ids = (r: { memories: { id: string }[] }) => r.memories.map((m) => m.id);

describe("hybrid search", () => {
  async function seed(): Promise<Api> {
    const api = await tenantApi();
    await store(api, [
      { id: "both", text: "Postgres setup guide for the team" },
      { id: "vector-only", text: "We run PostgreSQL in production" },
      { id: "keyword-only", text: "Printer setup on the second floor" },
      { id: "unrelated", text: "Lunch is served at noon on Fridays" },
    ]);
    return api;
  }

  it("fuses vector and keyword hits, and explains how each scored", async () => {
    const api = await seed();
    const res = await search(api, { text: "postgres setup", explain: true, recency_boost: false });
    expect(res.memories[0].id).toBe("both");
    expect(res.memories[0].score_type).toBe("hybrid");
    const byId = Object.fromEntries(res.memories.map((m) => [m.id, m]));

    // "PostgreSQL" shares no keyword term with "postgres", only character n-grams: a vector-only hit.
    expect(byId["vector-only"].score_details.keyword).toBe(0);
    expect(byId["vector-only"].score_details.keyword_rank).toBeNull();
    expect(byId["vector-only"].score_details.keyword_match).toBe(0);
    expect(byId["vector-only"].score_details.vector).toBeGreaterThan(0.1);
    expect(byId["both"].score_details.keyword_rank).toBe(1);
    expect(byId["both"].score_details.vector_rank).toBe(1);
    expect(byId["keyword-only"].score_details.keyword).toBeGreaterThan(0);
    // Every hit is scored on both sides.
    expect(byId["keyword-only"].score_details.vector).toEqual(expect.any(Number));
    expect(byId["both"].score_details.keyword_match).toBe(1);
    expect(byId["keyword-only"].score_details.keyword_match).toBeGreaterThan(0);
    expect(byId["keyword-only"].score_details.keyword_match).toBeLessThan(1);
    // Relevance is in [0, 1]; 1 only for the best on both sides.
    expect(byId["both"].score_details.relevance).toBeCloseTo(1, 6);
    expect(byId["both"].dist).toBeCloseTo(1 - byId["both"].score_details.vector, 5);
    // The lunch memory shares nothing with the query.
    expect(byId["unrelated"]).toBeUndefined();
  });

  it("semantic and keyword modes use one side only", async () => {
    const api = await seed();
    const keyword = await search(api, { text: "postgres setup", search_mode: "keyword" });
    expect(ids(keyword).sort()).toEqual(["both", "keyword-only"]);
    expect(keyword.memories.every((m) => m.score_type === "keyword")).toBe(true);

    const semantic = await search(api, { text: "postgres setup", search_mode: "semantic", explain: true });
    expect(ids(semantic)).toContain("vector-only");
    expect(semantic.memories.every((m) => m.score_details.keyword === null)).toBe(true);
  });

  it("hybrid_alpha weights the vector side against the keyword side (normalised scores)", async () => {
    const api = await seed();
    const floor = new OfflineEmbedder().noiseFloor;
    for (const alpha of [0, 0.3, 1]) {
      const res = await search(api, {
        text: "postgres setup",
        hybrid_alpha: alpha,
        recency_boost: false,
        explain: true,
      });
      expect(res.memories.length).toBeGreaterThan(0);
      const details = res.memories.map((m) => m.score_details);
      const topVector = Math.max(...details.map((d) => d.vector - floor));
      const topKeyword = Math.max(...details.map((d) => d.keyword));
      for (const m of res.memories) {
        const d = m.score_details;
        expect(d.vector_weight).toBe(alpha);
        const v = Math.max(0, d.vector - floor) / topVector;
        expect(d.relevance).toBeCloseTo(alpha * v + (1 - alpha) * (d.keyword / topKeyword), 6);
        expect(m.score).toBeCloseTo(d.relevance, 6);
      }
    }
    // Without hybrid_alpha the fusion picks the weight.
    const auto = await search(api, { text: "postgres setup", recency_boost: false, explain: true });
    expect(auto.memories[0].score_details.vector_weight).toBeGreaterThan(0);
    expect(auto.memories[0].score_details.vector_weight).toBeLessThan(1);
  });

  it("paginates with limit, offset, total and next_offset", async () => {
    const api = await tenantApi();
    await store(
      api,
      Array.from({ length: 7 }, (_, i) => ({ id: `n${i}`, text: `note number ${i} about gardening` })),
    );
    const first = await search(api, { text: "gardening note", limit: 3 });
    expect(first.total).toBe(7);
    expect(first.memories).toHaveLength(3);
    expect(first.next_offset).toBe(3);
    const last = await search(api, { text: "gardening note", limit: 3, offset: 6 });
    expect(last.memories).toHaveLength(1);
    expect(last.next_offset).toBeNull();
    const seen = new Set([
      ...ids(first),
      ...ids(await search(api, { text: "gardening note", limit: 3, offset: 3 })),
      ...ids(last),
    ]);
    expect(seen.size).toBe(7);
  });

  it("drops hits past distance_threshold", async () => {
    const api = await seed();
    const all = await search(api, { text: "postgres setup", search_mode: "semantic" });
    const strict = await search(api, { text: "postgres setup", search_mode: "semantic", distance_threshold: 0.5 });
    expect(strict.memories.length).toBeLessThan(all.memories.length);
    expect(strict.memories.every((m) => m.dist <= 0.5)).toBe(true);
    // In hybrid mode keyword matches stay whatever their vector distance.
    const hybrid = await search(api, { text: "postgres setup", distance_threshold: 0.01, explain: true });
    expect(hybrid.memories.map((m) => m.id).sort()).toEqual(["both", "keyword-only"]);
    expect(hybrid.memories.every((m) => m.score_details.keyword > 0)).toBe(true);
  });

  it("with no text, lists the filtered memories newest first", async () => {
    const api = await tenantApi();
    await store(api, [
      { id: "older", text: "a", created_at: daysAgo(2), namespace: "x" },
      { id: "newer", text: "b", namespace: "x" },
      { id: "other", text: "c", namespace: "y" },
    ]);
    const res = await search(api, { namespace: { eq: "x" } });
    expect(ids(res)).toEqual(["newer", "older"]);
    expect(res.total).toBe(2);
  });
});

describe("times named in the query", () => {
  async function seed(): Promise<Api> {
    const api = await tenantApi();
    await store(api, [
      // Alike but for a number (a distinct fact to dedup), so only their dates set them apart.
      { id: "march", text: "Team 1 decided to move its service to Postgres", event_date: "2024-03-12T10:00:00Z" },
      { id: "may", text: "Team 2 decided to move its service to Postgres", event_date: "2024-05-20T10:00:00Z" },
      { id: "undated", text: "Team 3 decided to move its service to Postgres", created_at: "2024-05-02T10:00:00Z" },
    ]);
    return api;
  }
  const base = { recency_boost: false, explain: true };

  it("ranks memories dated in that time first, and says how well each date fits", async () => {
    const res = await search(await seed(), { ...base, text: "what did we decide to move to Postgres in May 2024" });
    expect(ids(res)).toEqual(["may", "undated", "march"]);
    const time = Object.fromEntries(res.memories.map((m) => [m.id, m.score_details.time]));
    expect(time.may).toBe(1);
    // Dated only by when it was stored: half the weight of an event date.
    expect(time.undated).toBe(0.5);
    expect(time.march).toBeLessThan(0.1);
  });

  it("finds a memory dated then even when its words barely match", async () => {
    const api = await seed();
    await store(api, [
      { id: "offsite", text: "Offsite in Lisbon: agreed on quarterly planning", event_date: "2024-10-15T09:00:00Z" },
    ]);
    const res = await search(api, { ...base, text: "what happened in October 2024" });
    expect(ids(res)[0]).toBe("offsite");
    // Dated candidates pass the request's filter like every other.
    const elsewhere = await search(api, { ...base, text: "what happened in October 2024", namespace: { eq: "other" } });
    expect(ids(elsewhere)).not.toContain("offsite");
  });

  it("changes nothing when no time is named, or in the single-list modes", async () => {
    const plain = await search(await seed(), { ...base, text: "what did we decide to move to Postgres" });
    expect(plain.memories.every((m) => m.score_details.time === null)).toBe(true);
    const keyword = await search(await seed(), {
      ...base,
      text: "move to Postgres in May 2024",
      search_mode: "keyword",
    });
    expect(keyword.memories.every((m) => m.score_details.time === null)).toBe(true);
  });
});

describe("recency boost", () => {
  async function seed(): Promise<Api> {
    const api = await tenantApi();
    await store(api, [
      { id: "old", text: "redis caching layer for the api", created_at: daysAgo(60), last_accessed: daysAgo(60) },
      { id: "new", text: "the redis caching layer that the api gateway calls" },
    ]);
    return api;
  }

  it("lets a fresh memory overtake a slightly better but stale one (AMS defaults)", async () => {
    const api = await seed();
    const boosted = await search(api, { text: "redis caching layer api", explain: true });
    expect(ids(boosted)).toEqual(["new", "old"]);
    const old = boosted.memories[1];
    // AMS: recency = 0.6·0.5^(60/7) + 0.4·0.5^(60/30); score = 0.8·relevance + 0.2·recency.
    const expectedRecency = 0.6 * 0.5 ** (60 / 7) + 0.4 * 0.5 ** 2;
    expect(old.score_details.recency).toBeCloseTo(expectedRecency, 3);
    expect(old.score).toBeCloseTo(0.8 * old.score_details.relevance + 0.2 * expectedRecency, 3);

    const plain = await search(api, { text: "redis caching layer api", recency_boost: false });
    expect(ids(plain)).toEqual(["old", "new"]);
  });

  // Each search touches last_accessed of its hits, so every case starts from a fresh seed.
  const q = { text: "redis caching layer api", explain: true };
  it.each([
    ["recency_recency_weight 0", { recency_recency_weight: 0 }, ["old", "new"]],
    ["recency_semantic_weight 0", { recency_semantic_weight: 0 }, ["new", "old"]],
    [
      "long half-lives",
      { recency_half_life_last_access_days: 1e6, recency_half_life_created_days: 1e6 },
      ["old", "new"],
    ],
  ])("honours %s", async (_name, params, order) => {
    expect(ids(await search(await seed(), { ...q, ...params }))).toEqual(order);
  });

  it("weights freshness and novelty as given", async () => {
    const fresh = await search(await seed(), { ...q, recency_freshness_weight: 1, recency_novelty_weight: 0 });
    expect(fresh.memories.find((m) => m.id === "old").score_details.recency).toBeCloseTo(0.5 ** (60 / 7), 4);
    const novel = await search(await seed(), {
      ...q,
      recency_freshness_weight: 0,
      recency_novelty_weight: 1,
      recency_half_life_created_days: 60,
    });
    expect(novel.memories.find((m) => m.id === "old").score_details.recency).toBeCloseTo(0.5, 4);
  });

  it("updates last_accessed of returned hits, rate-limited", async () => {
    const api = await seed();
    await search(api, { text: "redis", search_mode: "keyword" });
    const after = await api.call("GET", "/v1/long-term-memory/old");
    const touched = Date.parse(after.body.last_accessed);
    expect(Date.now() - touched).toBeLessThan(60_000);
    await search(api, { text: "redis", search_mode: "keyword" });
    const again = await api.call("GET", "/v1/long-term-memory/old");
    expect(again.body.last_accessed).toBe(after.body.last_accessed);
  });
});

describe("filters", () => {
  const at = (iso: string) => Date.parse(iso) / 1000;

  async function seed(): Promise<Api> {
    const api = await tenantApi();
    await store(api, [
      {
        id: "m1",
        text: "alpha memory",
        session_id: "s1",
        namespace: "ns1",
        user_id: "u1",
        topics: ["ai", "ml"],
        entities: ["OpenAI", "Claude"],
        memory_type: "semantic",
        created_at: "2024-01-01T00:00:00Z",
        last_accessed: "2024-06-01T00:00:00Z",
      },
      {
        id: "m2",
        text: "beta memory",
        session_id: "s2",
        namespace: "ns1",
        user_id: "u2",
        topics: ["ai"],
        entities: ["OpenAI"],
        memory_type: "episodic",
        created_at: "2024-02-01T00:00:00Z",
        last_accessed: "2024-07-01T00:00:00Z",
      },
      {
        id: "m3",
        text: "gamma memory",
        namespace: "ns2",
        topics: ["cooking"],
        entities: [],
        memory_type: "message",
        created_at: "2024-03-01T00:00:00Z",
        last_accessed: "2024-08-01T00:00:00Z",
      },
    ]);
    return api;
  }

  const cases: [string, Record<string, unknown>, string[]][] = [
    ["session_id eq", { session_id: { eq: "s1" } }, ["m1"]],
    ["session_id ne (null passes)", { session_id: { ne: "s1" } }, ["m2", "m3"]],
    ["session_id any", { session_id: { any: ["s1", "s2"] } }, ["m1", "m2"]],
    ["session_id all", { session_id: { all: ["s2"] } }, ["m2"]],
    ["namespace eq", { namespace: { eq: "ns1" } }, ["m1", "m2"]],
    ["namespace in_", { namespace: { in_: ["ns2"] } }, ["m3"]],
    ["namespace not_eq", { namespace: { not_eq: "ns1" } }, ["m3"]],
    ["namespace not_in", { namespace: { not_in: ["ns1", "ns2"] } }, []],
    ["user_id eq", { user_id: { eq: "u2" } }, ["m2"]],
    ["user_id ne", { user_id: { ne: "u2" } }, ["m1", "m3"]],
    ["memory_type any", { memory_type: { any: ["semantic", "message"] } }, ["m1", "m3"]],
    ["memory_type eq", { memory_type: { eq: "episodic" } }, ["m2"]],
    ["topics eq (contains)", { topics: { eq: "ml" } }, ["m1"]],
    ["topics ne (does not contain)", { topics: { ne: "ai" } }, ["m3"]],
    ["topics any", { topics: { any: ["ml", "cooking"] } }, ["m1", "m3"]],
    ["topics all", { topics: { all: ["ai", "ml"] } }, ["m1"]],
    ["entities all", { entities: { all: ["OpenAI", "Claude"] } }, ["m1"]],
    ["entities any", { entities: { any: ["Claude", "Nobody"] } }, ["m1"]],
    ["entities none", { entities: { none: ["Claude"] } }, ["m2", "m3"]],
    [
      "created_at gte+lte (epoch seconds)",
      { created_at: { gte: at("2024-01-15T00:00:00Z"), lte: at("2024-02-15T00:00:00Z") } },
      ["m2"],
    ],
    ["created_at gt (ISO)", { created_at: { gt: "2024-02-01T00:00:00Z" } }, ["m3"]],
    ["created_at lt", { created_at: { lt: at("2024-02-01T00:00:00Z") } }, ["m1"]],
    ["created_at eq", { created_at: { eq: at("2024-02-01T00:00:00Z") } }, ["m2"]],
    ["created_at ne", { created_at: { ne: at("2024-02-01T00:00:00Z") } }, ["m1", "m3"]],
    [
      "created_at between",
      { created_at: { between: [at("2024-01-01T00:00:00Z"), at("2024-02-01T00:00:00Z")] } },
      ["m1", "m2"],
    ],
    ["last_accessed gt", { last_accessed: { gt: at("2024-06-15T00:00:00Z") } }, ["m2", "m3"]],
    [
      "last_accessed between (ISO)",
      { last_accessed: { between: ["2024-06-15T00:00:00Z", "2024-07-15T00:00:00Z"] } },
      ["m2"],
    ],
    ["combined", { namespace: { eq: "ns1" }, topics: { any: ["ai"] }, user_id: { ne: "u1" } }, ["m2"]],
  ];

  // Browse (no text), hybrid and semantic paths all apply the same filter. A search touches
  // last_accessed, so each runs on a fresh seed.
  it.each(cases)("%s", async (_name, filter, expected) => {
    for (const extra of [{}, { text: "memory" }, { text: "memory", search_mode: "semantic" }]) {
      const res = await search(await seed(), { ...filter, ...extra, limit: 100 });
      expect(ids(res).sort()).toEqual(expected);
    }
  });
});

describe("degraded search", () => {
  it("falls back to keyword results with a warning when the vector index throws", async () => {
    const vectorize = new FakeVectorize(0);
    const api = await tenantApi({ env: { VECTORIZE: vectorize } });
    await store(api, [{ id: "k1", text: "The invoice is due on Monday" }]);
    vectorize.failQueries = true;
    for (const mode of ["hybrid", "semantic"]) {
      const res = await search(api, { text: "invoice due", search_mode: mode });
      expect(ids(res)).toEqual(["k1"]);
      expect(res.memories[0].score_type).toBe("keyword");
      expect(res.warnings?.[0]).toMatch(/vector search unavailable/);
    }
  });

  it("stores without a vector when the embedder fails, and upkeep embeds it later", async () => {
    const ai = new FakeWorkersAi();
    const api = await tenantApi({ env: { AI: ai, EMBEDDING_MODEL: "@cf/baai/bge-base-en-v1.5" } });
    ai.down = true;
    const res = await api.call("POST", "/v1/long-term-memory/", {
      memories: [{ id: "e1", text: "Backups run nightly at 2am" }],
    });
    expect(res.status).toBe(200);
    expect(res.body.warnings[0]).toMatch(/embedding failed/);
    const kw = await search(api, { text: "nightly backups" });
    expect(ids(kw)).toEqual(["e1"]);
    expect(kw.warnings?.[0]).toMatch(/vector search unavailable/);

    ai.down = false;
    const before = await search(api, { text: "backups nightly", search_mode: "semantic" });
    expect(ids(before)).toEqual([]);
    await runScheduled(api.env);
    const after = await search(api, { text: "backups nightly", search_mode: "semantic" });
    expect(ids(after)).toEqual(["e1"]);
  });
});

describe("keyword query planning", () => {
  it("drops terms too common to rank by, so only the informative term decides matches", async () => {
    const api = await tenantApi();
    const filler = Array.from({ length: 600 }, (_, i) => ({ id: `f${i}`, text: `routine status update number ${i}` }));
    await store(api, filler.slice(0, 100));
    for (let i = 100; i < 600; i += 100) await store(api, filler.slice(i, i + 100));
    await store(api, [{ id: "rare", text: "status of the zeppelin project" }]);

    const res = await search(api, { text: "zeppelin status", search_mode: "keyword" });
    // "status" is in every memory here: ranking by it would only add 600 near-zero matches.
    expect(ids(res)).toEqual(["rare"]);
    // A query of common terms only still matches on the rarest of them.
    const common = await search(api, { text: "routine status", search_mode: "keyword", limit: 5 });
    expect(common.memories).toHaveLength(5);
  });
});
