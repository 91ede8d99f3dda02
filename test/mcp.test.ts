import type { Client } from "@modelcontextprotocol/client";
import { describe, expect, it } from "vitest";
import { ABSTAIN_ANSWER } from "../src/domain/relevance.ts";
import { hubEvents, sign, store, tenantApi } from "./support/api.ts";
import { mcpClient } from "./support/mcp.ts";

/** A tool's structured result; fails the test when the tool reported an error. */
async function callTool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const res = (await client.callTool({ name, arguments: args })) as any;
  if (res.isError) throw new Error(`${name} failed: ${res.content?.[0]?.text}`);
  expect(JSON.parse(res.content[0].text)).toEqual(res.structuredContent);
  return res.structuredContent;
}

async function toolError(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const res = (await client.callTool({ name, arguments: args })) as any;
  expect(res.isError).toBe(true);
  return res.content[0].text as string;
}

const AMS_TOOLS = [
  "create_long_term_memories",
  "search_long_term_memory",
  "memory_prompt",
  "set_working_memory",
  "get_working_memory",
  "get_long_term_memory",
  "edit_long_term_memory",
  "delete_long_term_memories",
  "get_current_datetime",
];
const EDGEMEM_TOOLS = ["think", "ingest", "feedback", "query_knowledge_graph", "forget", "invalidate_long_term_memory"];

describe("MCP (streamable HTTP at /mcp)", () => {
  it("lists AMS's tools and edgemem's, each described and with an input schema", async () => {
    const client = await mcpClient(await tenantApi());
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...AMS_TOOLS, ...EDGEMEM_TOOLS].sort());
    for (const t of tools) {
      expect(t.description!.length).toBeGreaterThan(30);
      expect(t.inputSchema.type).toBe("object");
    }
    const search = tools.find((t) => t.name === "search_long_term_memory")!;
    // Every REST search option is there (AMS's MCP dropped some, its issue #253).
    for (const k of [
      "text",
      "limit",
      "offset",
      "session_id",
      "namespace",
      "topics",
      "entities",
      "user_id",
      "memory_type",
      "created_at",
      "last_accessed",
      "event_date",
      "search_mode",
      "distance_threshold",
      "recency_boost",
      "recency_half_life_created_days",
      "hybrid_alpha",
    ]) {
      expect(Object.keys(search.inputSchema.properties!)).toContain(k);
    }
    expect(tools.find((t) => t.name === "get_long_term_memory")!.annotations?.readOnlyHint).toBe(true);
    expect(tools.find((t) => t.name === "forget")!.annotations?.readOnlyHint).toBe(false);
  });

  it("serves the 2026-07-28 protocol revision too", async () => {
    const api = await tenantApi();
    const client = await mcpClient(api, api.token, "2026-07-28");
    expect((await client.listTools()).tools).toHaveLength(AMS_TOOLS.length + EDGEMEM_TOOLS.length);
    await callTool(client, "create_long_term_memories", {
      memories: [{ id: "m1", text: "Modern clients can store memories" }],
    });
    expect((await callTool(client, "get_long_term_memory", { memory_id: "m1" })).text).toBe(
      "Modern clients can store memories",
    );
  });

  it("runs the AMS tools: long-term memory, working memory, memory_prompt", async () => {
    const api = await tenantApi();
    const client = await mcpClient(api);
    const now = await callTool(client, "get_current_datetime");
    expect(Math.abs(now.unix_ts * 1000 - Date.parse(now.iso_utc))).toBeLessThan(1000);
    expect(Math.abs(now.unix_ts * 1000 - Date.now())).toBeLessThan(60_000);

    const created = await callTool(client, "create_long_term_memories", {
      memories: [
        {
          id: "pref-1",
          text: "User prefers dark mode in every editor",
          memory_type: "semantic",
          user_id: "u1",
          topics: ["preferences"],
        },
        {
          id: "trip-1",
          text: "User visited Lisbon in March 2025",
          memory_type: "episodic",
          event_date: "2025-03-10T00:00:00Z",
          user_id: "u1",
        },
        { id: "other-1", text: "Team standup moved to 9:30", user_id: "u2" },
      ],
    });
    expect(created).toMatchObject({ status: "ok", memory_ids: ["pref-1", "trip-1", "other-1"] });

    const found = await callTool(client, "search_long_term_memory", {
      text: "dark mode",
      user_id: { eq: "u1" },
      limit: 5,
    });
    expect(found.memories[0].id).toBe("pref-1");
    expect(found.memories.map((m: any) => m.id)).not.toContain("other-1");
    // Filters AMS's MCP silently dropped: event_date, recency options, topics.
    const dated = await callTool(client, "search_long_term_memory", {
      text: "",
      event_date: { gte: "2025-03-01T00:00:00Z" },
      recency_boost: false,
      explain: true,
    });
    expect(dated.memories.map((m: any) => m.id)).toEqual(["trip-1"]);
    expect(dated.memories[0].score_details).toBeDefined();
    expect(
      (await callTool(client, "search_long_term_memory", { text: "", topics: { any: ["preferences"] } })).memories.map(
        (m: any) => m.id,
      ),
    ).toEqual(["pref-1"]);

    expect((await callTool(client, "get_long_term_memory", { memory_id: "pref-1" })).text).toBe(
      "User prefers dark mode in every editor",
    );
    const edited = await callTool(client, "edit_long_term_memory", {
      memory_id: "pref-1",
      text: "User prefers light mode in every editor",
      pinned: true,
    });
    expect(edited).toMatchObject({ id: "pref-1", text: "User prefers light mode in every editor", pinned: true });

    const session = await callTool(client, "set_working_memory", {
      session_id: "s1",
      user_id: "u1",
      messages: [
        { role: "user", content: "I am planning the Lisbon offsite" },
        { role: "assistant", content: "Noted: offsite in Lisbon" },
      ],
      data: { step: 2 },
      memories: [{ id: "wm-1", text: "The offsite is in Lisbon" }],
    });
    expect(session).toMatchObject({ session_id: "s1", data: { step: 2 } });
    const got = await callTool(client, "get_working_memory", { session_id: "s1", recent_messages_limit: 1 });
    expect(got.messages.map((m: any) => m.content)).toEqual(["Noted: offsite in Lisbon"]);
    expect(await callTool(client, "get_working_memory", { session_id: "nope" })).toMatchObject({
      session_id: "nope",
      messages: [],
      memories: [],
    });

    const prompt = await callTool(client, "memory_prompt", {
      query: "Which editor theme?",
      session_id: { eq: "s1" },
      user_id: { eq: "u1" },
      model_name: "gpt-4o",
    });
    expect(prompt.messages.at(-1)).toEqual({ role: "user", content: "Which editor theme?" });
    expect(prompt.messages[0].content).toContain("light mode");
    expect(prompt.messages.map((m: any) => m.content).join("\n")).toContain("Lisbon offsite");
    expect(await toolError(client, "memory_prompt", { query: "x", include_long_term_search: false })).toMatch(
      /session_id/,
    );

    expect(await callTool(client, "delete_long_term_memories", { memory_ids: ["other-1"] })).toEqual({
      status: "ok",
      deleted_ids: ["other-1"],
    });
    expect(await toolError(client, "get_long_term_memory", { memory_id: "other-1" })).toMatch(/^not_found/);
  });

  it("runs edgemem's tools: ingest, query_knowledge_graph, think, feedback, forget", async () => {
    const client = await mcpClient(await tenantApi());
    const ingested = await callTool(client, "ingest", {
      messages: [{ role: "user", content: "We decided to use Redis for caching." }],
    });
    expect(ingested.memories[0]).toMatchObject({ memory_type: "decision" });
    const id = ingested.memories[0].id;
    const graph = await callTool(client, "query_knowledge_graph", { query: "Redis" });
    expect(graph.entities.map((e: any) => e.name)).toEqual(["Redis"]);
    expect(graph.memories.map((m: any) => m.id)).toEqual([id]);
    const thought = await callTool(client, "think", { question: "What do we use for caching?" });
    expect(thought.answer).toContain("Redis");
    expect(thought.citations.map((c: any) => c.memory_id)).toContain(id);
    const fb = await callTool(client, "feedback", { memory_id: id, rating: "positive" });
    expect(fb.memory.confidence).toBeGreaterThan(ingested.memories[0].confidence);
    const dry = await callTool(client, "forget", { policy: { max_age_days: 0 } });
    expect(dry).toMatchObject({ dry_run: true, deleted: 1, deleted_ids: [id] });
    expect((await callTool(client, "get_long_term_memory", { memory_id: id })).id).toBe(id);
  });

  it("think abstains when nothing is relevant; think and query_knowledge_graph see only the asking owner's facts", async () => {
    const client = await mcpClient(await tenantApi());
    const alice = (
      await callTool(client, "ingest", {
        messages: [{ role: "user", content: "We decided to use Redis for caching." }],
        user_id: "alice",
      })
    ).memories[0].id;
    const bob = (
      await callTool(client, "ingest", {
        messages: [{ role: "user", content: "We switched to Memcached for caching." }],
        user_id: "bob",
        namespace: "b",
      })
    ).memories[0].id;
    expect(await callTool(client, "think", { question: "Do I have any diet or allergies?" })).toEqual({
      answer: ABSTAIN_ANSWER,
      citations: [],
      facts: [],
      provider: "offline-extractive",
    });
    expect(await callTool(client, "think", { question: "Am I going to Japan?", user_id: "alice" })).toMatchObject({
      answer: ABSTAIN_ANSWER,
      citations: [],
      facts: [],
    });

    const thought = await callTool(client, "think", { question: "What do we use for caching?", user_id: "bob" });
    expect(thought.facts.map((f: any) => [f.object.name, f.source_memory_id])).toEqual([["Memcached", bob]]);
    expect(thought.citations.map((c: any) => c.memory_id)).toEqual([bob]);
    const graph = await callTool(client, "query_knowledge_graph", { query: "caching", user_id: "alice" });
    expect(graph.relations.map((r: any) => [r.object.name, r.source_memory_id])).toEqual([["Redis", alice]]);
    expect((await callTool(client, "query_knowledge_graph", { query: "Memcached", namespace: "a" })).entities).toEqual(
      [],
    );
  });

  it("writes through MCP push the same events as REST", async () => {
    const api = await tenantApi();
    const client = await mcpClient(api);
    await callTool(client, "create_long_term_memories", {
      memories: [{ id: "e1", text: "Deploys happen on Tuesdays" }],
    });
    await callTool(client, "edit_long_term_memory", { memory_id: "e1", text: "Deploys happen on Thursdays" });
    await callTool(client, "feedback", { memory_id: "e1", helpful: true });
    await callTool(client, "delete_long_term_memories", { memory_ids: ["e1"] });
    const types = (await hubEvents(api.tenant)).map((e) => e.type);
    expect(types).toEqual([
      "memory_created",
      "memory_updated",
      "feedback_recorded",
      "memory_updated",
      "memory_deleted",
    ]);
  });

  it("bad arguments are tool errors naming the problem; the session keeps working", async () => {
    const client = await mcpClient(await tenantApi());
    expect(await toolError(client, "create_long_term_memories", { memories: [] })).toMatch(/at least one memory/);
    expect(await toolError(client, "search_long_term_memory", { text: "x", limit: 0 })).toMatch(/limit/);
    expect(
      await toolError(client, "search_long_term_memory", { text: "x", created_at: { gte: "not a date" } }),
    ).toMatch(/created_at/);
    expect(await toolError(client, "feedback", { memory_id: "m" })).toMatch(/rating/);
    expect(await toolError(client, "edit_long_term_memory", { memory_id: "missing", text: "x" })).toMatch(/^not_found/);
    // An unknown tool is a protocol error (-32602), as the MCP spec says.
    await expect(client.callTool({ name: "teleport", arguments: {} })).rejects.toThrow(/teleport not found/);
    expect((await callTool(client, "get_current_datetime")).iso_utc).toMatch(/Z$/);
  });

  it("authenticates with the REST JWT: no or bad token is a 401; read-only tokens cannot write", async () => {
    const api = await tenantApi();
    await expect(mcpClient(api, null)).rejects.toThrow(/401|nauthori/);
    await expect(
      mcpClient(api, await sign({ tenant_id: api.tenant }, { secret: "another-secret-another-secret-0000" })),
    ).rejects.toThrow(/401|nauthori/);
    const reader = await mcpClient(
      api,
      await sign({ tenant_id: api.tenant, scope: "memory:read" }, { expiresIn: "1h" }),
    );
    expect(await toolError(reader, "create_long_term_memories", { memories: [{ text: "x" }] })).toMatch(/^forbidden/);
    expect((await callTool(reader, "search_long_term_memory", { text: "x" })).total).toBe(0);
  });

  it("keeps tenants apart: a token sees only its own tenant's memories", async () => {
    const a = await tenantApi();
    const b = await tenantApi();
    await store(a, [{ id: "secret-a", text: "Tenant A launch codes are in the vault" }]);
    const cb = await mcpClient(b);
    expect((await callTool(cb, "search_long_term_memory", { text: "launch codes vault" })).total).toBe(0);
    expect(await toolError(cb, "get_long_term_memory", { memory_id: "secret-a" })).toMatch(/^not_found/);
    expect(await callTool(cb, "delete_long_term_memories", { memory_ids: ["secret-a"] })).toEqual({
      status: "ok",
      deleted_ids: [],
    });
    const ca = await mcpClient(a);
    expect((await callTool(ca, "get_long_term_memory", { memory_id: "secret-a" })).id).toBe("secret-a");
  });
});
