import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseBookmark, rendezvous } from "../src/domain/placement.ts";
import { BOOKMARK_HEADER } from "../src/wire/http.ts";
import { call, search, store, tenantApi, type Api } from "./support/api.ts";
import { dbOf, testShards } from "./support/shards.ts";
import { connect } from "./support/sockets.ts";

// The tests run with two D1 databases bound (wrangler.toml: DB and DB_SHARD_1), real ones in
// workerd: every other test file runs its tenants across both too.

async function rowsIn(db: D1Database, tenant: string): Promise<number> {
  const row = await db
    .prepare(
      `SELECT (SELECT count(*) FROM memories WHERE tenant = ?1) + (SELECT count(*) FROM memory_vectors WHERE tenant = ?1)
            + (SELECT count(*) FROM memory_history WHERE tenant = ?1) AS n`,
    )
    .bind(tenant)
    .first<{ n: number }>();
  return row!.n;
}

describe("tenant placement", () => {
  it("rendezvous hashing spreads tenants and a new shard takes only tenants that move to it", () => {
    const tenants = Array.from({ length: 2000 }, (_, i) => `tenant-${i}`);
    const two = tenants.map((t) => rendezvous(t, ["DB", "DB_SHARD_1"]));
    const onFirst = two.filter((s) => s === "DB").length;
    expect(onFirst).toBeGreaterThan(900);
    expect(onFirst).toBeLessThan(1100);
    const three = tenants.map((t) => rendezvous(t, ["DB", "DB_SHARD_1", "DB_SHARD_2"]));
    // Every tenant either stays or goes to the new shard; about a third goes.
    three.forEach((s, i) => expect(s === two[i] || s === "DB_SHARD_2").toBe(true));
    const moved = three.filter((s) => s === "DB_SHARD_2").length;
    expect(moved).toBeGreaterThan(560);
    expect(moved).toBeLessThan(780);
    // The order the shards are listed in does not matter.
    expect(tenants.map((t) => rendezvous(t, ["DB_SHARD_1", "DB"]))).toEqual(two);
  });

  it("each tenant's records live only on the shard the directory names, which hashing chose", async () => {
    const apis: Api[] = [];
    for (let i = 0; i < 8; i++) apis.push(await tenantApi());
    const shards = testShards();
    const used = new Set<string>();
    for (const api of apis) {
      await store(api, [{ id: "m", text: `Fact of ${api.tenant}` }]);
      const dir = await env.DB.prepare("SELECT shard FROM tenant_shards WHERE tenant = ?")
        .bind(api.tenant)
        .first<{ shard: string }>();
      expect(dir?.shard).toBe(rendezvous(api.tenant, shards.names));
      used.add(dir!.shard);
      for (const name of shards.names)
        expect(await rowsIn(shards.db(name), api.tenant)).toBe(name === dir!.shard ? 3 : 0);
    }
    // Eight random tenants on one shard only: 1 in 128; a failure here is worth a look.
    expect(used.size).toBe(2);
  });

  it("tenants on different shards never see each other (search, list, status)", async () => {
    const shards = testShards();
    const apis: Api[] = [];
    while (new Set(await Promise.all(apis.map((a) => dbOf(a.tenant)))).size < 2 || apis.length < 2)
      apis.push(await tenantApi());
    for (const api of apis) await store(api, [{ id: "secret", text: `The launch code of ${api.tenant} is zebra` }]);
    for (const api of apis) {
      const hits = await search(api, { text: "launch code zebra" });
      expect(hits.memories.map((m) => m.text)).toEqual([`The launch code of ${api.tenant} is zebra`]);
      const status = await api.call("GET", "/v1/status");
      expect(status.body.memories.total).toBe(1);
    }
    expect(shards.names).toEqual(["DB", "DB_SHARD_1"]);
  });

  it("a placement pinned in the directory wins over hashing", async () => {
    const api = await tenantApi();
    const other = rendezvous(api.tenant, ["DB", "DB_SHARD_1"]) === "DB" ? "DB_SHARD_1" : "DB";
    await env.DB.prepare("INSERT INTO tenant_shards (tenant, shard, pinned, placed_at) VALUES (?, ?, 1, 0)")
      .bind(api.tenant, other)
      .run();
    await store(api, [{ id: "p", text: "pinned" }]);
    expect(await rowsIn(testShards().db(other), api.tenant)).toBe(3);
  });
});

describe("read-your-writes bookmarks (D1 Sessions API)", () => {
  it("a write answers with the bookmark of the tenant's shard; sent back, reads are at least that fresh", async () => {
    const api = await tenantApi();
    const auth = { authorization: `Bearer ${api.token}` };
    const written = await call(api.env, "POST", "/v1/long-term-memory/", { memories: [{ id: "a", text: "x" }] }, auth);
    const bookmark = written.headers.get(BOOKMARK_HEADER)!;
    const parsed = parseBookmark(bookmark)!;
    expect(parsed.shard).toBe(await placementOf(api.tenant));

    // Header and query both work; the answer's bookmark is never older than the one sent.
    for (const read of [
      call(api.env, "GET", "/v1/long-term-memory/a", undefined, { ...auth, [BOOKMARK_HEADER]: bookmark }),
      call(api.env, "GET", `/v1/long-term-memory/a?bookmark=${encodeURIComponent(bookmark)}`, undefined, auth),
    ]) {
      const res = await read;
      expect(res.status).toBe(200);
      expect(res.body.text).toBe("x");
      const back = parseBookmark(res.headers.get(BOOKMARK_HEADER)!)!;
      expect(back.shard).toBe(parsed.shard);
      expect(back.value.localeCompare(parsed.value)).toBeGreaterThanOrEqual(0);
    }

    // Without a bookmark a read is still correct (locally every read sees the primary).
    expect((await api.call("GET", "/v1/long-term-memory/a")).body.text).toBe("x");
    // A bookmark of another shard (from before a move) is served from the primary, not refused.
    const other = parsed.shard === "DB" ? "DB_SHARD_1" : "DB";
    const moved = await call(api.env, "GET", "/v1/long-term-memory/a", undefined, {
      ...auth,
      [BOOKMARK_HEADER]: `${other}:${parsed.value}`,
    });
    expect(moved.status).toBe(200);
  });

  it("a malformed bookmark is a 400 naming it, and nothing is written", async () => {
    const api = await tenantApi();
    for (const bad of ["garbage", "DB:", ":0000", "DB:00 00", `DB:${"a".repeat(300)}`]) {
      const res = await call(
        api.env,
        "POST",
        "/v1/long-term-memory/",
        { memories: [{ id: "never", text: "x" }] },
        { authorization: `Bearer ${api.token}`, [BOOKMARK_HEADER]: bad },
      );
      expect(res.status, bad).toBe(400);
      expect(res.body.issues[0].field).toBe("bookmark");
    }
    expect(await rowsIn(await dbOf(api.tenant), api.tenant)).toBe(0);
  });

  it("a REST write's bookmark reaches the tenant's hub: a socket command after it reads at least that fresh", async () => {
    const api = await tenantApi();
    const ws = await connect(api);
    const written = await api.call("POST", "/v1/long-term-memory/", { memories: [{ id: "w", text: "socket sees" }] });
    const restBookmark = parseBookmark(written.headers.get(BOOKMARK_HEADER)!)!;
    // Opting in with `bookmark: null` (none yet): the reply carries the frame's bookmark.
    ws.send({ id: "r1", command: "recall", payload: { query: "socket sees" }, bookmark: null });
    const reply = await ws.next((f) => f.id === "r1");
    expect(reply.status).toBe("ok");
    const wsBookmark = parseBookmark(reply.bookmark)!;
    expect(wsBookmark.shard).toBe(restBookmark.shard);
    expect(wsBookmark.value.localeCompare(restBookmark.value)).toBeGreaterThanOrEqual(0);
    // The hub holds the newest bookmark it heard of.
    const held = await runInHub(api.tenant, (storage) => storage.kv.get<string>("bookmark"));
    expect(parseBookmark(held!)!.value.localeCompare(restBookmark.value)).toBeGreaterThanOrEqual(0);
    // A frame without the field gets the dialect's frame exactly (no bookmark).
    ws.send({ id: "r2", command: "recall", payload: { query: "socket sees" } });
    expect((await ws.next((f) => f.id === "r2")).bookmark).toBeUndefined();
    // A malformed one is an error frame; the socket stays open.
    ws.send({ id: "r3", command: "recall", payload: { query: "x" }, bookmark: "nonsense" });
    expect((await ws.next((f) => f.id === "r3")).status).toBe("error");
    ws.send({ id: "r4", command: "recall", payload: { query: "socket sees" } });
    expect((await ws.next((f) => f.id === "r4")).status).toBe("ok");
    ws.ws.close();
  });
});

describe("the write fence of a tenant move", () => {
  it("while fenced, writes answer 503 with Retry-After and write nothing; reads still work", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "f", text: "before the fence" }]);
    const db = await dbOf(api.tenant);
    const before = await rowsIn(db, api.tenant);
    await db
      .prepare("INSERT INTO tenant_fences (tenant, state, to_shard, at) VALUES (?, 'moving', 'DB', 0)")
      .bind(api.tenant)
      .run();
    for (const [method, path, body] of [
      ["POST", "/v1/long-term-memory/", { memories: [{ id: "g", text: "during the fence" }] }],
      ["PATCH", "/v1/long-term-memory/f", { text: "changed" }],
      ["DELETE", "/v1/long-term-memory?memory_ids=f", undefined],
      ["PUT", "/v1/working-memory/s1", { messages: [{ role: "user", content: "hi" }] }],
    ] as const) {
      const res = await api.call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.body.error).toBe("unavailable");
      expect(res.headers.get("retry-after")).toBe("5");
    }
    expect(await rowsIn(db, api.tenant)).toBe(before);
    expect((await api.call("GET", "/v1/long-term-memory/f")).body.text).toBe("before the fence");
    expect((await search(api, { text: "fence" })).total).toBe(1);

    await db.prepare("DELETE FROM tenant_fences WHERE tenant = ?").bind(api.tenant).run();
    expect((await api.call("PATCH", "/v1/long-term-memory/f", { text: "changed" })).status).toBe(200);
  });
});

async function placementOf(tenant: string): Promise<string> {
  const row = await env.DB.prepare("SELECT shard FROM tenant_shards WHERE tenant = ?")
    .bind(tenant)
    .first<{ shard: string }>();
  return row!.shard;
}

/** Runs `fn` on the tenant's hub storage. */
async function runInHub<T>(tenant: string, fn: (storage: DurableObjectStorage) => T): Promise<T> {
  const { runInDurableObject } = await import("cloudflare:test");
  return runInDurableObject(env.TENANT_HUB.getByName(tenant), (_obj, state) => fn(state.storage));
}

void exports;
