import type { Client as McpClient } from "@modelcontextprotocol/client";
import { describe, expect, it } from "vitest";
import { NOT_COPIED, TENANT_TABLES } from "../src/store/tenant-copy.ts";
import { hubEvents, store, tenantApi, type Api } from "./support/api.ts";
import { fakeOpenAi, LLM_API_KEY, LLM_BASE_URL } from "./support/fake-openai.ts";
import { mcpClient } from "./support/mcp.ts";
import { dbOf } from "./support/shards.ts";
import { connect } from "./support/sockets.ts";

/**
 * The ingest trace and dry run: every candidate the extractor produced and what became of it
 * (kept, dropped with the reason, merged exactly or nearly with the similarity), the graph
 * entities and relations it adds, the LLM's tokens; a dry run decides the same and writes nothing.
 */

const ingest = (api: Api, messages: { role: string; content: string }[], extra: Record<string, unknown> = {}) =>
  api.call("POST", "/v1/ingest", { messages, ...extra });

/** A conversation with a greeting, a question, a fragment, filler, new facts, and repeats of stored ones. */
const CONVERSATION = [
  {
    role: "user",
    content:
      "Hello! What should we use for the queue? We decided to use Redis for caching in production. " +
      "The staging database is Postgres 16. Maria Lopez is the tech lead for payments. Totally fine. " +
      "That seems reasonable enough.",
  },
  { role: "assistant", content: "That works well." },
  { role: "user", content: "Maria Lopez is the tech lead for payments." },
];

/** What the tenant stored before the conversation: the near and the exact duplicates' originals. */
async function seed(api: Api): Promise<void> {
  await store(api, [
    { id: "redis", text: "We decided to use Redis for caching." },
    { id: "postgres", text: "The staging database is Postgres 16." },
  ]);
}

/** Rows the tenant has in every tenant table (and the keyword tables its memories' triggers fill). */
async function rows(tenant: string): Promise<Record<string, number>> {
  const derived = NOT_COPIED.filter((t) => !t.startsWith("tenant_"));
  const tables = [...TENANT_TABLES.map((t) => t.name), ...derived];
  const db = await dbOf(tenant);
  const res = await db.batch<{ n: number }>(
    tables.map((t) => db.prepare(`SELECT count(*) AS n FROM ${t} WHERE tenant = ?`).bind(tenant)),
  );
  return Object.fromEntries(tables.map((t, i) => [t, Number(res[i]!.results[0]!.n)]));
}

/** A trace with the ids of newly stored memories blanked (a dry run's ids are not the write's). */
const outcomes = (trace: any[]) =>
  trace.map((e) => ({ ...e, memory_id: e.outcome === "kept" ? "(new)" : e.memory_id }));

describe("ingest trace (offline)", () => {
  it("lists every candidate: kept, dropped with the reason, merged exactly or nearly with the similarity", async () => {
    const api = await tenantApi();
    await seed(api);
    const res = await ingest(api, CONVERSATION, { trace: true });
    expect(res.status).toBe(200);
    const { trace, usage } = res.body;
    expect(usage).toBeNull();
    expect(res.body.dry_run).toBeUndefined();
    expect(trace.map((e: any) => [e.outcome, e.reason ?? null, e.candidate.text])).toEqual([
      ["merged", null, "We decided to use Redis for caching in production."],
      ["merged", null, "The staging database is Postgres 16."],
      ["kept", null, "Maria Lopez is the tech lead for payments."],
      ["dropped", "greeting", "Hello!"],
      ["dropped", "question", "What should we use for the queue?"],
      ["dropped", "too_short", "Totally fine."],
      ["dropped", "low_information", "That seems reasonable enough."],
      ["dropped", "assistant_chatter", "That works well."],
      ["dropped", "duplicate_in_message", "Maria Lopez is the tech lead for payments."],
    ]);
    const [near, exact, kept] = trace;

    // Near: the stored memory is rewritten with the new text; the similarity says how near.
    expect(near).toMatchObject({ memory_id: "redis", merged_into: { memory_id: "redis", kind: "near" } });
    expect(near.merged_into.similarity).toBeGreaterThan(0.8);
    expect(near.merged_into.similarity).toBeLessThan(1);
    expect(near.candidate).toMatchObject({ memory_type: "decision", topics: ["caching"], entities: ["Redis"] });
    expect(near.relations_added).toEqual([{ subject: "caching", predicate: "uses", object: "Redis" }]);
    // The stored memory put Redis in the graph already.
    expect(near.entities_added).toContainEqual({ name: "Redis", type: "technology", new: false });
    expect((await api.call("GET", "/v1/long-term-memory/redis")).body.text).toBe(
      "We decided to use Redis for caching in production.",
    );

    // Exact: nothing written, no similarity.
    expect(exact).toMatchObject({ memory_id: "postgres", merged_into: { memory_id: "postgres", kind: "exact" } });
    expect(exact.merged_into.similarity).toBeUndefined();

    // Kept: stored as its own memory, with the person and the role it adds to the graph.
    const stored = res.body.memories.find((m: any) => m.text === kept.candidate.text);
    expect(kept.memory_id).toBe(stored.id);
    expect(kept.merged_into).toBeUndefined();
    expect(kept.relations_added).toEqual([{ subject: "Maria Lopez", predicate: "role", object: "tech lead" }]);
    expect(kept.entities_added).toContainEqual({ name: "Maria Lopez", type: "person", new: true });

    // Dropped candidates carry nothing into the graph.
    for (const d of trace.slice(3)) {
      expect(d).toMatchObject({ candidate: { memory_type: null }, entities_added: [], relations_added: [] });
      expect(d.memory_id).toBeUndefined();
    }
    // The rest of the answer is what it was without the trace.
    expect(res.body.deduplicated).toEqual([
      { requested_id: expect.any(String), existing_id: "postgres", kind: "exact" },
      { requested_id: expect.any(String), existing_id: "redis", kind: "near" },
    ]);

    // A second ingest of the new fact: Maria Lopez is known now.
    const again = await ingest(api, [{ role: "user", content: "Maria Lopez is the tech lead for payments." }], {
      trace: true,
    });
    expect(again.body.trace[0]).toMatchObject({
      outcome: "merged",
      memory_id: kept.memory_id,
      merged_into: { kind: "exact" },
    });
    expect(again.body.trace[0].entities_added).toContainEqual({ name: "Maria Lopez", type: "person", new: false });
  });

  it("without trace the answer is the same as before: no trace, usage or dry_run", async () => {
    const api = await tenantApi();
    const plain = await ingest(api, [{ role: "user", content: "We decided to use Kafka for events." }]);
    const off = await ingest(api, [{ role: "user", content: "We decided to use NATS for jobs." }], { trace: false });
    for (const res of [plain, off]) {
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(["memories", "deduplicated", "entities", "relations", "topics"]);
    }
  });

  it("rejects a trace or dry_run that is not a boolean, naming the field, and writes nothing", async () => {
    const api = await tenantApi();
    for (const [field, value] of [
      ["trace", "yes"],
      ["dry_run", 1],
    ] as const) {
      const res = await ingest(api, [{ role: "user", content: "We decided to use Redis for caching." }], {
        [field]: value,
      });
      expect(res.status).toBe(422);
      expect(JSON.stringify(res.body)).toContain(field);
    }
    expect((await rows(api.tenant)).memories).toBe(0);
  });
});

describe("ingest dry run", () => {
  it("writes nothing (no row in any tenant table, no event), and the real ingest then does what it said", async () => {
    const api = await tenantApi();
    await seed(api);
    const before = await rows(api.tenant);
    const events = (await hubEvents(api.tenant)).length;

    const dry = await ingest(api, CONVERSATION, { trace: true, dry_run: true });
    expect(dry.status).toBe(200);
    expect(dry.body.dry_run).toBe(true);
    expect(await rows(api.tenant)).toEqual(before);
    expect(await hubEvents(api.tenant)).toHaveLength(events);
    expect((await api.call("GET", "/v1/long-term-memory/redis")).body.text).toBe(
      "We decided to use Redis for caching.",
    );
    // What would be stored: the new memory, and the near duplicate's rewrite.
    expect(dry.body.memories.map((m: any) => m.text).sort()).toEqual([
      "Maria Lopez is the tech lead for payments.",
      "We decided to use Redis for caching in production.",
    ]);

    const real = await ingest(api, CONVERSATION, { trace: true });
    expect(real.body.dry_run).toBeUndefined();
    expect(outcomes(real.body.trace)).toEqual(outcomes(dry.body.trace));
    expect(real.body.memories.map((m: any) => m.text).sort()).toEqual(dry.body.memories.map((m: any) => m.text).sort());
    expect((await rows(api.tenant)).memories).toBe(before.memories! + 1);
    const after = (await hubEvents(api.tenant)).slice(events).map((e) => e.type);
    expect(after.sort()).toEqual(["memory_created", "memory_updated"]);
  });

  it("a dry run without trace answers what would be stored, and nothing more", async () => {
    const api = await tenantApi();
    const dry = await ingest(api, [{ role: "user", content: "We decided to use Redis for caching." }], {
      dry_run: true,
    });
    expect(dry.body).toMatchObject({ dry_run: true, memories: [{ text: "We decided to use Redis for caching." }] });
    expect(dry.body.trace).toBeUndefined();
    expect(Object.values(await rows(api.tenant)).every((n) => n === 0)).toBe(true);
  });
});

describe("ingest trace with an LLM (OpenAI-compatible double)", () => {
  const item = (text: string, memory_type: string) => ({ text, memory_type, topics: [], entities: [], relations: [] });

  it("reports the tokens spent, and drops the model's invalid items with what failed", async () => {
    const fake = fakeOpenAi();
    try {
      const api = await tenantApi({ env: { LLM_BASE_URL, LLM_API_KEY } });
      fake.reply = () =>
        JSON.stringify({
          memories: [
            {
              ...item("The team uses Redis for caching", "decision"),
              entities: ["Redis"],
              relations: [{ subject: "caching", predicate: "uses", object: "Redis" }],
            },
          ],
          entities: [{ name: "Redis", type: "technology" }],
          topics: ["caching"],
        });
      const ok = await ingest(api, [{ role: "user", content: "We went with Redis for the cache." }], { trace: true });
      expect(ok.status).toBe(200);
      // The double reports 10 prompt and 5 completion tokens per completion.
      expect(ok.body.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
      expect(ok.body.trace).toEqual([
        {
          candidate: {
            text: "The team uses Redis for caching",
            memory_type: "decision",
            topics: [],
            entities: ["Redis"],
            relations: [{ subject: "caching", predicate: "uses", object: "Redis" }],
          },
          outcome: "kept",
          memory_id: ok.body.memories[0].id,
          entities_added: [
            { name: "Redis", type: "technology", new: true },
            { name: "caching", type: "topic", new: true },
          ],
          relations_added: [{ subject: "caching", predicate: "uses", object: "Redis" }],
        },
      ]);

      // Invalid twice: the retry's valid items are kept, the invalid one dropped; both attempts' tokens count.
      const mixed = JSON.stringify({ memories: [item("Alice owns the billing service", "fact"), item("x", "gossip")] });
      fake.queue({ kind: "reply", text: mixed }, { kind: "reply", text: mixed });
      const partial = await ingest(api, [{ role: "user", content: "Alice owns billing." }], { trace: true });
      expect(partial.status).toBe(200);
      expect(partial.body.usage).toEqual({ prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 });
      expect(partial.body.trace.map((e: any) => [e.outcome, e.candidate.text, e.reason ?? null])).toEqual([
        ["kept", "Alice owns the billing service", null],
        ["dropped", "x", "invalid"],
      ]);
      expect(partial.body.trace[1].detail).toMatch(/^memory_type: /);
    } finally {
      fake.restore();
    }
  });
});

describe("trace and dry_run on the other transports", () => {
  it("MCP: the ingest tool takes trace and dry_run", async () => {
    const api = await tenantApi();
    await seed(api);
    const before = await rows(api.tenant);
    const client: McpClient = await mcpClient(api);
    const res = (await client.callTool({
      name: "ingest",
      arguments: { messages: CONVERSATION, trace: true, dry_run: true },
    })) as any;
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent.dry_run).toBe(true);
    expect(res.structuredContent.trace.map((e: any) => e.outcome)).toEqual([
      "merged",
      "merged",
      "kept",
      ...Array(6).fill("dropped"),
    ]);
    expect(await rows(api.tenant)).toEqual(before);
    await client.close();
  });

  it("engram: ingest with trace and dry_run answers the trace and pushes no event; without them the reply is as before", async () => {
    const api = await tenantApi();
    await seed(api);
    const c = await connect(api);
    const before = await rows(api.tenant);
    c.send({ command: "ingest", id: 1, payload: { messages: CONVERSATION, trace: true, dry_run: true } });
    const dry = await c.next((f) => f.command === "ingest" && f.id === 1);
    expect(dry.status).toBe("ok");
    expect(dry.data.dry_run).toBe(true);
    expect(dry.data.trace[0]).toMatchObject({ outcome: "merged", merged_into: { memory_id: "redis", kind: "near" } });
    expect(await rows(api.tenant)).toEqual(before);

    c.send({
      command: "ingest",
      id: 2,
      payload: { messages: [{ role: "user", content: "We decided to use Kafka." }] },
    });
    const plain = await c.next((f) => f.command === "ingest" && f.id === 2);
    expect(Object.keys(plain.data)).toEqual(["memories", "deduplicated", "entities", "relations", "topics"]);
    // Only the real ingest's event reached the socket.
    const created = await c.next((f) => f.event === "memory_created");
    expect(created.data.content).toBe("We decided to use Kafka.");
    expect(c.frames.filter((f) => f.event)).toHaveLength(1);
    c.ws.close();
  });

  it("TrustGraph: the ingest service takes trace and dry_run", async () => {
    const api = await tenantApi();
    const c = await connect(api, { path: "/api/v1/socket" });
    c.send({
      id: "i1",
      service: "ingest",
      request: { messages: [{ role: "user", content: "Hello! We decided to use Redis." }], trace: true, dry_run: true },
    });
    const res = await c.next((f) => f.id === "i1" && (f.response || f.error));
    expect(res.response.dry_run).toBe(true);
    expect(res.response.trace.map((e: any) => [e.outcome, e.reason ?? null])).toEqual([
      ["kept", null],
      ["dropped", "greeting"],
    ]);
    expect((await rows(api.tenant)).memories).toBe(0);
    c.ws.close();
  });
});
