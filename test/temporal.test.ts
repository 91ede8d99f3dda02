import { describe, expect, it } from "vitest";
import { hubEvents, search, store, tenantApi, type Api } from "./support/api.ts";
import { fakeOpenAi, LLM_API_KEY, LLM_BASE_URL } from "./support/fake-openai.ts";
import { mcpClient } from "./support/mcp.ts";
import { connect } from "./support/sockets.ts";

/**
 * Bi-temporal memories (docs/temporal.md): a memory that contradicts a current one about the same
 * subject and single-valued property closes it; reads answer "now" by default, `as_of` a time,
 * or with the history (`include_superseded`); every transport takes the same options.
 */

const JAN = "2026-01-10T09:00:00.000Z";
const MAR = "2026-03-05T09:00:00.000Z";
const JUN = "2026-06-01T09:00:00.000Z";

/** Three changes of one fact, each stated in its own request, in the order they happened. */
async function cachingChain(api: Api): Promise<void> {
  await store(api, [{ id: "c1", text: "We use Redis for caching", valid_from: JAN }]);
  await store(api, [{ id: "c2", text: "We switched to Memcached for caching", valid_from: MAR }]);
  await store(api, [{ id: "c3", text: "We moved to Valkey for caching", valid_from: JUN }]);
}

const ids = (r: { memories: { id: string }[] }) => r.memories.map((m) => m.id).sort();

describe("contradiction on write", () => {
  it("a chain of three changes: each closes the one before, linked both ways, with events", async () => {
    const api = await tenantApi();
    await cachingChain(api);
    const get = async (id: string) => (await api.call("GET", `/v1/long-term-memory/${id}`)).body;
    const [c1, c2, c3] = [await get("c1"), await get("c2"), await get("c3")];
    expect(c1).toMatchObject({ valid_from: JAN, valid_to: MAR, superseded_by: "c2", supersedes: null });
    expect(c1.invalid_reason).toBe("superseded: caching uses Redis → Memcached");
    expect(c2).toMatchObject({ valid_from: MAR, valid_to: JUN, superseded_by: "c3", supersedes: "c1" });
    expect(c3).toMatchObject({ valid_from: JUN, valid_to: null, superseded_by: null, supersedes: "c2" });

    const updates = (await hubEvents(api.tenant)).filter((e) => e.type === "memory_updated");
    expect(updates.map((e) => [e.memory.id, e.memory.superseded_by])).toEqual([
      ["c1", "c2"],
      ["c2", "c3"],
    ]);
    // The history keeps the version that was current.
    const history = (await api.call("GET", "/v1/long-term-memory/c1/history")).body.history;
    expect(history.map((h: any) => h.after?.valid_to ?? null)).toEqual([null, MAR]);
  });

  it("search answers now by default, as of each point of the chain, or with the history", async () => {
    const api = await tenantApi();
    await cachingChain(api);
    await store(api, [{ id: "x", text: "The caching layer sits in front of Postgres", valid_from: JAN }]);
    const q = { text: "what do we use for caching", limit: 10 };
    expect(ids(await search(api, q))).toEqual(["c3", "x"]);
    expect(ids(await search(api, { ...q, include_superseded: true }))).toEqual(["c1", "c2", "c3", "x"]);
    expect(ids(await search(api, { ...q, as_of: "2026-02-01T00:00:00Z" }))).toEqual(["c1", "x"]);
    expect(ids(await search(api, { ...q, as_of: MAR }))).toEqual(["c2", "x"]);
    expect(ids(await search(api, { ...q, as_of: "2026-05-31T23:59:59Z" }))).toEqual(["c2", "x"]);
    expect(ids(await search(api, { ...q, as_of: "2026-07-01T00:00:00Z" }))).toEqual(["c3", "x"]);
    expect(ids(await search(api, { ...q, as_of: "2025-12-01T00:00:00Z" }))).toEqual([]);
    // Keyword and browse modes see the same memories.
    expect(ids(await search(api, { ...q, search_mode: "keyword" }))).toEqual(["c3", "x"]);
    expect(ids(await search(api, { limit: 10, as_of: MAR }))).toEqual(["c2", "x"]);
    // A bad as_of is a 422 naming it.
    const bad = await api.call("POST", "/v1/long-term-memory/search", { ...q, as_of: "next tuesday-ish" });
    expect(bad.status).toBe(422);
    expect(bad.body.issues[0].field).toBe("as_of");
  });

  it("think answers from what held then and says when it changed; now from the current memory", async () => {
    const api = await tenantApi();
    await cachingChain(api);
    const then = await api.call("POST", "/v1/think", { question: "What did we use for caching in February 2026?" });
    expect(then.status).toBe(200);
    expect(then.body.citations.map((c: any) => c.memory_id)).toEqual(["c1"]);
    expect(then.body.citations[0]).toMatchObject({ valid_to: MAR, superseded_by: "c2" });
    expect(then.body.answer).toContain(
      "[c1] held until 2026-03-05, when it changed: We switched to Memcached for caching [c2]",
    );

    const now = await api.call("POST", "/v1/think", { question: "What do we use for caching?" });
    expect(now.body.citations.map((c: any) => c.memory_id)).toEqual(["c3"]);
    expect(now.body.citations[0].valid_to).toBeUndefined();
    expect(now.body.answer).not.toContain("held until");

    const asOf = await api.call("POST", "/v1/think", { question: "What do we use for caching?", as_of: MAR });
    expect(asOf.body.citations.map((c: any) => c.memory_id)).toEqual(["c2"]);
  });

  it("the graph: the current value, and as of a time the value then", async () => {
    const api = await tenantApi();
    await cachingChain(api);
    const objects = async (body: object) =>
      (await api.call("POST", "/v1/graph/query", { query: "caching", hops: 1, ...body })).body.relations.map(
        (r: any) => `${r.predicate} ${r.object.name}`,
      );
    expect(await objects({})).toEqual(["uses Valkey"]);
    expect(await objects({ as_of: "2026-04-01T00:00:00Z" })).toEqual(["uses Memcached"]);
    expect((await objects({ include_history: true })).sort()).toEqual(["uses Memcached", "uses Redis", "uses Valkey"]);
  });

  it("ingest: a change stated outright supersedes the memory it names, within one conversation too", async () => {
    const api = await tenantApi();
    const ingest = (content: string) =>
      api.call("POST", "/v1/ingest", { messages: [{ role: "user", content }], user_id: "maria" });
    const first = await ingest("We use Redis for caching.");
    const old = first.body.memories[0].id;
    const second = await ingest("Last week we switched from Redis to Memcached.");
    expect(second.status).toBe(200);
    const fresh = second.body.memories[0];
    expect(fresh.supersedes).toBe(old);
    expect((await api.call("GET", `/v1/long-term-memory/${old}`)).body).toMatchObject({
      superseded_by: fresh.id,
      invalid_reason: "superseded: caching uses Redis → Memcached",
    });

    // Both facts in one conversation: the later sentence closes the earlier one.
    const both = await ingest("I live in Lisbon. Then I moved from Lisbon to Porto.");
    const [lisbon, porto] = both.body.memories;
    expect(porto.supersedes).toBe(lisbon.id);
    const current = await search(api, { text: "where do I live", user_id: { eq: "maria" } });
    expect(current.memories.map((m: any) => m.id)).not.toContain(lisbon.id);
  });

  it("the ingest trace says which memory a candidate supersedes; a dry run closes nothing", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "redis", text: "We use Redis for caching" }]);
    const body = { messages: [{ role: "user", content: "We switched to Memcached for caching." }], trace: true };
    const dry = await api.call("POST", "/v1/ingest", { ...body, dry_run: true });
    expect(dry.status).toBe(200);
    const [entry] = dry.body.trace;
    expect(entry).toMatchObject({
      outcome: "superseding",
      supersedes: {
        memory_id: "redis",
        text: "We use Redis for caching",
        reason: "superseded: caching uses Redis → Memcached",
      },
    });
    expect((await api.call("GET", "/v1/long-term-memory/redis")).body.valid_to).toBeNull();
    expect((await hubEvents(api.tenant)).filter((e) => e.type === "memory_updated")).toEqual([]);

    const real = await api.call("POST", "/v1/ingest", body);
    expect(real.body.trace[0]).toMatchObject({ outcome: "superseding", supersedes: { memory_id: "redis" } });
    expect((await api.call("GET", "/v1/long-term-memory/redis")).body.superseded_by).toBe(real.body.trace[0].memory_id);
  });

  it("is conservative: other owners, other subjects and multi-valued properties stay current", async () => {
    const api = await tenantApi();
    await store(api, [
      { id: "a", text: "We use Redis for caching", user_id: "ann" },
      { id: "b", text: "We use Postgres for storage", user_id: "ben" },
      { id: "p", text: "I prefer tea in the morning", user_id: "ben" },
    ]);
    await store(api, [
      { id: "b2", text: "We use Memcached for caching", user_id: "ben" },
      { id: "p2", text: "I prefer coffee after lunch", user_id: "ben" },
    ]);
    for (const id of ["a", "b", "p", "b2", "p2"]) {
      expect((await api.call("GET", `/v1/long-term-memory/${id}`)).body.valid_to, id).toBeNull();
    }
  });

  it("a past fact stored late is closed by the known later one, not the other way round", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "now", text: "We use Valkey for caching", valid_from: JUN }]);
    await store(api, [{ id: "past", text: "We use Redis for caching", valid_from: JAN }]);
    expect((await api.call("GET", "/v1/long-term-memory/now")).body).toMatchObject({
      valid_to: null,
      supersedes: "past",
    });
    expect((await api.call("GET", "/v1/long-term-memory/past")).body).toMatchObject({
      valid_to: JUN,
      superseded_by: "now",
    });
  });

  it("a memory stating other facts too stays current; only the changed fact's relation closes", async () => {
    const api = await tenantApi();
    const ingest = (content: string) =>
      api.call("POST", "/v1/ingest", { messages: [{ role: "user", content }], user_id: "alice" });
    const first = (await ingest("I work at Acme Corp and I live in Lisbon.")).body.memories[0];
    await ingest("I work at Globex Labs now.");
    expect((await api.call("GET", `/v1/long-term-memory/${first.id}`)).body.valid_to).toBeNull();
    const facts = (await api.call("POST", "/v1/graph/query", { query: "alice", hops: 1, include_history: true })).body
      .relations;
    const state = (object: string) => facts.find((r: any) => r.object.name === object)?.current;
    expect([state("Acme Corp"), state("Globex Labs"), state("Lisbon")]).toEqual([false, true, true]);
  });

  it("closes every current memory stating the old value; a memory stored closed closes nothing", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "r1", text: "We use Redis for caching", valid_from: JAN }]);
    await store(api, [{ id: "r2", text: "The team chose Redis for caching last year", valid_from: JAN }]);
    // A past fact with its own end: recorded as it was, closing nothing.
    await store(api, [
      {
        id: "old",
        text: "We use Memcached for caching",
        valid_from: "2025-01-01T00:00:00Z",
        valid_to: "2025-06-01T00:00:00Z",
      },
    ]);
    expect((await api.call("GET", "/v1/long-term-memory/r1")).body.valid_to).toBeNull();
    expect((await api.call("GET", "/v1/long-term-memory/old")).body).toMatchObject({
      valid_to: "2025-06-01T00:00:00.000Z",
      superseded_by: null,
    });

    await store(api, [{ id: "v", text: "We switched to Valkey for caching", valid_from: MAR }]);
    for (const id of ["r1", "r2"])
      expect((await api.call("GET", `/v1/long-term-memory/${id}`)).body, id).toMatchObject({
        valid_to: MAR,
        superseded_by: "v",
      });
    expect((await api.call("GET", "/v1/long-term-memory/v")).body.supersedes).toMatch(/^r[12]$/);
  });

  it("replacing a closed memory by id keeps it closed; PATCH valid_to null reopens it and drops the link", async () => {
    const api = await tenantApi();
    await cachingChain(api);
    await store(api, [{ id: "c1", text: "We use Redis for caching, cluster mode" }]);
    expect((await api.call("GET", "/v1/long-term-memory/c1")).body).toMatchObject({
      valid_to: MAR,
      superseded_by: "c2",
    });
    const reopened = await api.call("PATCH", "/v1/long-term-memory/c1", { valid_to: null });
    expect(reopened.body).toMatchObject({ valid_to: null, superseded_by: null, invalid_reason: null });
  });

  it("a closing time must lie between valid_from and now: 422 naming the field, nothing written", async () => {
    const api = await tenantApi();
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const create = await api.call("POST", "/v1/long-term-memory/", {
      memories: [{ id: "f", text: "We use Redis for caching", valid_to: future }],
    });
    expect([create.status, create.body.issues?.[0]?.field]).toEqual([422, "valid_to"]);
    const backwards = await api.call("POST", "/v1/long-term-memory/", {
      memories: [{ id: "b", text: "We use Redis for caching", valid_from: MAR, valid_to: JAN }],
    });
    expect([backwards.status, backwards.body.issues?.[0]?.field]).toEqual([422, "valid_to"]);
    expect((await api.call("GET", "/v1/long-term-memory/f")).status).toBe(404);
    await store(api, [{ id: "m", text: "We use Redis for caching" }]);
    const later = await api.call("POST", "/v1/long-term-memory/m/invalidate", { reason: "x", at: future });
    expect([later.status, later.body.issues?.[0]?.field]).toEqual([422, "at"]);
    const patch = await api.call("PATCH", "/v1/long-term-memory/m", { valid_to: future });
    expect([patch.status, patch.body.issues?.[0]?.field]).toEqual([422, "valid_to"]);
  });

  it("a fact true again after it changed is stored again, not deduplicated into the closed one", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "r1", text: "We use Redis for caching", valid_from: JAN }]);
    await store(api, [{ id: "m", text: "We use Memcached for caching", valid_from: MAR }]);
    const back = await api.call("POST", "/v1/long-term-memory/", {
      memories: [{ id: "r2", text: "We use Redis for caching", valid_from: JUN }],
    });
    expect(back.body.deduplicated ?? []).toEqual([]);
    expect((await api.call("GET", "/v1/long-term-memory/m")).body.superseded_by).toBe("r2");
    expect(ids(await search(api, { text: "caching" }))).toEqual(["r2"]);
  });
});

describe("with an LLM, the model judges contradiction", () => {
  const llmEnv = { LLM_BASE_URL, LLM_API_KEY, LLM_MAX_RETRIES: "0" };
  const extraction = (memories: object[]) => ({
    kind: "reply" as const,
    text: JSON.stringify({ memories, entities: [], topics: [] }),
  });

  it("sees the speaker's nearest current memories and closes those it names; made-up or unseen ids are ignored", async () => {
    const fake = fakeOpenAi();
    try {
      const api = await tenantApi({ env: llmEnv });
      await store(api, [
        { id: "job", text: "Maria works at Acme Corp as an engineer", user_id: "maria" },
        { id: "bob-job", text: "Bob works at Acme Corp as an engineer", user_id: "bob" },
      ]);
      fake.queue(
        extraction([
          {
            text: "Maria now works at Globex as an engineer",
            memory_type: "fact",
            entities: ["Maria", "Globex"],
            supersedes: ["job", "bob-job", "made-up"],
          },
        ]),
      );
      const res = await api.call("POST", "/v1/ingest", {
        messages: [{ role: "user", content: "I left Acme; I work at Globex now." }],
        user_id: "maria",
        trace: true,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const prompt = fake.requests[0]!.body.messages.at(-1)!.content;
      expect(prompt).toContain("[job] Maria works at Acme Corp as an engineer");
      expect(prompt).not.toContain("bob-job");
      const fresh = res.body.trace[0];
      expect(fresh).toMatchObject({ outcome: "superseding", supersedes: { memory_id: "job" } });
      expect((await api.call("GET", "/v1/long-term-memory/job")).body).toMatchObject({
        superseded_by: fresh.memory_id,
        invalid_reason: "superseded: Maria now works at Globex as an engineer",
      });
      expect((await api.call("GET", "/v1/long-term-memory/bob-job")).body.valid_to).toBeNull();
    } finally {
      fake.restore();
    }
  });

  it("a memory the model does not call contradicting closes nothing, whatever the rules would say", async () => {
    const fake = fakeOpenAi();
    try {
      const api = await tenantApi({ env: llmEnv });
      await store(api, [{ id: "redis", text: "We use Redis for caching" }]);
      fake.queue(
        extraction([
          {
            text: "We use Memcached for caching",
            memory_type: "fact",
            relations: [{ subject: "caching", predicate: "uses", object: "Memcached" }],
          },
        ]),
      );
      const res = await api.call("POST", "/v1/ingest", {
        messages: [{ role: "user", content: "We also use Memcached for caching sessions." }],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((await api.call("GET", "/v1/long-term-memory/redis")).body.valid_to).toBeNull();
    } finally {
      fake.restore();
    }
  });
});

describe("invalidate", () => {
  it("closes a memory by hand; reads skip it, as_of before still sees it; PATCH valid_to null reopens", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "job", text: "Maria works at Acme Corp", valid_from: JAN }]);
    const res = await api.call("POST", "/v1/long-term-memory/job/invalidate", { reason: "she left", at: MAR });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ valid_to: MAR, invalid_reason: "she left", superseded_by: null });
    const events = (await hubEvents(api.tenant)).filter((e) => e.type === "memory_updated");
    expect(events.map((e) => e.memory.valid_to)).toEqual([Date.parse(MAR)]);

    expect(ids(await search(api, { text: "Maria works" }))).toEqual([]);
    expect(ids(await search(api, { text: "Maria works", as_of: "2026-02-01T00:00:00Z" }))).toEqual(["job"]);

    // Again: nothing changes, no event.
    const again = await api.call("POST", "/v1/long-term-memory/job/invalidate", { reason: "other", at: JUN });
    expect(again.body).toMatchObject({ valid_to: MAR, invalid_reason: "she left" });
    expect((await hubEvents(api.tenant)).filter((e) => e.type === "memory_updated")).toHaveLength(1);

    const reopened = await api.call("PATCH", "/v1/long-term-memory/job", { valid_to: null, invalid_reason: null });
    expect(reopened.body).toMatchObject({ valid_to: null, invalid_reason: null });
    expect(ids(await search(api, { text: "Maria works" }))).toEqual(["job"]);
  });

  it("bad input is a 4xx naming the field and writes nothing", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "m", text: "Maria works at Acme Corp", valid_from: MAR }]);
    const cases: [unknown, string][] = [
      [{}, "reason"],
      [{ reason: "" }, "reason"],
      [{ reason: "x", at: "not a date" }, "at"],
      [{ reason: "x", at: JAN }, "at"], // before valid_from
    ];
    for (const [body, field] of cases) {
      const r = await api.call("POST", "/v1/long-term-memory/m/invalidate", body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.issues[0].field).toBe(field);
    }
    expect((await api.call("POST", "/v1/long-term-memory/nope/invalidate", { reason: "x" })).status).toBe(404);
    expect((await api.call("GET", "/v1/long-term-memory/m")).body.valid_to).toBeNull();
    const other = await tenantApi();
    expect((await other.call("POST", "/v1/long-term-memory/m/invalidate", { reason: "x" })).status).toBe(404);
  });
});

describe("every transport takes as_of and include_superseded", () => {
  it("MCP: search, think and invalidate", async () => {
    const api = await tenantApi();
    await cachingChain(api);
    const client = await mcpClient(api);
    const call = async (name: string, args: Record<string, unknown>) =>
      JSON.parse(((await client.callTool({ name, arguments: args })) as any).content[0].text);
    expect(ids(await call("search_long_term_memory", { text: "caching", as_of: MAR }))).toEqual(["c2"]);
    expect(ids(await call("search_long_term_memory", { text: "caching", include_superseded: true }))).toEqual([
      "c1",
      "c2",
      "c3",
    ]);
    const think = await call("think", { question: "What do we use for caching?", as_of: JAN });
    expect(think.citations.map((c: any) => c.memory_id)).toEqual(["c1"]);
    const closed = await call("invalidate_long_term_memory", { memory_id: "c3", reason: "dropped caching" });
    expect(closed.invalid_reason).toBe("dropped caching");
    expect(ids(await call("search_long_term_memory", { text: "caching" }))).toEqual([]);
    await client.close();
  });

  it("engram recall and think, SYMindX recall, TrustGraph search", async () => {
    const api = await tenantApi();
    await cachingChain(api);
    const engram = await connect(api);
    engram.send({ command: "recall", payload: { query: "caching", as_of: MAR } });
    const recalled = await engram.next((f) => f.command === "recall" && f.status === "ok");
    expect(ids(recalled.data)).toEqual(["c2"]);
    engram.send({ command: "recall", payload: { query: "caching", include_superseded: true } });
    const all = await engram.next(
      (f) => f.command === "recall" && f.status === "ok",
      engram.frames.indexOf(recalled) + 1,
    );
    expect(ids(all.data)).toEqual(["c1", "c2", "c3"]);
    engram.send({ command: "think", payload: { question: "What do we use for caching?", as_of: JAN } });
    const thought = await engram.next((f) => f.command === "think" && f.status === "ok");
    expect(thought.data.citations.map((c: any) => c.memory_id)).toEqual(["c1"]);
    engram.send({ command: "recall", payload: { query: "caching", as_of: "when pigs fly" } });
    const refused = await engram.next((f) => f.command === "recall" && f.status === "error");
    expect(JSON.stringify(refused)).toContain("as_of");

    const sym = await connect(api, { headers: { "sec-websocket-protocol": "symindx" } });
    sym.send({ type: "command", data: { command: "recall caching", parameters: { as_of: MAR } } });
    const result = await sym.next((f) => f.type === "command_result");
    expect(ids(result.data.result)).toEqual(["c2"]);

    const tg = await connect(api, { path: "/api/v1/socket" });
    tg.send({ id: "s1", service: "search", request: { text: "caching", as_of: JAN } });
    const found = await tg.next((f) => f.id === "s1" && (f.response || f.error));
    expect(ids(found.response)).toEqual(["c1"]);
  });
});
