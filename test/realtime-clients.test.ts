import { createExecutionContext, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/deps.ts";
import { ABSTAIN_ANSWER } from "../src/domain/relevance.ts";
import { symindx as symindxDialect } from "../src/realtime/symindx.ts";
import { jwtEnv, sign, store, tenantApi } from "./support/api.ts";
import { connect, hubContext, settle, type Client } from "./support/sockets.ts";

/**
 * The frames real clients send, exactly as their sources write them (issue 16). SYMindX:
 * repository SYMBaiEX/SYMindX, `mind-agents/src/extensions/api/` (index.ts, skills/websocket-server.ts,
 * components/WebSocketManager.ts) and `website/src/` (App.tsx, components/ThoughtStream.tsx).
 * engram: the Python example of its WebSocket document (`ws.send(...)` then `ws.recv()`).
 */

const typed = (type: string) => (f: any) => f.type === type;
/** A socket that said it speaks SYMindX (the `symindx` subprotocol) and is greeted on connect. */
const symindx = (api: Awaited<ReturnType<typeof tenantApi>>) =>
  connect(api, { headers: { "sec-websocket-protocol": "symindx" } });
/** What `await ws.recv()` returns after a send: the first frame that arrived from `from` on. */
const recv = (c: Client, from: number) => c.next(() => true, from);

describe("SYMindX: heartbeat and greeting", () => {
  it("a socket that never answers the ping stays open, pinged every round, and still gets events", async () => {
    const api = await tenantApi();
    const dashboard = await symindx(api);
    // website/src/App.tsx only listens: it never answers an application ping.
    dashboard.send({ type: "subscribe", data: { channel: "memory_update" } });
    await dashboard.next(typed("subscribed"));
    let closed = false;
    dashboard.ws.addEventListener("close", () => {
      closed = true;
    });
    const hub = env.TENANT_HUB.getByName(api.tenant);
    for (let round = 1; round <= 3; round++) {
      expect(await runDurableObjectAlarm(hub)).toBe(true);
      await dashboard.collect(typed("ping"), round);
    }
    await settle();
    expect(closed).toBe(false);
    await store(api, [{ id: "after-pings", text: "Still listening", agent_id: "nyx" }]);
    expect((await dashboard.next(typed("memory_update"))).data).toMatchObject({
      id: "after-pings",
      agentId: "nyx",
      content: "Still listening",
    });
  });

  it("greets a socket that offers the symindx subprotocol with connection_established; a plain /ws socket hears nothing first", async () => {
    const api = await tenantApi();
    const greeted = await symindx(api);
    const hello = await greeted.next(() => true);
    expect(hello).toMatchObject({ type: "connection_established", data: { name: "edgemem" } });
    expect(hello.connectionId).toBe(hello.data.connectionId);
    expect(greeted.frames).toHaveLength(1);

    const plain = await connect(api);
    await settle();
    expect(plain.frames).toEqual([]);
  });
});

describe("SYMindX: chat as the runtime and the skill server send it", () => {
  it("index.ts chat: text as string data or top-level message, agent as top-level agentId, defaulting to the first agent", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "n0", text: "A note of no agent about the deploy window" }]);
    await store(api, [{ id: "nyx-1", text: "The deploy window is Friday at 6pm", agent_id: "nyx" }]);
    await store(api, [{ id: "aria-1", text: "The deploy window is Monday at 9am", agent_id: "aria" }]);
    const c = await symindx(api);

    c.send({ type: "chat", data: "When is the deploy window?", agentId: "aria" });
    const toAria = await c.next(typed("chat_response"));
    expect(toAria.data.response).toContain("Monday at 9am");
    expect(toAria.data).toMatchObject({
      agentId: "aria",
      sessionId: expect.any(String),
      timestamp: expect.stringMatching(/^\d{4}-/),
    });
    expect(toAria.data.metadata).toEqual({
      tokensUsed: expect.any(Number),
      processingTime: expect.any(Number),
      memoryRetrieved: true,
    });
    expect(toAria.data.metadata.tokensUsed).toBeGreaterThan(0);

    // No agent: the first agent, the one of the tenant's earliest memory that names one (nyx).
    const from = c.frames.length;
    c.send({ type: "chat", message: "When is the deploy window?" });
    const toFirst = await c.next(typed("chat_response"), from);
    expect(toFirst.agentId).toBe("nyx");
    expect(toFirst.data.response).toContain("Friday at 6pm");
    expect(toFirst.data.response).not.toContain("Monday");
  });

  it("websocket-server.ts chat_message with data.message and agentId; empty text is an error naming the field", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "sage-1", text: "Sage prefers concise answers", agent_id: "sage" }]);
    const c = await symindx(api);
    c.send({
      type: "chat_message",
      agentId: "sage",
      data: { message: "What does sage prefer?", conversationId: "conv-1" },
    });
    const res = await c.next(typed("chat_response"));
    expect(res).toMatchObject({
      agentId: "sage",
      data: { agentId: "sage", conversationId: "conv-1", response: expect.stringContaining("concise") },
    });
    c.send({ type: "chat", data: "   " });
    const err = await c.next(typed("error"));
    expect(err.error).toBe("message: must not be empty");
    expect(err.data.details[0].field).toBe("message");
    c.send({ type: "chat_message", agentId: "ghost", data: { message: "hi" } });
    expect((await c.next((f) => f.type === "error" && f.data.code === "AGENT_NOT_FOUND")).error).toBe(
      "agent 'ghost' not found",
    );
  });
});

describe("SYMindX: chat that abstains, and facts under the agent's scope", () => {
  it("chat and a think command say there is no memory of it, citing nothing, when nothing is relevant", async () => {
    const api = await tenantApi();
    await store(api, [
      { id: "nyx-1", text: "The deploy window is Friday at 6pm", agent_id: "nyx" },
      { id: "nyx-2", text: "I drink two cups of coffee every morning", agent_id: "nyx" },
    ]);
    const c = await symindx(api);
    c.send({ type: "chat", data: "Do I have any diet or allergies?", agentId: "nyx" });
    const res = await c.next(typed("chat_response"));
    expect(res.data.response).toBe(ABSTAIN_ANSWER);
    expect(res.data.metadata.memoryRetrieved).toBe(false);
    c.send({ type: "command", agentId: "nyx", data: { command: "think am I going to Japan?", parameters: {} } });
    expect((await c.next(typed("command_result"))).data.result).toEqual({ answer: ABSTAIN_ANSWER, citations: [] });
    const from = c.frames.length;
    c.send({ type: "chat", data: "When is the deploy window?", agentId: "nyx" });
    expect((await c.next(typed("chat_response"), from)).data.response).toContain("Friday at 6pm");
  });

  it("an agent's chat quotes only facts stated by that agent's memories", async () => {
    const api = await tenantApi();
    // Ingested without an agent: the fact "user prefers Rust" belongs to no agent.
    await api.call("POST", "/v1/ingest", {
      messages: [{ role: "user", content: "I prefer Rust for systems programming" }],
    });
    await store(api, [{ id: "nyx-1", text: "The user prefers concise answers", agent_id: "nyx" }]);
    const c = await symindx(api);
    c.send({ type: "chat", data: "what does the user prefer?", agentId: "nyx" });
    const res = await c.next(typed("chat_response"));
    expect(res.data.response).toContain("concise answers");
    expect(res.data.response).not.toContain("Rust");
  });
});

describe("SYMindX: commands", () => {
  it("index.ts action: command_response to the sender, then command_update to every SYMindX socket of the tenant (no engram socket, no other tenant)", async () => {
    const api = await tenantApi();
    const other = await tenantApi();
    const sender = await symindx(api);
    const watcher = await symindx(api);
    const engram = await connect(api);
    const stranger = await symindx(other);
    sender.send({ type: "action", data: "remember The staging database is db-stage-2" });
    const response = await sender.next(typed("command_response"));
    expect(response.data).toEqual({ commandId: expect.stringMatching(/^cmd_/), status: "completed" });
    const update = await sender.next(typed("command_update"));
    expect(sender.frames.indexOf(response)).toBeLessThan(sender.frames.indexOf(update));
    expect(update.data).toMatchObject({
      id: response.data.commandId,
      status: "completed",
      progress: 100,
      result: { memory: { text: "The staging database is db-stage-2" } },
    });
    expect((await watcher.next(typed("command_update"))).data.id).toBe(response.data.commandId);
    await engram.next((f) => f.event === "memory_created");
    await settle();
    expect(engram.frames.filter(typed("command_update"))).toEqual([]);
    expect(stranger.frames.filter((f) => f.type !== "connection_established")).toEqual([]);

    sender.send({ type: "action", data: "" });
    expect((await sender.next(typed("error"))).data.details[0].field).toBe("data");
  });

  it("websocket-server.ts command with data.command and parameters → command_result; a free-form instruction is answered by think", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "k1", text: "The release train leaves every Tuesday", agent_id: "nyx" }]);
    const c = await symindx(api);
    c.send({ type: "command", agentId: "nyx", data: { command: "recall release train", parameters: {} } });
    const recalled = await c.next(typed("command_result"));
    expect(recalled.agentId).toBe("nyx");
    expect(recalled.data.result.memories.map((m: any) => m.id)).toEqual(["k1"]);

    const from = c.frames.length;
    c.send({
      type: "command",
      agentId: "nyx",
      data: { command: "analyze when the release train leaves", parameters: { path: "./src" } },
    });
    const answered = await c.next(typed("command_result"), from);
    expect(answered.data.result.answer).toContain("Tuesday");
    expect(answered.data.result.citations[0].memory_id).toBe("k1");

    // WebSocketManager.ts: agent.command → agent.command.result.
    c.send({ type: "agent.command", data: { agentId: "nyx", command: "status" } });
    expect((await c.next(typed("agent.command.result"))).data).toMatchObject({
      agentId: "nyx",
      command: "status",
      success: true,
      result: { memories: { total: 1 } },
    });
  });
});

describe("SYMindX: subscriptions, events and in-band auth", () => {
  it("subscribe with data.channel → subscribed {channel}; memory changes arrive as top-level memory_update with data.agentId and content", async () => {
    const api = await tenantApi();
    const site = await symindx(api);
    const seed = await symindx(api);
    site.send({ type: "subscribe", data: { channel: "memory_update" } });
    expect(await site.next(typed("subscribed"))).toMatchObject({
      channel: "memory_update",
      data: { channels: ["memory_update"] },
    });
    seed.send({ id: "s", type: "subscribe", data: { events: ["memory_update"] } });
    await seed.next(typed("subscribed"));

    await store(api, [{ id: "t1", text: "Nyx considered a new plan", agent_id: "nyx" }]);
    const update = await site.next(typed("memory_update"));
    expect(update.data).toMatchObject({
      id: "t1",
      agentId: "nyx",
      content: "Nyx considered a new plan",
      type: "memory",
      action: "memory_created",
    });
    // Seed subscribers keep the seed's `event` frames, and only those.
    expect((await seed.next(typed("event"))).data).toMatchObject({ eventType: "memory_update", memoryId: "t1" });
    expect(seed.frames.filter(typed("memory_update"))).toEqual([]);
    expect(site.frames.filter(typed("event"))).toEqual([]);

    site.send({ type: "unsubscribe", data: { channel: "memory_update" } });
    expect(await site.next(typed("unsubscribed"))).toMatchObject({ channel: "memory_update" });
    await store(api, [{ id: "t2", text: "Not for the website any more", agent_id: "nyx" }]);
    await seed.next((f) => f.type === "event" && f.data.memoryId === "t2");
    expect(site.frames.filter(typed("memory_update"))).toHaveLength(1);
  });

  it("auth {data: {token}} is answered auth.success on the socket and changes nothing; an empty token names the field", async () => {
    const api = await tenantApi();
    const c = await symindx(api);
    c.send({ type: "auth", data: { token: api.token, userId: "user_1" } });
    expect((await c.next(typed("auth.success"))).data).toMatchObject({ authenticated: true, userId: "user_1" });
    c.send({ type: "auth", data: { token: "" } });
    expect((await c.next(typed("error"))).data.details[0].field).toBe("token");
    c.send({ type: "command", data: { command: "status" } });
    expect((await c.next(typed("command_result"))).data.result.memories.total).toBe(0);
  });

  it("with JWT auth, auth verifies the token: the socket's tenant's is auth.success, another tenant's or a forged one UNAUTHORIZED", async () => {
    // The hub's own bindings run with AUTH_MODE=none in tests: the handler gets JWT configuration directly.
    const api = await tenantApi();
    const other = await tenantApi();
    const app = buildDeps(jwtEnv(), createExecutionContext());
    const principal = { tenant: api.tenant, subject: `user-of-${api.tenant}`, scopes: null };
    const frames: any[] = [];
    const run = (token: string) =>
      symindxDialect.receive(
        { type: "auth", data: { token } },
        hubContext(app, principal, (f) => frames.push(f)),
      );
    await run(api.token);
    expect(frames.pop()).toMatchObject({
      type: "auth.success",
      data: { authenticated: true, userId: principal.subject },
    });
    await run(other.token);
    expect(frames.pop()).toMatchObject({
      type: "error",
      data: { code: "UNAUTHORIZED", message: "the token is for another tenant; a socket's tenant never changes" },
    });
    await run(await sign({ tenant_id: api.tenant }, { secret: "wrong-secret-wrong-secret-wrong-secret" }));
    expect(frames.pop().data.code).toBe("UNAUTHORIZED");
    await run("not-a-jwt");
    expect(frames.pop().data.code).toBe("UNAUTHORIZED");
  });
});

describe("engram: the reply comes before the pushes it caused", () => {
  it("remember, read the next frame (the seed's Python example): it is the reply; the push follows, and other sockets get it", async () => {
    const api = await tenantApi();
    const ws = await connect(api);
    const other = await connect(api);
    ws.send({ command: "remember", payload: { content: "Test memory", priority: 5 } });
    const response = await recv(ws, 0);
    expect(response).toMatchObject({ command: "remember", status: "ok", data: { memory: { text: "Test memory" } } });
    const push = await recv(ws, 1);
    expect(push).toMatchObject({ event: "memory_created", data: { memory_id: response.data.memory_id } });
    await other.next((f) => f.event === "memory_created" && f.data.memory_id === response.data.memory_id);

    // Every command that writes: ingest's reply precedes its memory_created pushes.
    const from = ws.frames.length;
    ws.send({
      command: "ingest",
      payload: { messages: [{ role: "user", content: "We decided to use Redis for caching" }] },
    });
    expect(await recv(ws, from)).toMatchObject({ command: "ingest", status: "ok" });
  });
});
