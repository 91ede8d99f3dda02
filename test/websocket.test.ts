import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, sign, store, tenantApi, type Api } from "./support/api.ts";
import { connect, hibernate, open } from "./support/sockets.ts";

const reply = (command: string, status = "ok") => (f: any) => f.command === command && f.status === status;
const pushed = (event: string, id?: string) => (f: any) => f.event === event && (id === undefined || f.data.memory_id === id);

describe("engram over WebSocket", () => {
  it("remember replies with the memory and pushes memory_created to every socket of the tenant, and to no other tenant's", async () => {
    const a = await tenantApi();
    const b = await tenantApi();
    const a1 = await connect(a);
    const a2 = await connect(a);
    const b1 = await connect(b);
    a1.send({ command: "remember", payload: { content: "Switched to PostgreSQL backend", memory_type: "decision", priority: 9 } });
    const res = await a1.next(reply("remember"));
    expect(res.data).toMatchObject({ deduplicated: false, memory: { text: "Switched to PostgreSQL backend", memory_type: "decision", priority: 9 } });
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
    c.send({ command: "ingest", payload: { messages: [{ role: "user", content: "We decided to use Redis for caching" }] } });
    const ingested = await c.next(reply("ingest"));
    const id = ingested.data.memories[0].id;
    expect(ingested.data.relations).toEqual([{ subject: "caching", predicate: "uses", object: "Redis", source_memory_id: id }]);

    c.send({ command: "recall", payload: { query: "caching", limit: 5 } });
    expect((await c.next(reply("recall"))).data.memories.map((m: any) => m.id)).toEqual([id]);

    c.send({ command: "query", payload: { query: "Redis" } });
    const graph = await c.next(reply("query"));
    expect(graph.data.relations.map((r: any) => `${r.subject.name} ${r.predicate} ${r.object.name}`)).toEqual(["caching uses Redis"]);

    const before = c.frames.length;
    c.send({ command: "think", payload: { question: "what do we use for caching?" } });
    const answer = await c.next(reply("think"), before);
    const tokens = c.frames.slice(before).filter(reply("think", "streaming")).map((f) => f.data.token);
    expect(tokens.join("")).toBe(answer.data.answer);
    expect(answer.data.answer).toContain(`[${id}]`);
    expect(answer.data.citations[0].memory_id).toBe(id);

    c.send({ command: "feedback", payload: { memory_id: id, positive: true } });
    expect((await c.next(reply("feedback"))).data.memory.confidence).toBe(0.95);
    await c.next(pushed("feedback_recorded", id));
    await c.next(pushed("memory_updated", id));

    c.send({ command: "status", payload: {} });
    expect((await c.next(reply("status"))).data).toMatchObject({ memories: { total: 1, by_type: { decision: 1 } }, feedback: 1 });
  });

  it("bad frames get an error frame and the socket stays open", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    const cases: [unknown, (f: any) => boolean][] = [
      ["{not json", (f) => f.status === "error" && f.error.code === "INVALID_MESSAGE" && /not valid JSON/.test(f.error.message)],
      [{ hello: 1 }, (f) => f.status === "error" && f.error.message === "expected {command, payload}"],
      [{ command: "teleport", payload: {} }, (f) => f.command === "teleport" && f.error.code === "INVALID_MESSAGE" && /unknown command/.test(f.error.message)],
      [{ command: "remember", payload: {} }, (f) => f.command === "remember" && f.status === "error" && f.error.issues[0].field === "content"],
      [{ command: "feedback", payload: { memory_id: "nope", rating: "positive" } }, (f) => f.command === "feedback" && f.error.code === "NOT_FOUND"],
      [JSON.stringify({ command: "remember", payload: { content: "x".repeat(300_000) } }), (f) => f.error?.code === "MESSAGE_TOO_LARGE"],
    ];
    for (const [frame, pred] of cases) {
      const from = c.frames.length;
      c.send(frame);
      await c.next(pred, from);
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
    expect(got).toEqual([expect.objectContaining({ type: "error", status: "error", error: expect.objectContaining({ code: "UNAUTHORIZED" }) })]);
    expect(closeCode).toBe(1008);
    expect((await open(api, { token: "not-a-jwt", headers: { origin: "https://app.example" }, query: "auth_errors=status" })).status).toBe(401);

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
    expect((await call(api.env, "GET", "/nope", undefined, { upgrade: "websocket", authorization: `Bearer ${api.token}` })).status).toBe(404);
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
    c.send({ id: "msg_1", type: "chat", data: { message: "When is the deploy window?" }, targetAgent: "nyx", priority: "normal", timestamp: new Date().toISOString() });
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
    c.send({ id: "c1", type: "command", data: { instruction: "remember The staging database is db-stage-2" }, targetAgent: "nyx" });
    const stored = await c.next(typed("command_result", "c1"));
    expect(stored.data).toMatchObject({ status: "completed", result: { memory: { text: "The staging database is db-stage-2", agent_id: "nyx" } } });
    expect(stored.data.commandId).toMatch(/^cmd_/);
    expect(typeof stored.data.executionTime).toBe("number");
    c.send({ id: "c2", type: "command", data: { instruction: "recall staging database" }, targetAgent: "nyx" });
    expect((await c.next(typed("command_result", "c2"))).data.result.memories[0].text).toBe("The staging database is db-stage-2");
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
    sub.send({ id: "s1", type: "subscribe", data: { events: ["memory_update", "agent_status"], filter: { minImportance: 0.7 } } });
    expect((await sub.next(typed("subscribed", "s1"))).data).toEqual({ events: ["memory_update", "agent_status"], minImportance: 0.7 });
    quiet.send({ id: "q1", type: "status" });
    expect((await quiet.next(typed("status_update", "q1"))).data).toMatchObject({ status: "active", queueLength: 0 });

    await store(api, [{ id: "low", text: "A minor note", priority: 3 }]);
    await store(api, [{ id: "high", text: "A critical decision", priority: 9 }]);
    const event = await sub.next(typed("event"));
    expect(event.data).toMatchObject({ eventType: "memory_update", action: "memory_created", memoryId: "high", importance: 0.9 });
    await engram.next(pushed("memory_created", "high"));
    expect(engram.frames.filter((f) => f.event).map((f) => f.data.memory_id)).toEqual(["low", "high"]);
    expect(sub.frames.filter((f) => f.type === "event").map((f) => f.data.memoryId)).toEqual(["high"]);
    expect(quiet.frames.filter((f) => f.type === "event")).toEqual([]);
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
    expect((await c.next((f) => f.data?.eventType === "conversation_update")).data.last_message.content).toBe("hello room");
  });

  it("read-only tokens cannot write, and the rate limit answers in SYMindX's format", async () => {
    const reader = await tenantApi({ scope: "memory:read" });
    const c = await connect(reader);
    c.send({ id: "w", type: "command", data: { instruction: "remember secret plans" } });
    expect((await c.next(typed("error", "w"))).data.code).toBe("UNAUTHORIZED");
    for (let i = 0; i < 125; i++) c.send({ id: `s${i}`, type: "status" });
    expect((await c.next((f) => f.type === "error" && f.data.code === "RATE_LIMIT_EXCEEDED", 0, 12_000)).data.message).toBe("more than 120 frames in 10 s");
  });

  it("batch runs each message in order; bad frames get SYMindX error frames and the socket stays open", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "n1", text: "Nyx likes concise answers", agent_id: "nyx" }]);
    const c = await connect(api);
    c.send({ id: "b", type: "batch", data: { messages: [{ id: "b1", type: "status" }, { id: "b2", type: "chat", data: { message: "what does nyx like?" }, targetAgent: "nyx" }] } });
    await c.next(typed("status_update", "b1"));
    expect((await c.next(typed("chat_response", "b2"))).data.response).toContain("concise");
    c.send("{oops");
    expect((await c.next(typed("error"))).data).toMatchObject({ code: "INVALID_MESSAGE", message: "frame is not valid JSON" });
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

    alice.send({ id: "h1", type: "agent_handoff", data: { fromAgent: "nyx", toAgent: "sage", conversationId: "conv_1", reason: "Specialized knowledge required" } });
    expect((await alice.next(typed("agent_handoff", "h1"))).data.status).toBe("completed");
    expect((await bob.next((f) => f.data?.eventType === "agent_handoff")).data).toMatchObject({ fromAgent: "nyx", toAgent: "sage" });
    const session = await api.call("GET", "/v1/working-memory/conv_1");
    expect(session.body.messages.at(-1)).toMatchObject({ role: "system", content: "Agent handoff from nyx to sage: Specialized knowledge required" });
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

describe("TrustGraph over WebSocket (/api/v1/socket)", () => {
  const answer = (id: string) => (f: any) => f.id === id && (f.response || f.error);
  const tg = (api: Api) => connect(api, { path: "/api/v1/socket" });

  it("maps services to edgemem's capabilities, answering by id", async () => {
    const api = await tenantApi();
    const c = await tg(api);
    c.send({ id: "r1", service: "memory", request: { operation: "store", memories: [{ id: "m1", text: "We decided to use Redis for caching" }] } });
    expect((await c.next(answer("r1"))).response.memories[0].id).toBe("m1");
    c.send({ id: "r2", service: "search", request: { text: "caching", limit: 5 } });
    expect((await c.next(answer("r2"))).response.memories.map((m: any) => m.id)).toEqual(["m1"]);
    c.send({ id: "r3", service: "graph-query", flow: "default", request: { query: "Redis" } });
    expect((await c.next(answer("r3"))).response.entities.map((e: any) => e.name)).toEqual(["Redis"]);
    c.send({ id: "r4", service: "working-memory", request: { operation: "put", session_id: "s1", messages: [{ role: "user", content: "hi" }] } });
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
    c.send({ id: "t1", service: "agent", flow: "f1", request: { question: "what do we use for caching?", streaming: true } });
    const last = await c.next((f) => f.id === "t1" && f.response?.["end-of-stream"] === true);
    const chunks = c.frames.filter((f) => f.id === "t1" && f.response["end-of-stream"] === false).map((f) => f.response.content);
    expect(chunks.join("")).toContain("We decided to use Redis for caching. [m1]");
    expect(last.response.citations[0].memory_id).toBe("m1");
  });

  it("runs requests concurrently: a fast request is not held behind a slow one", async () => {
    const api = await tenantApi();
    const c = await tg(api);
    const messages = Array.from({ length: 300 }, (_, i) => ({ role: "user", content: `We decided to use tool${i} for task${i} on March ${1 + (i % 28)}.` }));
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
    expect((await c.next((f) => f.id === null && f.error)).error).toEqual({ type: "invalid-request", message: "id: Invalid input: expected string, received undefined" });
    c.send({ id: "v1", service: "search", request: { limit: 0 } });
    expect((await c.next(answer("v1"))).error.type).toBe("validation_error");
    c.send("{nope");
    expect((await c.next((f) => f.error?.type === "invalid-message")).error.message).toBe("frame is not valid JSON");
    c.send({ id: "ok", service: "status", request: {} });
    await c.next(answer("ok"));
  });
});
