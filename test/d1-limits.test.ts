import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { dbOf, oneShard } from "./support/shards.ts";
import { buildMemory } from "../src/domain/memory.ts";
import { indexTerms, keywordQuery, keywordScore } from "../src/domain/text.ts";
import type { WriteOp } from "../src/domain/writes.ts";
import { MemoryRepo } from "../src/store/memory-repo.ts";
import { andAll, chunk, containsAllWords, D1_LIMITS } from "../src/store/d1-limits.ts";
import { compileFilter } from "../src/store/sql-filter.ts";
import { search, store, tenantApi, type Api } from "./support/api.ts";

// Local SQLite enforces D1's parameter, compound-SELECT, LIKE-pattern and expression-depth
// limits, so each of these answered 500 before the SQL builders respected them.

const QUESTION = "What programming language did I say I prefer for backend services, and why?";
const values = (n: number, prefix = "v") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function seeded(): Promise<Api> {
  const api = await tenantApi();
  await store(api, [
    {
      id: "lang",
      text: "I prefer Go for backend services because it compiles fast and deploys as one binary",
      namespace: "n0",
    },
    { id: "food", text: "Lunch is served at noon", namespace: "n1" },
  ]);
  return api;
}

describe("D1 limits: long questions", () => {
  for (const mode of ["hybrid", "keyword"]) {
    it(`a 13-word question searches (${mode})`, async () => {
      const api = await seeded();
      const res = await api.call("POST", "/v1/long-term-memory/search", { text: QUESTION, search_mode: mode });
      expect(res.status).toBe(200);
      expect(res.body.memories[0].id).toBe("lang");
    });
  }

  it("a 13-word question thinks and builds a prompt", async () => {
    const api = await seeded();
    const think = await api.call("POST", "/v1/think", { question: QUESTION });
    expect(think.status).toBe(200);
    const prompt = await api.call("POST", "/v1/memory/prompt", { query: QUESTION, long_term_search: { limit: 5 } });
    expect(prompt.status, JSON.stringify(prompt.body)).toBe(200);
    expect(JSON.stringify(prompt.body)).toContain("compiles fast");
  });

  it("a question of 32+ distinct words and one of a 10,000-character word search", async () => {
    const api = await seeded();
    const many = values(60, "word").join(" ") + " backend";
    const res = await api.call("POST", "/v1/long-term-memory/search", { text: many, search_mode: "keyword" });
    expect(res.status).toBe(200);
    const long = await api.call("POST", "/v1/long-term-memory/search", {
      text: "x".repeat(10_000),
      search_mode: "keyword",
    });
    expect(long.status).toBe(200);
    expect(long.body.memories).toEqual([]);
  });
});

describe("D1 limits: CRUD search words", () => {
  const WORD49 = "a".repeat(49);
  const URL = "https://example.com/some/quite/long/path/to/a/resource?with=query&and=more";
  const EMAIL = "someone.with.a.long.name@subdomain.example-company.com";
  const CJK = "東京都渋谷区神宮前一丁目二番地三号四階五六七八";

  async function crud(): Promise<Api> {
    const api = await tenantApi();
    for (const [key, value] of [
      ["word", `the token is ${WORD49} here`],
      ["url", `see ${URL} for details`],
      ["email", `write to ${EMAIL}`],
      ["cjk", `住所は${CJK}です`],
      ["other", "nothing to see"],
    ]) {
      const res = await api.call("POST", "/api/memories", { key, value });
      expect(res.status).toBe(201);
    }
    return api;
  }

  const cases: [string, string, string[]][] = [
    ["a 49-character word", WORD49, ["word"]],
    ["a URL", URL, ["url"]],
    ["an e-mail address", EMAIL, ["email"]],
    ["20 CJK characters", CJK.slice(0, 20), ["cjk"]],
    ["a word with LIKE wildcards", "%_%", []],
    ["upper case", "SEE", ["url", "other"]],
  ];
  for (const [what, query, keys] of cases) {
    it(`finds ${what}`, async () => {
      const api = await crud();
      const res = await api.call("POST", "/api/memories/search", { query });
      expect(res.status).toBe(200);
      expect(res.body.map((m: { key: string }) => m.key).sort()).toEqual([...keys].sort());
    });
  }

  it("searches with 60 words", async () => {
    const api = await crud();
    const res = await api.call("POST", "/api/memories/search", { query: values(60, "w").join(" ") });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
    const all = await api.call("POST", "/api/memories/search", { query: Array(60).fill("see").join(" ") });
    expect(all.status).toBe(200);
    expect(all.body.map((m: { key: string }) => m.key).sort()).toEqual(["other", "url"]);
  });
});

describe("D1 limits: filters at their maximum list sizes", () => {
  it("namespace all/any/ne of 100 values", async () => {
    const api = await seeded();
    const all = await search(api, { text: QUESTION, namespace: { all: values(100, "n") } });
    expect(all.memories).toEqual([]);
    const allSame = await search(api, { text: QUESTION, namespace: { all: Array(100).fill("n0") } });
    expect(allSame.memories.map((m) => m.id)).toEqual(["lang"]);
    const any = await search(api, { text: QUESTION, namespace: { any: values(100, "n") }, search_mode: "keyword" });
    expect(any.memories.map((m) => m.id)).toEqual(["lang"]);
    const ne = await search(api, { text: QUESTION, namespace: { not_in: values(100, "x").concat([]) } });
    expect(ne.memories.map((m) => m.id)).toContain("lang");
    const prompt = await api.call("POST", "/v1/memory/prompt", {
      query: QUESTION,
      long_term_search: { namespace: { all: values(100, "n") } },
    });
    expect(prompt.status).toBe(200);
  });

  it("every filter field with every operator at its maximum at once", async () => {
    const api = await seeded();
    const tag = (p: string) => ({
      eq: `${p}0`,
      ne: "x",
      not_eq: "y",
      any: values(100, p),
      in_: values(100, p),
      all: [`${p}0`],
      not_in: values(100, "z"),
      none: values(100, "q"),
    });
    const num = { gt: 0, gte: 0, lt: 4_000_000_000, lte: 4_000_000_000, ne: 1, between: [0, 4_000_000_000] };
    const body: Record<string, unknown> = { text: QUESTION, search_mode: "keyword" };
    for (const f of [
      "session_id",
      "namespace",
      "topics",
      "entities",
      "user_id",
      "memory_type",
      "agent_id",
      "extraction_strategy",
    ])
      body[f] = tag(f);
    for (const f of ["created_at", "last_accessed", "updated_at"]) body[f] = num;
    const res = await api.call("POST", "/v1/long-term-memory/search", body);
    expect(res.status).toBe(200);
    expect(res.body.memories).toEqual([]);
    const relaxed = {
      ...body,
      session_id: undefined,
      topics: undefined,
      entities: undefined,
      user_id: undefined,
      memory_type: undefined,
      agent_id: undefined,
      extraction_strategy: undefined,
      namespace: { ...tag("n"), all: values(100, "n").slice(0, 1) },
    };
    const hit = await api.call("POST", "/v1/long-term-memory/search", relaxed);
    expect(hit.status).toBe(200);
    expect(hit.body.memories.map((m: { id: string }) => m.id)).toEqual(["lang"]);
  });
});

describe("keyword ranking is per tenant", () => {
  const DOCS = [
    { id: "a", text: "Redis handles caching for the billing service" },
    { id: "b", text: "We moved caching from Memcached to Redis last year" },
    { id: "c", text: "Kafka carries billing events to the warehouse" },
  ];
  const scores = async (api: Api) =>
    (
      await search(api, { text: "redis caching billing", search_mode: "keyword", explain: true, recency_boost: false })
    ).memories.map((m) => [m.id, m.score_details.keyword]);

  it("another tenant's documents with the same words change no score", async () => {
    const c = await tenantApi();
    await store(c, DOCS);
    const before = await scores(c);
    expect(before.length).toBe(3);

    const d = await tenantApi();
    for (let i = 0; i < 200; i += 100) {
      await store(
        d,
        Array.from({ length: 100 }, (_, j) => ({ id: `d${i + j}`, text: `redis caching ${i + j}` })),
      );
    }
    expect(await scores(c)).toEqual(before);
    // Tenant D ranks by its own counts: in all of its documents, "redis" weighs little there.
    const dScores = await scores(d);
    expect(dScores.length).toBeGreaterThan(0);
  });

  it("ranks from the index alone, yet never returns expired memories, even ones outranking every live one", async () => {
    const tenant = `t-${crypto.randomUUID()}`;
    const now = Date.now();
    const row = (id: string, text: string, expiresAt: number | null) => {
      const { terms, length } = indexTerms(text, null);
      return env.DB.prepare(
        `INSERT INTO memories (tenant, id, text, memory_hash, created_at, updated_at, last_accessed, expires_at, terms, doc_len)
         VALUES (?, ?, ?, 'h', ?, ?, ?, ?, ?, ?)`,
      ).bind(tenant, id, text, now, now, now, expiresAt, JSON.stringify(terms), length);
    };
    await env.DB.batch([
      ...Array.from({ length: 25 }, (_, i) => row(`gone${i}`, `zeppelin zeppelin zeppelin ${i}`, now - 1000)),
      ...Array.from({ length: 3 }, (_, i) =>
        row(`live${i}`, `a long note that mentions the zeppelin once, number ${i}`, null),
      ),
    ]);
    const repo = new MemoryRepo(oneShard(), false);
    const terms = ["zeppelin"];
    const { keyword: hits } = await repo.searchCandidates(
      tenant,
      keywordQuery(terms, await repo.keywordStats(tenant, terms))!,
      [],
      now,
      {},
      20,
    );
    expect(hits.map((h) => h.memory.id).sort()).toEqual(["live0", "live1", "live2"]);
  });

  it("ranks by BM25 of the texts, whether the terms' postings are merged (up to 5 terms) or joined (more)", async () => {
    const repo = new MemoryRepo(oneShard(), false);
    const tenant = `t-${crypto.randomUUID()}`;
    const now = Date.now();
    const words = ["redis", "caching", "billing", "kafka", "events", "warehouse", "postgres", "search"];
    // Varied lengths and repeats, so that term frequency and document length both matter.
    const texts = Array.from({ length: 40 }, (_, i) =>
      Array.from({ length: 2 + (i % 7) }, (_, j) => words[(i * 3 + j * j) % words.length]).join(" "),
    );
    const ops = await Promise.all(
      texts.map(async (text, i): Promise<WriteOp> => ({
        kind: "put",
        before: null,
        after: await buildMemory(tenant, `m${i}`, { text }, now),
        vector: { kind: "keep" },
        audit: false,
      })),
    );
    await repo.write(tenant, ops, "test", now);
    for (const terms of [
      ["redi", "cach"],
      ["redi", "cach", "bill", "kafka", "event", "warehous", "postgr"],
    ]) {
      const q = keywordQuery(terms, await repo.keywordStats(tenant, terms))!;
      expect(q.terms).toHaveLength(terms.length);
      const expected = texts
        .map((text, i) => ({ id: `m${i}`, bm25: keywordScore(text, null, q).bm25 }))
        .filter((x) => x.bm25 > 0)
        .sort((a, b) => b.bm25 - a.bm25);
      for (const filter of [{}, { memory_type: { eq: "semantic" } }]) {
        const { keyword } = await repo.searchCandidates(tenant, q, [], now, filter, 10);
        expect(keyword.map((h) => h.score)).toEqual(expected.slice(0, 10).map((x) => expect.closeTo(x.bm25, 9)));
        for (const h of keyword) expect(h.score).toBeCloseTo(keywordScore(h.memory.text, null, q).bm25, 9);
      }
    }
  });

  it("common terms are pruned by the tenant's own document frequencies", async () => {
    const stats = (docs: number, df: Record<string, number>) => ({
      docs,
      length: docs * 8,
      df: new Map(Object.entries(df)),
    });
    // "redi" is in every document of this tenant (pruned), however rare it is elsewhere.
    const q = keywordQuery(["redi", "cach"], stats(1000, { redi: 1000, cach: 10 }))!;
    expect(q.terms.map((t) => t.term)).toEqual(["cach"]);
    // In another tenant where it is rare, it is kept.
    expect(keywordQuery(["redi", "cach"], stats(1000, { redi: 10, cach: 10 }))!.terms.map((t) => t.term)).toEqual([
      "redi",
      "cach",
    ]);
  });

  it("tenant statistics follow writes and deletes", async () => {
    const api = await tenantApi();
    await store(api, DOCS);
    const db = await dbOf(api.tenant);
    const row = () => db.prepare("SELECT docs, length FROM keyword_stats WHERE tenant = ?").bind(api.tenant).first();
    // Document frequencies (migration 0011) as counted from the postings themselves.
    const df = async () => {
      const [kept, counted] = await db.batch<{ term: string; df: number }>([
        db.prepare("SELECT term, df FROM keyword_df WHERE tenant = ? ORDER BY term").bind(api.tenant),
        db
          .prepare("SELECT term, count(*) AS df FROM memory_terms WHERE tenant = ? GROUP BY term ORDER BY term")
          .bind(api.tenant),
      ]);
      expect(kept!.results).toEqual(counted!.results);
      return Object.fromEntries(kept!.results.map((r) => [r.term, r.df]));
    };
    expect(await row()).toEqual({ docs: 3, length: 23 });
    expect(await df()).toMatchObject({ redi: 2, cach: 2, bill: 2, kafka: 1 });
    await store(api, [{ id: "a", text: "Redis" }]);
    expect(await row()).toEqual({ docs: 3, length: 17 });
    expect(await df()).toMatchObject({ redi: 2, cach: 1, bill: 1 });
    expect((await api.call("DELETE", "/v1/long-term-memory?memory_ids=b")).status).toBe(200);
    expect(await row()).toEqual({ docs: 2, length: 8 });
    // Terms no memory has any more leave no row.
    expect(Object.keys(await df()).sort()).toEqual([
      "bill",
      "carri",
      "event",
      "kafka",
      "redi",
      "the",
      "to",
      "warehous",
    ]);
    const terms = await db
      .prepare("SELECT count(*) AS n FROM memory_terms WHERE tenant = ?")
      .bind(api.tenant)
      .first<{ n: number }>();
    expect(terms!.n).toBe(8);
  });
});

describe("D1 limits: rows", () => {
  it("a working-memory session that would outgrow a 2 MB row is a 413 and leaves the session as it was", async () => {
    const api = await tenantApi({
      env: { MAX_BODY_BYTES: String(8 * 1024 * 1024), WORKING_MEMORY_SUMMARIZATION: "false" },
    });
    const message = (i: number) => ({ role: "user", content: `${i} ${"é".repeat(99_000)}` });
    const ok = await api.call("PUT", "/v1/working-memory/big", { messages: [message(0)] });
    expect(ok.status).toBe(200);
    const res = await api.call("PUT", "/v1/working-memory/big", {
      messages: Array.from({ length: 12 }, (_, i) => message(i)),
    });
    expect(res.status).toBe(413);
    expect(res.body.message).toMatch(/session big would take \d+ bytes stored; a row holds at most 2000000/);
    expect((await api.call("GET", "/v1/working-memory/big")).body.messages).toHaveLength(1);
  });

  it("extracted_from holds message ids (bounded), so a record and its history row stay under 2 MB", async () => {
    const api = await tenantApi();
    const res = await api.call("POST", "/v1/long-term-memory/", {
      memories: [{ text: "x", extracted_from: ["m".repeat(65)] }],
    });
    expect(res.status).toBe(422);
    expect(res.body.issues[0].field).toBe("memories.0.extracted_from.0");
  });
});

describe("d1-limits helpers", () => {
  it("balances AND trees", () => {
    expect(andAll([])).toBe("1");
    expect(andAll(["a"])).toBe("a");
    expect(andAll(["a", "b", "c"])).toBe("((a AND b) AND c)");
    const depth = (s: string) =>
      Math.max(
        ...[...s].reduce((acc, ch) => [...acc, (acc.at(-1) ?? 0) + (ch === "(" ? 1 : ch === ")" ? -1 : 0)], [0]),
      );
    expect(depth(andAll(values(1000)))).toBeLessThanOrEqual(10);
  });

  it("chunks", () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 3)).toEqual([]);
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });

  it("matches any number of words with one parameter", () => {
    const c = containsAllWords(["m.text"], values(500));
    expect(c.params).toHaveLength(1);
    expect(c.sql).not.toMatch(/LIKE/);
  });

  it("compiles the largest filter within the parameter limit", () => {
    const tag = {
      eq: "a",
      ne: "b",
      not_eq: "c",
      any: values(100),
      in_: values(100),
      all: values(100),
      not_in: values(100),
      none: values(100),
    };
    const num = { gt: 1, gte: 1, lt: 2, lte: 2, eq: 1, ne: 3, between: [0, 5] as [number, number] };
    const f = compileFilter({
      session_id: tag,
      namespace: tag,
      user_id: tag,
      agent_id: tag,
      memory_type: tag,
      scope: tag,
      extraction_strategy: tag,
      topics: tag,
      entities: tag,
      tags: tag,
      created_at: num,
      last_accessed: num,
      updated_at: num,
      event_date: num,
      pinned: true,
    });
    // The rest of the largest statement (list: tenant, now, contains, a cursor's two, limit, offset) binds 7 more.
    expect(f.params.length + 7).toBeLessThanOrEqual(D1_LIMITS.params);
  });
});
