import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DomainEvent } from "../src/domain/events.ts";
import { call, hubEvents, store, tenantApi, type Api } from "./support/api.ts";
import { connect, hibernate, open, settle } from "./support/sockets.ts";

const hub = (api: Api) => env.TENANT_HUB.getByName(api.tenant);
const isEvent = (f: any) => typeof f.event === "string" && f.event !== "gap";
const isGap = (f: any) => f.event === "gap";
const created = (f: any) => f.event === "memory_created";

/** A memory event as the services publish it (the hub validates the same shape). */
function memoryEvent(id: string, over: Record<string, unknown> = {}): DomainEvent {
  const now = Date.now();
  const memory = {
    id,
    text: `text of ${id}`,
    memory_type: "fact",
    created_at: now,
    updated_at: now,
    priority: 5,
    confidence: 0.8,
    namespace: null,
    user_id: null,
    agent_id: null,
    ...over,
  };
  return { type: "memory_created", at: now, actor: "test", memory } as unknown as DomainEvent;
}

/** Publishes `n` events straight to the tenant's hub; returns the last sequence number. */
async function publishMany(api: Api, n: number, prefix = "e"): Promise<number> {
  return hub(api).publish(Array.from({ length: n }, (_, i) => memoryEvent(`${prefix}${i}`)));
}

/** Five statements per message that the extractor keeps apart (numbers make each a distinct fact). */
function ingestMessages(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    role: "user",
    content: [
      `Server rack ${i} holds ${100 + i} blade units.`,
      `Pipeline stage ${i} retries ${i % 7} times on failure.`,
      `Invoice ${9000 + i} was paid on day ${1 + (i % 28)}.`,
      `Sensor ${i} reports ${20 + (i % 15)} degrees at noon.`,
      `Ticket ${5000 + i} affects ${3 + (i % 9)} customers in region ${i}.`,
    ].join(" "),
  }));
}

const seqs = (frames: any[]) => frames.map((f) => f.seq);
const consecutive = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("events are never lost", () => {
  it("a 220-message ingest (over 1,000 memories) reaches a subscribed socket live, numbered in order, and replays to a reconnecting one", async () => {
    const api = await tenantApi();
    const live = await connect(api);
    const res = await api.call("POST", "/v1/ingest", { messages: ingestMessages(220) });
    expect(res.status).toBe(200);
    const n = res.body.memories.length;
    expect(n).toBeGreaterThan(1000);

    const received = await live.collect(created, n, 30_000);
    expect(seqs(received)).toEqual(consecutive(1, n));
    expect(received.map((f) => f.data.memory_id).sort()).toEqual(res.body.memories.map((m: any) => m.id).sort());

    // A client that dropped after event 300 gets the rest, in order, once each, with no gap.
    const back = await connect(api, { query: "since=300" });
    const replayed = await back.collect(isEvent, n - 300);
    expect(back.frames.filter(isGap)).toEqual([]);
    expect(seqs(replayed)).toEqual(consecutive(301, n));
  });

  it("a forget deleting 1,100 memories pushes 1,100 memory_deleted events", async () => {
    const api = await tenantApi();
    for (let b = 0; b < 11; b++) {
      const memories = Array.from({ length: 100 }, (_, i) => ({
        id: `f${b}-${i}`,
        text: `forgettable note ${b} ${i}`,
      }));
      expect((await api.call("POST", "/v1/long-term-memory/", { memories, deduplicate: false })).status).toBe(200);
    }
    const c = await connect(api);
    const res = await api.call("POST", "/v1/long-term-memory/forget", {
      policy: { max_age_days: 0 },
      limit: 2000,
      dry_run: false,
    });
    expect(res.body.deleted).toBe(1100);
    const deleted = await c.collect((f) => f.event === "memory_deleted", 1100, 30_000);
    expect(deleted).toHaveLength(1100);
    expect(seqs(deleted)).toEqual(consecutive(1101, 2200));
  });

  it("a since older than the retained log gets a gap frame first, then every retained event", async () => {
    const api = await tenantApi();
    const latest = await publishMany(api, 1050);
    expect(latest).toBe(1050);
    const c = await connect(api, { query: "since=10" });
    const replayed = await c.collect(isEvent, 1000);
    expect(c.frames[0]).toEqual({
      event: "gap",
      data: { since: 10, oldest_seq: 51, latest_seq: 1050, resume_after: 50 },
    });
    expect(seqs(replayed)).toEqual(consecutive(51, 1050));
    // At the edge of the log, nothing was missed: no gap.
    const edge = await connect(api, { query: "since=50" });
    expect(seqs(await edge.collect(isEvent, 1000))).toEqual(consecutive(51, 1050));
    expect(edge.frames.filter(isGap)).toEqual([]);
  });

  it("garbage or future since values never fail the upgrade: a gap frame, then live events", async () => {
    const api = await tenantApi();
    await publishMany(api, 3);
    const values: [string, number | null][] = [
      ["-1", null],
      ["abc", null],
      ["1e309", null],
      ["99999999999999999999999", null],
      ["", null],
      ["2.5", null],
      ["7", 7],
    ];
    for (const [since, parsed] of values) {
      const c = await connect(api, { query: new URLSearchParams({ since }).toString() });
      const gap = await c.next(isGap);
      expect(gap.data, `since=${since}`).toEqual({ since: parsed, oldest_seq: 1, latest_seq: 3, resume_after: 3 });
      expect(c.frames.filter(isEvent), `since=${since}`).toEqual([]);
      c.ws.close();
    }
    const c = await connect(api, { query: "since=abc" });
    await c.next(isGap);
    await publishMany(api, 1, "after");
    expect((await c.next(isEvent)).seq).toBe(4);
  });

  it("replay skips stored rows that are not events instead of failing the upgrade; out-of-range dates arrive clamped", async () => {
    const api = await tenantApi();
    await publishMany(api, 2, "ok-a");
    // Rows written behind the hub's back: an out-of-range date, an event without its memory, and non-JSON.
    await runInDurableObject(hub(api), async (_instance, state) => {
      const outOfRange = memoryEvent("far-future", { created_at: 9e15 });
      const { memory: _dropped, ...withoutMemory } = memoryEvent("no-memory") as DomainEvent & { memory: unknown };
      state.storage.sql.exec("INSERT INTO events (at, body) VALUES (?, ?)", Date.now(), JSON.stringify(outOfRange));
      state.storage.sql.exec("INSERT INTO events (at, body) VALUES (?, ?)", Date.now(), JSON.stringify(withoutMemory));
      state.storage.sql.exec("INSERT INTO events (at, body) VALUES (?, ?)", Date.now(), "{not json");
    });
    await publishMany(api, 1, "ok-b");

    const c = await connect(api, { query: "since=0" });
    const replayed = await c.collect(isEvent, 4);
    await settle();
    expect(c.frames.filter(isEvent).map((f) => [f.seq, f.data.memory_id])).toEqual([
      [1, "ok-a0"],
      [2, "ok-a1"],
      [3, "far-future"],
      [6, "ok-b0"],
    ]);
    expect(replayed[2].data.created_at).toBe("9999-12-31T23:59:59.999Z");
    expect(c.frames.filter(isGap)).toEqual([]);
    expect((await hubEvents(api.tenant)).map((e) => e.seq)).toEqual([1, 2, 3, 6]);

    // Published live between two good events: every one arrives, in order, the bad date clamped.
    const from = c.frames.length;
    await hub(api).publish([
      memoryEvent("live-1"),
      memoryEvent("live-bad", { updated_at: -9e15 }),
      memoryEvent("live-2"),
    ]);
    await c.next((f) => f.data?.memory_id === "live-2", from);
    expect(c.frames.slice(from).map((f) => [f.seq, f.data.memory_id])).toEqual([
      [7, "live-1"],
      [8, "live-bad"],
      [9, "live-2"],
    ]);
  });

  it("the replay log survives the hub's eviction between publish and reconnect", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "m1", text: "first" }]);
    await store(api, [{ id: "m2", text: "second" }]);
    await store(api, [
      { id: "m3", text: "third" },
      { id: "m4", text: "fourth" },
    ]);
    await hibernate(api);
    const c = await connect(api, { query: "since=0" });
    const replayed = await c.collect(isEvent, 4);
    expect(replayed.map((f) => [f.seq, f.data.memory_id])).toEqual([
      [1, "m1"],
      [2, "m2"],
      [3, "m3"],
      [4, "m4"],
    ]);
    await store(api, [{ id: "m5", text: "fifth" }]);
    expect((await c.next((f) => f.data?.memory_id === "m5")).seq).toBe(5);
  });

  it("TrustGraph sockets get no engram-format replay, whatever their since", async () => {
    const api = await tenantApi();
    await publishMany(api, 3);
    for (const since of ["0", "abc", "99"]) {
      const c = await connect(api, { path: "/api/v1/socket", query: `since=${since}` });
      c.send({ id: "s", service: "status", request: {} });
      await c.next((f) => f.id === "s" && f.response);
      await settle(50);
      expect(c.frames.map((f) => f.id)).toEqual(["s"]);
    }
  });
});

describe("socket hardening", () => {
  const typed = (type: string, id?: string) => (f: any) => f.type === type && (id === undefined || f.id === id);

  it("a SYMindX batch counts each message against the rate limit; nested batches are refused before anything runs", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    const status = (id: string) => ({ id, type: "status" });
    const nested = {
      id: "nest",
      type: "batch",
      data: {
        messages: Array.from({ length: 50 }, (_, i) => ({
          type: "batch",
          data: { messages: Array.from({ length: 50 }, (_, j) => status(`n${i}-${j}`)) },
        })),
      },
    };
    expect(JSON.stringify(nested).length).toBeGreaterThan(60_000);
    c.send(nested);
    const refused = await c.next(typed("error", "nest"));
    expect(refused.data).toMatchObject({
      code: "INVALID_MESSAGE",
      message: "data.messages.0.type: a batch cannot contain a batch",
    });

    // 120 operations per 10 s: the nested batch cost 50; one batch of 50 fits, the next does not.
    c.send({ id: "b1", type: "batch", data: { messages: Array.from({ length: 50 }, (_, i) => status(`b1-${i}`)) } });
    await c.next(typed("status_update", "b1-49"), 0, 10_000);
    c.send({ id: "b2", type: "batch", data: { messages: Array.from({ length: 50 }, (_, i) => status(`b2-${i}`)) } });
    const limited = await c.next(typed("error", "b2"));
    expect(limited.data).toMatchObject({ code: "RATE_LIMIT_EXCEEDED" });
    await settle();
    expect(c.frames.filter(typed("status_update")).map((f) => f.id)).toEqual(
      Array.from({ length: 50 }, (_, i) => `b1-${i}`),
    );
    // Refused, not closed: the runtime still answers a ping on the same socket.
    c.send({ type: "ping" });
    await c.next(typed("pong"));
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("the frame cap (WS_MAX_FRAME_BYTES, 256 KiB) counts UTF-8 bytes, text and binary", async () => {
    const api = await tenantApi();
    const c = await connect(api);
    const tooLarge = (f: any) => f.error?.code === "MESSAGE_TOO_LARGE";
    // 70,000 emoji: 140,000 UTF-16 units (under the cap as units), 280,000 bytes (over it).
    c.send({ id: "big", command: "status", payload: { pad: "🙂".repeat(70_000) } });
    expect((await c.next(tooLarge)).error.message).toBe("frame exceeds 262144 bytes");
    // 60,000 emoji: 240,000 bytes with the envelope, under the cap.
    c.send({ id: "fits", command: "status", payload: { pad: "🙂".repeat(60_000) } });
    expect((await c.next((f) => f.id === "fits")).status).toBe("ok");
    let from = c.frames.length;
    c.send(new Uint8Array(262_145).buffer);
    await c.next(tooLarge, from);
    from = c.frames.length;
    c.send(new TextEncoder().encode('{"command":"status"}').buffer);
    expect((await c.next((f) => f.status === "error", from)).error).toMatchObject({
      code: "INVALID_MESSAGE",
      message: "binary frames are not supported; send JSON text",
    });
  });

  it("token precedence is REST's: Authorization header, then the subprotocol, then ?token=", async () => {
    const a = await tenantApi();
    const b = await tenantApi();
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    // The header wins over the query, both ways.
    expect((await open(a, { token: "garbage", headers: bearer(a.token) })).status).toBe(101);
    expect((await open(a, { token: a.token, headers: bearer("garbage") })).status).toBe(401);
    expect((await open(a, { token: a.token, headers: { authorization: "Basic Zm9vOmJhcg==" } })).status).toBe(401);
    // The subprotocol wins over the query.
    expect(
      (await open(a, { token: "garbage", headers: { "sec-websocket-protocol": `bearer, ${a.token}` } })).status,
    ).toBe(101);
    expect((await open(a, { token: a.token, headers: { "sec-websocket-protocol": "bearer, garbage" } })).status).toBe(
      401,
    );
    // The header wins over the subprotocol.
    expect(
      (await open(a, { token: null, headers: { ...bearer(a.token), "sec-websocket-protocol": "bearer, garbage" } }))
        .status,
    ).toBe(101);

    // Two valid tokens: the socket belongs to the header's tenant.
    const c = await connect(b, { headers: bearer(a.token) });
    c.send({ command: "remember", payload: { content: "Whose socket is this" } });
    await c.next((f) => f.command === "remember" && f.status === "ok");
    expect((await a.call("GET", "/v1/status")).body.memories.total).toBe(1);
    expect((await b.call("GET", "/v1/status")).body.memories.total).toBe(0);

    // REST, the same rule.
    expect((await call(a.env, "GET", `/v1/status?token=garbage`, undefined, bearer(a.token))).status).toBe(200);
    expect((await call(a.env, "GET", `/v1/status?token=${a.token}`, undefined, bearer("garbage"))).status).toBe(401);
  });

  it("engram feedback accepts positive: false and helpful: false as negative ratings", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "fb", text: "Feedback target", confidence: 0.5 }]);
    const c = await connect(api);
    c.send({ id: "p", command: "feedback", payload: { memory_id: "fb", positive: false } });
    const first = await c.next((f) => f.id === "p");
    expect(first.status).toBe("ok");
    expect(first.data.memory.confidence).toBeLessThan(0.5);
    c.send({ id: "h", command: "feedback", payload: { memory_id: "fb", helpful: false } });
    const second = await c.next((f) => f.id === "h");
    expect(second.status).toBe("ok");
    expect(second.data.memory.confidence).toBeLessThan(first.data.memory.confidence);
    c.send({ id: "none", command: "feedback", payload: { memory_id: "fb" } });
    expect((await c.next((f) => f.id === "none")).error).toMatchObject({ code: "INVALID_MESSAGE" });
  });

  it("a TrustGraph frame without request is invalid-request, not an empty search", async () => {
    const api = await tenantApi();
    await store(api, [{ id: "m", text: "Something searchable" }]);
    const c = await connect(api, { path: "/api/v1/socket" });
    c.send({ id: "q", service: "search" });
    const res = await c.next((f) => f.id === "q");
    const error = { type: "invalid-request", message: "request: Invalid input: expected record, received undefined" };
    expect(res).toEqual({ id: "q", error, response: { error }, complete: true });
  });
});
