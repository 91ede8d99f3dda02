import { describe, expect, it } from "vitest";
import { hubEvents, search, store, tenantApi } from "./support/api.ts";
import { dbOf } from "./support/shards.ts";

const AGENT = "6601a1b2c3d4e5f607890abc";
const future = () => new Date(Date.now() + 86_400_000).toISOString();

describe("/api/memories", () => {
  it("creates with 201 and the documented shape", async () => {
    const api = await tenantApi();
    const ttl = future();
    const res = await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      scope: "agent",
      key: "user-preference",
      value: "Prefers concise responses with code examples",
      metadata: { tags: ["preferences"] },
      ttl,
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(
      ["agent_id", "created_at", "embedding", "id", "key", "metadata", "scope", "ttl", "updated_at", "value"].sort(),
    );
    expect(res.body).toMatchObject({
      agent_id: AGENT,
      scope: "agent",
      key: "user-preference",
      value: "Prefers concise responses with code examples",
      embedding: null,
      metadata: { tags: ["preferences"] },
      ttl: new Date(ttl).toISOString(),
    });
    expect(res.body.created_at).toBe(res.body.updated_at);
  });

  it("upserts on (agent_id, scope, key): same id, new value", async () => {
    const api = await tenantApi();
    const first = await api.call("POST", "/api/memories", { agent_id: AGENT, scope: "agent", key: "k", value: "v1" });
    const second = await api.call("POST", "/api/memories", { agent_id: AGENT, scope: "agent", key: "k", value: "v2" });
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.value).toBe("v2");
    expect(second.body.created_at).toBe(first.body.created_at);
    // A different scope or agent is a different memory.
    const otherScope = await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      scope: "global",
      key: "k",
      value: "v3",
    });
    const otherAgent = await api.call("POST", "/api/memories", {
      agent_id: "other",
      scope: "agent",
      key: "k",
      value: "v4",
    });
    expect(new Set([first.body.id, otherScope.body.id, otherAgent.body.id]).size).toBe(3);
    expect((await api.call("GET", "/api/memories")).body).toHaveLength(3);
  });

  it("lists with agent_id, scope and tags filters", async () => {
    const api = await tenantApi();
    await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      scope: "agent",
      key: "a",
      value: "A",
      metadata: { tags: ["preferences"] },
    });
    await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      scope: "session",
      key: "b",
      value: "B",
      metadata: { tags: ["work"] },
    });
    await api.call("POST", "/api/memories", {
      agent_id: "other",
      scope: "agent",
      key: "c",
      value: "C",
      metadata: { tags: ["preferences", "work"] },
    });
    const keys = (r: { body: { key: string }[] }) => r.body.map((m) => m.key).sort();
    expect(keys(await api.call("GET", "/api/memories"))).toEqual(["a", "b", "c"]);
    expect(keys(await api.call("GET", `/api/memories?agent_id=${AGENT}`))).toEqual(["a", "b"]);
    expect(keys(await api.call("GET", `/api/memories?agent_id=${AGENT}&scope=agent`))).toEqual(["a"]);
    expect(keys(await api.call("GET", "/api/memories?tags=preferences"))).toEqual(["a", "c"]);
    expect(keys(await api.call("GET", "/api/memories?tags=work&scope=agent"))).toEqual(["c"]);
  });

  it("gets by id, 404 when missing", async () => {
    const api = await tenantApi();
    const created = await api.call("POST", "/api/memories", { agent_id: AGENT, key: "g", value: "get me" });
    const got = await api.call("GET", `/api/memories/${created.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);
    const missing = await api.call("GET", "/api/memories/does-not-exist");
    expect(missing.status).toBe(404);
    expect(missing.body.message).toMatch(/not found/);
  });

  it("PUT updates only the given fields", async () => {
    const api = await tenantApi();
    const created = await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      scope: "agent",
      key: "user-preference",
      value: "Prefers concise responses",
      metadata: { tags: ["preferences"] },
    });
    const res = await api.call("PUT", `/api/memories/${created.body.id}`, {
      value: "Updated preference text",
      metadata: { tags: ["preferences", "updated"] },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: created.body.id,
      key: "user-preference",
      scope: "agent",
      agent_id: AGENT,
      value: "Updated preference text",
      metadata: { tags: ["preferences", "updated"] },
    });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.body.updated_at));
    expect((await api.call("PUT", "/api/memories/nope", { value: "x" })).status).toBe(404);
  });

  it("PUT onto another memory's (agent_id, scope, key) is a 409, not a duplicate", async () => {
    const api = await tenantApi();
    await api.call("POST", "/api/memories", { agent_id: AGENT, scope: "agent", key: "one", value: "1" });
    const two = await api.call("POST", "/api/memories", { agent_id: AGENT, scope: "agent", key: "two", value: "2" });
    const res = await api.call("PUT", `/api/memories/${two.body.id}`, { key: "one" });
    expect(res.status).toBe(409);
    expect((await api.call("GET", `/api/memories/${two.body.id}`)).body.key).toBe("two");
  });

  it("DELETE returns 204, then 404", async () => {
    const api = await tenantApi();
    const created = await api.call("POST", "/api/memories", { agent_id: AGENT, key: "d", value: "delete me" });
    const del = await api.call("DELETE", `/api/memories/${created.body.id}`);
    expect(del.status).toBe(204);
    expect(del.body).toBeNull();
    expect((await api.call("DELETE", `/api/memories/${created.body.id}`)).status).toBe(404);
    expect((await api.call("GET", `/api/memories/${created.body.id}`)).status).toBe(404);
  });

  it("searches key and value by keyword, most recently updated first", async () => {
    const api = await tenantApi();
    const a = await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      scope: "agent",
      key: "user-preference",
      value: "Likes tea",
    });
    await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      scope: "agent",
      key: "coffee",
      value: "Preference: espresso",
    });
    await api.call("POST", "/api/memories", { agent_id: AGENT, scope: "global", key: "misc", value: "unrelated" });
    await api.call("PUT", `/api/memories/${a.body.id}`, { value: "Likes green tea" });

    const res = await api.call("POST", "/api/memories/search", { agent_id: AGENT, query: "preference", limit: 10 });
    expect(res.status).toBe(200);
    expect(res.body.map((m: any) => m.key)).toEqual(["user-preference", "coffee"]);
    const scoped = await api.call("POST", "/api/memories/search", {
      agent_id: AGENT,
      query: "PREFERENCE",
      scope: "agent",
      limit: 1,
    });
    expect(scoped.body).toHaveLength(1);
    // Wildcards in the query are literal.
    expect((await api.call("POST", "/api/memories/search", { query: "%" })).body).toEqual([]);
  });

  it("sees the same memories as the AMS API, both ways", async () => {
    const api = await tenantApi();
    const crud = await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      scope: "agent",
      key: "lang",
      value: "Favourite language is Rust",
    });
    const viaAms = await api.call("GET", `/v1/long-term-memory/${crud.body.id}`);
    expect(viaAms.body).toMatchObject({
      text: "Favourite language is Rust",
      agent_id: AGENT,
      key: "lang",
      scope: "agent",
    });
    const found = await search(api, { text: "favourite language" });
    expect(found.memories[0].id).toBe(crud.body.id);

    await store(api, [{ id: "ams-1", text: "Stored through AMS", session_id: "s1" }]);
    const viaCrud = await api.call("GET", "/api/memories/ams-1");
    expect(viaCrud.body).toMatchObject({ id: "ams-1", value: "Stored through AMS", key: null, scope: "session" });
  });
});

describe("TTL", () => {
  it("an expired memory is never returned and is purged with history and an event", async () => {
    const api = await tenantApi();
    const created = await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      key: "short",
      value: "short-lived fact",
      ttl: future(),
    });
    const id = created.body.id;
    // Expire it in place (time travel is not available inside workerd).
    await (
      await dbOf(api.tenant)
    )
      .prepare("UPDATE memories SET expires_at = ? WHERE tenant = ? AND id = ?")
      .bind(Date.now() - 1000, api.tenant, id)
      .run();

    expect((await api.call("GET", `/api/memories/${id}`)).status).toBe(404);
    expect((await api.call("GET", "/api/memories")).body).toEqual([]);
    expect((await search(api, { text: "short-lived fact" })).total).toBe(0);
    expect((await api.call("POST", "/api/memories/search", { query: "short" })).body).toEqual([]);

    // Reads purge expired rows in the background.
    const row = await (
      await dbOf(api.tenant)
    )
      .prepare("SELECT count(*) AS n FROM memories WHERE tenant = ?")
      .bind(api.tenant)
      .first<{ n: number }>();
    expect(row?.n).toBe(0);
    const history = await api.call("GET", `/api/memories/${id}/history`);
    expect(history.body.history.at(-1)).toMatchObject({ op: "delete", actor: "system", reason: "expired" });
    const events = await hubEvents(api.tenant);
    expect(events.map((e) => e.type)).toEqual(["memory_created", "memory_deleted"]);
  });

  it("a key held by an expired memory is taken by the next create at once (its holder purged)", async () => {
    const api = await tenantApi();
    const first = await api.call("POST", "/api/memories", {
      agent_id: AGENT,
      key: "lease",
      value: "first holder",
      ttl: future(),
    });
    await (
      await dbOf(api.tenant)
    )
      .prepare("UPDATE memories SET expires_at = ? WHERE tenant = ? AND id = ?")
      .bind(Date.now() - 1000, api.tenant, first.body.id)
      .run();
    const second = await api.call("POST", "/api/memories", { agent_id: AGENT, key: "lease", value: "second holder" });
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ key: "lease", value: "second holder" });
    expect(second.body.id).not.toBe(first.body.id);
    expect((await api.call("GET", `/api/memories/${first.body.id}/history`)).body.history.at(-1)).toMatchObject({
      op: "delete",
      reason: "expired",
    });
  });

  it("ttl_seconds on an AMS record sets the expiry", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "t1", text: "expires in an hour", ttl_seconds: 3600 }]);
    const got = await api.call("GET", "/v1/long-term-memory/t1");
    const expires = Date.parse(got.body.expires_at);
    expect(expires - Date.now()).toBeGreaterThan(3590_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(3600_000);
  });
});

describe("events", () => {
  it("every write emits its engram event to the tenant's hub, numbered in order", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "e1", text: "first" }]);
    await api.call("PATCH", "/v1/long-term-memory/e1", { text: "first, edited" });
    await api.call("DELETE", "/v1/long-term-memory?memory_ids=e1");
    const events = await hubEvents(api.tenant);
    expect(events.map((e) => [e.type, e.memory.id])).toEqual([
      ["memory_created", "e1"],
      ["memory_updated", "e1"],
      ["memory_deleted", "e1"],
    ]);
    expect(events[1]!.memory.text).toBe("first, edited");
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await hubEvents(api.tenant, 2)).map((e) => e.seq)).toEqual([3]);
  });
});

describe("tenant isolation", () => {
  it("two tenants never see each other's memories, on any route, even with the same ids", async () => {
    const a = await tenantApi();
    const b = await tenantApi();
    await store(a, [{ id: "shared-id", text: "Tenant A secret: the launch code is 1234", namespace: "ns" }]);
    await store(b, [{ id: "shared-id", text: "Tenant B note about gardening", namespace: "ns" }]);
    await a.call("POST", "/api/memories", { agent_id: AGENT, key: "k", value: "A's crud value" });

    expect((await b.call("GET", "/v1/long-term-memory/shared-id")).body.text).toBe("Tenant B note about gardening");
    for (const mode of ["hybrid", "keyword", "semantic"]) {
      const res = await search(b, { text: "launch code secret", search_mode: mode });
      expect(res.memories.map((m) => m.text)).not.toContain("Tenant A secret: the launch code is 1234");
    }
    expect((await search(b, { text: "" })).total).toBe(1);
    expect((await b.call("GET", "/api/memories")).body.map((m: any) => m.value)).toEqual([
      "Tenant B note about gardening",
    ]);
    expect((await b.call("POST", "/api/memories/search", { query: "crud" })).body).toEqual([]);

    // B deleting "shared-id" removes only B's memory.
    await b.call("DELETE", "/v1/long-term-memory?memory_ids=shared-id");
    expect((await a.call("GET", "/v1/long-term-memory/shared-id")).status).toBe(200);
    const forget = await b.call("POST", "/v1/long-term-memory/forget", { policy: { max_age_days: 0 }, dry_run: false });
    expect(forget.body.deleted).toBe(0);
    expect((await search(a, { text: "" })).total).toBe(2);

    // Events stay with their tenant.
    const bEvents = await hubEvents(b.tenant);
    expect(bEvents.every((e) => e.memory.text.startsWith("Tenant B"))).toBe(true);
  });
});
