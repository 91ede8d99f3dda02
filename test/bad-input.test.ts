import { describe, expect, it } from "vitest";
import { call, hubEvents, runScheduled, tenantApi, type Api } from "./support/api.ts";
import { dbOf } from "./support/shards.ts";

async function rowCount(api: Api): Promise<number> {
  const row = await (
    await dbOf(api.tenant)
  )
    .prepare(
      "SELECT (SELECT count(*) FROM memories WHERE tenant = ?1) + (SELECT count(*) FROM memory_vectors WHERE tenant = ?1) + (SELECT count(*) FROM memory_history WHERE tenant = ?1) AS n",
    )
    .bind(api.tenant)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

const longId = "x".repeat(65);
const multibyteId = "é".repeat(33); // 66 bytes, 33 characters

const cases: [string, string, string, unknown, number, RegExp][] = [
  ["malformed JSON", "POST", "/v1/long-term-memory/", "{not json", 400, /not valid JSON/],
  ["empty body", "POST", "/v1/long-term-memory/", "", 400, /empty/],
  ["memories not an array", "POST", "/v1/long-term-memory/", { memories: "nope" }, 422, /^memories/],
  [
    "an unpaired surrogate (it could not read back)",
    "POST",
    "/v1/long-term-memory/",
    { memories: [{ text: "a\ud800b" }] },
    422,
    /memories\.0\.text: must be valid Unicode/,
  ],
  [
    "an unpaired surrogate in a metadata key",
    "POST",
    "/api/memories",
    { key: "k", value: "v", metadata: { "\udc00": 1 } },
    422,
    /metadata\.\S+: must be valid Unicode/,
  ],
  ["no memories", "POST", "/v1/long-term-memory/", { memories: [] }, 422, /at least one/],
  ["text missing", "POST", "/v1/long-term-memory/", { memories: [{ id: "a" }] }, 422, /memories\.0\.text/],
  [
    "text blank",
    "POST",
    "/v1/long-term-memory/",
    { memories: [{ text: "   " }] },
    422,
    /memories\.0\.text: must not be empty/,
  ],
  [
    "id over 64 bytes",
    "POST",
    "/v1/long-term-memory/",
    { memories: [{ id: longId, text: "x" }] },
    422,
    /memories\.0\.id.*64 bytes/,
  ],
  [
    "multi-byte id over 64 bytes",
    "POST",
    "/v1/long-term-memory/",
    { memories: [{ id: multibyteId, text: "x" }] },
    422,
    /64 bytes/,
  ],
  [
    "unknown memory_type",
    "POST",
    "/v1/long-term-memory/",
    { memories: [{ text: "x", memory_type: "gossip" }] },
    422,
    /memory_type/,
  ],
  [
    "priority out of range",
    "POST",
    "/v1/long-term-memory/",
    { memories: [{ text: "x", priority: 11 }] },
    422,
    /priority/,
  ],
  ["topics of numbers", "POST", "/v1/long-term-memory/", { memories: [{ text: "x", topics: [1] }] }, 422, /topics\.0/],
  [
    "bad date",
    "POST",
    "/v1/long-term-memory/",
    { memories: [{ text: "x", created_at: "yesterday-ish" }] },
    422,
    /created_at.*ISO-8601/,
  ],
  [
    "second record bad",
    "POST",
    "/v1/long-term-memory/",
    { memories: [{ text: "ok" }, { text: 5 }] },
    422,
    /memories\.1\.text/,
  ],
  ["search text a number", "POST", "/v1/long-term-memory/search", { text: 5 }, 422, /^text/],
  ["limit 0", "POST", "/v1/long-term-memory/search", { text: "x", limit: 0 }, 422, /^limit/],
  ["limit 101", "POST", "/v1/long-term-memory/search", { text: "x", limit: 101 }, 422, /^limit/],
  ["negative offset", "POST", "/v1/long-term-memory/search", { text: "x", offset: -1 }, 422, /^offset/],
  [
    "unknown tag operator",
    "POST",
    "/v1/long-term-memory/search",
    { topics: { contains: "ai" } },
    422,
    /topics: unknown field: contains/,
  ],
  [
    "unknown numeric operator",
    "POST",
    "/v1/long-term-memory/search",
    { created_at: { after: 5 } },
    422,
    /created_at: unknown field: after/,
  ],
  [
    "empty filter",
    "POST",
    "/v1/long-term-memory/search",
    { namespace: {} },
    422,
    /namespace: a filter needs at least one operator/,
  ],
  ["any not a list", "POST", "/v1/long-term-memory/search", { topics: { any: "ai" } }, 422, /topics\.any/],
  [
    "between of one",
    "POST",
    "/v1/long-term-memory/search",
    { created_at: { between: [1] } },
    422,
    /created_at\.between/,
  ],
  ["bad search_mode", "POST", "/v1/long-term-memory/search", { text: "x", search_mode: "psychic" }, 422, /search_mode/],
  ["hybrid_alpha > 1", "POST", "/v1/long-term-memory/search", { text: "x", hybrid_alpha: 2 }, 422, /hybrid_alpha/],
  [
    "negative half-life",
    "POST",
    "/v1/long-term-memory/search",
    { text: "x", recency_half_life_created_days: -1 },
    422,
    /recency_half_life_created_days/,
  ],
  ["forget: budget negative", "POST", "/v1/long-term-memory/forget", { policy: { budget: -1 } }, 422, /policy\.budget/],
  ["forget: limit in query", "POST", "/v1/long-term-memory/forget?limit=0", { policy: {} }, 422, /^limit/],
  ["forget: dry_run not boolean", "POST", "/v1/long-term-memory/forget?dry_run=maybe", { policy: {} }, 422, /dry_run/],
  ["delete without ids", "DELETE", "/v1/long-term-memory", undefined, 422, /memory_ids/],
  ["delete with a long id", "DELETE", `/v1/long-term-memory?memory_ids=${longId}`, undefined, 422, /memory_ids/],
  ["patch with bad field", "PATCH", "/v1/long-term-memory/p", { confidence: 3 }, 422, /confidence/],
  ["crud: key missing", "POST", "/api/memories", { value: "v" }, 422, /^key/],
  ["crud: value missing", "POST", "/api/memories", { key: "k" }, 422, /^value/],
  ["crud: bad scope", "POST", "/api/memories", { key: "k", value: "v", scope: "universe" }, 422, /^scope/],
  [
    "crud: ttl in the past",
    "POST",
    "/api/memories",
    { key: "k", value: "v", ttl: "2001-01-01T00:00:00Z" },
    422,
    /ttl: must be in the future/,
  ],
  ["crud: ttl not a date", "POST", "/api/memories", { key: "k", value: "v", ttl: "soon" }, 422, /^ttl/],
  [
    "crud: tags not strings",
    "POST",
    "/api/memories",
    { key: "k", value: "v", metadata: { tags: "a" } },
    422,
    /metadata\.tags/,
  ],
  ["crud: list limit", "GET", "/api/memories?limit=5000", undefined, 422, /^limit/],
  ["crud: bad list scope", "GET", "/api/memories?scope=x", undefined, 422, /^scope/],
  ["crud: search without query", "POST", "/api/memories/search", { agent_id: "a" }, 422, /^query/],
  ["crud: put bad value", "PUT", "/api/memories/x", { value: 3 }, 422, /^value/],
];

describe("bad input: a clear 4xx naming the problem, never a 500, nothing written", () => {
  it.each(cases)("%s", async (_name, method, path, body, status, message) => {
    const api = await tenantApi();
    const res = await api.call(method, path, body);
    expect(res.status).toBe(status);
    expect(res.body.message).toMatch(message);
    expect(res.body.detail).toBe(res.body.message);
    expect(res.body).not.toHaveProperty("stack");
    expect(await rowCount(api)).toBe(0);
  });

  it("413 for a body over MAX_BODY_BYTES, by Content-Length or by actual size", async () => {
    const api = await tenantApi({ env: { MAX_BODY_BYTES: "1000" } });
    const big = { memories: [{ text: "x".repeat(2000) }] };
    const res = await api.call("POST", "/v1/long-term-memory/", big);
    expect(res.status).toBe(413);
    expect(res.body.message).toMatch(/exceeds 1000 bytes/);
    // A lying Content-Length does not get past the check.
    const lying = await call(api.env, "POST", "/v1/long-term-memory/", JSON.stringify(big), {
      authorization: `Bearer ${api.token}`,
      "content-length": "10",
    });
    expect(lying.status).toBe(413);
    expect(await rowCount(api)).toBe(0);
  });

  it("413 for a chunked body without a length as soon as it passes the cap, not after reading it whole", async () => {
    const api = await tenantApi({ env: { MAX_BODY_BYTES: "100000" } });
    let pulled = 0;
    const chunk = new TextEncoder().encode(`{"memories":[{"text":"${"x".repeat(16_000)}`);
    // 40 MB if read to the end.
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (++pulled > 2_500) c.close();
        else c.enqueue(chunk);
      },
    });
    const res = await call(api.env, "POST", "/v1/long-term-memory/", body as never, {
      authorization: `Bearer ${api.token}`,
    });
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThan(20);
    expect(await rowCount(api)).toBe(0);
  });

  it("MCP refuses an unpaired surrogate as REST does", async () => {
    const api = await tenantApi();
    const rpc = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "create_long_term_memories", arguments: { memories: [{ text: "lone \ud800 surrogate" }] } },
    };
    const res = await call(api.env, "POST", "/mcp", rpc, {
      authorization: `Bearer ${api.token}`,
      accept: "application/json, text/event-stream",
      host: "edgemem.test",
    });
    expect(res.status).toBe(422);
    expect(res.body.issues[0].field).toBe("params.arguments.memories.0.text");
    expect(await rowCount(api)).toBe(0);
  });

  it("MCP has the same body cap as REST", async () => {
    const api = await tenantApi({ env: { MAX_BODY_BYTES: "100000" } });
    const rpc = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "create_long_term_memories", arguments: { memories: [{ text: "y".repeat(200_000) }] } },
    };
    const res = await call(api.env, "POST", "/mcp", rpc, {
      authorization: `Bearer ${api.token}`,
      accept: "application/json, text/event-stream",
      host: "edgemem.test",
    });
    expect(res.status).toBe(413);
    expect(await rowCount(api)).toBe(0);
  });

  it("a batch over MAX_BATCH is refused whole", async () => {
    const api = await tenantApi({ env: { MAX_BATCH: "3" } });
    const res = await api.call("POST", "/v1/long-term-memory/", {
      memories: Array.from({ length: 4 }, (_, i) => ({ text: `m${i}` })),
    });
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/at most 3/);
    expect(await rowCount(api)).toBe(0);
  });

  it("a batch that fails in the database writes nothing (one transaction)", async () => {
    const api = await tenantApi();
    await api.call("POST", "/api/memories", { agent_id: "a", scope: "agent", key: "taken", value: "first" });
    const before = await rowCount(api);
    // The second record collides with the existing (agent_id, scope, key): the whole batch must roll back.
    const res = await api.call("POST", "/v1/long-term-memory/", {
      memories: [
        { id: "fine", text: "would be fine alone" },
        { id: "clash", text: "collides", agent_id: "a", scope: "agent", key: "taken" },
      ],
    });
    expect(res.status).toBe(409);
    expect(await rowCount(api)).toBe(before);
    expect((await api.call("GET", "/v1/long-term-memory/fine")).status).toBe(404);
  });

  it("junk of every JSON type on every write route is a 4xx", async () => {
    const api = await tenantApi();
    const junk = [null, 0, "s", [], [1], { a: 1 }, { memories: [null] }, { text: null }];
    for (const [method, path] of [
      ["POST", "/v1/long-term-memory/"],
      ["POST", "/v1/long-term-memory/search"],
      ["POST", "/v1/long-term-memory/forget"],
      ["PATCH", "/v1/long-term-memory/x"],
      ["POST", "/api/memories"],
      ["PUT", "/api/memories/x"],
      ["POST", "/api/memories/search"],
    ]) {
      for (const body of junk) {
        // Unknown top-level fields are tolerated (clients send extras); search and forget have no required field.
        const lenient = path!.endsWith("/search") || path!.endsWith("/forget");
        if (lenient && body !== null && typeof body === "object" && !Array.isArray(body)) continue;
        const res = await api.call(method!, path!, JSON.stringify(body));
        expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBeLessThan(500);
      }
    }
    expect(await rowCount(api)).toBe(0);
  });
});

describe("scheduled upkeep", () => {
  it("purges expired memories of every tenant, with history and events", async () => {
    const a = await tenantApi();
    const b = await tenantApi();
    for (const api of [a, b]) {
      const res = await api.call("POST", "/v1/long-term-memory/", {
        memories: [
          { id: "exp", text: "soon gone", ttl_seconds: 60 },
          { id: "stay", text: "stays" },
        ],
      });
      expect(res.status).toBe(200);
    }
    for (const api of [a, b])
      await (
        await dbOf(api.tenant)
      )
        .prepare("UPDATE memories SET expires_at = ? WHERE id = 'exp' AND tenant = ?")
        .bind(Date.now() - 1, api.tenant)
        .run();

    await runScheduled(a.env);

    for (const api of [a, b]) {
      const { results } = await (
        await dbOf(api.tenant)
      )
        .prepare("SELECT id FROM memories WHERE tenant = ?")
        .bind(api.tenant)
        .all<{ id: string }>();
      expect(results.map((r) => r.id)).toEqual(["stay"]);
      const vectors = await (
        await dbOf(api.tenant)
      )
        .prepare("SELECT count(*) AS n FROM memory_vectors WHERE tenant = ?")
        .bind(api.tenant)
        .first<{ n: number }>();
      expect(vectors?.n).toBe(1);
      const hist = await api.call("GET", "/v1/long-term-memory/exp/history");
      expect(hist.body.history.at(-1)).toMatchObject({ op: "delete", reason: "expired", actor: "system" });
      expect((await hubEvents(api.tenant)).filter((e) => e.type === "memory_deleted").map((e) => e.memory.id)).toEqual([
        "exp",
      ]);
    }
  });
});
