import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { dbOf } from "./support/shards.ts";

/**
 * Races through the real Worker: every request is its own `exports.default.fetch`, so requests
 * interleave at each await as under real traffic. (AUTH_MODE is "none" here: one tenant for the
 * file, so every test uses ids of its own.)
 */

interface Reply {
  status: number;
  body: any;
}

async function send(method: string, path: string, body?: unknown): Promise<Reply> {
  const init: RequestInit = { method, headers: { "content-type": "application/json" } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await exports.default.fetch(`https://edgemem.test${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const res = await send(method, path, body);
  if (res.status !== 200 && res.status !== 201)
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** 50 writers on one row retry with backoff; a loaded 2-core machine needs more than the default 15 s. */
const RACE_TIMEOUT = { timeout: 60_000 };

const uid = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/** All N requests at once; every one must succeed. */
async function race(n: number, request: (i: number) => Promise<Reply>): Promise<Reply[]> {
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => request(i)));
  expect(
    replies.map((r) => r.status).filter((s) => s >= 300),
    JSON.stringify(replies.find((r) => r.status >= 300)?.body),
  ).toEqual([]);
  return replies;
}

interface Entry {
  op: string;
  reason: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

async function history(id: string): Promise<Entry[]> {
  return (await ok("GET", `/v1/long-term-memory/${encodeURIComponent(id)}/history`)).history;
}

/** Each entry starts from the state the previous one left: nothing was written from a stale read. */
function expectChained(entries: Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    expect(entries[i]!.before, `history entry ${i}: before is not entry ${i - 1}'s after`).toEqual(
      entries[i - 1]!.after,
    );
  }
}

/** The fields in which two records differ. */
function changed(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return Object.keys(b).filter((k) => k !== "updated_at" && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

describe("no lost updates on one memory", RACE_TIMEOUT, () => {
  it("6 concurrent positive feedbacks from confidence 0 / priority 1 end at 0.9 / 7", async () => {
    const id = uid("fb6");
    await ok("POST", "/v1/long-term-memory/", {
      memories: [{ id, text: "Prefers tea over coffee", confidence: 0, priority: 1 }],
    });
    await race(6, () => send("POST", "/v1/feedback", { memory_id: id, rating: "positive" }));
    const m = await ok("GET", `/v1/long-term-memory/${id}`);
    expect({ confidence: m.confidence, priority: m.priority }).toEqual({ confidence: 0.9, priority: 7 });
  });

  it("50 concurrent feedbacks: as if applied one by one, one feedback row and one chained history entry each", async () => {
    const id = uid("fb50");
    // From 0.95, three negatives in any order stay above the delete threshold (0.3).
    await ok("POST", "/v1/long-term-memory/", {
      memories: [{ id, text: "Deploys on Fridays", confidence: 0.95, priority: 5 }],
    });
    const ratings = Array.from({ length: 50 }, (_, i) => (i % 16 === 15 ? "negative" : "positive"));
    await race(50, (i) => send("POST", "/v1/feedback", { memory_id: id, rating: ratings[i] }));

    const entries = (await history(id)).slice(1);
    expect(entries).toHaveLength(50);
    expectChained(entries);
    // Each entry is exactly its own rule applied to the state before it.
    for (const e of entries) {
      const positive = e.reason === "positive feedback";
      const c = Number(e.before!.confidence) + (positive ? 0.15 : -0.2);
      const p = Number(e.before!.priority) + (positive ? 1 : -1);
      expect(e.after!.confidence).toBeCloseTo(Math.min(1, Math.max(0, c)), 6);
      expect(e.after!.priority).toBe(Math.min(10, Math.max(1, p)));
    }
    expect(entries.filter((e) => e.reason === "negative feedback")).toHaveLength(3);
    const m = await ok("GET", `/v1/long-term-memory/${id}`);
    expect({ confidence: m.confidence, priority: m.priority }).toEqual({
      confidence: entries.at(-1)!.after!.confidence,
      priority: entries.at(-1)!.after!.priority,
    });
    const rows = await (
      await dbOf("default")
    )
      .prepare("SELECT confidence_before, confidence_after FROM feedback WHERE memory_id = ? ORDER BY at")
      .bind(id)
      .all<{ confidence_before: number; confidence_after: number }>();
    expect(rows.results).toHaveLength(50);
    // The feedback rows' before/after are the history's: recorded with the write that won.
    expect(rows.results.map((r) => [r.confidence_before, r.confidence_after]).sort()).toEqual(
      entries.map((e) => [e.before!.confidence, e.after!.confidence]).sort(),
    );
  });

  it("50 concurrent PATCHes of different fields: every field keeps its last value, each entry changes only its field", async () => {
    const id = uid("patch");
    await ok("POST", "/v1/long-term-memory/", { memories: [{ id, text: "The build uses Bazel" }] });
    const fields: [string, (i: number) => unknown][] = [
      ["namespace", (i) => `ns-${i}`],
      ["user_id", (i) => `user-${i}`],
      ["session_id", (i) => `session-${i}`],
      ["agent_id", (i) => `agent-${i}`],
      ["topics", (i) => [`topic-${i}`]],
      ["entities", (i) => [`Entity${i}`]],
      ["metadata", (i) => ({ n: i })],
      ["event_date", (i) => new Date(Date.UTC(2020, 0, 1 + i)).toISOString()],
      ["text", (i) => `The build uses Bazel, version ${i}`],
      ["key", (i) => `key-${id}-${i}`],
    ];
    const patches = Array.from({ length: 50 }, (_, i) => {
      const [field, value] = fields[i % fields.length]!;
      return { field, value: value(i) };
    });
    await race(50, (i) => send("PATCH", `/v1/long-term-memory/${id}`, { [patches[i]!.field]: patches[i]!.value }));

    const entries = (await history(id)).slice(1);
    expect(entries).toHaveLength(50);
    expectChained(entries);
    const m = await ok("GET", `/v1/long-term-memory/${id}`);
    expect(m).toEqual({ ...entries.at(-1)!.after, last_accessed: m.last_accessed });
    for (const e of entries) {
      const diff = changed(e.before!, e.after!).filter((k) => k !== "memory_hash");
      expect(diff).toHaveLength(1);
    }
    // Every PATCH is in the history, and each field ends at the value of the last PATCH of it.
    const order = entries.map((e) => changed(e.before!, e.after!).find((k) => k !== "memory_hash")!);
    for (const [field] of fields) {
      const last = entries.findLast((_, i) => order[i] === field)!;
      expect(m[field]).toEqual(last.after![field]);
      expect(order.filter((f) => f === field)).toHaveLength(patches.filter((p) => p.field === field).length);
    }
  });

  it("50 concurrent upserts of one id: history chains, the final state is the last writer's", async () => {
    const id = uid("upsert");
    await race(50, (i) =>
      send("POST", "/v1/long-term-memory/", {
        memories: [{ id, text: `Version ${i} of the release plan`, topics: [`v${i}`] }],
      }),
    );
    const entries = await history(id);
    expect(entries).toHaveLength(50);
    expect(entries.map((e) => e.op)).toEqual(["create", ...Array(49).fill("update")]);
    expect(entries[0]!.before).toBeNull();
    expectChained(entries);
    const m = await ok("GET", `/v1/long-term-memory/${id}`);
    expect(m).toEqual({ ...entries.at(-1)!.after, last_accessed: m.last_accessed });
    expect(new Set(entries.map((e) => e.after!.text)).size).toBe(50);
  });
});

describe("no lost updates on one CRUD key", RACE_TIMEOUT, () => {
  it("50 concurrent POST upserts of one (agent, scope, key): one row, all 50 writes in a chained history", async () => {
    const agent = uid("agent");
    const replies = await race(50, (i) =>
      send("POST", "/api/memories", { agent_id: agent, key: "favourite-editor", value: `editor ${i}` }),
    );
    const ids = new Set(replies.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    const list = await ok("GET", `/api/memories?agent_id=${agent}`);
    expect(list).toHaveLength(1);
    const entries = await history(id);
    expect(entries).toHaveLength(50);
    expect(entries.map((e) => e.op)).toEqual(["create", ...Array(49).fill("update")]);
    expectChained(entries);
    expect(list[0].value).toBe(entries.at(-1)!.after!.text);
  });

  it("concurrent partial PUTs of different fields keep every field", async () => {
    const agent = uid("agent");
    const created = await ok("POST", "/api/memories", { agent_id: agent, key: "k", value: "v0" });
    const puts: Record<string, unknown>[] = [
      ...Array.from({ length: 10 }, (_, i) => ({ value: `value ${i}` })),
      ...Array.from({ length: 10 }, (_, i) => ({ metadata: { tags: [`tag-${i}`] } })),
      ...Array.from({ length: 10 }, (_, i) => ({ key: `key-${i}` })),
    ];
    await race(puts.length, (i) => send("PUT", `/api/memories/${created.id}`, puts[i]));
    const entries = (await history(created.id)).slice(1);
    expect(entries).toHaveLength(30);
    expectChained(entries);
    const final = await ok("GET", `/api/memories/${created.id}`);
    const last = entries.at(-1)!.after!;
    expect({ value: final.value, metadata: final.metadata, key: final.key }).toEqual({
      value: last.text,
      metadata: last.metadata,
      key: last.key,
    });
    expect(final.value).not.toBe("v0");
    expect(final.key).not.toBe("k");
    expect(final.metadata.tags).toHaveLength(1);
  });
});

/** A SYMindX socket of the file's tenant, with the frames it received. */
async function symindx(): Promise<{
  send(f: unknown): void;
  frames: any[];
  until(n: number, type: string): Promise<any[]>;
}> {
  const res = await exports.default.fetch("https://edgemem.test/ws", { headers: { upgrade: "websocket" } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: any[] = [];
  ws.addEventListener("message", (e) => frames.push(JSON.parse(e.data as string)));
  return {
    frames,
    send: (f) => ws.send(JSON.stringify(f)),
    async until(n, type) {
      for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
        const hits = frames.filter((f) => f.type === type || f.type === "error");
        if (hits.length >= n) return hits;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`expected ${n} ${type} frames; got ${JSON.stringify(frames)}`);
    },
  };
}

describe("no lost updates on one session", RACE_TIMEOUT, () => {
  it("50 concurrent handoffs on one conversation (5 sockets): all 50 recorded, all completed, earlier messages kept", async () => {
    const conversation = uid("conv");
    await ok("PUT", `/v1/working-memory/${conversation}`, {
      messages: [{ role: "user", content: "hello" }],
      data: { topic: "billing" },
      namespace: "support",
    });
    const sockets = await Promise.all(Array.from({ length: 5 }, () => symindx()));
    for (let i = 0; i < 50; i++) {
      sockets[i % 5]!.send({
        id: `h${i}`,
        type: "agent_handoff",
        data: { fromAgent: "nyx", toAgent: `agent-${i}`, conversationId: conversation },
      });
    }
    const replies = (await Promise.all(sockets.map((s) => s.until(10, "agent_handoff")))).flat();
    expect(replies.filter((f) => f.type === "error")).toEqual([]);
    expect(replies.map((f) => f.data.status)).toEqual(Array(50).fill("completed"));

    const session = await ok("GET", `/v1/working-memory/${conversation}`);
    expect(session.messages[0]).toMatchObject({ role: "user", content: "hello" });
    expect(session.data).toEqual({ topic: "billing" });
    expect(session.namespace).toBe("support");
    const handoffs = session.messages.slice(1).map((m: { content: string }) => m.content);
    expect(handoffs).toHaveLength(50);
    expect(new Set(handoffs)).toEqual(
      new Set(Array.from({ length: 50 }, (_, i) => `Agent handoff from nyx to agent-${i}`)),
    );
  });

  it("12 concurrent handoffs on a new conversation create one session holding all 12", async () => {
    const conversation = uid("conv");
    const socket = await symindx();
    for (let i = 0; i < 12; i++) {
      socket.send({
        id: i,
        type: "agent_handoff",
        data: { fromAgent: `a${i}`, toAgent: `b${i}`, conversationId: conversation },
      });
    }
    const replies = await socket.until(12, "agent_handoff");
    expect(replies.map((f) => f.data?.status)).toEqual(Array(12).fill("completed"));
    const session = await ok("GET", `/v1/working-memory/${conversation}`);
    expect(session.messages).toHaveLength(12);
  });
});

describe("no lost updates in consolidation", RACE_TIMEOUT, () => {
  it("a merge racing feedback on the memories it merges writes from fresh reads only: both histories chain", async () => {
    const a = uid("dup");
    const b = uid("dup");
    const namespace = uid("ns");
    await ok("POST", "/v1/long-term-memory/", {
      memories: [
        { id: a, text: "User likes dark mode", namespace, confidence: 0.1, priority: 1 },
        { id: b, text: "User likes dark mode in the editor", namespace, confidence: 0.1, priority: 1 },
      ],
      deduplicate: false,
    });
    const replies = await Promise.all([
      send("POST", "/v1/consolidate"),
      ...Array.from({ length: 20 }, (_, i) =>
        send("POST", "/v1/feedback", { memory_id: i % 2 ? a : b, rating: "positive" }),
      ),
    ]);
    // A feedback on the memory merged away may find it gone; nothing else may fail.
    expect(replies.map((r) => r.status).filter((s) => s !== 200 && s !== 404)).toEqual([]);

    const [ha, hb] = [await history(a), await history(b)];
    expectChained(ha);
    expectChained(hb);
    const merged = [...ha, ...hb].filter(
      (e) => e.reason === "consolidated" || e.reason?.startsWith("consolidated into"),
    );
    expect(merged).toHaveLength(2);
    const recorded = [...ha, ...hb].filter((e) => e.reason === "positive feedback").length;
    expect(recorded).toBe(replies.slice(1).filter((r) => r.status === 200).length);
    // The survivor holds at least the confidence of every feedback applied before the merge.
    const survivor = ha.at(-1)!.op === "delete" ? b : a;
    const m = await ok("GET", `/v1/long-term-memory/${survivor}`);
    const before = [...ha, ...hb].filter((e) => e.op !== "delete" && e.after).map((e) => Number(e.after!.confidence));
    expect(m.confidence).toBe(Math.max(...before));
  });
});
