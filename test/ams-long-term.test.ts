import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, daysAgo, search, store, tenantApi } from "./support/api.ts";
import { dbOf } from "./support/shards.ts";

describe("GET /v1/health", () => {
  it("returns the server time in epoch seconds, without auth", async () => {
    const before = Date.now() / 1000;
    const res = await call(env, "GET", "/v1/health");
    expect(res.status).toBe(200);
    expect(res.body.now).toBeGreaterThanOrEqual(before - 1);
    expect(res.body.now).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });
});

describe("POST /v1/long-term-memory/", () => {
  it("stores a batch and acks as AMS does", async () => {
    const api = await tenantApi();
    const res = await api.call("POST", "/v1/long-term-memory/", {
      memories: [
        {
          id: "mem-456",
          text: "User is interested in AI and machine learning",
          memory_type: "semantic",
          session_id: "session-123",
          namespace: "default",
        },
        { text: "Second memory without an id", topics: ["misc"] },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });

    const got = await api.call("GET", "/v1/long-term-memory/mem-456");
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: "mem-456",
      text: "User is interested in AI and machine learning",
      memory_type: "semantic",
      session_id: "session-123",
      namespace: "default",
      discrete_memory_extracted: "f",
    });
    expect(got.body.memory_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(got.body.created_at)).not.toBeNaN();

    const all = await search(api, { text: "" });
    expect(all.total).toBe(2);
    const generated = all.memories.find((m) => m.text === "Second memory without an id");
    expect(generated.id).toMatch(/^[0-9A-Z]{26}$/);
  });

  it("is idempotent by id: the same id again updates, never duplicates", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "same", text: "first version", created_at: daysAgo(3) }]);
    await store(api, [{ id: "same", text: "second version" }]);
    const all = await search(api, { text: "" });
    expect(all.total).toBe(1);
    expect(all.memories[0].text).toBe("second version");
    // Replacing keeps the original creation time.
    expect(Date.now() - Date.parse(all.memories[0].created_at)).toBeGreaterThan(2.9 * 86_400_000);

    const history = await api.call("GET", "/v1/long-term-memory/same/history");
    expect(history.body.history.map((h: any) => h.op)).toEqual(["create", "update"]);
    expect(history.body.history[1].before.text).toBe("first version");
    expect(history.body.history[1].after.text).toBe("second version");
    expect(history.body.history[1].actor).toBe(`user-of-${api.tenant}`);
  });

  it("a batch that rewrites a memory and adds a near-duplicate of it stores both (never a conflict with itself)", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "a", text: "The staging cluster runs on Kubernetes in Frankfurt" }]);
    const res = await api.call("POST", "/v1/long-term-memory/", {
      memories: [
        { id: "a", text: "The staging cluster runs on Kubernetes in Frankfurt now" },
        { id: "b", text: "The staging cluster runs on Kubernetes in Frankfurt now!" },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await api.call("GET", "/v1/long-term-memory/a")).body.text).toBe(
      "The staging cluster runs on Kubernetes in Frankfurt now",
    );
  });

  it("takes the namespace query parameter as a default", async () => {
    const api = await tenantApi();
    const res = await api.call("POST", "/v1/long-term-memory/?namespace=ns-q", {
      memories: [
        { id: "a", text: "no namespace in body" },
        { id: "b", text: "own namespace", namespace: "own" },
      ],
    });
    expect(res.status).toBe(200);
    expect((await api.call("GET", "/v1/long-term-memory/a")).body.namespace).toBe("ns-q");
    expect((await api.call("GET", "/v1/long-term-memory/b")).body.namespace).toBe("own");
  });

  it("accepts the nulls the official clients send for unset fields", async () => {
    const api = await tenantApi();
    const res = await api.call("POST", "/v1/long-term-memory/", {
      memories: [
        {
          id: "from-client",
          text: "Client record",
          session_id: null,
          user_id: null,
          namespace: null,
          topics: null,
          entities: null,
          memory_hash: null,
          event_date: null,
          persisted_at: null,
          extracted_from: null,
          memory_type: "episodic",
          discrete_memory_extracted: "t",
          created_at: "2026-01-02T03:04:05Z",
          last_accessed: "2026-01-02T03:04:05Z",
          updated_at: "2026-01-02T03:04:05Z",
        },
      ],
    });
    expect(res.status).toBe(200);
    const got = await api.call("GET", "/v1/long-term-memory/from-client");
    expect(got.body).toMatchObject({
      memory_type: "episodic",
      discrete_memory_extracted: "t",
      topics: [],
      created_at: "2026-01-02T03:04:05.000Z",
    });
  });
});

describe("GET / PATCH / DELETE /v1/long-term-memory", () => {
  it("gets by id, 404 for unknown ids and for another namespace", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "g1", text: "namespaced", namespace: "ns1" }]);
    expect((await api.call("GET", "/v1/long-term-memory/g1?namespace=ns1")).status).toBe(200);
    const wrongNs = await api.call("GET", "/v1/long-term-memory/g1?namespace=ns2");
    expect(wrongNs.status).toBe(404);
    const missing = await api.call("GET", "/v1/long-term-memory/nope");
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toMatch(/not found/);
  });

  it("patches only the given fields, and re-indexes changed text", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "p1", text: "The office is in Berlin", topics: ["office"], user_id: "u1" }]);
    const res = await api.call("PATCH", "/v1/long-term-memory/p1", {
      text: "The office moved to Lisbon",
      pinned: true,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      text: "The office moved to Lisbon",
      topics: ["office"],
      user_id: "u1",
      pinned: true,
    });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(res.body.created_at));

    const lisbon = await search(api, { text: "Lisbon", search_mode: "keyword" });
    expect(lisbon.memories.map((m) => m.id)).toEqual(["p1"]);
    expect((await search(api, { text: "Berlin", search_mode: "keyword" })).total).toBe(0);
    const semantic = await search(api, { text: "office in Lisbon", search_mode: "semantic" });
    expect(semantic.memories[0].id).toBe("p1");

    expect((await api.call("PATCH", "/v1/long-term-memory/nope", { text: "x" })).status).toBe(404);
  });

  it("null clears a nullable field", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "c1", text: "clear me", session_id: "s1" }]);
    const res = await api.call("PATCH", "/v1/long-term-memory/c1", { session_id: null });
    expect(res.body.session_id).toBeNull();
  });

  it("deletes by repeated memory_ids, leaving others and recording history", async () => {
    const api = await tenantApi();
    await store(api, [
      { id: "d1", text: "delete me" },
      { id: "d2", text: "delete me too" },
      { id: "d3", text: "keep me" },
    ]);
    const res = await api.call("DELETE", "/v1/long-term-memory?memory_ids=d1&memory_ids=d2&memory_ids=unknown");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
    expect((await api.call("GET", "/v1/long-term-memory/d1")).status).toBe(404);
    expect((await api.call("GET", "/v1/long-term-memory/d3")).status).toBe(200);
    expect((await search(api, { text: "delete", search_mode: "keyword" })).total).toBe(0);
    const hist = await api.call("GET", "/v1/long-term-memory/d1/history");
    expect(hist.body.history.map((h: any) => h.op)).toEqual(["create", "delete"]);

    // No vector rows outlive their memory.
    const vectors = await (
      await dbOf(api.tenant)
    )
      .prepare("SELECT count(*) AS n FROM memory_vectors WHERE tenant = ?")
      .bind(api.tenant)
      .first<{ n: number }>();
    expect(vectors?.n).toBe(1);
  });
});

describe("POST /v1/long-term-memory/forget", () => {
  async function seed() {
    const api = await tenantApi();
    await store(api, [
      { id: "old-idle", text: "old and idle", created_at: daysAgo(60), last_accessed: daysAgo(45), namespace: "ns1" },
      {
        id: "old-active",
        text: "old but active",
        created_at: daysAgo(60),
        last_accessed: daysAgo(1),
        namespace: "ns1",
      },
      { id: "new", text: "brand new", namespace: "ns1" },
      {
        id: "old-pinned",
        text: "old, idle, pinned",
        created_at: daysAgo(90),
        last_accessed: daysAgo(90),
        pinned: true,
        namespace: "ns1",
      },
      {
        id: "old-other-ns",
        text: "old elsewhere",
        created_at: daysAgo(60),
        last_accessed: daysAgo(45),
        namespace: "ns2",
      },
      {
        id: "old-episodic",
        text: "old episodic",
        created_at: daysAgo(60),
        last_accessed: daysAgo(45),
        namespace: "ns1",
        memory_type: "episodic",
      },
    ]);
    return api;
  }

  it("dry run reports without deleting; a real run deletes; pinned memories are exempt", async () => {
    const api = await seed();
    const policy = { max_age_days: 30, max_inactive_days: 30, budget: null, memory_type_allowlist: null };
    const dry = await api.call("POST", "/v1/long-term-memory/forget", {
      policy,
      namespace: "ns1",
      limit: 1000,
      dry_run: true,
    });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ scanned: 5, deleted: 2, dry_run: true });
    expect(dry.body.deleted_ids.sort()).toEqual(["old-episodic", "old-idle"]);
    expect((await api.call("GET", "/v1/long-term-memory/old-idle")).status).toBe(200);

    const real = await api.call("POST", "/v1/long-term-memory/forget", { policy, namespace: "ns1", dry_run: false });
    expect(real.body).toMatchObject({ deleted: 2, dry_run: false });
    expect((await api.call("GET", "/v1/long-term-memory/old-idle")).status).toBe(404);
    expect((await api.call("GET", "/v1/long-term-memory/old-pinned")).status).toBe(200);
    expect((await api.call("GET", "/v1/long-term-memory/old-other-ns")).status).toBe(200);
    const hist = await api.call("GET", "/v1/long-term-memory/old-idle/history");
    expect(hist.body.history.at(-1)).toMatchObject({ op: "delete", reason: "forget" });
  });

  it("honours the type allowlist, pinned_ids, budget and the clients' query-parameter form", async () => {
    const api = await seed();
    const allow = await api.call("POST", "/v1/long-term-memory/forget?namespace=ns1&dry_run=true", {
      policy: { max_age_days: 30, max_inactive_days: 30, memory_type_allowlist: ["episodic"] },
    });
    expect(allow.body.deleted_ids).toEqual(["old-episodic"]);

    const pinned = await api.call("POST", "/v1/long-term-memory/forget?namespace=ns1&dry_run=true", {
      policy: { max_inactive_days: 30 },
      pinned_ids: ["old-idle"],
    });
    expect(pinned.body.deleted_ids).toEqual(["old-episodic"]);

    // Budget keeps the most recent (by the recency score) of the non-pinned: "new" and "old-active".
    const budget = await api.call("POST", "/v1/long-term-memory/forget?namespace=ns1&dry_run=true", {
      policy: { budget: 2 },
    });
    expect(budget.body.deleted_ids.sort()).toEqual(["old-episodic", "old-idle"]);

    const limited = await api.call("POST", "/v1/long-term-memory/forget?namespace=ns1&limit=2&dry_run=true", {
      policy: {},
    });
    expect(limited.body.scanned).toBe(2);
  });

  it("dry_run defaults to true", async () => {
    const api = await seed();
    const res = await api.call("POST", "/v1/long-term-memory/forget", { policy: { max_age_days: 1 } });
    expect(res.body.dry_run).toBe(true);
    expect((await search(api, { text: "" })).total).toBe(6);
  });
});
