import { describe, expect, it } from "vitest";
import { backoffDelay, BookmarkStore, EngramSocket, type EngramGap } from "../../client/index.ts";

/** A WebSocket double the test controls: it opens, fails, delivers frames and drops on command. */
class FakeSocket extends EventTarget {
  static all: FakeSocket[] = [];
  static refuse = 0;
  /** Refusals that fire only `error`, never `close` (Node 22's WebSocket on a refused upgrade). */
  static errorOnly = false;
  readyState = 0;
  sent: any[] = [];
  constructor(readonly url: string) {
    super();
    FakeSocket.all.push(this);
    setTimeout(() => {
      if (FakeSocket.refuse > 0) {
        FakeSocket.refuse--;
        if (FakeSocket.errorOnly) this.dispatchEvent(new Event("error"));
        else this.drop();
        return;
      }
      this.readyState = 1;
      this.dispatchEvent(new Event("open"));
    }, 1);
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.drop();
  }
  drop() {
    this.readyState = 3;
    this.dispatchEvent(new Event("close"));
  }
  deliver(frame: unknown) {
    const e = new MessageEvent("message", { data: JSON.stringify(frame) });
    this.dispatchEvent(e);
  }
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));
async function until<T>(probe: () => T | undefined | false): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = probe();
    if (v) return v;
    await tick();
  }
  throw new Error("timed out");
}

function socket(extra: Partial<ConstructorParameters<typeof EngramSocket>[0]> = {}) {
  FakeSocket.all = [];
  return new EngramSocket({ url: "https://edgemem.test", token: "tok", WebSocket: FakeSocket as never, ...extra });
}

describe("EngramSocket (client SDK)", () => {
  it("backs off 1 s, 2 s, 4 s … up to 30 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
    expect(backoffDelay(100)).toBe(30000);
  });

  it("reconnects with growing delays while the server refuses, and starts over once open", async () => {
    const s = socket({ backoff: { initialMs: 4, maxMs: 20 } });
    const delays: number[] = [];
    s.onState((state, info) => state === "reconnecting" && delays.push(info.delayMs!));
    FakeSocket.refuse = 4;
    await s.connect();
    expect(delays).toEqual([4, 8, 16, 20]);
    FakeSocket.all.at(-1)!.drop();
    await until(() => s.connectionState === "open" && FakeSocket.all.length === 6);
    expect(delays).toEqual([4, 8, 16, 20, 4]);
    expect(new URL(FakeSocket.all[0]!.url).pathname).toBe("/ws");
    expect(new URL(FakeSocket.all[0]!.url).searchParams.get("token")).toBe("tok");
    s.close();
  });

  it("reconnects after a refused upgrade that fires only error (no close), as Node's WebSocket does", async () => {
    const s = socket({ backoff: { initialMs: 3, maxMs: 3 } });
    FakeSocket.errorOnly = true;
    FakeSocket.refuse = 2;
    try {
      await s.connect();
      await until(() => s.connectionState === "open");
      expect(FakeSocket.all).toHaveLength(3);
    } finally {
      FakeSocket.errorOnly = false;
      s.close();
    }
  });

  it("retries after the backoff when the token source fails, rather than rejecting where no one listens", async () => {
    let calls = 0;
    const token = async () => {
      if (calls++ === 0) throw new Error("token refresh failed");
      return "fresh";
    };
    const s = socket({ token, backoff: { initialMs: 3, maxMs: 3 } });
    const states: string[] = [];
    s.onState((state) => states.push(state));
    await s.connect();
    expect(states).toEqual(["connecting", "reconnecting", "open"]);
    expect(FakeSocket.all).toHaveLength(1);
    expect(new URL(FakeSocket.all[0]!.url).searchParams.get("token")).toBe("fresh");
    s.close();
  });

  it("fails at construction on a bad URL, or with no WebSocket (Node 18–21 have no global one)", () => {
    expect(() => socket({ url: "edgemem.test" })).toThrow(TypeError);
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    try {
      global.WebSocket = undefined;
      expect(() => new EngramSocket({ url: "https://edgemem.test" })).toThrow(/options\.WebSocket/);
      expect(() => socket()).not.toThrow();
    } finally {
      global.WebSocket = saved;
    }
  });

  it("queues commands while disconnected, replays events after the last seq once, fails in-flight commands on a drop", async () => {
    const s = socket({ backoff: { initialMs: 5 } });
    const seen: number[] = [];
    s.on("memory_created", (e) => seen.push(e.seq));
    const queued = s.send("status", {});
    await s.connect();
    const first = FakeSocket.all[0]!;
    await until(() => first.sent.length === 1);
    expect(first.sent[0]).toMatchObject({ command: "status", payload: {} });
    first.deliver({ id: first.sent[0].id, command: "status", status: "ok", data: { sessions: 3 } });
    expect(await queued).toEqual({ sessions: 3 });
    first.deliver({ event: "memory_created", data: { memory_id: "a" }, seq: 7 });
    expect(s.lastSeq).toBe(7);

    const inFlight = s.send("recall", { query: "x" });
    await until(() => first.sent.length === 2);
    first.drop();
    await expect(inFlight).rejects.toMatchObject({ code: "CONNECTION_LOST" });
    const whileDown = s.send("remember", { content: "queued while down" });
    await until(() => FakeSocket.all.length === 2 && s.connectionState === "open");
    const second = FakeSocket.all[1]!;
    expect(new URL(second.url).searchParams.get("since")).toBe("7");
    await until(() => second.sent.length === 1);
    expect(second.sent[0]).toMatchObject({ command: "remember", payload: { content: "queued while down" } });
    // The replay may overlap what was already seen: each event is delivered once.
    for (const seq of [7, 8, 9]) second.deliver({ event: "memory_created", data: { memory_id: `m${seq}` }, seq });
    expect(seen).toEqual([7, 8, 9]);
    second.deliver({
      id: second.sent[0].id,
      command: "remember",
      status: "error",
      error: { code: "INVALID_MESSAGE", message: "content: too long" },
    });
    await expect(whileDown).rejects.toMatchObject({
      name: "EngramError",
      code: "INVALID_MESSAGE",
      message: "content: too long",
    });
    s.close();
    expect(s.connectionState).toBe("closed");
  });

  it("sends the newest bookmark with each command (null before any) and keeps the replies'", async () => {
    const s = socket();
    await s.connect();
    const ws = FakeSocket.all[0]!;
    const first = s.send("status", {});
    await until(() => ws.sent.length === 1);
    expect(ws.sent[0]).toMatchObject({ command: "status", bookmark: null });
    ws.deliver({ id: ws.sent[0].id, command: "status", status: "ok", data: {}, bookmark: "DB:0000-0002" });
    await first;
    expect(s.bookmarks!.value).toBe("DB:0000-0002");
    // A streamed reply's bookmark counts, an older one lowers nothing, an error reply's counts too.
    const second = s.send("think", { question: "q" });
    await until(() => ws.sent.length === 2);
    expect(ws.sent[1].bookmark).toBe("DB:0000-0002");
    ws.deliver({ id: ws.sent[1].id, status: "streaming", data: { token: "a" }, bookmark: "DB:0000-0001" });
    ws.deliver({ id: ws.sent[1].id, status: "error", error: { code: "X", message: "x" }, bookmark: "DB:0000-0003" });
    await expect(second).rejects.toMatchObject({ code: "X" });
    expect(s.bookmarks!.value).toBe("DB:0000-0003");
    s.close();
  });

  it("shares a store with a REST client: a command queued before a write goes out with the write's bookmark", async () => {
    const store = new BookmarkStore();
    const s = socket({ bookmarks: store });
    const queued = s.send("recall", { query: "x" });
    store.offer("DB:0000-0009"); // a REST answer, meanwhile
    await s.connect();
    const ws = FakeSocket.all[0]!;
    await until(() => ws.sent.length === 1);
    expect(ws.sent[0].bookmark).toBe("DB:0000-0009");
    ws.deliver({ id: ws.sent[0].id, status: "ok", data: { memories: [], total: 0 }, bookmark: "DB:0000-000a" });
    await queued;
    expect(store.value).toBe("DB:0000-000a");
    s.close();

    // bookmarks: false: the frames are engram's own, without the field.
    const plain = socket({ bookmarks: false });
    await plain.connect();
    void plain.send("status", {}).catch(() => {});
    const ws2 = FakeSocket.all[0]!;
    await until(() => ws2.sent.length === 1);
    expect("bookmark" in ws2.sent[0]).toBe(false);
    expect(plain.bookmarks).toBeNull();
    plain.close();
  });

  it("passes streamed think tokens to onToken before the reply", async () => {
    const s = socket();
    await s.connect();
    const tokens: string[] = [];
    const answer = s.send("think", { question: "why?" }, { onToken: (t) => tokens.push(t) });
    const ws = FakeSocket.all[0]!;
    await until(() => ws.sent.length === 1);
    const id = ws.sent[0].id;
    ws.deliver({ id, command: "think", status: "streaming", data: { token: "Because " } });
    ws.deliver({ id, command: "think", status: "streaming", data: { token: "Redis." } });
    ws.deliver({
      id,
      command: "think",
      status: "ok",
      data: { answer: "Because Redis.", citations: [], facts: [], provider: "offline" },
    });
    expect((await answer).answer).toBe("Because Redis.");
    expect(tokens).toEqual(["Because ", "Redis."]);
    s.close();
  });

  it("surfaces a replay gap as a typed event, resumes after it, and keeps reconnecting", async () => {
    const s = socket({ since: 50, backoff: { initialMs: 5 } });
    const gaps: EngramGap[] = [];
    const seen: number[] = [];
    s.on("gap", (g) => gaps.push(g));
    s.on("*", (e) => seen.push(e.seq));
    await s.connect();
    const first = FakeSocket.all[0]!;
    expect(new URL(first.url).searchParams.get("since")).toBe("50");
    // The server was reset (its log ends at 3, below our 50): its new events must not be taken for old ones.
    first.deliver({ event: "gap", data: { since: 50, oldest_seq: 1, latest_seq: 3, resume_after: 3 } });
    first.deliver({ event: "memory_created", data: { memory_id: "n4" }, seq: 4 });
    expect(gaps.map((g) => g.data)).toEqual([{ since: 50, oldest_seq: 1, latest_seq: 3, resume_after: 3 }]);
    expect(seen).toEqual([4]);
    expect(s.lastSeq).toBe(4);

    first.drop();
    await until(() => FakeSocket.all.length === 2 && s.connectionState === "open");
    const second = FakeSocket.all[1]!;
    expect(new URL(second.url).searchParams.get("since")).toBe("4");
    // Away too long: events 5..1100 left the log; the replay resumes after 1100.
    second.deliver({ event: "gap", data: { since: 4, oldest_seq: 1101, latest_seq: 2100, resume_after: 1100 } });
    for (const seq of [1101, 1102]) second.deliver({ event: "memory_created", data: { memory_id: `m${seq}` }, seq });
    expect(gaps).toHaveLength(2);
    expect(seen).toEqual([4, 1101, 1102]);
    expect(s.connectionState).toBe("open");
    s.close();
  });
});
