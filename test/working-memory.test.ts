import { describe, expect, it } from "vitest";
import { messageTokens, tokenCounter } from "../src/domain/tokens.ts";
import { call, hubEvents, runScheduled, tenantApi, type Api } from "./support/api.ts";
import { CONVERSATION } from "./support/conversation.ts";
import { fakeOpenAi, LLM_API_KEY, LLM_BASE_URL } from "./support/fake-openai.ts";
import { warmTokenizers } from "./support/tokens.ts";
import { dbOf } from "./support/shards.ts";

warmTokenizers();

const put = (api: Api, id: string, body: Record<string, unknown>, query = "") =>
  api.call("PUT", `/v1/working-memory/${id}${query}`, body);
const get = (api: Api, id: string, query = "") => api.call("GET", `/v1/working-memory/${id}${query}`);

async function rowCount(tenant: string): Promise<number> {
  const row = await (
    await dbOf(tenant)
  )
    .prepare("SELECT count(*) AS n FROM working_memory WHERE tenant = ?")
    .bind(tenant)
    .first<{ n: number }>();
  return row!.n;
}

/** Chat-format tokens of messages, as the server counts them for a cl100k model (gpt-4). */
async function tokensOf(messages: { role: string; content: string }[]): Promise<number> {
  const counter = await tokenCounter("cl100k_base");
  return messages.reduce((n, m) => n + messageTokens(counter, m), 0);
}

describe("working memory: round trip", () => {
  it("PUT stores the session and GET returns it as AMS clients read it", async () => {
    const api = await tenantApi();
    const res = await put(api, "s1", {
      messages: [
        { role: "user", content: "Hello", created_at: "2026-01-01T10:00:00Z" },
        { role: "assistant", content: "Hi there", id: "m-2" },
      ],
      memories: [{ id: "wm-1", text: "User prefers direct communication", memory_type: "semantic" }],
      context: "Previous conversation summary...",
      data: { mood: "curious", turns: 2 },
      namespace: "default",
      user_id: "u1",
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      session_id: "s1",
      namespace: "default",
      user_id: "u1",
      context: "Previous conversation summary...",
      data: { mood: "curious", turns: 2 },
      long_term_memory_strategy: { strategy: "discrete", config: {} },
      ttl_seconds: null,
      new_session: true,
      unsaved: null,
      // AMS reports usage only when the client names its model or window.
      context_percentage_total_used: null,
      context_percentage_until_summarization: null,
    });
    expect(res.body.messages[0]).toMatchObject({
      role: "user",
      content: "Hello",
      created_at: "2026-01-01T10:00:00.000Z",
    });
    expect(res.body.messages[0].id).toMatch(/^[0-9A-Z]{26}$/);
    expect(res.body.messages[1].id).toBe("m-2");
    expect(res.body.tokens).toBe(
      await tokensOf([
        { role: "user", content: "Hello" },
        { role: "assistant", content: "Hi there" },
      ]),
    );
    expect(res.body.memories[0]).toMatchObject({
      id: "wm-1",
      text: "User prefers direct communication",
      session_id: "s1",
      namespace: "default",
      user_id: "u1",
    });

    const got = await get(api, "s1");
    expect(got.status).toBe(200);
    expect(got.body.messages).toEqual(res.body.messages);
    expect(got.body.new_session).toBe(false);
    expect(got.body.data).toEqual({ mood: "curious", turns: 2 });

    const again = await put(api, "s1", { messages: [{ role: "user", content: "Replaced" }] });
    expect(again.body.new_session).toBe(false);
    expect((await get(api, "s1")).body).toMatchObject({
      messages: [{ content: "Replaced" }],
      context: null,
      data: null,
      memories: [],
    });
  });

  it("a GET right after a PUT finds the session whatever namespace/user_id combination it names (AMS #235)", async () => {
    const api = await tenantApi();
    await put(api, "s-235", { messages: [{ role: "user", content: "hi" }], namespace: "ns1", user_id: "alice" });
    for (const q of ["", "?namespace=ns1", "?user_id=alice", "?namespace=ns1&user_id=alice"]) {
      expect((await get(api, "s-235", q)).status, q).toBe(200);
    }
    // Naming a different namespace or user is a miss, with a message clients can show.
    for (const q of ["?namespace=ns2", "?user_id=bob", "?namespace=ns1&user_id=bob"]) {
      const miss = await get(api, "s-235", q);
      expect(miss.status, q).toBe(404);
      expect(miss.body.detail).toBe("session s-235 not found");
    }
    // The namespace and user may also come as query parameters of the PUT (the body wins).
    await put(api, "s-q", { messages: [] }, "?namespace=nsq&user_id=carol");
    expect((await get(api, "s-q", "?namespace=nsq&user_id=carol")).status).toBe(200);
    expect((await get(api, "missing")).status).toBe(404);
  });

  it("reports context usage against the client's model or window, and trims what GET returns to it", async () => {
    const api = await tenantApi();
    const messages = CONVERSATION.slice(0, 6);
    const tokens = await tokensOf(messages);
    const res = await put(api, "usage", { messages }, "?model_name=gpt-4");
    expect(res.body.tokens).toBe(tokens);
    expect(res.body.context_percentage_total_used).toBeCloseTo((tokens / 8192) * 100, 1);
    expect(res.body.context_percentage_until_summarization).toBeCloseTo((tokens / Math.floor(8192 * 0.7)) * 100, 1);

    // A window smaller than the session: GET returns the newest messages that fit (at least one).
    const last3 = await tokensOf(messages.slice(-3));
    const trimmed = await get(api, "usage", `?context_window_max=${last3}`);
    expect(trimmed.body.messages.map((m: any) => m.content)).toEqual(messages.slice(-3).map((m) => m.content));
    expect(trimmed.body.context_percentage_total_used).toBe(100);
    expect((await get(api, "usage", "?context_window_max=1")).body.messages).toHaveLength(1);
    expect((await get(api, "usage", "?recent_messages_limit=2")).body.messages.map((m: any) => m.content)).toEqual(
      messages.slice(-2).map((m) => m.content),
    );
  });
});

describe("working memory: list and delete", () => {
  it("lists session ids (newest first), paginated, filtered by namespace and user", async () => {
    const api = await tenantApi();
    for (let i = 0; i < 12; i++) {
      await put(api, `s${String(i).padStart(2, "0")}`, {
        messages: [],
        namespace: i % 2 ? "odd" : "even",
        user_id: i < 6 ? "u1" : "u2",
      });
    }
    const first = await api.call("GET", "/v1/working-memory/");
    expect(first.body.total).toBe(12);
    expect(first.body.sessions).toHaveLength(10);
    expect(first.body.sessions[0]).toBe("s11");
    const rest = await api.call("GET", "/v1/working-memory?offset=10&limit=10");
    expect(rest.body.sessions).toEqual(["s01", "s00"]);
    const odd = await api.call("GET", "/v1/working-memory/?namespace=odd&user_id=u2&limit=100");
    expect(odd.body).toEqual({ sessions: ["s11", "s09", "s07"], total: 3, next_cursor: null });
  });

  it("DELETE removes messages, context, memories and data; it is idempotent", async () => {
    const api = await tenantApi();
    await put(api, "gone", {
      messages: [{ role: "user", content: "x" }],
      context: "c",
      data: { a: 1 },
      namespace: "ns",
    });
    // A delete naming another namespace does not touch it.
    await api.call("DELETE", "/v1/working-memory/gone?namespace=other");
    expect((await get(api, "gone")).status).toBe(200);
    expect((await api.call("DELETE", "/v1/working-memory/gone?namespace=ns")).body).toEqual({ status: "ok" });
    expect((await get(api, "gone")).status).toBe(404);
    expect(await rowCount(api.tenant)).toBe(0);
    expect((await api.call("DELETE", "/v1/working-memory/gone")).body).toEqual({ status: "ok" });
    const events = (await hubEvents(api.tenant)).filter((e) => e.type.startsWith("session_"));
    expect(events.map((e) => [e.type, e.session.session_id, e.reason])).toEqual([
      ["session_updated", "gone", "created"],
      ["session_deleted", "gone", undefined],
    ]);
  });
});

describe("working memory: events", () => {
  it("announce a snapshot of the session, never the whole transcript", async () => {
    const api = await tenantApi();
    const long = "word ".repeat(1000).trim();
    await put(api, "snap", {
      messages: [
        { role: "user", content: "first" },
        { role: "assistant", content: long },
      ],
      context: long,
      user_id: "u",
    });
    const [event] = await hubEvents(api.tenant);
    expect(event).toMatchObject({
      type: "session_updated",
      actor: `user-of-${api.tenant}`,
      reason: "created",
      session: { session_id: "snap", user_id: "u", message_count: 2, memory_count: 0, summarized_messages: 0 },
    });
    expect(event!.session.last_message.content).toHaveLength(1001);
    expect(event!.session.context).toHaveLength(1001);
    expect(JSON.stringify(event)).not.toContain('"first"');
  });
});

describe("working memory: summarization", () => {
  it("summarizes exactly when the messages exceed threshold × window, keeping the newest within budget", async () => {
    const api = await tenantApi();
    // gpt-4 (cl100k, exact): a window chosen so the conversation sits exactly at the threshold.
    const messages = CONVERSATION;
    const total = await tokensOf(messages);
    const window = Math.ceil(total / 0.7);
    expect(Math.floor(window * 0.7)).toBeGreaterThanOrEqual(total);

    const atLimit = await put(api, "sum", { messages }, `?model_name=gpt-4&context_window_max=${window}`);
    expect(atLimit.status).toBe(200);
    expect(atLimit.body.messages).toHaveLength(messages.length);
    expect(atLimit.body.context).toBeNull();

    // One more message tips it over: older messages are summarized into context and dropped.
    const more = [...messages, { role: "user", content: "Please remember the launch checklist." }];
    const over = await put(api, "sum", { messages: more }, `?model_name=gpt-4&context_window_max=${window}`);
    expect(over.status).toBe(200);
    const kept = over.body.messages.map((m: any) => m.content);
    expect(kept.length).toBeLessThan(more.length);
    expect(kept).toEqual(more.slice(more.length - kept.length).map((m) => m.content));
    expect(kept.at(-1)).toBe("Please remember the launch checklist.");
    const limit = Math.floor(window * 0.7);
    expect(over.body.tokens).toBeLessThanOrEqual(Math.floor((limit * 4) / 7));
    // The offline summary keeps the facts of the summarized part, verbatim and attributed.
    expect(over.body.context).toContain(
      "- user: We decided to use PostgreSQL for the main database and Redis for caching.",
    );
    expect(over.body.context).toContain("September 14, 2026");
    expect(over.body.context).not.toContain("Hi there");
    expect((await tokenCounter("cl100k_base")).count(over.body.context)).toBeLessThanOrEqual(
      Math.floor((limit * 2) / 7),
    );
    expect(over.body.context_percentage_until_summarization).toBeLessThan(100);

    // Stored as returned, and announced.
    expect((await get(api, "sum")).body.context).toBe(over.body.context);
    const last = (await hubEvents(api.tenant)).at(-1)!;
    expect(last).toMatchObject({ type: "session_updated", reason: "summarized" });
    expect(last.session).toMatchObject({
      session_id: "sum",
      message_count: kept.length,
      summarized_messages: more.length - kept.length,
    });
  });

  it("folds the previous context into the new summary", async () => {
    const api = await tenantApi();
    const res = await put(
      api,
      "fold",
      { context: "- user: The launch budget was raised to $60,000 on July 2.", messages: CONVERSATION },
      "?model_name=gpt-4&context_window_max=300",
    );
    expect(res.body.messages.length).toBeLessThan(CONVERSATION.length);
    expect(res.body.context).toContain("- user: The launch budget was raised to $60,000 on July 2.");
    expect(res.body.context).toContain("Atlas");
  });

  it("can be switched off by configuration", async () => {
    const api = await tenantApi({ env: { WORKING_MEMORY_SUMMARIZATION: "false" } });
    const res = await put(api, "nosum", { messages: CONVERSATION }, "?context_window_max=200");
    expect(res.body.messages).toHaveLength(CONVERSATION.length);
    expect(res.body.context).toBeNull();
    expect(res.body.context_percentage_total_used).toBe(100);
  });

  it("uses the configured LLM when there is one (OpenAI-compatible double)", async () => {
    const fake = fakeOpenAi();
    try {
      fake.reply = () => "Maria Lopez leads the Atlas launch (September 14, 2026); PostgreSQL + Redis chosen.";
      const api = await tenantApi({ env: { LLM_BASE_URL, LLM_API_KEY, LLM_MODEL: "gpt-4o-mini" } });
      const res = await put(api, "remote", { messages: CONVERSATION }, "?model_name=gpt-4o&context_window_max=300");
      expect(res.body.context).toBe(
        "Maria Lopez leads the Atlas launch (September 14, 2026); PostgreSQL + Redis chosen.",
      );
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0]!.body.model).toBe("gpt-4o-mini");
      expect(fake.requests[0]!.body.messages[1]!.content).toContain("user: We decided to use PostgreSQL");
    } finally {
      fake.restore();
    }
  });

  it("a provider failure loses nothing: all messages are kept, with a warning, and the next write summarizes", async () => {
    const fake = fakeOpenAi();
    try {
      const api = await tenantApi({ env: { LLM_BASE_URL, LLM_API_KEY, LLM_MAX_RETRIES: "1" } });
      fake.queue(
        { kind: "status", status: 503, retryAfter: "0", message: "overloaded" },
        { kind: "status", status: 503, retryAfter: "0", message: "overloaded" },
      );
      const res = await put(api, "down", { messages: CONVERSATION }, "?model_name=gpt-4o&context_window_max=300");
      expect(res.status).toBe(200);
      expect(res.body.messages).toHaveLength(CONVERSATION.length);
      expect(res.body.context).toBeNull();
      expect(res.body.warnings).toEqual([
        `summarization failed (LLM provider answered 503: overloaded); all ${CONVERSATION.length} messages were kept and will be summarized on a later write`,
      ]);
      expect(fake.requests).toHaveLength(2);
      expect((await get(api, "down")).body.messages).toHaveLength(CONVERSATION.length);

      const retry = await put(api, "down", { messages: CONVERSATION }, "?model_name=gpt-4o&context_window_max=300");
      expect(retry.body.warnings).toBeUndefined();
      expect(retry.body.context).toMatch(/^Summary: /);
      expect(retry.body.messages.length).toBeLessThan(CONVERSATION.length);
    } finally {
      fake.restore();
    }
  });
});

describe("working memory: promotion to long-term memory", () => {
  it("promotes structured memories in the background, deduplicated by id", async () => {
    const api = await tenantApi();
    const body = {
      namespace: "ns",
      user_id: "u1",
      messages: [{ role: "user", content: "I am vegetarian." }],
      memories: [
        { id: "pref-1", text: "User is vegetarian", memory_type: "semantic", topics: ["food"] },
        { id: "pref-1", text: "User is vegetarian", memory_type: "semantic", topics: ["food"] },
        { text: "User lives in Lisbon", memory_type: "episodic" },
      ],
    };
    const res = await put(api, "promo", body);
    expect(res.body.memories).toHaveLength(2);
    const lisbonId = res.body.memories[1].id;

    // call() waits for the response's background work, as the runtime does.
    const longTerm = await api.call("GET", "/v1/long-term-memory/pref-1");
    expect(longTerm.status).toBe(200);
    expect(longTerm.body).toMatchObject({
      text: "User is vegetarian",
      session_id: "promo",
      namespace: "ns",
      user_id: "u1",
      topics: ["food"],
    });
    expect((await api.call("GET", `/v1/long-term-memory/${lisbonId}`)).body.text).toBe("User lives in Lisbon");
    const session = await get(api, "promo");
    expect(session.body.memories.every((m: any) => typeof m.persisted_at === "string")).toBe(true);

    // Writing the session back as returned promotes nothing again.
    await put(api, "promo", { ...body, memories: session.body.memories });
    // The same id with new text updates the long-term memory instead of adding one.
    await put(api, "promo", { ...body, memories: [{ id: "pref-1", text: "User is vegan", memory_type: "semantic" }] });
    expect((await api.call("GET", "/v1/long-term-memory/pref-1")).body.text).toBe("User is vegan");
    const memoryEvents = (await hubEvents(api.tenant)).filter((e) => e.type.startsWith("memory_"));
    expect(memoryEvents.map((e) => [e.type, e.memory.id])).toEqual([
      ["memory_created", "pref-1"],
      ["memory_created", lisbonId],
      ["memory_updated", "pref-1"],
    ]);
    const all = await api.call("POST", "/v1/long-term-memory/search", { text: "", limit: 100 });
    expect(all.body.total).toBe(2);
  });
});

describe("working memory: TTL", () => {
  it("a session with ttl_seconds expires: not found, not listed, purged by the scheduled handler", async () => {
    const api = await tenantApi();
    const res = await put(api, "short", { messages: [{ role: "user", content: "x" }], ttl_seconds: 60 });
    expect(res.body.ttl_seconds).toBe(60);
    expect(Date.parse(res.body.expires_at) - Date.now()).toBeGreaterThan(55_000);
    await put(api, "long", { messages: [] });

    await (
      await dbOf(api.tenant)
    )
      .prepare("UPDATE working_memory SET expires_at = ? WHERE tenant = ? AND session_id = 'short'")
      .bind(Date.now() - 1, api.tenant)
      .run();
    expect((await get(api, "short")).status).toBe(404);
    expect((await api.call("GET", "/v1/working-memory/")).body).toEqual({
      sessions: ["long"],
      total: 1,
      next_cursor: null,
    });
    expect(await rowCount(api.tenant)).toBe(2);

    await runScheduled(api.env);
    expect(await rowCount(api.tenant)).toBe(1);
    const last = (await hubEvents(api.tenant)).at(-1)!;
    expect(last).toMatchObject({
      type: "session_deleted",
      actor: "system",
      reason: "expired",
      session: { session_id: "short" },
    });

    // An expired session's id starts afresh.
    const reborn = await put(api, "short", { messages: [] });
    expect(reborn.body.new_session).toBe(true);
  });
});

describe("working memory: tenant isolation", () => {
  it("one tenant can neither read, list, overwrite nor delete another's session", async () => {
    const a = await tenantApi();
    const b = await tenantApi();
    await put(a, "same-id", { messages: [{ role: "user", content: "A's secret plan" }] });
    expect((await get(b, "same-id")).status).toBe(404);
    expect((await b.call("GET", "/v1/working-memory/")).body).toEqual({ sessions: [], total: 0, next_cursor: null });
    await b.call("DELETE", "/v1/working-memory/same-id");
    await put(b, "same-id", { messages: [{ role: "user", content: "B's own" }] });
    expect((await get(a, "same-id")).body.messages[0].content).toBe("A's secret plan");
    expect((await get(b, "same-id")).body.messages[0].content).toBe("B's own");
    expect((await hubEvents(b.tenant)).every((e) => e.session?.last_message?.content !== "A's secret plan")).toBe(true);
  });
});

describe("working memory: bad input", () => {
  const cases: [string, string, unknown, number, string][] = [
    ["unknown role", "", { messages: [{ role: "wizard", content: "hi" }] }, 422, "messages.0.role"],
    ["empty content", "", { messages: [{ role: "user", content: "" }] }, 422, "messages.0.content"],
    ["blank content", "", { messages: [{ role: "user", content: "   " }] }, 422, "messages.0.content"],
    ["missing content", "", { messages: [{ role: "user" }] }, 422, "messages.0.content"],
    ["messages not a list", "", { messages: "hello" }, 422, "messages"],
    ["session_id differs from the path", "", { session_id: "other", messages: [] }, 422, "session_id"],
    ["ttl not positive", "", { ttl_seconds: 0 }, 422, "ttl_seconds"],
    ["data not an object", "", { data: [1, 2] }, 422, "data"],
    ["memory without text", "", { memories: [{ id: "x" }] }, 422, "memories.0.text"],
    ["unknown model", "?model_name=gpt-unknown-9", { messages: [] }, 422, "model_name"],
    ["window not a number", "?context_window_max=lots", { messages: [] }, 422, "context_window_max"],
    ["window zero", "?context_window_max=0", { messages: [] }, 422, "context_window_max"],
    [
      "budget too small for the last message",
      "?context_window_max=40",
      {
        messages: [
          { role: "user", content: "hello" },
          { role: "user", content: "word ".repeat(200) },
        ],
      },
      422,
      "messages",
    ],
  ];
  for (const [name, query, body, status, field] of cases) {
    it(`${name} → ${status} naming ${field}, nothing written`, async () => {
      const api = await tenantApi();
      const res = await put(api, "bad", body as Record<string, unknown>, query);
      expect(res.status).toBe(status);
      expect(res.body.issues?.map((i: any) => i.field) ?? [res.body.error]).toContain(field);
      expect(res.body.detail).toBeTruthy();
      expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|\.ts:\d+/);
      expect(await rowCount(api.tenant)).toBe(0);
    });
  }

  it("a failed write leaves the previous version untouched", async () => {
    const api = await tenantApi();
    await put(api, "keep", { messages: [{ role: "user", content: "original" }] });
    expect((await put(api, "keep", { messages: [{ role: "nobody", content: "x" }] })).status).toBe(422);
    expect(
      (await put(api, "keep", { messages: [{ role: "user", content: "w ".repeat(300) }] }, "?context_window_max=50"))
        .status,
    ).toBe(422);
    expect((await get(api, "keep")).body.messages.map((m: any) => m.content)).toEqual(["original"]);
  });

  it("giant payloads and non-JSON bodies are refused before anything is parsed", async () => {
    const api = await tenantApi({ env: { MAX_BODY_BYTES: "10000" } });
    const giant = await put(api, "big", { messages: [{ role: "user", content: "x".repeat(20_000) }] });
    expect(giant.status).toBe(413);
    const notJson = await api.call("PUT", "/v1/working-memory/big", "{not json");
    expect(notJson.status).toBe(400);
    expect(await rowCount(api.tenant)).toBe(0);
  });

  it("too many messages, and list parameters out of range", async () => {
    const api = await tenantApi();
    const many = Array.from({ length: 5001 }, () => ({ role: "user", content: "x" }));
    expect((await put(api, "many", { messages: many })).status).toBe(422);
    expect((await api.call("GET", "/v1/working-memory/?limit=0")).status).toBe(422);
    expect((await api.call("GET", "/v1/working-memory/?offset=-1")).status).toBe(422);
  });
});

describe("working memory: auth", () => {
  it("reads need memory:read and writes memory:write", async () => {
    const reader = await tenantApi({ scope: "memory:read" });
    expect((await put(reader, "s", { messages: [] })).status).toBe(403);
    expect((await reader.call("GET", "/v1/working-memory/")).status).toBe(200);
    expect((await call(reader.env, "GET", "/v1/working-memory/")).status).toBe(401);
    expect((await call(reader.env, "POST", "/v1/memory/prompt", { query: "q", long_term_search: true })).status).toBe(
      401,
    );
  });
});
