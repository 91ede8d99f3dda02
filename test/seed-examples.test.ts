import { describe, expect, it } from "vitest";
import { ABSTAIN_ANSWER } from "../src/domain/relevance.ts";
import { tenantApi } from "./support/api.ts";
import { connect, settle, type Client } from "./support/sockets.ts";

/**
 * The first example of each seed document (the API contracts edgemem implements; they are not in
 * the repository, so each example is copied here verbatim), sent as a client sends it through the
 * Worker and the tenant's hub, and the answers docs/try-the-seeds.md and the README's "Try the
 * seeds" show. When an answer changes, so must they.
 */

/** What a client reads next: the first frame that arrived from `from` on, whatever it is. */
const recv = (c: Client, from: number) => c.next(() => true, from);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe("agent-memory-server-rest-api.txt", () => {
  // Its first endpoint, and its first request body (`PUT /v1/working-memory/{session_id}`), as printed.
  const putBody = `{
"messages": [
{ "role": "user", "content": "Hello" },
{ "role": "assistant", "content": "Hi there" }
],
"memories": [
{
"id": "mem-123",
"text": "User prefers direct communication",
"memory_type": "semantic"
}
],
"context": "Previous conversation summary...",
"session_id": "session-123",
"namespace": "default"
}`;

  it("GET /v1/health answers the server time; PUT /v1/working-memory/session-123 stores and returns the session", async () => {
    const api = await tenantApi();
    const health = await api.call("GET", "/v1/health");
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ now: expect.any(Number) });

    const res = await api.call("PUT", "/v1/working-memory/session-123", putBody);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      session_id: "session-123",
      namespace: "default",
      messages: [
        { role: "user", content: "Hello", id: expect.any(String), created_at: expect.stringMatching(ISO) },
        { role: "assistant", content: "Hi there" },
      ],
      memories: [
        {
          id: "mem-123",
          text: "User prefers direct communication",
          memory_type: "semantic",
          session_id: "session-123",
        },
      ],
      context: "Previous conversation summary...",
      tokens: 11,
      new_session: true,
    });
  });
});

describe("engram-websocket-api.txt", () => {
  // The connection example sends this on open (`JSON.stringify({ command: "status", payload: {} })`).
  const status = '{"command":"status","payload":{}}';
  // The Python example's frame as `json.dumps` writes it (a space after each colon and comma).
  const remember = '{"command": "remember", "payload": {"content": "Test memory", "priority": 5}}';

  it("the connection example: status answers with the tenant's statistics", async () => {
    const ws = await connect(await tenantApi());
    ws.send(status);
    expect(await recv(ws, 0)).toMatchObject({
      command: "status",
      status: "ok",
      data: { memories: { total: 0 }, sessions: 0, feedback: 0 },
    });
  });

  it("the Python example: the first frame after remember is its reply; the push follows, on this socket and every other", async () => {
    const api = await tenantApi();
    const other = await connect(api);
    const ws = await connect(api);
    ws.send(remember);
    const response = await recv(ws, 0);
    expect(response).toEqual({
      command: "remember",
      status: "ok",
      data: {
        memory_id: expect.any(String),
        memory: expect.objectContaining({ text: "Test memory", priority: 5, memory_type: "fact" }),
        deduplicated: false,
      },
    });
    const pushed = {
      event: "memory_created",
      data: expect.objectContaining({ memory_id: response.data.memory_id, content: "Test memory", priority: 5 }),
      seq: 1,
    };
    expect(await recv(ws, 1)).toEqual(pushed);
    expect(await recv(other, 0)).toEqual(pushed);

    // With an id, the reply echoes it and still comes first.
    const from = ws.frames.length;
    const otherFrom = other.frames.length;
    ws.send({ id: "r-2", command: "remember", payload: { content: "Second test memory", priority: 5 } });
    const second = await recv(ws, from);
    expect(second).toMatchObject({ id: "r-2", command: "remember", status: "ok" });
    const next = { event: "memory_created", seq: 2 };
    expect(await recv(ws, from + 1)).toMatchObject({ ...next, data: { memory_id: second.data.memory_id } });
    expect(await recv(other, otherFrom)).toMatchObject({ ...next, data: { memory_id: second.data.memory_id } });

    // The sequence numbers the pushes carried are the replay log's: a reconnect after 1 gets 2 again.
    const back = await connect(api, { query: "since=1" });
    expect(await recv(back, 0)).toMatchObject({ ...next, data: { memory_id: second.data.memory_id } });
    expect(back.frames).toHaveLength(1);
  });

  it("remembers sent back to back: each reply precedes its own push; every socket gets each push once, numbered in order", async () => {
    const api = await tenantApi();
    const other = await connect(api);
    const ws = await connect(api);
    const contents = [
      "The staging database is Postgres 16",
      "Alice prefers tea over coffee",
      "The deploy window is Friday at 6pm",
      "Our cache runs on Redis with 6 GB",
      "Bob is allergic to peanuts",
      "The office moves to Lisbon in March",
    ];
    const n = contents.length;
    contents.forEach((content, id) => ws.send({ id, command: "remember", payload: { content } }));
    const replies = await ws.collect((f) => f.command === "remember", n);
    const pushes = await ws.collect((f) => f.event === "memory_created", n);
    for (const r of replies) {
      expect(r.status).toBe("ok");
      const push = pushes.find((p) => p.data.memory_id === r.data.memory_id);
      expect(ws.frames.indexOf(r)).toBeLessThan(ws.frames.indexOf(push));
    }
    const seqs = pushes.map((p) => p.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(n);
    const theirs = await other.collect((f) => f.event === "memory_created", n);
    expect(theirs).toEqual(pushes);
    await settle();
    expect(ws.frames).toHaveLength(2 * n);
    expect(other.frames).toHaveLength(n);
  });

  it("the other writes too: ingest (the seed's example) and feedback answer before their pushes", async () => {
    const api = await tenantApi();
    const ws = await connect(api);
    ws.send(`{
"command": "ingest",
"payload": {
"messages": [
{ "role": "user", "content": "We decided to use Redis for caching" }
]
}
}`);
    const ingested = await recv(ws, 0);
    expect(ingested).toMatchObject({ command: "ingest", status: "ok" });
    const created = ingested.data.memories.length;
    expect(created).toBeGreaterThan(0);
    const pushes = await ws.collect((f) => f.event === "memory_created", created);
    expect(ws.frames.slice(1, 1 + created)).toEqual(pushes);

    const from = ws.frames.length;
    const id = ingested.data.memories[0].id;
    ws.send({ command: "feedback", payload: { memory_id: id, rating: "positive" } });
    expect(await recv(ws, from)).toMatchObject({ command: "feedback", status: "ok" });
    const after = await ws.collect((f) => f.event === "feedback_recorded" || f.event === "memory_updated", 2);
    expect(after.every((f) => ws.frames.indexOf(f) > from)).toBe(true);
  });
});

describe("symindx-websocket-api.md", () => {
  // The seed's first message ("Client to Server"), as printed.
  const chat = `{
  "id": "msg_123",
  "type": "chat",
  "data": {
    "message": "Hello, agent!"
  },
  "targetAgent": "nyx",
  "priority": "normal",
  "timestamp": "2024-01-15T10:30:00.000Z"
}`;
  /** An agent exists once a memory names it: the seed's own command type, with a remember instruction. */
  const createNyx = {
    type: "command",
    data: { instruction: "remember Nyx helps with coding, debugging and technical discussions" },
    targetAgent: "nyx",
  };

  it("chat to nyx on an empty tenant: AGENT_NOT_FOUND, in the seed's error format", async () => {
    const ws = await connect(await tenantApi());
    ws.send(chat);
    expect(await recv(ws, 0)).toEqual({
      id: "msg_123",
      type: "error",
      error: "agent 'nyx' not found",
      data: { code: "AGENT_NOT_FOUND", message: "agent 'nyx' not found", details: null },
      timestamp: expect.stringMatching(ISO),
    });
  });

  it("once a memory names nyx, the same chat is answered (abstaining: nothing it remembers answers a greeting), and a question is answered from nyx's memories", async () => {
    const ws = await connect(await tenantApi());
    ws.send(createNyx);
    expect(await recv(ws, 0)).toMatchObject({
      type: "command_result",
      agentId: "nyx",
      data: { status: "completed", result: { memory: { agent_id: "nyx", scope: "agent" }, deduplicated: false } },
    });
    ws.send(chat);
    expect(await recv(ws, 1)).toMatchObject({
      id: "msg_123",
      type: "chat_response",
      agentId: "nyx",
      data: { response: ABSTAIN_ANSWER, agentId: "nyx", citations: [], metadata: { memoryRetrieved: false } },
    });
    // The seed's "Send a chat message" example.
    ws.send(
      JSON.stringify({
        type: "chat",
        data: { message: "What can you help me with?", conversationId: "conv_123" },
        targetAgent: "nyx",
      }),
    );
    const answer = await recv(ws, 2);
    expect(answer).toMatchObject({
      type: "chat_response",
      data: { agentId: "nyx", conversationId: "conv_123", metadata: { memoryRetrieved: true } },
    });
    expect(answer.data.response).toMatch(/^Nyx helps with coding, debugging and technical discussions\. \[/);
  });

  it("a socket subscribed as the seed shows reads its command's reply before the memory_update it caused", async () => {
    const ws = await connect(await tenantApi());
    ws.send({ type: "subscribe", data: { events: ["agent_status", "emotion_change", "memory_update"] } });
    expect(await recv(ws, 0)).toMatchObject({ type: "subscribed" });
    ws.send(createNyx);
    const reply = await recv(ws, 1);
    expect(reply).toMatchObject({ type: "command_result", agentId: "nyx" });
    expect(await recv(ws, 2)).toMatchObject({
      type: "event",
      data: { eventType: "memory_update", action: "memory_created", memoryId: reply.data.result.memory.id },
    });
  });
});

describe("trustgraph-websocket-api.txt", () => {
  it("the first example (config list of type flow) lists the one flow", async () => {
    const ws = await connect(await tenantApi(), { path: "/api/v1/socket" });
    ws.send(`{
  "id": "req-123",
  "service": "config",
  "request": {
    "operation": "list",
    "type": "flow"
  }
}`);
    expect(await recv(ws, 0)).toEqual({
      id: "req-123",
      response: { version: 1, directory: ["default"] },
      complete: true,
    });
  });
});

describe("memory-crud-api.txt", () => {
  /** The seed's "Create Memory" body, as printed. */
  const create = (ttl: string) => `{
  "agent_id": "6601a1b2c3d4e5f607890abc",
  "scope": "agent",
  "key": "user-preference",
  "value": "Prefers concise responses with code examples",
  "metadata": {"tags": ["preferences"]},
  "ttl": "${ttl}"
}`;
  const SEED_TTL = "2025-06-01T00:00:00Z";
  /** The date docs/try-the-seeds.md uses instead. */
  const FUTURE_TTL = "2099-06-01T00:00:00Z";

  it("the seed's ttl is in the past: a 422 naming ttl, and nothing is stored", async () => {
    expect(Date.parse(SEED_TTL)).toBeLessThan(Date.now());
    const api = await tenantApi();
    const res = await api.call("POST", "/api/memories", create(SEED_TTL));
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      error: "validation_error",
      message: "ttl: must be in the future",
      detail: "ttl: must be in the future",
      issues: [{ field: "ttl", message: "must be in the future" }],
    });
    expect((await api.call("GET", "/api/memories?agent_id=6601a1b2c3d4e5f607890abc")).body).toEqual([]);
  });

  it("with a future ttl: 201 and the seed's response shape", async () => {
    expect(Date.parse(FUTURE_TTL)).toBeGreaterThan(Date.now());
    const api = await tenantApi();
    const res = await api.call("POST", "/api/memories", create(FUTURE_TTL));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      agent_id: "6601a1b2c3d4e5f607890abc",
      scope: "agent",
      key: "user-preference",
      value: "Prefers concise responses with code examples",
      embedding: null,
      metadata: { tags: ["preferences"] },
      ttl: "2099-06-01T00:00:00.000Z",
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
  });
});
