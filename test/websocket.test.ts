import { createExecutionContext, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/deps.ts";
import { ABSTAIN_ANSWER } from "../src/domain/relevance.ts";
import { trustgraph } from "../src/realtime/trustgraph.ts";
import { call, search, sign, store, tenantApi, type Api } from "./support/api.ts";
import { connect, hibernate, hubContext, open } from "./support/sockets.ts";

const reply =
  (command: string, status = "ok") =>
  (f: any) =>
    f.command === command && f.status === status;
const pushed = (event: string, id?: string) => (f: any) =>
  f.event === event && (id === undefined || f.data.memory_id === id);

describe("engram over WebSocket", () => {
  it("remember replies with the memory and pushes memory_created to every socket of the tenant, and to no other tenant's", async () => {
    const a = await tenantApi();
    const b = await tenantApi();
    const a1 = await connect(a);
    const a2 = await connect(a);
    const b1 = await connect(b);
    a1.send({
      command: "remember",
      payload: { content: "Switched to PostgreSQL backend", memory_type: "decision", priority: 9 },
    });
    const res = await a1.next(reply("remember"));
    expect(res.data).toMatchObject({
      deduplicated: false,
      memory: { text: "Switched to PostgreSQL backend", memory_type: "decision", priority: 9 },
    });
    const event = await a2.next(pushed("memory_created", res.data.memory_id));
    expect(event.data).toMatchObject({ content: "Switched to PostgreSQL backend", memory_type: "decision" });
    expect(event.data.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(event.seq).toBe(1);
    await a1.next(pushed("memory_created"));

    // A REST write reaches the sockets too.
    await store(a, [{ id: "rest-1", text: "Written over REST" }]);
    await a2.next(pushed("memory_created", "rest-1"));
    b1.send({ command: "status", payload: {} });
    await b1.next(reply("status"));
    expect(b1.frames.filter((f) => f.event)).toEqual([]);
  });

  it("runs every command through the services: recall, think (streamed), feedback, query, ingest, status", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    c.send({
      command: "ingest",
      payload: { messages: [{ role: "user", content: "We decided to use Redis for caching" }] },
    });
    const ingested = await c.next(reply("ingest"));
    const id = ingested.data.memories[0].id;
    expect(ingested.data.relations).toEqual([
      { subject: "caching", predicate: "uses", object: "Redis", source_memory_id: id },
    ]);

    c.send({ command: "recall", payload: { query: "caching", limit: 5 } });
    expect((await c.next(reply("recall"))).data.memories.map((m: any) => m.id)).toEqual([id]);

    c.send({ command: "query", payload: { query: "Redis" } });
    const graph = await c.next(reply("query"));
    expect(graph.data.relations.map((r: any) => `${r.subject.name} ${r.predicate} ${r.object.name}`)).toEqual([
      "caching uses Redis",
    ]);

    const before = c.frames.length;
    c.send({ command: "think", payload: { question: "what do we use for caching?" } });
    const answer = await c.next(reply("think"), before);
    const tokens = c.frames
      .slice(before)
      .filter(reply("think", "streaming"))
      .map((f) => f.data.token);
    expect(tokens.join("")).toBe(answer.data.answer);
    expect(answer.data.answer).toContain(`[${id}]`);
    expect(answer.data.citations[0].memory_id).toBe(id);

    c.send({ command: "feedback", payload: { memory_id: id, positive: true } });
    expect((await c.next(reply("feedback"))).data.memory.confidence).toBe(0.95);
    await c.next(pushed("feedback_recorded", id));
    await c.next(pushed("memory_updated", id));

    c.send({ command: "status", payload: {} });
    expect((await c.next(reply("status"))).data).toMatchObject({
      memories: { total: 1, by_type: { decision: 1 } },
      feedback: 1,
    });
  });

  it("think abstains with no citations and no facts when nothing is relevant; think and query see only the asking owner's facts", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    c.send({
      command: "ingest",
      payload: { messages: [{ role: "user", content: "We decided to use Redis for caching" }], user_id: "alice" },
    });
    const alice = (await c.next(reply("ingest"))).data.memories[0].id;
    const second = c.frames.length;
    c.send({
      command: "ingest",
      payload: { messages: [{ role: "user", content: "We switched to Memcached for caching" }], user_id: "bob" },
    });
    const bob = (await c.next(reply("ingest"), second)).data.memories[0].id;

    const before = c.frames.length;
    c.send({ command: "think", payload: { question: "Do I have any diet or allergies?", user_id: "bob" } });
    const abstained = await c.next(reply("think"), before);
    expect(abstained.data).toEqual({
      answer: ABSTAIN_ANSWER,
      citations: [],
      facts: [],
      provider: "offline-extractive",
    });
    expect(
      c.frames
        .slice(before)
        .filter(reply("think", "streaming"))
        .map((f) => f.data.token),
    ).toEqual([ABSTAIN_ANSWER]);

    const from = c.frames.length;
    c.send({ command: "think", payload: { question: "what do we use for caching?", user_id: "alice" } });
    const answered = (await c.next(reply("think"), from)).data;
    expect(answered.facts.map((f: any) => [f.object.name, f.source_memory_id])).toEqual([["Redis", alice]]);
    expect(answered.citations.map((h: any) => h.memory_id)).toEqual([alice]);
    expect(answered.answer).not.toContain("Memcached");

    const q = c.frames.length;
    c.send({ command: "query", payload: { query: "caching", user_id: "bob" } });
    const graph = (await c.next(reply("query"), q)).data;
    expect(graph.relations.map((r: any) => [r.object.name, r.source_memory_id])).toEqual([["Memcached", bob]]);
    expect(graph.neighbours.map((n: any) => n.name)).toEqual(["Memcached"]);
  });

  it("bad frames get an error frame and the socket stays open", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    const cases: [unknown, (f: any) => boolean][] = [
      [
        "{not json",
        (f) => f.status === "error" && f.error.code === "INVALID_MESSAGE" && /not valid JSON/.test(f.error.message),
      ],
      [{ hello: 1 }, (f) => f.status === "error" && f.error.message === "expected {command, payload}"],
      [
        { command: "teleport", payload: {} },
        (f) =>
          f.command === "teleport" && f.error.code === "INVALID_MESSAGE" && /unknown command/.test(f.error.message),
      ],
      [
        { command: "remember", payload: {} },
        (f) => f.command === "remember" && f.status === "error" && f.error.issues[0].field === "content",
      ],
      [
        { command: "feedback", payload: { memory_id: "nope", rating: "positive" } },
        (f) => f.command === "feedback" && f.error.code === "NOT_FOUND",
      ],
      [
        JSON.stringify({ command: "remember", payload: { content: "x".repeat(300_000) } }),
        (f) => f.error?.code === "MESSAGE_TOO_LARGE",
      ],
    ];
    for (const [frame, pred] of cases) {
      const from = c.frames.length;
      c.send(frame);
      await c.next(pred, from);
    }
    c.send({ command: "status", payload: {} });
    await c.next(reply("status"));
  });

  it("a name every object inherits (toString, constructor, __proto__) is an unknown command", async () => {
    const c = await connect(await tenantApi());
    for (const command of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
      c.send({ id: command, command, payload: {} });
      expect((await c.next((f) => f.id === command)).error).toEqual({
        code: "INVALID_MESSAGE",
        message: `unknown command '${command}'; expected one of remember, recall, think, feedback, query, ingest, status, profile`,
      });
    }
    c.send({ command: "status", payload: {} });
    await c.next(reply("status"));
  });

  it("answers a ping with a pong (runtime auto-response) and limits each socket's frame rate", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    c.send({ type: "ping" });
    await c.next((f) => f.type === "pong");
    for (let i = 0; i < 125; i++) c.send({ command: "status", payload: {} });
    // 120 status commands run before the refusal: give a loaded machine time for them.
    const limited = await c.next((f) => f.error?.code === "RATE_LIMIT_EXCEEDED", 0, 12_000);
    expect(limited.error.message).toBe("more than 120 frames in 10 s");
    // Another socket of the tenant is not affected.
    const other = await connect(api);
    other.send({ command: "status", payload: {} });
    await other.next(reply("status"));
  });

  it("a reconnecting client gets what it missed with ?since=N", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "m1", text: "first" }]);
    await store(api, [{ id: "m2", text: "second" }]);
    await store(api, [{ id: "m3", text: "third" }]);
    const c = await connect(api, { query: "since=1" });
    await c.next(pushed("memory_created", "m3"));
    expect(c.frames.map((f) => [f.seq, f.data.memory_id])).toEqual([
      [2, "m2"],
      [3, "m3"],
    ]);
  });

  it("answers a client's close, even one without a status code, so the client is not left waiting", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    c.send({ command: "status", payload: {} });
    await c.next(reply("status"));
    let code = 0;
    c.ws.addEventListener("close", (e) => {
      code = e.code;
    });
    c.ws.close(); // no status: the hub sees 1005, which cannot be sent back as-is
    for (let i = 0; i < 200 && !code; i++) await new Promise((r) => setTimeout(r, 5));
    expect(code).toBe(1000);
  });

  it("sockets survive the hub's eviction (hibernation) and still get events", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    c.send({ command: "status", payload: {} });
    await c.next(reply("status"));
    await hibernate(api);
    await store(api, [{ id: "after-eviction", text: "still here" }]);
    await c.next(pushed("memory_created", "after-eviction"));
    c.send({ command: "recall", payload: { query: "still here" } });
    expect((await c.next(reply("recall"))).data.memories[0].id).toBe("after-eviction");
  });

  it("authenticates the upgrade: a bad token is a 401 before any upgrade; read-only tokens cannot write", async () => {
    const api = await tenantApi();
    const none = await open(api, { token: null });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: "unauthorized" });
    expect((await open(api, { token: "not-a-jwt" })).status).toBe(401);
    const other = await sign({ tenant_id: api.tenant }, { secret: "wrong-secret-wrong-secret-wrong-secret" });
    expect((await open(api, { token: other })).status).toBe(401);

    // Browsers cannot read a failed upgrade: they get the socket, an UNAUTHORIZED frame, and a close.
    const browser = await open(api, { token: "not-a-jwt", headers: { origin: "https://app.example" } });
    expect(browser.status).toBe(101);
    const bws = browser.webSocket!;
    const got: any[] = [];
    let closeCode = 0;
    bws.addEventListener("message", (e) => {
      got.push(JSON.parse(e.data as string));
    });
    bws.addEventListener("close", (e) => {
      closeCode = e.code;
    });
    bws.accept();
    for (let i = 0; i < 100 && !closeCode; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([
      expect.objectContaining({
        type: "error",
        status: "error",
        error: expect.objectContaining({ code: "UNAUTHORIZED" }),
      }),
    ]);
    expect(closeCode).toBe(1008);
    expect(
      (await open(api, { token: "not-a-jwt", headers: { origin: "https://app.example" }, query: "auth_errors=status" }))
        .status,
    ).toBe(401);

    // Browsers can only send the token as a subprotocol; the chosen protocol is echoed.
    const viaProtocol = await open(api, { token: null, headers: { "sec-websocket-protocol": `bearer, ${api.token}` } });
    expect(viaProtocol.status).toBe(101);
    expect(viaProtocol.headers.get("sec-websocket-protocol")).toBe("bearer");
    viaProtocol.webSocket!.accept();

    const reader = await tenantApi({ scope: "memory:read" });
    const r = await connect(reader);
    r.send({ command: "remember", payload: { content: "should not be stored" } });
    expect((await r.next(reply("remember", "error"))).error.code).toBe("UNAUTHORIZED");
    r.send({ command: "recall", payload: { query: "stored" } });
    expect((await r.next(reply("recall"))).data.memories).toEqual([]);
    expect(
      (await call(api.env, "GET", "/nope", undefined, { upgrade: "websocket", authorization: `Bearer ${api.token}` }))
        .status,
    ).toBe(404);
  });
});

describe("SYMindX over WebSocket", () => {
  const typed = (type: string, id?: string) => (f: any) => f.type === type && (id === undefined || f.id === id);

  it("chat answers from the target agent's memories; an unknown agent is AGENT_NOT_FOUND", async () => {
    const api = await tenantApi();
    await store(api, [
      { id: "nyx-1", text: "The deploy window is Friday at 6pm", agent_id: "nyx" },
      { id: "aria-1", text: "The deploy window is Monday at 9am", agent_id: "aria" },
    ]);
    const c = await connect(api);
    c.send({
      id: "msg_1",
      type: "chat",
      data: { message: "When is the deploy window?" },
      targetAgent: "nyx",
      priority: "normal",
      timestamp: new Date().toISOString(),
    });
    const res = await c.next(typed("chat_response", "msg_1"));
    expect(res.data.agentId).toBe("nyx");
    expect(res.data.response).toContain("Friday at 6pm");
    expect(res.data.response).not.toContain("Monday");
    expect(typeof res.data.processingTime).toBe("number");
    expect(res.timestamp).toMatch(/^\d{4}-/);

    c.send({ id: "msg_2", type: "chat", data: { message: "hello" }, targetAgent: "ghost" });
    const err = await c.next(typed("error", "msg_2"));
    expect(err.data).toMatchObject({ code: "AGENT_NOT_FOUND", message: "agent 'ghost' not found" });
  });

  it("command maps instructions to memory operations and reports status and executionTime", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    c.send({
      id: "c1",
      type: "command",
      data: { instruction: "remember The staging database is db-stage-2" },
      targetAgent: "nyx",
    });
    const stored = await c.next(typed("command_result", "c1"));
    expect(stored.data).toMatchObject({
      status: "completed",
      result: { memory: { text: "The staging database is db-stage-2", agent_id: "nyx" } },
    });
    expect(stored.data.commandId).toMatch(/^cmd_/);
    expect(typeof stored.data.executionTime).toBe("number");
    c.send({ id: "c2", type: "command", data: { instruction: "recall staging database" }, targetAgent: "nyx" });
    expect((await c.next(typed("command_result", "c2"))).data.result.memories[0].text).toBe(
      "The staging database is db-stage-2",
    );
    // An instruction that is no memory operation is a question (issue 16: SYMindX sends free-form ones).
    c.send({ id: "c3", type: "command", data: { instruction: "where is the staging database?" }, targetAgent: "nyx" });
    expect((await c.next(typed("command_result", "c3"))).data.result.answer).toContain("db-stage-2");
    c.send({ id: "c4", type: "command", data: { instruction: "remember" } });
    expect((await c.next(typed("error", "c4"))).data.code).toBe("INVALID_MESSAGE");
  });

  it("subscriptions filter events by name and minImportance; engram sockets still get everything", async () => {
    const api = await tenantApi();
    const sub = await connect(api);
    const quiet = await connect(api);
    const engram = await connect(api);
    sub.send({
      id: "s1",
      type: "subscribe",
      data: { events: ["memory_update", "agent_status"], filter: { minImportance: 0.7 } },
    });
    expect((await sub.next(typed("subscribed", "s1"))).data).toEqual({
      events: ["memory_update", "agent_status"],
      minImportance: 0.7,
    });
    quiet.send({ id: "q1", type: "status" });
    expect((await quiet.next(typed("status_update", "q1"))).data).toMatchObject({ status: "active", queueLength: 0 });

    await store(api, [{ id: "low", text: "A minor note", priority: 3 }]);
    await store(api, [{ id: "high", text: "A critical decision", priority: 9 }]);
    const event = await sub.next(typed("event"));
    expect(event.data).toMatchObject({
      eventType: "memory_update",
      action: "memory_created",
      memoryId: "high",
      importance: 0.9,
    });
    await engram.next(pushed("memory_created", "high"));
    expect(engram.frames.filter((f) => f.event).map((f) => f.data.memory_id)).toEqual(["low", "high"]);
    expect(sub.frames.filter((f) => f.type === "event").map((f) => f.data.memoryId)).toEqual(["high"]);
    expect(quiet.frames.filter((f) => f.type === "event")).toEqual([]);
  });

  it("a batch's subscribes add up: each sees the ones before it", async () => {
    const c = await connect(await tenantApi());
    c.send({
      id: "b",
      type: "batch",
      data: {
        messages: [
          { id: "s1", type: "subscribe", data: { events: ["memory_update"] } },
          { id: "s2", type: "subscribe", data: { events: ["agent_status"] } },
        ],
      },
    });
    await c.next(typed("subscribed", "s1"));
    expect((await c.next(typed("subscribed", "s2"))).data.events).toEqual(["memory_update", "agent_status"]);
  });

  it("subscriptions and rooms live in the socket's attachment: they survive the hub's eviction", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    c.send({ id: "s", type: "subscribe", data: { events: ["memory_update"] } });
    await c.next(typed("subscribed", "s"));
    c.send({ id: "j", type: "join_conversation", data: { conversationId: "room-1" } });
    await c.next(typed("conversation_joined", "j"));
    await hibernate(api);
    await store(api, [{ id: "post-evict", text: "Stored after the eviction" }]);
    expect((await c.next(typed("event"))).data).toMatchObject({ eventType: "memory_update", memoryId: "post-evict" });
    await api.call("PUT", "/v1/working-memory/room-1", { messages: [{ role: "user", content: "hello room" }] });
    expect((await c.next((f) => f.data?.eventType === "conversation_update")).data.last_message.content).toBe(
      "hello room",
    );
  });

  it("read-only tokens cannot write, and the rate limit answers in SYMindX's format", async () => {
    const reader = await tenantApi({ scope: "memory:read" });
    const c = await connect(reader);
    c.send({ id: "w", type: "command", data: { instruction: "remember secret plans" } });
    expect((await c.next(typed("error", "w"))).data.code).toBe("UNAUTHORIZED");
    for (let i = 0; i < 125; i++) c.send({ id: `s${i}`, type: "status" });
    expect(
      (await c.next((f) => f.type === "error" && f.data.code === "RATE_LIMIT_EXCEEDED", 0, 12_000)).data.message,
    ).toBe("more than 120 frames in 10 s");
  });

  it("batch runs each message in order; bad frames get SYMindX error frames and the socket stays open", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "n1", text: "Nyx likes concise answers", agent_id: "nyx" }]);
    const c = await connect(api);
    c.send({
      id: "b",
      type: "batch",
      data: {
        messages: [
          { id: "b1", type: "status" },
          { id: "b2", type: "chat", data: { message: "what does nyx like?" }, targetAgent: "nyx" },
        ],
      },
    });
    await c.next(typed("status_update", "b1"));
    expect((await c.next(typed("chat_response", "b2"))).data.response).toContain("concise");
    c.send("{oops");
    expect((await c.next(typed("error"))).data).toMatchObject({
      code: "INVALID_MESSAGE",
      message: "frame is not valid JSON",
    });
    c.send({ id: "x", type: "levitate" });
    expect((await c.next(typed("error", "x"))).data.message).toMatch(/unknown message type 'levitate'/);
    c.send({ id: "y", type: "chat", data: {} });
    expect((await c.next(typed("error", "y"))).data.details[0].field).toBe("message");
    c.send({ type: "ping" });
    await c.next(typed("pong"));
  });
});

describe("SYMindX conversations", () => {
  const typed = (type: string, id?: string) => (f: any) => f.type === type && (id === undefined || f.id === id);

  it("join_conversation makes a room: typing is relayed to the others only, handoffs are recorded and announced, session changes reach the room", async () => {
    const api = await tenantApi();
    const alice = await connect(api);
    const bob = await connect(api);
    const outsider = await connect(api);
    alice.send({ id: "j1", type: "join_conversation", data: { conversationId: "conv_1", agents: ["nyx", "sage"] } });
    await alice.next(typed("conversation_joined", "j1"));
    bob.send({ id: "j2", type: "join_conversation", data: { conversationId: "conv_1" } });
    expect((await bob.next(typed("conversation_joined", "j2"))).data.otherParticipants).toBe(1);
    await alice.next((f) => f.type === "event" && f.data.eventType === "participant_joined");
    outsider.send({ id: "o1", type: "status" });
    await outsider.next(typed("status_update", "o1"));

    alice.send({ type: "typing_start", conversationId: "conv_1", userId: "user_alice" });
    expect(await bob.next(typed("typing_start"))).toMatchObject({ conversationId: "conv_1", userId: "user_alice" });

    alice.send({
      id: "h1",
      type: "agent_handoff",
      data: { fromAgent: "nyx", toAgent: "sage", conversationId: "conv_1", reason: "Specialized knowledge required" },
    });
    expect((await alice.next(typed("agent_handoff", "h1"))).data.status).toBe("completed");
    expect((await bob.next((f) => f.data?.eventType === "agent_handoff")).data).toMatchObject({
      fromAgent: "nyx",
      toAgent: "sage",
    });
    const session = await api.call("GET", "/v1/working-memory/conv_1");
    expect(session.body.messages.at(-1)).toMatchObject({
      role: "system",
      content: "Agent handoff from nyx to sage: Specialized knowledge required",
    });
    await bob.next((f) => f.data?.eventType === "conversation_update" && f.data.conversationId === "conv_1");

    // Nothing of the room reaches a socket outside it, nor the sender's own typing.
    expect(outsider.frames.filter((f) => f.type !== "status_update")).toEqual([]);
    expect(alice.frames.filter((f) => f.type === "typing_start")).toEqual([]);
  });
});

describe("SYMindX heartbeat", () => {
  it("the hub pings SYMindX sockets and closes those that answered once and then stopped", async () => {
    const api = await tenantApi();
    const live = await connect(api);
    const dead = await connect(api);
    const engram = await connect(api);
    for (const c of [live, dead]) {
      c.send({ id: "s", type: "status" });
      await c.next((f) => f.type === "status_update");
    }
    let closed = 0;
    dead.ws.addEventListener("close", () => {
      closed++;
    });
    const hub = env.TENANT_HUB.getByName(api.tenant);
    expect(await runDurableObjectAlarm(hub)).toBe(true);
    await live.next((f) => f.type === "ping");
    await dead.next((f) => f.type === "ping");
    // Both answer the first ping; only `live` answers the second (issue 16: a socket that never
    // answers is not closed, see test/realtime-clients.test.ts).
    live.send({ type: "pong" });
    dead.send({ type: "pong" });
    await new Promise((r) => setTimeout(r, 50));
    expect(await runDurableObjectAlarm(hub)).toBe(true);
    await dead.collect((f) => f.type === "ping", 2);
    live.send({ type: "pong" });
    await new Promise((r) => setTimeout(r, 50));
    expect(await runDurableObjectAlarm(hub)).toBe(true);
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(1);
    expect(live.frames.filter((f) => f.type === "ping")).toHaveLength(3);
    expect(engram.frames.filter((f) => f.type === "ping")).toEqual([]);
    live.send({ id: "after", type: "status" });
    await live.next((f) => f.type === "status_update" && f.id === "after");
  });
});

describe("a pong is the heartbeat's answer", () => {
  it("is recorded, not run, on any socket: no reply, an engram socket stays engram, TrustGraph answers on", async () => {
    const api = await tenantApi();
    const ws = await connect(api);
    ws.send({ type: "pong" });
    ws.send({ type: "pong", command: "recall" });
    await store(api, [{ id: "after-pong", text: "Still engram after a pong" }]);
    await ws.next(pushed("memory_created", "after-pong"));
    expect(ws.frames.filter((f) => f.status === "error" || f.type === "error" || f.command)).toEqual([]);

    const tg = await connect(api, { path: "/api/v1/socket" });
    tg.send({ type: "pong" });
    tg.send({ id: "r1", service: "memory", request: { operation: "get", id: "after-pong" } });
    const first = await tg.next(() => true);
    expect(first.id).toBe("r1");
    expect(first.error).toBeUndefined();
  });
});

describe("TrustGraph over WebSocket (/api/v1/socket)", () => {
  const answer = (id: string) => (f: any) => f.id === id && (f.response || f.error);
  const tg = (api: Api) => connect(api, { path: "/api/v1/socket" });

  it("maps services to edgemem's capabilities, answering by id", async () => {
    const api = await tenantApi();
    const c = await tg(api);
    c.send({
      id: "r1",
      service: "memory",
      request: { operation: "store", memories: [{ id: "m1", text: "We decided to use Redis for caching" }] },
    });
    expect((await c.next(answer("r1"))).response.memories[0].id).toBe("m1");
    c.send({ id: "r2", service: "search", request: { text: "caching", limit: 5 } });
    expect((await c.next(answer("r2"))).response.memories.map((m: any) => m.id)).toEqual(["m1"]);
    c.send({ id: "r3", service: "graph-query", flow: "default", request: { query: "Redis" } });
    expect((await c.next(answer("r3"))).response.entities.map((e: any) => e.name)).toEqual(["Redis"]);
    c.send({
      id: "r4",
      service: "working-memory",
      request: { operation: "put", session_id: "s1", messages: [{ role: "user", content: "hi" }] },
    });
    expect((await c.next(answer("r4"))).response.session_id).toBe("s1");
    c.send({ id: "r5", service: "working-memory", request: { operation: "get", session_id: "s1" } });
    expect((await c.next(answer("r5"))).response.messages[0].content).toBe("hi");
    c.send({ id: "r6", service: "status", request: {} });
    expect((await c.next(answer("r6"))).response.memories.total).toBe(1);
  });

  it("streams think as several responses with one id, the last marked end-of-stream", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "m1", text: "We decided to use Redis for caching" }]);
    const c = await tg(api);
    c.send({
      id: "t1",
      service: "agent",
      flow: "f1",
      request: { question: "what do we use for caching?", streaming: true },
    });
    const last = await c.next((f) => f.id === "t1" && f.response?.["end-of-stream"] === true);
    const chunks = c.frames
      .filter((f) => f.id === "t1" && f.response["end-of-stream"] === false)
      .map((f) => f.response.content);
    expect(chunks.join("")).toContain("We decided to use Redis for caching. [m1]");
    expect(last.response.citations[0].memory_id).toBe("m1");
  });

  it("the agent abstains when nothing is relevant: chunks and the final frame say so, with no citations and no facts", async () => {
    const api = await tenantApi();
    await store(api, [
      { id: "kyoto", text: "Alice is going to Kyoto next month for the cherry blossoms" },
      { id: "gym", text: "I'm going to the gym every Tuesday and Thursday" },
    ]);
    const c = await tg(api);
    c.send({ id: "j1", service: "agent", flow: "default", request: { question: "Am I going to Japan?" } });
    const whole = await c.next(answer("j1"));
    expect(whole.response).toMatchObject({
      answer: ABSTAIN_ANSWER,
      content: ABSTAIN_ANSWER,
      citations: [],
      facts: [],
      "end-of-stream": true,
    });
    c.send({ id: "j2", service: "agent", request: { question: "Am I going to Japan?", streaming: true } });
    const end = await c.next((f) => f.id === "j2" && f.complete === true);
    const streamed = c.frames.filter((f) => f.id === "j2" && f.complete === false).map((f) => f.response.content);
    expect(streamed.join("")).toBe(ABSTAIN_ANSWER);
    expect(end.response).toMatchObject({ answer: ABSTAIN_ANSWER, citations: [], facts: [] });
  });

  it("think and graph-query see only the facts of the asking user and namespace", async () => {
    const api = await tenantApi();
    const c = await tg(api);
    c.send({
      id: "i1",
      service: "ingest",
      request: {
        messages: [{ role: "user", content: "We decided to use Redis for caching" }],
        user_id: "alice",
        namespace: "a",
      },
    });
    await c.next(answer("i1"));
    c.send({
      id: "i2",
      service: "ingest",
      request: {
        messages: [{ role: "user", content: "We switched to Memcached for caching" }],
        user_id: "bob",
        namespace: "b",
      },
    });
    await c.next(answer("i2"));
    c.send({ id: "t", service: "think", request: { question: "what do we use for caching?", user_id: "alice" } });
    expect((await c.next(answer("t"))).response.facts.map((f: any) => f.object.name)).toEqual(["Redis"]);
    c.send({ id: "g", service: "graph-query", request: { query: "caching", namespace: "b" } });
    expect((await c.next(answer("g"))).response.relations.map((r: any) => r.object.name)).toEqual(["Memcached"]);
  });

  it("runs requests concurrently: a fast request is not held behind a slow one", async () => {
    const api = await tenantApi();
    const c = await tg(api);
    const messages = Array.from({ length: 300 }, (_, i) => ({
      role: "user",
      content: `We decided to use tool${i} for task${i} on March ${1 + (i % 28)}.`,
    }));
    c.send({ id: "slow", service: "ingest", request: { messages } });
    c.send({ id: "fast", service: "status", request: {} });
    await c.next(answer("slow"));
    const order = c.frames.map((f) => f.id);
    expect(order.indexOf("fast")).toBeLessThan(order.indexOf("slow"));
  });

  it("errors are frames with type and message; the socket stays open", async () => {
    const api = await tenantApi();
    const c = await tg(api);
    c.send({ id: "u1", service: "teleport", request: {} });
    expect((await c.next(answer("u1"))).error).toMatchObject({ type: "unknown-service" });
    c.send({ service: "status", request: {} });
    expect((await c.next((f) => f.id === null && f.error)).error).toEqual({
      type: "invalid-request",
      message: "id: Invalid input: expected string, received undefined",
    });
    c.send({ id: "v1", service: "search", request: { limit: 0 } });
    expect((await c.next(answer("v1"))).error.type).toBe("validation_error");
    c.send("{nope");
    expect((await c.next((f) => f.error?.type === "invalid-message")).error.message).toBe("frame is not valid JSON");
    c.send({ id: "ok", service: "status", request: {} });
    await c.next(answer("ok"));
  });

  // What TrustGraph's real clients read (trustgraph-ai/trustgraph-ts-client `trustgraph-socket.ts`,
  // the gateway's `dispatch/mux.py` and `requestor.py`); test/e2e/trustgraph-client*.test.ts drives the client itself.
  describe("as TrustGraph's own clients read it", () => {
    it("an error is one final frame with the seed's top-level error and the gateway's response.error", async () => {
      const api = await tenantApi();
      const reader = await tg(await tenantApi({ tenant: api.tenant, scope: "memory:read" }));
      const both = (type: string) => ({
        error: { type, message: expect.any(String) },
        response: { error: { type, message: expect.any(String) } },
        complete: true,
      });
      reader.send({ id: "missing", service: "memory", request: { operation: "get", id: "nope" } });
      expect(await reader.next(answer("missing"))).toMatchObject(both("not_found"));
      reader.send({
        id: "write",
        service: "memory",
        request: { operation: "store", memories: [{ text: "not allowed" }] },
      });
      expect(await reader.next(answer("write"))).toMatchObject(both("forbidden"));
      reader.send({ id: "agent", service: "agent", request: { streaming: true } });
      const bad = await reader.next(answer("agent"));
      expect(bad).toMatchObject(both("validation_error"));
      expect(bad.response.error.message).toMatch(/^question/);
      reader.send({ id: "teleport", service: "teleport", request: {} });
      expect(await reader.next(answer("teleport"))).toMatchObject(both("unknown-service"));
      reader.send({ id: "proto", service: "constructor", request: {} });
      expect(await reader.next(answer("proto"))).toMatchObject(both("unknown-service"));
      reader.send({ service: "status", request: {} });
      expect(await reader.next((f) => f.id === null)).toMatchObject(both("invalid-request"));
      reader.send("{nope");
      expect(await reader.next((f) => f.error?.type === "invalid-message")).toMatchObject(both("invalid-message"));
      expect((await search(api, { text: "allowed" })).total).toBe(0);
    });

    it("every final frame of every service says complete: true, and stream chunks complete: false", async () => {
      const api = await tenantApi();
      const c = await tg(api);
      const requests: [string, Record<string, unknown>][] = [
        ["memory", { operation: "store", memories: [{ id: "m1", text: "We decided to use Redis for caching" }] }],
        ["memory", { operation: "get", id: "m1" }],
        ["search", { text: "caching" }],
        ["think", { question: "what do we use for caching?" }],
        ["agent", { question: "what do we use for caching?", streaming: true }],
        ["ingest", { messages: [{ role: "user", content: "We decided to use Postgres for analytics." }] }],
        ["graph-query", { query: "Redis" }],
        ["working-memory", { operation: "put", session_id: "s1", messages: [{ role: "user", content: "hi" }] }],
        ["status", {}],
        ["flow", { operation: "list-flows" }],
      ];
      // One after the other: the store must land before the get.
      for (const [i, [service, request]] of requests.entries()) {
        c.send({ id: `r${i}`, service, request });
        await c.next((f) => f.id === `r${i}` && f.complete === true);
      }
      for (const f of c.frames) expect(f.error, JSON.stringify(f)).toBeUndefined();
      const finals = c.frames.filter((f) => f.complete === true);
      expect(finals.map((f) => f.id)).toEqual(requests.map((_, i) => `r${i}`));
      const chunks = c.frames.filter((f) => f.complete !== true);
      expect(chunks.length).toBeGreaterThan(0);
      for (const f of chunks)
        expect(f).toMatchObject({
          id: "r4",
          complete: false,
          response: { chunk_type: "answer", "end-of-stream": false, end_of_dialog: false },
        });
    });

    it("a non-streaming agent request ends on one frame with the whole answer (the format flow(id).agent(question) waits for)", async () => {
      const api = await tenantApi();
      await store(api, [{ id: "m1", text: "We decided to use Redis for caching" }]);
      const c = await tg(api);
      c.send({ id: "a1", service: "agent", flow: "default", request: { question: "what do we use for caching?" } });
      const last = await c.next(answer("a1"));
      expect(c.frames.filter((f) => f.id === "a1")).toHaveLength(1);
      expect(last).toMatchObject({
        complete: true,
        response: {
          chunk_type: "answer",
          "chunk-type": "answer",
          end_of_message: true,
          end_of_dialog: true,
          "end-of-stream": true,
        },
      });
      expect(last.response.answer).toContain("We decided to use Redis for caching. [m1]");
      expect(last.response.content).toBe(last.response.answer);

      // Streaming: the final frame carries the whole answer too, equal to the chunks joined.
      c.send({ id: "a2", service: "agent", request: { question: "what do we use for caching?", streaming: true } });
      const end = await c.next((f) => f.id === "a2" && f.complete === true);
      const streamed = c.frames.filter((f) => f.id === "a2" && f.complete === false).map((f) => f.response.content);
      expect(end.response.answer).toBe(streamed.join(""));
      expect(end.response.answer).toBe(last.response.answer);
    });

    it("serves /api/socket, the path @trustgraph/client opens, as the same dialect", async () => {
      const api = await tenantApi();
      await store(api, [{ id: "m1", text: "We decided to use Redis for caching" }]);
      const c = await connect(api, { path: "/api/socket" });
      c.send({ id: "s", service: "status", request: {} });
      expect((await c.next(answer("s"))).response.memories.total).toBe(1);
      expect((await open(api, { path: "/api/socket", token: "garbage" })).status).toBe(401);
      const refused = await open(api, { path: "/api/socket", token: "garbage", query: "auth_errors=frame" });
      expect(refused.status).toBe(101);
      const ws = refused.webSocket!;
      const first = new Promise<any>((resolve) =>
        ws.addEventListener("message", (e) => resolve(JSON.parse(e.data as string))),
      );
      ws.accept();
      expect(await first).toMatchObject({
        id: null,
        error: { type: "unauthorized" },
        response: { error: { type: "unauthorized" } },
        complete: true,
      });
    });

    it("the flow service lists the one flow and describes it", async () => {
      const c = await tg(await tenantApi());
      c.send({ id: "l", service: "flow", request: { operation: "list-flows" } });
      expect((await c.next(answer("l"))).response).toEqual({ "flow-ids": ["default"] });
      c.send({ id: "g", service: "flow", request: { operation: "get-flow", "flow-id": "default" } });
      const flow = JSON.parse((await c.next(answer("g"))).response.flow);
      expect(flow.services).toEqual(expect.arrayContaining(["memory", "search", "agent", "status", "flow"]));
      c.send({ id: "x", service: "flow", request: { operation: "get-flow", "flow-id": "other" } });
      expect((await c.next(answer("x"))).error.type).toBe("not_found");
      c.send({ id: "op", service: "flow", request: { operation: "start-flow" } });
      expect((await c.next(answer("op"))).error).toMatchObject({
        type: "validation_error",
        message: expect.stringMatching(/^operation/),
      });
    });

    it("the config service reads the one flow as TrustGraph's configuration store, and refuses writes", async () => {
      const c = await tg(await tenantApi());
      c.send({ id: "l", service: "config", request: { operation: "list", type: "flow" } });
      expect(await c.next(answer("l"))).toEqual({
        id: "l",
        response: { version: 1, directory: ["default"] },
        complete: true,
      });
      c.send({ id: "n", service: "config", request: { operation: "list", type: "prompt" } });
      expect((await c.next(answer("n"))).response).toEqual({ version: 1, directory: [] });
      c.send({ id: "v", service: "config", request: { operation: "getvalues", type: "flow" } });
      const [value] = (await c.next(answer("v"))).response.values;
      expect(value).toMatchObject({ type: "flow", key: "default" });
      expect(JSON.parse(value.value).services).toContain("config");
      c.send({
        id: "g",
        service: "config",
        request: {
          operation: "get",
          keys: [
            { type: "flow", key: "default" },
            { type: "constructor", key: "name" },
          ],
        },
      });
      expect((await c.next(answer("g"))).response.values).toEqual([
        value,
        { type: "constructor", key: "name", value: null },
      ]);
      c.send({ id: "all", service: "config", request: { operation: "config" } });
      expect((await c.next(answer("all"))).response).toEqual({
        version: 1,
        config: { flow: { default: value.value } },
      });
      c.send({
        id: "p",
        service: "config",
        request: { operation: "put", values: [{ type: "flow", key: "x", value: "{}" }] },
      });
      expect((await c.next(answer("p"))).error).toMatchObject({ type: "bad_request", message: /read-only/ });
      c.send({ id: "t", service: "config", request: { operation: "list" } });
      expect((await c.next(answer("t"))).error).toMatchObject({ type: "validation_error", message: /^type/ });
    });

    // Called directly with a JWT configuration: in this test pool the hub's own env runs AUTH_MODE=none
    // (only the Worker gets jwtEnv), and wrangler dev (test/e2e/trustgraph-client.test.ts) covers the socket.
    it("in-band auth ({type: auth, token}) is verified against the socket's tenant and changes nothing", async () => {
      const api = await tenantApi();
      const other = await tenantApi();
      const app = buildDeps(api.env, createExecutionContext());
      const principal = { tenant: api.tenant, subject: "reader", scopes: ["memory:read"] };
      const auth = async (frame: Record<string, unknown>) => {
        const sent: Record<string, unknown>[] = [];
        await trustgraph.receive(
          frame,
          hubContext(app, principal, (f) => sent.push(f)),
        );
        expect(sent).toHaveLength(1);
        return sent[0];
      };
      const writer = await sign({ tenant_id: api.tenant, sub: "w", scope: "memory:write" });
      expect(await auth({ type: "auth", token: writer })).toEqual({ type: "auth-ok", workspace: api.tenant });
      expect(await auth({ type: "auth", token: api.token, id: "a1" })).toEqual({
        type: "auth-ok",
        id: "a1",
        workspace: api.tenant,
      });
      expect(await auth({ type: "auth", token: other.token, id: "a2" })).toEqual({
        type: "auth-failed",
        id: "a2",
        error: expect.stringMatching(/another tenant/),
      });
      expect(await auth({ type: "auth", token: "garbage" })).toMatchObject({
        type: "auth-failed",
        error: expect.any(String),
      });
      expect(await auth({ type: "auth" })).toEqual({ type: "auth-failed", error: "missing bearer token" });
      expect(await auth({ type: "auth", token: 42 })).toMatchObject({
        type: "auth-failed",
        error: expect.stringMatching(/^token/),
      });
      expect(
        await auth({ type: "auth", token: await sign({ tenant_id: api.tenant, scope: "other:thing" }) }),
      ).toMatchObject({ type: "auth-failed", error: expect.stringMatching(/memory:read/) });
      expect(principal).toEqual({ tenant: api.tenant, subject: "reader", scopes: ["memory:read"] });
    });

    it("an auth frame on a socket is answered, and the socket keeps serving its own tenant with its own scopes", async () => {
      const api = await tenantApi();
      await store(api, [{ id: "mine", text: "Mine only" }]);
      const c = await tg(await tenantApi({ tenant: api.tenant, scope: "memory:read" }));
      c.send({ type: "auth", token: await sign({ tenant_id: api.tenant, scope: "memory:write" }) });
      await c.next((f) => f.type === "auth-ok" || f.type === "auth-failed");
      c.send({ id: "s", service: "status", request: {} });
      expect((await c.next(answer("s"))).response.memories.total).toBe(1);
      c.send({ id: "w", service: "memory", request: { operation: "store", memories: [{ text: "after auth" }] } });
      expect((await c.next(answer("w"))).error.type).toBe("forbidden");
    });
  });
});
