import { describe, expect, it } from "vitest";
import { MEMORIES_HEADING, SUMMARY_HEADING } from "../src/domain/budget.ts";
import { messageTokens, REPLY_PRIMING_TOKENS, tokenCounter } from "../src/domain/tokens.ts";
import { store, tenantApi, type Api } from "./support/api.ts";
import { CONVERSATION } from "./support/conversation.ts";
import { warmTokenizers } from "./support/tokens.ts";

warmTokenizers();

const prompt = (api: Api, body: Record<string, unknown>) => api.call("POST", "/v1/memory/prompt", body);

async function promptTokens(messages: { role: string; content: string }[], encoding: "o200k_base" | "cl100k_base") {
  const counter = await tokenCounter(encoding);
  return messages.reduce((n, m) => n + messageTokens(counter, m), REPLY_PRIMING_TOKENS);
}

async function seed(api: Api): Promise<void> {
  await store(api, [
    { id: "db", text: "The team chose PostgreSQL for the main database and Redis for caching", namespace: "work" },
    { id: "owner", text: "Maria Lopez is the product owner of the Atlas app", namespace: "work" },
    { id: "food", text: "The user is vegetarian and allergic to peanuts", namespace: "home" },
    { id: "other-user", text: "Bob prefers PostgreSQL too", namespace: "work", user_id: "bob" },
  ]);
  const put = await api.call("PUT", "/v1/working-memory/chat-1", {
    namespace: "work",
    user_id: "alice",
    context: "- user: The launch is scheduled for September 14, 2026.",
    messages: CONVERSATION.slice(-6),
  });
  expect(put.status).toBe(200);
}

describe("POST /v1/memory/prompt", () => {
  it("builds: a system message (summary + relevant long-term memories), recent messages, then the query", async () => {
    const api = await tenantApi();
    await seed(api);
    const res = await prompt(api, {
      query: "Which database did we choose?",
      session: { session_id: "chat-1", namespace: "work", model_name: "gpt-4o" },
      long_term_search: { namespace: { eq: "work" }, limit: 5 },
    });
    expect(res.status).toBe(200);
    const { messages } = res.body;
    expect(messages[0].role).toBe("system");
    expect(messages[0].content).toContain(
      `${SUMMARY_HEADING}\n- user: The launch is scheduled for September 14, 2026.`,
    );
    expect(messages[0].content).toContain(
      `${MEMORIES_HEADING}\n- The team chose PostgreSQL for the main database and Redis for caching (ID: db)`,
    );
    // The session's user (alice) scopes the long-term search: Bob's memory and other namespaces stay out.
    expect(messages[0].content).not.toContain("Bob prefers");
    expect(messages[0].content).not.toContain("vegetarian");
    expect(messages.slice(1, -1)).toEqual(CONVERSATION.slice(-6).map((m) => ({ role: m.role, content: m.content })));
    expect(messages.at(-1)).toEqual({ role: "user", content: "Which database did we choose?" });
    expect(res.body.long_term_memories[0]).toMatchObject({ id: "db", score_type: "hybrid" });
    expect(res.body.token_budget).toBe(128_000);
    expect(res.body.tokens).toBe(await promptTokens(messages, "o200k_base"));
  });

  it("stays within the token budget: older messages and weaker memories give way, the query never does", async () => {
    const api = await tenantApi();
    await seed(api);
    for (const window of [60, 100, 150, 250]) {
      const res = await prompt(api, {
        query: "Which database did we choose?",
        session: { session_id: "chat-1", context_window_max: window },
        long_term_search: { limit: 10 },
      });
      expect(res.status, `window ${window}`).toBe(200);
      const total = await promptTokens(res.body.messages, "cl100k_base");
      expect(total, `window ${window}`).toBeLessThanOrEqual(window);
      expect(res.body.tokens).toBe(total);
      expect(res.body.messages.at(-1).content).toBe("Which database did we choose?");
      const recent = res.body.messages
        .filter((m: any) => m.role !== "system")
        .slice(0, -1)
        .map((m: any) => m.content);
      expect(recent).toEqual(
        CONVERSATION.slice(-6)
          .slice(6 - recent.length)
          .map((m) => m.content),
      );
    }
    const tooSmall = await prompt(api, {
      query: "Which database did we choose?",
      session: { session_id: "chat-1", context_window_max: 10 },
    });
    expect(tooSmall.status).toBe(422);
    expect(tooSmall.body.detail).toMatch(/too small for the query/);
  });

  it("long_term_search: true searches with the query; a missing session contributes nothing", async () => {
    const api = await tenantApi();
    await seed(api);
    const res = await prompt(api, { query: "what is the user allergic to", long_term_search: true });
    expect(res.status).toBe(200);
    expect(res.body.messages).toHaveLength(2);
    expect(res.body.messages[0].content).toContain("allergic to peanuts (ID: food)");
    const none = await prompt(api, { query: "hello", session: { session_id: "no-such-session" } });
    expect(none.body.messages).toEqual([{ role: "user", content: "hello" }]);
    const empty = await prompt(api, {
      query: "zebra migration patterns",
      long_term_search: { text: "zebra migration", namespace: { eq: "nowhere" } },
    });
    expect(empty.body.messages[0].content).toBe(`${MEMORIES_HEADING}\nNo relevant long-term memories found.`);
  });

  it("bad input is a 422 naming the field", async () => {
    const api = await tenantApi();
    const cases: [unknown, string][] = [
      [{}, "query"],
      [{ query: "   ", long_term_search: true }, "query"],
      [{ query: "q" }, "session"],
      [{ query: "q", session: {} }, "session.session_id"],
      [{ query: "q", session: { session_id: "s", model_name: "no-such-model" } }, "model_name"],
      [{ query: "q", session: { session_id: "s", context_window_max: -5 } }, "session.context_window_max"],
      [{ query: "q", long_term_search: { limit: 0 } }, "long_term_search"],
      [{ query: "q", long_term_search: { created_at: { soon: 1 } } }, "long_term_search"],
    ];
    for (const [body, field] of cases) {
      const res = await prompt(api, body as Record<string, unknown>);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.issues.map((i: any) => i.field).join(" "), JSON.stringify(body)).toContain(field);
    }
  });

  it("never includes another tenant's session or memories", async () => {
    const a = await tenantApi();
    const b = await tenantApi();
    await seed(a);
    const res = await prompt(b, {
      query: "Which database did we choose?",
      session: { session_id: "chat-1" },
      long_term_search: { limit: 10 },
    });
    expect(res.status).toBe(200);
    expect(res.body.messages).toEqual([
      { role: "system", content: `${MEMORIES_HEADING}\nNo relevant long-term memories found.` },
      { role: "user", content: "Which database did we choose?" },
    ]);
  });
});

describe("the prompt and other owners' knowledge", () => {
  it("a user's prompt carries neither another user's memories nor the graph facts extracted from them", async () => {
    const api = await tenantApi();
    await api.call("POST", "/v1/ingest", {
      messages: [{ role: "user", content: "I prefer Rust for systems programming" }],
      user_id: "alice",
    });
    await api.call("POST", "/v1/ingest", {
      messages: [{ role: "user", content: "I prefer Go for systems programming" }],
      user_id: "bob",
    });
    const res = await prompt(api, {
      query: "Which language do I prefer for systems programming?",
      long_term_search: { user_id: { eq: "bob" } },
    });
    const text = res.body.messages.map((m: { content: string }) => m.content).join("\n");
    expect(text).toContain("I prefer Go for systems programming");
    expect(text).not.toContain("Rust");
    expect(text).not.toContain("alice");
  });
});
