import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hubEvents, store, tenantApi, type Api } from "./support/api.ts";
import { fakeOpenAi, LLM_API_KEY, LLM_BASE_URL } from "./support/fake-openai.ts";
import { footprint } from "./support/fuzz.ts";

/**
 * Faults: D1 failing in the middle of a write's batch, and a slow or failing LLM. What must hold:
 * a clear error, nothing half-written, no event for what was not written, and the same request
 * succeeding once the fault is gone. (Vector index and embedder outages: search.test.ts and
 * vectorize.test.ts; the hub evicted between publish and replay: websocket-hardening.test.ts.)
 */

/**
 * Both shards' D1, whose next batch (through a session too) fails after some of its statements
 * ran (D1 then rolls the whole batch back).
 */
function flakyDb(): { dbs: { DB: D1Database; DB_SHARD_1: D1Database }; failNextBatch(): void; failures: number } {
  const state = { fail: false, failures: 0 };
  const flaky = <T extends object>(real: T): T =>
    new Proxy(real, {
      get(target, key) {
        if (key === "withSession") return (c?: string) => flaky((target as unknown as D1Database).withSession(c));
        if (key === "batch") {
          return async (stmts: D1PreparedStatement[]) => {
            const db = target as unknown as D1DatabaseSession;
            if (!state.fail) return db.batch(stmts);
            state.fail = false;
            state.failures++;
            const at = Math.ceil(stmts.length / 2);
            return db.batch([
              ...stmts.slice(0, at),
              db.prepare("INSERT INTO no_such_table VALUES (1)"),
              ...stmts.slice(at),
            ]);
          };
        }
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return {
    dbs: { DB: flaky(env.DB), DB_SHARD_1: flaky(env.DB_SHARD_1!) },
    failNextBatch: () => {
      state.fail = true;
    },
    get failures() {
      return state.failures;
    },
  };
}

// Working-memory writes are single statements (one upsert … RETURNING): atomic without a batch.
describe("D1 failing in the middle of a write", () => {
  const writes: [string, string, string, (api: Api) => unknown][] = [
    [
      "create",
      "POST",
      "/v1/long-term-memory/",
      () => ({
        memories: [
          { id: "n1", text: "New fact about Kyoto" },
          { id: "n2", text: "Another about Osaka" },
        ],
      }),
    ],
    ["PATCH", "PATCH", "/v1/long-term-memory/m1", () => ({ text: "Maria now prefers Go", priority: 9 })],
    ["feedback", "POST", "/v1/feedback", () => ({ memory_id: "m1", rating: "negative" })],
    ["delete", "DELETE", "/v1/long-term-memory?memory_ids=m1&memory_ids=m2", () => undefined],
    ["CRUD upsert", "POST", "/api/memories", () => ({ agent_id: "a1", scope: "agent", key: "k1", value: "changed" })],
    [
      "ingest",
      "POST",
      "/v1/ingest",
      () => ({ messages: [{ role: "user", content: "We decided to move the API to Fly.io next week." }] }),
    ],
    ["forget", "POST", "/v1/long-term-memory/forget", () => ({ policy: { max_age_days: 0 }, dry_run: false })],
  ];

  it.each(writes)(
    "%s: an error, nothing written, no event; then the retry succeeds",
    async (_name, method, path, body) => {
      const flaky = flakyDb();
      const api = await tenantApi({ env: flaky.dbs });
      await store(api, [
        { id: "m1", text: "Maria prefers Rust for backend services" },
        { id: "m2", text: "We use Redis for caching" },
      ]);
      await api.call("POST", "/api/memories", { agent_id: "a1", scope: "agent", key: "k1", value: "first" });
      await new Promise((r) => setTimeout(r, 5));
      const before = await footprint(api.tenant);
      const events = (await hubEvents(api.tenant)).length;

      flaky.failNextBatch();
      const failed = await api.call(method, path, body(api));
      expect(flaky.failures).toBe(1);
      expect(failed.status).toBe(500);
      expect(failed.body).toEqual({ error: "internal_error", message: "internal error", detail: "internal error" });
      expect(await footprint(api.tenant)).toEqual(before);
      expect((await hubEvents(api.tenant)).length).toBe(events);

      const retried = await api.call(method, path, body(api));
      expect(retried.status, JSON.stringify(retried.body)).toBeLessThan(300);
      expect(flaky.failures).toBe(1);
    },
  );
});

describe("a slow or failing LLM", () => {
  it("ingest with a hanging model answers 504 and stores nothing; a failing one 502; then it works", async () => {
    const fake = fakeOpenAi();
    try {
      const api = await tenantApi({ env: { LLM_BASE_URL, LLM_API_KEY, LLM_MAX_RETRIES: "0", LLM_TIMEOUT_MS: "200" } });
      const body = { messages: [{ role: "user", content: "We decided to use Redis for caching." }] };
      fake.queue({ kind: "hang" });
      const slow = await api.call("POST", "/v1/ingest", body);
      expect(slow.status).toBe(504);
      fake.queue({ kind: "status", status: 500, message: "boom" });
      const failing = await api.call("POST", "/v1/ingest", body);
      expect(failing.status).toBe(502);
      expect(await footprint(api.tenant)).toMatchObject({ memories: 0, memory_history: 0, entities: 0, relations: 0 });
      expect(await hubEvents(api.tenant)).toEqual([]);

      fake.queue({
        kind: "reply",
        text: JSON.stringify({
          memories: [
            { text: "We use Redis for caching", memory_type: "decision", topics: ["caching"], entities: ["Redis"] },
          ],
          entities: [{ name: "Redis", type: "technology" }],
          relations: [],
        }),
      });
      const ok = await api.call("POST", "/v1/ingest", body);
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect((await footprint(api.tenant)).memories).toBeGreaterThan(0);
    } finally {
      fake.restore();
    }
  });
});
