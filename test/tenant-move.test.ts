import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { TenantMoves } from "../src/service/tenant-move.ts";
import type { TenantMoveStore } from "../src/service/ports.ts";
import { placement, Shards } from "../src/store/databases.ts";
import { NOT_COPIED, TENANT_TABLES, TenantCopy } from "../src/store/tenant-copy.ts";
import { BOOKMARK_HEADER } from "../src/wire/http.ts";
import { call, runScheduled, search, store, tenantApi, type Api, type Reply } from "./support/api.ts";
import {
  admin,
  directoryOf,
  exportTenant,
  fenceOn,
  moveTenant,
  otherShard,
  rowCount,
  type TenantExport,
} from "./support/moves.ts";
import { testShards } from "./support/shards.ts";
import { connect } from "./support/sockets.ts";

// Moves run between the two real local D1 databases the tests bind (DB, DB_SHARD_1), with
// PLACEMENT_TTL_SECONDS=1 (vitest.config.ts), so a drain lasts 1–2 s. Each test makes dozens of
// requests in sequence: 60 s each, for a machine loaded by the rest of the suite.

async function placementOf(tenant: string): Promise<string> {
  return (await directoryOf(tenant))!.shard;
}

/** A tenant with some of everything: memories (one edited, one deleted), vectors, history, graph, a session, feedback, maintenance. */
async function seeded(): Promise<Api> {
  const api = await tenantApi();
  await store(api, [
    { id: "redis", text: "We decided to use Redis for caching", topics: ["infra"], user_id: "u1" },
    { id: "pg", text: "Maria prefers PostgreSQL for analytics", namespace: "team", entities: ["Maria"] },
    { id: "gone", text: "A memory that will be deleted" },
    { id: "dated", text: "The launch happened in May", event_date: "2025-05-02T00:00:00Z" },
  ]);
  expect(
    (await api.call("PATCH", "/v1/long-term-memory/redis", { text: "We use Redis for caching and queues" })).status,
  ).toBe(200);
  expect((await api.call("DELETE", "/v1/long-term-memory/?memory_ids=gone")).status).toBe(200);
  const ingest = await api.call("POST", "/v1/ingest", {
    messages: [{ role: "user", content: "Alice works at Acme. Acme uses Kubernetes for deployments." }],
  });
  expect(ingest.status).toBe(200);
  const wm = await api.call("PUT", "/v1/working-memory/s1", {
    messages: [{ role: "user", content: "Plan the launch party" }],
    memories: [{ id: "wm1", text: "The party is on Friday" }],
  });
  expect(wm.status).toBe(200);
  expect((await api.call("POST", "/v1/feedback", { memory_id: "pg", rating: "positive" })).status).toBe(200);
  expect((await api.call("POST", "/v1/feedback", { memory_id: "dated", rating: "negative" })).status).toBe(200);
  expect((await api.call("POST", "/v1/consolidate")).status).toBe(200);
  return api;
}

/** What the tenant's reads answer (search, list, get, history, graph, status, session). */
async function reads(api: Api): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, method, path, body] of [
    ["search", "POST", "/v1/long-term-memory/search", { text: "caching with Redis" }],
    ["keyword", "POST", "/v1/long-term-memory/search", { text: "PostgreSQL analytics", search_mode: "keyword" }],
    ["semantic", "POST", "/v1/long-term-memory/search", { text: "launch in May", search_mode: "semantic" }],
    ["list", "GET", "/api/memories", undefined],
    ["get", "GET", "/v1/long-term-memory/redis", undefined],
    ["history", "GET", "/v1/long-term-memory/redis/history", undefined],
    ["gone", "GET", "/v1/long-term-memory/gone/history", undefined],
    ["graph", "POST", "/v1/graph/query", { query: "Acme" }],
    ["status", "GET", "/v1/status", undefined],
    ["session", "GET", "/v1/working-memory/s1", undefined],
  ] as const) {
    const res = await api.call(method, path, body);
    expect(res.status, name).toBe(200);
    out[name] = res.body;
  }
  return out;
}

/** Answers without their scores: a recency boost decays by the second, move or not. */
function withoutScores(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === "score" || k === "dist" ? undefined : v)));
}

function nonEmpty(x: TenantExport): string[] {
  return Object.entries(x)
    .filter(([, rows]) => rows.length)
    .map(([t]) => t);
}

describe("moving a tenant between shards", { timeout: 60_000 }, () => {
  it("every table holding tenant rows is moved, or left on purpose (derived or the move's own)", async () => {
    // D1's own tables (_cf_*) may not be inspected.
    const { results } = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name",
    ).all<{ name: string }>();
    const withTenant: string[] = [];
    for (const { name } of results) {
      const cols = await env.DB.prepare("SELECT name FROM pragma_table_info(?)").bind(name).all<{ name: string }>();
      if (cols.results.some((c) => c.name === "tenant")) withTenant.push(name);
    }
    const handled = [...TENANT_TABLES.map((t) => t.name), ...NOT_COPIED].sort();
    expect(withTenant.sort()).toEqual(handled);
  });

  it("copies every row, answers every read the same, empties and tombstones the source, and points the directory at the target", async () => {
    const api = await seeded();
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    const shards = testShards();
    const before = withoutScores(await reads(api));
    const exported = await exportTenant(shards.db(from), api.tenant);
    // Some of everything, so that every table's copy is exercised.
    expect(nonEmpty(exported).sort()).toEqual(
      [...TENANT_TABLES.map((t) => t.name), "memory_terms", "keyword_stats"]
        // Offline, no profile summary is cached (user_profiles holds LLM summaries only).
        .filter((t) => t !== "vector_deletes" && t !== "user_profiles")
        .sort(),
    );

    const answers = await moveTenant(api.tenant, to);
    const last = answers.at(-1)!.body;
    expect(last).toMatchObject({ tenant: api.tenant, from, to, phase: "done", done: true, error: null });
    for (const spec of TENANT_TABLES) {
      expect(last.copied[spec.name], spec.name).toBe(exported[spec.name]!.length);
      expect(last.checksums[spec.name]).toMatchObject({ rows: exported[spec.name]!.length });
      expect(last.checksums[spec.name].sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(answers.map((a) => a.body.phase)).toContain("drain");

    expect(await exportTenant(shards.db(to), api.tenant)).toEqual(exported);
    expect(await rowCount(shards.db(from), api.tenant)).toBe(0);
    const progress = "SELECT count(*) AS n FROM tenant_move_progress WHERE tenant = ?";
    expect((await shards.db(to).prepare(progress).bind(api.tenant).first<{ n: number }>())!.n).toBe(0);
    expect(await fenceOn(from, api.tenant)).toEqual({ state: "moved", to_shard: to });
    expect(await fenceOn(to, api.tenant)).toBeNull();
    expect(await directoryOf(api.tenant)).toEqual({ shard: to, pinned: 1 });
    expect(withoutScores(await reads(api))).toEqual(before);

    const placed = await admin("GET", `/v1/admin/tenants/${api.tenant}`);
    expect(placed.status).toBe(200);
    expect(placed.body).toMatchObject({ tenant: api.tenant, shard: to, pinned: true, shards: ["DB", "DB_SHARD_1"] });
    expect(placed.body.move).toMatchObject({ from, to, phase: "done", done: true });

    // Writes go to the target now.
    await store(api, [{ id: "after", text: "Written after the move" }]);
    expect((await api.call("GET", "/v1/long-term-memory/after")).status).toBe(200);
    expect(await rowCount(shards.db(from), api.tenant)).toBe(0);
    expect((await search(api, { text: "written after the move" })).memories[0].id).toBe("after");
  });
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const silent = { ...createLogger("error"), error: () => {} };

/** The move service on the test shards, `steps` per call (1: every phase can be watched), pages as small as asked. */
function mover(
  opts: { steps?: number; clock?: () => number; store?: TenantMoveStore; pageBytes?: number } = {},
): TenantMoves {
  return new TenantMoves({
    store: opts.store ?? new TenantCopy(testShards(), { bytes: opts.pageBytes ?? 2_000, firstReadRows: 3 }),
    log: silent,
    clock: opts.clock ?? Date.now,
    placementTtlMs: 1_000,
    budget: { steps: opts.steps ?? 1, ms: 60_000 },
  });
}

/** Calls the service until the move is finished (or `until` says stop), waiting as it asks. */
async function drive(
  m: TenantMoves,
  tenant: string,
  to: string,
  until: (phase: string) => boolean = () => false,
): Promise<Awaited<ReturnType<TenantMoves["move"]>>> {
  for (let i = 0; i < 2000; i++) {
    const v = await m.move(tenant, to, 1);
    if (v.done || until(v.phase)) return v;
    if (v.retryAfterMs) await pause(v.retryAfterMs);
  }
  throw new Error("the move did not finish");
}

/** Retries a write answered 503 (as the SDK does, faster), and returns its final answer. */
async function retried(write: () => Promise<Reply>, log: number[]): Promise<Reply> {
  for (let i = 0; i < 400; i++) {
    const res = await write();
    log.push(res.status);
    if (res.status !== 503) return res;
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.body.error).toBe("unavailable");
    await pause(25);
  }
  throw new Error("still 503 after 400 tries");
}

/**
 * Makes this isolate believe, for a minute, that the tenant is on `shard`: a stale placement, as
 * an isolate that read the directory just before a switch has.
 */
async function stalePlacement(tenant: string, shard: string): Promise<void> {
  const stale = {
    withSession: () => ({
      prepare: () => ({ bind: () => ({ first: async () => ({ shard }) }) }),
    }),
  } as unknown as D1Database;
  const shards = new Shards(
    new Map([
      ["DB", stale],
      ["DB_SHARD_1", env.DB_SHARD_1!],
    ]),
  );
  expect(await placement(shards, tenant, Date.now(), { ttlMs: 60_000, fresh: true })).toBe(shard);
}

describe("writes, sockets and stale isolates across a move", { timeout: 60_000 }, () => {
  it("writes during the fence get 503 + Retry-After and nothing; retried, every one lands on the target", async () => {
    const api = await tenantApi();
    await store(api, [
      { id: "keep", text: "Kept through the move" },
      { id: "edit", text: "To be edited during the move" },
    ]);
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    const m = mover();
    expect((await m.move(api.tenant, to)).phase).toBe("clear");
    expect(await fenceOn(from, api.tenant)).toEqual({ state: "moving", to_shard: to });

    // Fenced: refused, nothing written, reads still served.
    const refused = await api.call("POST", "/v1/long-term-memory/", { memories: [{ id: "x", text: "refused" }] });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect((await api.call("GET", "/v1/long-term-memory/x")).status).toBe(404);
    expect((await api.call("GET", "/v1/long-term-memory/keep")).body.text).toBe("Kept through the move");

    // Writers of every kind keep retrying while the move runs step by step.
    const statuses: number[] = [];
    const writers = [
      retried(
        () => api.call("POST", "/v1/long-term-memory/", { memories: [{ id: "x", text: "stored in the fence" }] }),
        statuses,
      ),
      retried(() => api.call("PATCH", "/v1/long-term-memory/edit", { text: "Edited during the move" }), statuses),
      retried(
        () => api.call("PUT", "/v1/working-memory/s", { messages: [{ role: "user", content: "hello" }] }),
        statuses,
      ),
      retried(() => api.call("POST", "/v1/feedback", { memory_id: "keep", rating: "positive" }), statuses),
      retried(
        () => api.call("POST", "/api/memories", { key: "k", value: "crud during the move", agent_id: "a" }),
        statuses,
      ),
    ];
    const done = await drive(m, api.tenant, to);
    expect(done).toMatchObject({ phase: "done", from, to });
    const answers = await Promise.all(writers);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 201]);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);

    expect((await api.call("GET", "/v1/long-term-memory/x")).body.text).toBe("stored in the fence");
    expect((await api.call("GET", "/v1/long-term-memory/edit")).body.text).toBe("Edited during the move");
    expect((await api.call("GET", "/v1/working-memory/s")).body.messages).toHaveLength(1);
    expect((await api.call("GET", "/v1/long-term-memory/keep")).body.confidence).toBeGreaterThan(0.8);
    expect((await api.call("GET", "/api/memories?agent_id=a")).body.map((m: any) => m.value)).toEqual([
      "crud during the move",
    ]);
    expect(await rowCount(testShards().db(from), api.tenant)).toBe(0);
  });

  it("an open engram socket keeps receiving events, its seq continuing across the move, and its commands read the target", async () => {
    const api = await tenantApi();
    const ws = await connect(api);
    await store(api, [{ id: "one", text: "Before the move" }]);
    const first = await ws.next((f) => f.event === "memory_created" && f.data.memory_id === "one");
    const from = await placementOf(api.tenant);
    await moveTenant(api.tenant, otherShard(from));
    await store(api, [{ id: "two", text: "After the move" }]);
    const second = await ws.next((f) => f.event === "memory_created" && f.data.memory_id === "two");
    expect(second.seq).toBe(first.seq + 1);
    ws.send({ id: "r", command: "recall", payload: { query: "after the move" } });
    const reply = await ws.next((f) => f.id === "r");
    expect(reply.status).toBe("ok");
    expect(JSON.stringify(reply.data)).toContain("After the move");
    ws.send({ id: "w", command: "remember", payload: { content: "Remembered over the socket after the move" } });
    expect((await ws.next((f) => f.id === "w")).status).toBe("ok");
    const third = await ws.next((f) => f.event === "memory_created" && f.data.content?.startsWith("Remembered"));
    expect(third.seq).toBe(second.seq + 1);
    ws.ws.close();
  });

  it("after the move the source refuses every write of the tenant, however it comes; a stale isolate's write gets 503 and its retry lands on the target", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "m", text: "moved memory" }]);
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    await moveTenant(api.tenant, to);
    const source = testShards().db(from);
    for (const sql of [
      "INSERT INTO memories (tenant, id, text, memory_hash, created_at, updated_at, last_accessed) VALUES (?, 'x', 'x', 'h', 0, 0, 0)",
      "INSERT INTO working_memory (tenant, session_id, messages, memories, long_term_memory_strategy, created_at, updated_at, last_accessed) VALUES (?, 's', '[]', '[]', '{}', 0, 0, 0)",
      "INSERT INTO maintenance (tenant) VALUES (?)",
    ]) {
      await expect(source.prepare(sql).bind(api.tenant).run()).rejects.toThrow(/tenant moving/);
    }
    expect(await rowCount(source, api.tenant)).toBe(0);

    // An isolate that still places the tenant on the source: its write is refused (nothing lands
    // there), and the retry reads the directory again.
    await stalePlacement(api.tenant, from);
    const stale = await api.call("POST", "/v1/long-term-memory/", { memories: [{ id: "late", text: "late write" }] });
    expect(stale.status).toBe(503);
    const retry = await api.call("POST", "/v1/long-term-memory/", { memories: [{ id: "late", text: "late write" }] });
    expect(retry.status).toBe(200);
    expect(await rowCount(source, api.tenant)).toBe(0);

    // A read with the write's bookmark (the target's) asks the directory past a stale placement.
    const bookmark = retry.headers.get(BOOKMARK_HEADER)!;
    expect(bookmark.startsWith(`${to}:`)).toBe(true);
    await stalePlacement(api.tenant, from);
    const read = await call(api.env, "GET", "/v1/long-term-memory/late", undefined, {
      authorization: `Bearer ${api.token}`,
      [BOOKMARK_HEADER]: bookmark,
    });
    expect(read.status).toBe(200);
    expect(read.body.text).toBe("late write");
  });
});

describe("the shards' cron sweeps during a move", { timeout: 60_000 }, () => {
  it("upkeep of a shard keeps purging its other tenants while one of them is fenced, and the moved tenant is swept on its new shard", async () => {
    const moving = await tenantApi();
    await store(moving, [{ id: "old", text: "An expired memory of the moving tenant" }]);
    const from = await placementOf(moving.tenant);
    const to = otherShard(from);
    // A neighbour on the same shard.
    const neighbour = await tenantApi();
    await env.DB.prepare("INSERT INTO tenant_shards (tenant, shard, pinned, placed_at) VALUES (?, ?, 1, 0)")
      .bind(neighbour.tenant, from)
      .run();
    await store(neighbour, [{ id: "old", text: "An expired memory of the neighbour" }]);
    for (const api of [moving, neighbour]) {
      const put = await api.call("PUT", "/v1/working-memory/s", { messages: [{ role: "user", content: "hi" }] });
      expect(put.status).toBe(200);
    }
    const db = testShards().db(from);
    // Expired, the moving tenant's first: a sweep meets it before the neighbour's.
    for (const [api, at] of [
      [moving, 1],
      [neighbour, 2],
    ] as const) {
      await db.prepare("UPDATE memories SET expires_at = ? WHERE tenant = ?").bind(at, api.tenant).run();
      await db.prepare("UPDATE working_memory SET expires_at = ? WHERE tenant = ?").bind(at, api.tenant).run();
    }
    const rows = async (shard: D1Database, tenant: string) =>
      (await shard
        .prepare(
          "SELECT (SELECT count(*) FROM memories WHERE tenant = ?1) + (SELECT count(*) FROM working_memory WHERE tenant = ?1) AS n",
        )
        .bind(tenant)
        .first<{ n: number }>())!.n;

    const m = mover();
    expect((await m.move(moving.tenant, to)).phase).toBe("clear");
    await runScheduled(env);
    expect(await rows(db, neighbour.tenant)).toBe(0);
    expect(await rows(db, moving.tenant)).toBe(2);

    expect((await drive(m, moving.tenant, to)).phase).toBe("done");
    const target = testShards().db(to);
    expect(await rows(target, moving.tenant)).toBe(2);
    await runScheduled(env);
    expect(await rows(target, moving.tenant)).toBe(0);
  });
});

describe("there and back, trivial moves, bad input", { timeout: 60_000 }, () => {
  it("a tenant moves back to the first shard (its tombstone cleared), equal to what it was", async () => {
    const api = await seeded();
    const a = await placementOf(api.tenant);
    const b = otherShard(a);
    const shards = testShards();
    const original = await exportTenant(shards.db(a), api.tenant);
    await moveTenant(api.tenant, b);
    expect(await fenceOn(a, api.tenant)).toEqual({ state: "moved", to_shard: b });
    const back = await moveTenant(api.tenant, a);
    expect(back.at(-1)!.body).toMatchObject({ from: b, to: a, phase: "done" });
    expect(await exportTenant(shards.db(a), api.tenant)).toEqual(original);
    expect(await fenceOn(a, api.tenant)).toBeNull();
    expect(await fenceOn(b, api.tenant)).toEqual({ state: "moved", to_shard: a });
    expect(await rowCount(shards.db(b), api.tenant)).toBe(0);
    expect(await directoryOf(api.tenant)).toEqual({ shard: a, pinned: 1 });
    expect((await api.call("PATCH", "/v1/long-term-memory/pg", { text: "Maria now prefers DuckDB" })).status).toBe(200);
  });

  it("a tenant never seen is placed on the target at once; moving a tenant to its own shard changes nothing", async () => {
    const fresh = `t-${crypto.randomUUID()}`;
    const res = await admin("POST", `/v1/admin/tenants/${fresh}/move`, { to: "DB_SHARD_1" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tenant: fresh, from: null, to: "DB_SHARD_1", phase: "done", done: true });
    expect(await directoryOf(fresh)).toEqual({ shard: "DB_SHARD_1", pinned: 1 });
    const api = await tenantApi({ tenant: fresh });
    await store(api, [{ id: "m", text: "first memory" }]);
    expect(await rowCount(env.DB_SHARD_1!, fresh)).toBeGreaterThan(0);

    const again = await admin("POST", `/v1/admin/tenants/${fresh}/move`, { to: "DB_SHARD_1" });
    expect(again.body).toMatchObject({ from: "DB_SHARD_1", to: "DB_SHARD_1", phase: "done", done: true, copied: {} });
    const described = await admin("GET", `/v1/admin/tenants/${fresh}`);
    expect(described.body).toMatchObject({ shard: "DB_SHARD_1", pinned: true, move: null });
    expect(await fenceOn("DB_SHARD_1", fresh)).toBeNull();

    const unknown = await admin("GET", `/v1/admin/tenants/t-${crypto.randomUUID()}`);
    expect(unknown.body).toMatchObject({ shard: null, pinned: false, placed_at: null, move: null });
  });

  it("bad input is a 4xx naming the field, and changes nothing; a move to another shard in progress is a 409", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "m", text: "stays put" }]);
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    const path = `/v1/admin/tenants/${api.tenant}/move`;
    for (const [body, field] of [
      [{ to: "DB_SHARD_9" }, "to"],
      [{}, "to"],
      [{ to: "" }, "to"],
      [{ to, drain_seconds: 0 }, "drain_seconds"],
      [{ to, drain_seconds: 1.5 }, "drain_seconds"],
      [{ to, drain_seconds: 100_000 }, "drain_seconds"],
      [{ to, extra: true }, "extra"],
    ] as const) {
      const res = await admin("POST", path, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.issues[0].field, JSON.stringify(body)).toBe(field);
    }
    const long = await admin("POST", `/v1/admin/tenants/${"t".repeat(65)}/move`, { to });
    expect(long.status).toBe(422);
    expect(long.body.issues[0].field).toBe("tenant");
    expect((await admin("POST", path, "not json")).status).toBe(400);
    for (const bad of ["%E0%A4%A", "%ED%A0%80", "%"]) {
      const res = await admin("POST", `/v1/admin/tenants/${bad}/move`, { to });
      expect(res.status, bad).toBe(400);
      expect(res.body.issues[0].field).toBe("tenant");
    }
    // Any tenant a token may name can be looked up (and, never seen, placed): unicode, spaces, NUL.
    for (const odd of ["東京 tenant", "a\u0000b", "🙂"]) {
      const res = await admin("GET", `/v1/admin/tenants/${encodeURIComponent(odd)}`);
      expect(res.status, odd).toBe(200);
      expect(res.body.tenant).toBe(odd);
    }
    // Not an admin: the tenant's own token (even with write), or no token.
    const writer = await tenantApi({ tenant: api.tenant, scope: "memory:read memory:write" });
    expect((await writer.call("POST", path, { to })).status).toBe(403);
    expect((await api.call("POST", path, { to })).status).toBe(403);
    expect((await call(api.env, "POST", path, { to })).status).toBe(401);
    expect((await admin("DELETE", path)).status).toBe(409);

    expect(await directoryOf(api.tenant)).toEqual({ shard: from, pinned: 0 });
    expect(await fenceOn(from, api.tenant)).toBeNull();
    expect(await fenceOn(to, api.tenant)).toBeNull();
    expect((await admin("GET", `/v1/admin/tenants/${api.tenant}`)).body.move).toBeNull();

    // A move in progress (stopped after its fence) refuses a move elsewhere.
    const m = mover();
    await m.move(api.tenant, to);
    const elsewhere = await admin("POST", path, { to: from });
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body.message).toContain(`to ${to} is in progress`);
    const described = await admin("GET", `/v1/admin/tenants/${api.tenant}`);
    expect(described.body.move).toMatchObject({ from, to, phase: "clear", done: false });
    expect((await drive(m, api.tenant, to)).phase).toBe("done");
  });
});

describe("failures, cancels and crashed drivers", { timeout: 60_000 }, () => {
  it("a page that landed on the target before its driver died is not copied again; the next driver resumes after the lease", async () => {
    const api = await seeded();
    await store(
      api,
      Array.from({ length: 30 }, (_, i) => ({ id: `bulk-${i}`, text: `Bulk memory number ${i} about topic ${i % 7}` })),
    );
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    const shards = testShards();
    const exported = await exportTenant(shards.db(from), api.tenant);
    const real = new TenantCopy(shards, { bytes: 2_000, firstReadRows: 3 });
    let pages = 0;
    let dead = false;
    // Dies right after its 4th page committed on the target, before saving anything.
    const dying = new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          if (dead) throw new Error("driver crashed");
          const out = await value.apply(target, args);
          if (prop === "copyPage" && ++pages === 4) dead = true;
          return out;
        };
      },
    }) as TenantMoveStore;
    await expect(drive(mover({ store: dying, steps: 100 }), api.tenant, to)).rejects.toThrow("driver crashed");
    const saved = (await admin("GET", `/v1/admin/tenants/${api.tenant}`)).body.move;
    expect(saved.phase).toBe("copy");

    // Within the lease another driver waits; a minute later it takes over.
    const waiting = await mover({ steps: 100 }).move(api.tenant, to);
    expect(waiting.phase).toBe("copy");
    expect(waiting.retryAfterMs).toBeGreaterThan(0);
    const later = mover({ steps: 100, clock: () => Date.now() + 61_000 });
    const done = await drive(later, api.tenant, to);
    expect(done).toMatchObject({ phase: "done", error: null });
    for (const spec of TENANT_TABLES) expect(done.copied[spec.name], spec.name).toBe(exported[spec.name]!.length);
    expect(await exportTenant(shards.db(to), api.tenant)).toEqual(exported);
    expect(await rowCount(shards.db(from), api.tenant)).toBe(0);
  });

  it("a difference found by verification rolls the move back: the source takes writes again, the target is emptied and tombstoned", async () => {
    const api = await seeded();
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    const shards = testShards();
    const m = mover({ steps: 1 });
    const verifying = await drive(m, api.tenant, to, (phase) => phase === "verify");
    expect(verifying.phase).toBe("verify");
    // Change one copied row on the target behind the mover's back (lifting the fence the way it does).
    const target = shards.db(to);
    const fence = await target.prepare("SELECT * FROM tenant_fences WHERE tenant = ?").bind(api.tenant).first();
    await target.batch([
      target.prepare("DELETE FROM tenant_fences WHERE tenant = ?").bind(api.tenant),
      target.prepare("UPDATE memories SET text = 'tampered' WHERE tenant = ? AND id = 'pg'").bind(api.tenant),
      target
        .prepare("INSERT INTO tenant_fences (tenant, state, to_shard, at) VALUES (?, ?, ?, ?)")
        .bind(api.tenant, fence!.state, fence!.to_shard, fence!.at),
    ]);
    const failed = await drive(m, api.tenant, to);
    expect(failed).toMatchObject({ phase: "failed", done: true, from, to });
    expect(failed.error).toMatch(/verification failed: memories differs/);
    expect(await directoryOf(api.tenant)).toEqual({ shard: from, pinned: 0 });
    expect(await fenceOn(from, api.tenant)).toBeNull();
    expect(await fenceOn(to, api.tenant)).toEqual({ state: "moved", to_shard: from });
    expect(await rowCount(target, api.tenant)).toBe(0);
    expect((await api.call("PATCH", "/v1/long-term-memory/pg", { text: "writable again" })).status).toBe(200);
    // And a new move goes through.
    expect((await moveTenant(api.tenant, to)).at(-1)!.body.phase).toBe("done");
    expect((await api.call("GET", "/v1/long-term-memory/pg")).body.text).toBe("writable again");
  });

  it("a target that fills up (D1's 10 GB) rolls the move back instead of leaving the tenant fenced", async () => {
    const api = await seeded();
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    const real = new TenantCopy(testShards(), { bytes: 2_000, firstReadRows: 3 });
    let pages = 0;
    const full = new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== "copyPage" || typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          if (++pages === 3) throw new Error("D1_ERROR: database or disk is full: SQLITE_FULL");
          return value.apply(target, args);
        };
      },
    }) as TenantMoveStore;
    const failed = await drive(mover({ store: full, steps: 100 }), api.tenant, to);
    expect(failed).toMatchObject({ phase: "failed", done: true });
    expect(failed.error).toContain(`${to} is full`);
    expect(await directoryOf(api.tenant)).toEqual({ shard: from, pinned: 0 });
    expect(await fenceOn(from, api.tenant)).toBeNull();
    expect(await rowCount(testShards().db(to), api.tenant)).toBe(0);
    expect((await api.call("PATCH", "/v1/long-term-memory/pg", { text: "still writable" })).status).toBe(200);
  });

  it("a cancel before the switch rolls back at once; after the switch it is refused", async () => {
    const api = await seeded();
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    const m = mover({ steps: 1 });
    await drive(m, api.tenant, to, (phase) => phase === "copy");
    await m.move(api.tenant, to);
    const cancelled: Reply[] = [];
    do cancelled.push(await admin("DELETE", `/v1/admin/tenants/${api.tenant}/move`));
    while (!cancelled.at(-1)!.body.done && cancelled.length < 100);
    expect(cancelled[0]!.status).toBe(200);
    expect(cancelled.at(-1)!.body).toMatchObject({ phase: "failed", error: "cancelled", done: true });
    expect(await fenceOn(from, api.tenant)).toBeNull();
    expect(await rowCount(testShards().db(to), api.tenant)).toBe(0);
    expect((await api.call("PATCH", "/v1/long-term-memory/pg", { text: "after the cancel" })).status).toBe(200);

    await drive(m, api.tenant, to, (phase) => phase === "drain");
    const late = await admin("DELETE", `/v1/admin/tenants/${api.tenant}/move`);
    expect(late.status).toBe(409);
    expect(late.body.message).toContain("move it back instead");
    expect((await drive(m, api.tenant, to)).phase).toBe("done");
  });

  it("two callers driving one move at once both get answers, and the move finishes once, every row equal", async () => {
    const api = await seeded();
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    const shards = testShards();
    const exported = await exportTenant(shards.db(from), api.tenant);
    const [a, b] = await Promise.all([
      admin("POST", `/v1/admin/tenants/${api.tenant}/move`, { to }),
      admin("POST", `/v1/admin/tenants/${api.tenant}/move`, { to }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await Promise.all([moveTenant(api.tenant, to), moveTenant(api.tenant, to)]);
    expect(await exportTenant(shards.db(to), api.tenant)).toEqual(exported);
    expect(await rowCount(shards.db(from), api.tenant)).toBe(0);
  });
});

describe("sizes and caches", { timeout: 60_000 }, () => {
  it("a tenant of 1,000 memories moves in default-sized pages, every row equal", async () => {
    const api = await tenantApi();
    for (let b = 0; b < 10; b++) {
      await store(
        api,
        Array.from({ length: 100 }, (_, i) => ({
          id: `m-${b}-${i}`,
          text: `Memory ${b * 100 + i}: the team discussed item ${i} of batch ${b}, owner ${["ana", "bo", "cy"][i % 3]}`,
          topics: [`batch-${b}`],
        })),
      );
    }
    const from = await placementOf(api.tenant);
    const to = otherShard(from);
    const shards = testShards();
    const exported = await exportTenant(shards.db(from), api.tenant);
    expect(exported.memories).toHaveLength(1000);
    const started = Date.now();
    const answers = await moveTenant(api.tenant, to, { drain_seconds: 1 });
    const total = Date.now() - started;
    const switched = Date.parse(answers.at(-1)!.body.switched_at) - started;
    const rows = Object.values(exported).reduce((n, r) => n + r.length, 0);
    console.log(
      `tenant move, 1,000 memories (${rows} rows): ${answers.length} calls, ${switched} ms to the switch, ${total} ms in all (1 s drain)`,
    );
    expect(answers.at(-1)!.body.copied.memories).toBe(1000);
    expect(await exportTenant(shards.db(to), api.tenant)).toEqual(exported);
    expect(await rowCount(shards.db(from), api.tenant)).toBe(0);
  }, 120_000);

  // The D1 vector index caches each tenant's vectors per isolate and loads rows past the highest
  // vseq it has seen. The copies get the target's own vseqs: the move makes them start above the
  // source's counter, or after a move from a shard whose vseqs run higher, rows below the cached
  // maximum would never be loaded.
  it("semantic search finds a memory written after a move from a shard with higher vseqs", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "old", text: "Giraffes sleep standing up" }]);
    const from = await placementOf(api.tenant);
    // The source's vseqs jump far past the target's.
    await testShards()
      .db(from)
      .prepare(
        `INSERT INTO memory_vectors (vseq, tenant, memory_id, vector_id, model, dims, vector, memory_type, state, written_at)
         VALUES (1000000000 + abs(random() % 1000000), 'vseq-filler', ?1, ?1, 'x', 1, '', 'semantic', 'indexed', 0)`,
      )
      .bind(crypto.randomUUID())
      .run();
    await store(api, [{ id: "older", text: "Giraffes have long necks" }]);
    expect((await search(api, { text: "giraffes sleep", search_mode: "semantic" })).memories[0].id).toBe("old");
    await moveTenant(api.tenant, otherShard(from));
    await store(api, [{ id: "new", text: "Zebras have striped skin" }]);
    const vseqs = await testShards()
      .db(otherShard(from))
      .prepare("SELECT min(vseq) AS n FROM memory_vectors WHERE tenant = ?")
      .bind(api.tenant)
      .first<{ n: number }>();
    expect(vseqs!.n).toBeGreaterThan(1_000_000_000);
    const hits = await search(api, { text: "zebras striped skin", search_mode: "semantic" });
    expect(hits.memories.map((m) => m.id)).toContain("new");
  });
});
