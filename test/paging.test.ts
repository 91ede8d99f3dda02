// Keyset (cursor) paging of the lists that grow with a tenant: the CRUD list, a search without
// text (browse), working-memory sessions and a memory's history. Walking by cursor visits every
// row once, in the offset order, whatever is written between pages; a cursor that is not one is
// a 422 naming `cursor`.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../src/domain/cursor.ts";
import { MemoryRepo } from "../src/store/memory-repo.ts";
import { SessionRepo } from "../src/store/session-repo.ts";
import { tenantApi, type Api } from "./support/api.ts";
import { check } from "./support/fuzz.ts";
import { routed } from "./support/shards.ts";

const DAY = 86_400_000;

/** A page: the ids it shows and the cursor of the next (null at the end). */
interface Page {
  ids: string[];
  next: string | null;
}

/**
 * Every page from the first, following next cursors; `between` runs after each page (writes
 * that must not disturb the walk). Fails rather than loop if the cursors never end.
 */
async function walk(page: (cursor: string | null) => Promise<Page>, between?: (n: number) => Promise<void>) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let n = 0; ; n++) {
    if (n > 2000) throw new Error("the cursors never end");
    const p = await page(cursor);
    ids.push(...p.ids);
    if (p.next === null) return ids;
    expect(p.ids.length).toBeGreaterThan(0);
    cursor = p.next;
    await between?.(n);
  }
}

const ok = <T>(res: { status: number; body: T }): T => {
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
};

/**
 * `n` memories in batches of 100: a batch shares one created_at (ties the key must break), and
 * every third memory is back-dated to one of five days (ties across batches).
 */
async function seed(api: Api, n: number, prefix = "m"): Promise<void> {
  const base = Date.now();
  for (let from = 0; from < n; from += 100) {
    const memories = Array.from({ length: Math.min(100, n - from) }, (_, k) => {
      const i = from + k;
      return {
        id: `${prefix}${String(i).padStart(4, "0")}`,
        text: `memory number ${i} about ${["tea", "coffee", "juice"][i % 3]}`,
        namespace: i % 2 ? "odd" : "even",
        metadata: { tags: [i % 2 ? "odd" : "even"] },
        ...(i % 3 === 0 ? { created_at: new Date(base - (1 + (i % 5)) * DAY).toISOString() } : {}),
      };
    });
    ok(await api.call("POST", "/v1/long-term-memory/", { memories, deduplicate: false }));
  }
}

const crudPage =
  (api: Api, limit: number, query = "") =>
  async (cursor: string | null) => {
    const res = await api.call(
      "GET",
      `/api/memories?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    const body = ok<{ id: string }[]>(res);
    return { ids: body.map((m) => m.id), next: res.headers.get("x-edgemem-next-cursor") };
  };

/** The whole list in one offset page: the order every walk must reproduce. */
async function allByOffset(api: Api): Promise<string[]> {
  return ok<{ id: string }[]>(await api.call("GET", "/api/memories?limit=1000")).map((m) => m.id);
}

describe("cursor paging: the CRUD list", () => {
  let api: Api;
  let expected: string[];
  beforeAll(async () => {
    api = await tenantApi();
    await seed(api, 300);
    expected = await allByOffset(api);
    expect(expected).toHaveLength(300);
  });

  it("visits every memory once, newest first, in the offset order; the last page has no next cursor", async () => {
    expect(await walk(crudPage(api, 7))).toEqual(expected);
    const last = await crudPage(api, 300)(null);
    expect(last.next).toBeNull();
    // A page of exactly what is left ends the walk too (the server reads one row past the page).
    const half = await crudPage(api, 150)(null);
    const second = await crudPage(api, 150)(half.next);
    expect(second.ids).toEqual(expected.slice(150));
    expect(second.next).toBeNull();
  });

  it("rows written between pages neither repeat nor hide the rows that were there", async () => {
    const fresh = await tenantApi();
    await seed(fresh, 120);
    const before = await allByOffset(fresh);
    let added = 0;
    const seen = await walk(crudPage(fresh, 9), async (n) => {
      if (n > 4) return;
      // Newer than the cursor (ahead of it), tied with it, and older than everything (behind it).
      const memories = [
        { id: `new-${n}`, text: `written while paging ${n}` },
        {
          id: `old-${n}`,
          text: `back-dated while paging ${n}`,
          created_at: new Date(Date.now() - 400 * DAY).toISOString(),
        },
      ];
      ok(await fresh.call("POST", "/v1/long-term-memory/", { memories, deduplicate: false }));
      added += memories.length;
    });
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => before.includes(id))).toEqual(before);
    // The back-dated ones sort after every cursor, so the walk reaches them; the new ones were ahead.
    expect(seen.filter((id) => id.startsWith("old-")).sort()).toEqual(["old-0", "old-1", "old-2", "old-3", "old-4"]);
    expect(seen.some((id) => id.startsWith("new-"))).toBe(false);
    expect(added).toBe(10);
  });

  it("pages a filtered list by cursor, and the cursor keeps working with offset's first page", async () => {
    const odd = expected.filter((id) => Number(id.slice(1)) % 2 === 1);
    expect(odd).toHaveLength(150);
    expect(await walk(crudPage(api, 11, "&tags=odd"))).toEqual(odd);
    const first = await api.call("GET", "/api/memories?limit=10&offset=0");
    const next = first.headers.get("x-edgemem-next-cursor")!;
    expect((await crudPage(api, 10)(next)).ids).toEqual(expected.slice(10, 20));
    // A deep offset page hands out a cursor too, so a client can switch.
    const deep = await api.call("GET", "/api/memories?limit=10&offset=200");
    expect((await crudPage(api, 10)(deep.headers.get("x-edgemem-next-cursor"))).ids).toEqual(expected.slice(210, 220));
  });
});

describe("cursor paging: a search without text (browse)", () => {
  it("pages by cursor in the offset order, with the total on every page; offset keeps working", async () => {
    const api = await tenantApi();
    await seed(api, 130);
    const search = async (body: Record<string, unknown>) =>
      ok<{ memories: { id: string }[]; total: number; next_offset: number | null; next_cursor: string | null }>(
        await api.call("POST", "/v1/long-term-memory/search", body),
      );
    const byOffset: string[] = [];
    for (let offset = 0; offset < 130; offset += 100)
      byOffset.push(...(await search({ limit: 100, offset })).memories.map((m) => m.id));
    const totals: number[] = [];
    const seen = await walk(async (cursor) => {
      const r = await search({ limit: 12, ...(cursor ? { cursor } : {}) });
      totals.push(r.total);
      // next_offset belongs to offset paging: a cursor page leaves it null.
      if (cursor) expect(r.next_offset).toBeNull();
      return { ids: r.memories.map((m) => m.id), next: r.next_cursor };
    });
    expect(seen).toEqual(byOffset);
    expect(new Set(totals)).toEqual(new Set([130]));

    const first = await search({ limit: 12 });
    expect(first.next_offset).toBe(12);
    const viaOffset = await search({ limit: 12, offset: 12 });
    const viaCursor = await search({ limit: 12, cursor: first.next_cursor });
    expect(viaCursor.memories.map((m) => m.id)).toEqual(viaOffset.memories.map((m) => m.id));

    // Filters apply to a walk as to an offset page.
    const even = await walk(async (cursor) => {
      const r = await search({ limit: 20, namespace: { eq: "even" }, ...(cursor ? { cursor } : {}) });
      expect(r.total).toBe(65);
      return { ids: r.memories.map((m) => m.id), next: r.next_cursor };
    });
    expect(even).toEqual(byOffset.filter((id) => Number(id.slice(1)) % 2 === 0));

    // A ranked search pages by offset: it has no next cursor.
    expect((await search({ text: "coffee", limit: 3 })).next_cursor).toBeNull();
  });
});

describe("cursor paging: working-memory sessions", () => {
  it("visits every session once, most recently written first; sessions written meanwhile repeat none", async () => {
    const api = await tenantApi();
    for (let i = 0; i < 30; i++) {
      const res = await api.call("PUT", `/v1/working-memory/s${String(i).padStart(2, "0")}`, {
        messages: [{ role: "user", content: `hello ${i}` }],
        namespace: i % 3 ? "a" : "b",
      });
      expect(res.status).toBe(200);
    }
    const list = async (query: string) =>
      ok<{ sessions: string[]; total: number; next_cursor: string | null }>(
        await api.call("GET", `/v1/working-memory/?${query}`),
      );
    const expected = (await list("limit=1000")).sessions;
    expect(expected).toHaveLength(30);
    const page =
      (limit: number, extra = "") =>
      async (cursor: string | null) => {
        const r = await list(`limit=${limit}${extra}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        return { ids: r.sessions, next: r.next_cursor };
      };
    expect(await walk(page(4))).toEqual(expected);
    expect(await walk(page(7, "&namespace=b"))).toEqual((await list("limit=1000&namespace=b")).sessions);

    // A session created between pages is the newest: ahead of the cursor, so not seen twice or at all.
    const seen = await walk(page(4), async (n) => {
      if (n < 3) expect((await api.call("PUT", `/v1/working-memory/new-${n}`, { messages: [] })).status).toBe(200);
    });
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expected);
  });
});

describe("cursor paging: sessions written in the same millisecond", () => {
  it("the key breaks updated_at ties by session id, so every page size visits each session once", async () => {
    const repo = new SessionRepo(routed());
    const tenant = `t-${crypto.randomUUID()}`;
    const at = Date.now();
    // Three groups of seven sessions, each group written at one instant.
    for (let i = 0; i < 21; i++) {
      const t = at - Math.floor(i / 7);
      await repo.put(
        {
          tenant,
          session_id: `s${String(i).padStart(2, "0")}`,
          namespace: null,
          user_id: null,
          messages: [],
          memories: [],
          context: null,
          data: null,
          long_term_memory_strategy: {},
          ttl_seconds: null,
          expires_at: null,
          created_at: t,
          updated_at: t,
          last_accessed: t,
        },
        0,
      );
    }
    const whole = (await repo.list(tenant, at, { limit: 100, offset: 0 })).sessions;
    expect(whole.slice(0, 7)).toEqual(["s00", "s01", "s02", "s03", "s04", "s05", "s06"]);
    for (let limit = 1; limit <= 8; limit++) {
      const ids: string[] = [];
      let after: { at: number; id: string } | undefined;
      for (let n = 0; ; n++) {
        if (n > 100) throw new Error("the cursors never end");
        const page = await repo.list(tenant, at, { limit, offset: 0, ...(after ? { after } : {}) });
        ids.push(...page.sessions);
        expect(page.total).toBe(21);
        if (!page.next) break;
        after = page.next;
      }
      expect(ids).toEqual(whole);
    }
  });
});

describe("cursor paging: a memory's history", () => {
  it("pages a memory with many edits fully, in write order or newest first", { timeout: 120_000 }, async () => {
    const api = await tenantApi();
    ok(await api.call("POST", "/v1/long-term-memory/", { memories: [{ id: "busy", text: "edit 0" }] }));
    const EDITS = 120;
    for (let i = 1; i <= EDITS; i++)
      ok(await api.call("PATCH", "/v1/long-term-memory/busy", { text: `edit ${i}`, topics: [`t${i}`] }));

    type History = { history: { op: string; after: { text: string } | null }[]; next_cursor: string | null };
    const history = async (query: string, base = "/v1/long-term-memory/busy/history") =>
      ok<History>(await api.call("GET", `${base}?${query}`));
    const texts = (h: History) => h.history.map((e) => e.after?.text);
    const page = (query: string, base?: string) => async (cursor: string | null) => {
      const h = await history(`${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, base);
      return { ids: texts(h) as string[], next: h.next_cursor };
    };
    const inOrder = Array.from({ length: EDITS + 1 }, (_, i) => `edit ${i}`);

    // Without parameters: the first 100 entries, and a cursor to the rest.
    const first = await history("");
    expect(first.history).toHaveLength(100);
    expect(first.history[0]!.op).toBe("create");
    expect(texts(first)).toEqual(inOrder.slice(0, 100));
    expect(texts(await history(`cursor=${first.next_cursor}`))).toEqual(inOrder.slice(100));

    expect(await walk(page("limit=25"))).toEqual(inOrder);
    expect(await walk(page("limit=13&order=desc"))).toEqual([...inOrder].reverse());
    // The CRUD API serves the same history.
    expect(await walk(page("limit=40", "/api/memories/busy/history"))).toEqual(inOrder);

    // A cursor past the end is an empty last page; a memory never written is still a 404.
    const beyond = encodeCursor("history", { hid: Number.MAX_SAFE_INTEGER });
    expect(await history(`cursor=${beyond}`)).toEqual({ memory_id: "busy", history: [], next_cursor: null });
    const missing = await api.call("GET", `/v1/long-term-memory/never/history?cursor=${beyond}`);
    expect(missing.status).toBe(404);
  });
});

describe("cursor paging: cursors that are not ones", () => {
  const b64 = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const BAD: [string, string][] = [
    ["not base64url", "not a cursor!"],
    ["empty", ""],
    ["one character (not base64)", "A"],
    ["base64 of text", b64("hello")],
    ["the wrong tag", b64('["x",1,2]')],
    ["a missing part", b64('["m",1]')],
    ["a fraction", b64('["m",1.5,2]')],
    ["a seq of zero", b64('["m",1,0]')],
    ["an unsafe integer", b64('["m",1,9007199254740993]')],
    ["too long", "A".repeat(2000)],
  ];

  it("a malformed cursor is a 422 naming cursor on every list, and a cursor of another list too", async () => {
    const api = await tenantApi();
    ok(await api.call("POST", "/v1/long-term-memory/", { memories: [{ id: "x", text: "something" }] }));
    const sessionCursor = encodeCursor("sessions", { at: 1, id: "s" });
    const memoryCursor = encodeCursor("memories", { at: 1, seq: 1 });
    const lists: [string, (c: string) => Promise<{ status: number; body: any }>, string][] = [
      ["CRUD list", (c) => api.call("GET", `/api/memories?cursor=${encodeURIComponent(c)}`), sessionCursor],
      ["sessions", (c) => api.call("GET", `/v1/working-memory/?cursor=${encodeURIComponent(c)}`), memoryCursor],
      [
        "AMS history",
        (c) => api.call("GET", `/v1/long-term-memory/x/history?cursor=${encodeURIComponent(c)}`),
        memoryCursor,
      ],
      [
        "CRUD history",
        (c) => api.call("GET", `/api/memories/x/history?cursor=${encodeURIComponent(c)}`),
        sessionCursor,
      ],
      ["browse", (c) => api.call("POST", "/v1/long-term-memory/search", { cursor: c }), sessionCursor],
    ];
    for (const [name, call, otherKind] of lists) {
      for (const [what, cursor] of [...BAD, ["another list's cursor", otherKind] as [string, string]]) {
        const res = await call(cursor);
        expect({ name, what, status: res.status, field: res.body?.issues?.[0]?.field }).toEqual({
          name,
          what,
          status: 422,
          field: "cursor",
        });
      }
    }
  });

  it("a cursor with text, or with an offset, is a 422 naming cursor", async () => {
    const api = await tenantApi();
    const cursor = encodeCursor("memories", { at: Date.now(), seq: 1 });
    for (const [method, path, body] of [
      ["POST", "/v1/long-term-memory/search", { text: "tea", cursor }],
      ["POST", "/v1/long-term-memory/search", { offset: 10, cursor }],
      ["POST", "/v1/long-term-memory/search", { cursor: 42 }],
      ["GET", `/api/memories?offset=5&cursor=${cursor}`, undefined],
      ["GET", `/v1/working-memory/?offset=5&cursor=${encodeCursor("sessions", { at: 1, id: "s" })}`, undefined],
    ] as const) {
      const res = await api.call(method, path, body);
      expect({ path, body, status: res.status, field: res.body.issues?.[0]?.field }).toEqual({
        path,
        body,
        status: 422,
        field: "cursor",
      });
    }
  });
});

describe("cursor paging: page sizes (property)", () => {
  let api: Api;
  let expected: string[];
  beforeAll(async () => {
    api = await tenantApi();
    await seed(api, 90);
    expected = await allByOffset(api);
  });

  it("any page size walks the CRUD list to the same order", async () => {
    await check(
      fc.asyncProperty(fc.integer({ min: 2, max: 100 }), async (limit) => {
        expect(await walk(crudPage(api, limit))).toEqual(expected);
      }),
      { numRuns: 8, endOnFailure: true },
    );
  });

  it("any page size and order walks the repository's list to the order of one page", async () => {
    const repo = new MemoryRepo(routed(), false);
    const orders = ["created_desc", "created_asc", "updated_desc"] as const;
    await check(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 95 }),
        fc.constantFrom(...orders),
        fc.constantFrom(undefined, "odd"),
        async (limit, order, namespace) => {
          const filter = namespace ? { namespace: { eq: namespace } } : {};
          const now = Date.now();
          const whole = await repo.list(api.tenant, now, { filter, order, limit: 1000 });
          const ids: string[] = [];
          let after: { at: number; seq: number } | undefined;
          for (let n = 0; ; n++) {
            if (n > 200) throw new Error("the cursors never end");
            const page = await repo.list(api.tenant, now, { filter, order, limit, ...(after ? { after } : {}) });
            ids.push(...page.memories.map((m) => m.id));
            if (!page.next) break;
            after = page.next;
          }
          expect(ids).toEqual(whole.memories.map((m) => m.id));
          expect(whole.total).toBeNull();
        },
      ),
      { numRuns: 12, endOnFailure: true },
    );
  });
});

describe("cursor codec", () => {
  it("round-trips each kind's key and refuses another kind's", () => {
    const keys = {
      memories: { at: -5, seq: 7 },
      sessions: { at: 1_700_000_000_000, id: "séance/1?&=" },
      history: { hid: 123456 },
    } as const;
    for (const kind of ["memories", "sessions", "history"] as const) {
      const c = encodeCursor(kind, keys[kind]);
      expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(kind, c)).toEqual(keys[kind]);
      for (const other of ["memories", "sessions", "history"] as const)
        if (other !== kind) expect(decodeCursor(other, c)).toBeNull();
    }
  });
});
