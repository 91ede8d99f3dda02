// The SDK's REST client against a scripted fetch: read-your-writes bookmarks (kept from every
// answer, sent with every request, ordered as the server orders them, shared through a
// BookmarkStore, off with `bookmarks: false`) and the bounded retry of `503 unavailable`.
import { afterEach, describe, expect, it, vi } from "vitest";
import { BookmarkStore, EdgememClient, EdgememError, newerBookmark } from "../../client/index.ts";
import { retryAfterMs } from "../../client/rest.ts";

const B = (shard: string, value: string) => `${shard}:${value}`;
// D1 bookmarks: fixed-width hex parts, so a later one sorts after an earlier one.
const OLD = B("DB", "00000001-00000002-00004f7d-aaaa");
const NEW = B("DB", "00000001-00000003-00004f7d-bbbb");
const MOVED = B("DB_SHARD_1", "00000000-00000001-00004f7d-cccc");

/** A fetch that answers from a script and records what it was sent. */
function scripted(...answers: (() => Response)[]) {
  const sent: { url: string; headers: Record<string, string> }[] = [];
  const fetch = async (url: string, init: RequestInit) => {
    sent.push({ url, headers: { ...(init.headers as Record<string, string>) } });
    const next = answers.shift();
    if (!next) throw new Error("no scripted answer left");
    return next();
  };
  return { fetch, sent };
}

const answer =
  (body: unknown, headers: Record<string, string> = {}, status = 200) =>
  () =>
    Response.json(body, { status, headers });
const unavailable =
  (retryAfter: string | null = "5") =>
  () =>
    Response.json(
      { error: "unavailable", message: "tenant moving", detail: "tenant moving" },
      { status: 503, headers: retryAfter === null ? {} : { "retry-after": retryAfter } },
    );

describe("bookmark order (as the server keeps them)", () => {
  it("keeps the larger of one shard's, whichever arrives first; another shard's replaces it (a move)", () => {
    expect(newerBookmark(OLD, NEW)).toBe(NEW);
    expect(newerBookmark(NEW, OLD)).toBe(NEW);
    expect(newerBookmark(NEW, MOVED)).toBe(MOVED);
    expect(newerBookmark(MOVED, NEW)).toBe(NEW);
    expect(newerBookmark(null, OLD)).toBe(OLD);
    expect(newerBookmark(OLD, null)).toBe(OLD);
    expect(newerBookmark(null, null)).toBeNull();
  });

  it("a store keeps the newest, tells listeners of changes, clears, and refuses a malformed start", () => {
    const store = new BookmarkStore();
    const changes: (string | null)[] = [];
    store.onChange((b) => changes.push(b));
    store.offer(NEW);
    store.offer(OLD);
    store.offer(undefined);
    store.offer(null);
    expect(store.value).toBe(NEW);
    store.offer(MOVED);
    store.clear();
    expect(store.value).toBeNull();
    expect(changes).toEqual([NEW, MOVED, null]);
    expect(new BookmarkStore(OLD).value).toBe(OLD);
    expect(() => new BookmarkStore("not a bookmark")).toThrow(TypeError);
  });
});

describe("EdgememClient bookmarks", () => {
  it("sends the newest bookmark of the answers so far with each request", async () => {
    const { fetch, sent } = scripted(
      answer({ status: "ok" }, { "x-edgemem-bookmark": OLD }),
      answer({ now: 1 }, { "x-edgemem-bookmark": NEW }),
      // An older one (a lagging replica) does not lower it; an error answer's counts too.
      answer({ now: 1 }, { "x-edgemem-bookmark": OLD }),
      answer({ error: "not_found", message: "no", detail: "no" }, { "x-edgemem-bookmark": MOVED }, 404),
      answer({ now: 1 }),
    );
    const client = new EdgememClient({ baseUrl: "https://edgemem.test", fetch });
    expect(client.bookmark).toBeNull();
    await client.createLongTermMemories([{ text: "x" }]);
    await client.health();
    await client.health();
    await expect(client.getLongTermMemory("missing")).rejects.toMatchObject({ status: 404 });
    await client.health();
    expect(sent.map((s) => s.headers["x-edgemem-bookmark"])).toEqual([undefined, OLD, NEW, NEW, MOVED]);
    expect(client.bookmark).toBe(MOVED);
  });

  it("client.bookmark hands a bookmark over: setting keeps the fresher, null forgets, a malformed one throws", async () => {
    const { fetch, sent } = scripted(answer({ now: 1 }), answer({ now: 1 }));
    const client = new EdgememClient({ baseUrl: "https://edgemem.test", fetch });
    client.bookmark = NEW;
    client.bookmark = OLD;
    expect(client.bookmark).toBe(NEW);
    await client.health();
    expect(() => {
      client.bookmark = "DB:not/a/bookmark";
    }).toThrow(TypeError);
    client.bookmark = null;
    await client.health();
    expect(sent.map((s) => s.headers["x-edgemem-bookmark"])).toEqual([NEW, undefined]);
  });

  it("two clients sharing a store read each other's writes; bookmarks: false sends none", async () => {
    const store = new BookmarkStore();
    const a = scripted(answer({ status: "ok" }, { "x-edgemem-bookmark": NEW }));
    const b = scripted(answer({ now: 1 }));
    const writer = new EdgememClient({ baseUrl: "https://a.test", fetch: a.fetch, bookmarks: store });
    const reader = new EdgememClient({ baseUrl: "https://b.test", fetch: b.fetch, bookmarks: store });
    await writer.createLongTermMemories([{ text: "x" }]);
    await reader.health();
    expect(b.sent[0]!.headers["x-edgemem-bookmark"]).toBe(NEW);

    const off = scripted(answer({ status: "ok" }, { "x-edgemem-bookmark": NEW }), answer({ now: 1 }));
    const plain = new EdgememClient({ baseUrl: "https://c.test", fetch: off.fetch, bookmarks: false });
    await plain.createLongTermMemories([{ text: "x" }]);
    await plain.health();
    expect(off.sent.map((s) => s.headers["x-edgemem-bookmark"])).toEqual([undefined, undefined]);
    expect(plain.bookmark).toBeNull();
    expect(plain.bookmarks).toBeNull();
    expect(() => {
      plain.bookmark = NEW;
    }).toThrow(TypeError);
  });
});

describe("EdgememClient retries 503 unavailable", () => {
  afterEach(() => vi.useRealTimers());

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(retryAfterMs("5")).toBe(5000);
    expect(retryAfterMs(" 0 ")).toBe(0);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs(new Date(1_000).toUTCString(), 4_000)).toBe(0);
    expect(retryAfterMs("soon")).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
  });

  it("waits what Retry-After says, then tries again; the write goes through", async () => {
    vi.useFakeTimers();
    const { fetch, sent } = scripted(unavailable("5"), unavailable("2"), answer({ status: "ok" }));
    const client = new EdgememClient({ baseUrl: "https://edgemem.test", fetch });
    let settled = false;
    const done = client.createLongTermMemories([{ text: "x" }]).finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(sent).toHaveLength(2);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await done).toEqual({ status: "ok" });
    expect(sent).toHaveLength(3);
  });

  it("gives up after 4 tries with the 503 as an EdgememError (unavailable)", async () => {
    vi.useFakeTimers();
    const { fetch, sent } = scripted(unavailable(), unavailable(), unavailable(), unavailable(), unavailable());
    const client = new EdgememClient({ baseUrl: "https://edgemem.test", fetch });
    const failed = client.createLongTermMemories([{ text: "x" }]).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(60_000);
    const e = await failed;
    expect(e).toBeInstanceOf(EdgememError);
    expect(e).toMatchObject({ status: 503, code: "unavailable", message: "tenant moving" });
    expect(sent).toHaveLength(4);
  });

  it("gives up at once when the next wait would pass maxWaitMs; attempts and off are configurable", async () => {
    vi.useFakeTimers();
    const long = scripted(unavailable("20"), unavailable("20"), answer({ status: "ok" }));
    const a = new EdgememClient({ baseUrl: "https://a.test", fetch: long.fetch });
    const failed = a.createLongTermMemories([{ text: "x" }]).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await failed).toMatchObject({ status: 503, code: "unavailable" });
    expect(long.sent).toHaveLength(2);

    const two = scripted(unavailable("1"), unavailable("1"), answer({ status: "ok" }));
    const b = new EdgememClient({ baseUrl: "https://b.test", fetch: two.fetch, retry: { attempts: 2 } });
    const failedB = b.health().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await failedB).toMatchObject({ status: 503 });
    expect(two.sent).toHaveLength(2);

    const never = scripted(unavailable("1"));
    const c = new EdgememClient({ baseUrl: "https://c.test", fetch: never.fetch, retry: false });
    await expect(c.health()).rejects.toMatchObject({ status: 503, code: "unavailable" });
    expect(never.sent).toHaveLength(1);
  });

  it("a 503 without Retry-After waits a second; other statuses and other 503s are not retried", async () => {
    vi.useFakeTimers();
    const bare = scripted(unavailable(null), answer({ now: 1 }));
    const a = new EdgememClient({ baseUrl: "https://a.test", fetch: bare.fetch });
    const ok = a.health();
    await vi.advanceTimersByTimeAsync(999);
    expect(bare.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await ok).toEqual({ now: 1 });

    for (const refusal of [
      answer({ error: "internal_error", message: "x", detail: "x" }, { "retry-after": "1" }, 503),
      () => new Response("<html>Service Unavailable</html>", { status: 503, headers: { "retry-after": "1" } }),
      answer({ error: "upstream_error", message: "x", detail: "x" }, { "retry-after": "1" }, 502),
      answer({ error: "conflict", message: "x", detail: "x" }, {}, 409),
    ]) {
      const once = scripted(refusal, answer({ now: 1 }));
      const c = new EdgememClient({ baseUrl: "https://c.test", fetch: once.fetch });
      await expect(c.health()).rejects.toBeInstanceOf(EdgememError);
      expect(once.sent).toHaveLength(1);
    }
  });

  it("an abort during the wait rejects with the signal's reason and sends nothing more", async () => {
    vi.useFakeTimers();
    const { fetch, sent } = scripted(unavailable("5"), answer({ now: 1 }));
    const client = new EdgememClient({ baseUrl: "https://edgemem.test", fetch });
    const stop = new AbortController();
    const pending = client.request("GET", "/v1/health", { signal: stop.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    stop.abort(new Error("user left"));
    expect(await pending).toMatchObject({ message: "user left" });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toHaveLength(1);
  });
});

describe("import in several requests", () => {
  it("posts the rest from where a request stopped, adding up the answers with the caller's line numbers", async () => {
    const counts = (memory: number) => ({ memory, history: 0, entity: 0, relation: 0, session: 0, feedback: 0 });
    const bodies: string[] = [];
    const answers = [
      { imported: counts(2), errors: [{ line: 1, error: "bad", field: "id" }], failed: 1, stopped_at_line: 4 },
      { imported: counts(1), errors: [{ line: 2, error: "worse", field: null }], failed: 1, stopped_at_line: null },
    ];
    const fetch = async (_url: string, init: RequestInit) => {
      bodies.push(String(init.body));
      const a = answers.shift()!;
      return Response.json({
        unchanged: counts(0),
        lines: 3,
        truncated: false,
        warnings: a.stopped_at_line ? ["stopped at line 4: …"] : [],
        ...a,
      });
    };
    const client = new EdgememClient({ baseUrl: "https://m.test", fetch, bookmarks: false });
    const result = await client.import([{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }, { a: 5 }]);
    expect(bodies).toEqual(['{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}\n{"a":5}', '{"a":4}\n{"a":5}']);
    expect(result.imported.memory).toBe(3);
    expect(result.errors).toEqual([
      { line: 1, error: "bad", field: "id" },
      { line: 5, error: "worse", field: null },
    ]);
    expect(result.failed).toBe(2);
    expect(result.stopped_at_line).toBeNull();
    expect(result.warnings).toEqual([]);
  });
});
