import { describe, expect, it } from "vitest";
import { chatRole, packPrompt, planSummarization, SUMMARY_HEADING } from "../../src/domain/budget.ts";
import { extractiveSummary, fitLines, sentences } from "../../src/domain/summarize.ts";
import {
  countInPieces,
  messageTokens,
  modelInfo,
  REPLY_PRIMING_TOKENS,
  tokenCounter,
} from "../../src/domain/tokens.ts";
import { CONVERSATION } from "../support/conversation.ts";
import { warmTokenizers } from "../support/tokens.ts";

warmTokenizers();

describe("tokens", () => {
  it("counts exactly for OpenAI models and knows their windows, by prefix and with provider prefixes", async () => {
    expect(modelInfo("gpt-4o")).toEqual({ window: 128_000, encoding: "o200k_base", exact: true });
    expect(modelInfo("gpt-4o-mini-2024-07-18")?.encoding).toBe("o200k_base");
    expect(modelInfo("gpt-4")).toMatchObject({ window: 8_192, encoding: "cl100k_base" });
    expect(modelInfo("openai/gpt-4.1-mini")?.window).toBe(1_047_576);
    expect(modelInfo("@cf/meta/llama-3.1-8b-instruct")).toMatchObject({ window: 128_000, exact: false });
    expect(modelInfo("claude-3-5-sonnet-latest")).toMatchObject({ window: 200_000, exact: false });
    expect(modelInfo("my-own-model")).toBeNull();

    const o200k = await tokenCounter("o200k_base");
    const cl100k = await tokenCounter("cl100k_base");
    // Reference counts from OpenAI's tiktoken.
    expect(o200k.count("hello world")).toBe(2);
    expect(cl100k.count("tiktoken is great!")).toBe(6);
    expect(o200k.count("")).toBe(0);
    // Special-token markers in user text are plain text, never control tokens (and never throw).
    expect(o200k.count("<|endoftext|>")).toBeGreaterThan(1);
    // The chat format: 3 tokens per message plus role and content.
    expect(messageTokens(o200k, { role: "user", content: "hello world" })).toBe(3 + 1 + 2);
  });

  it("counts words thousands of characters long in linear time, within a token per 256 characters", async () => {
    const cl100k = await tokenCounter("cl100k_base");
    const prose = "We decided to use Redis for caching. ".repeat(400);
    // No long word: one pass, exact (the same as counting in one piece).
    expect(countInPieces(prose, (t) => t.length)).toBe(prose.length);
    const t = performance.now();
    for (const run of [
      "é".repeat(99_000),
      "記憶".repeat(49_500),
      "🧠".repeat(50_000),
      `see ${"x".repeat(99_000)} there`,
    ]) {
      const n = cl100k.count(run);
      expect(n).toBeGreaterThan(0);
    }
    // Counted whole, the first of these alone took 21 s (BPE cost grows with the square of a word's length).
    expect(performance.now() - t).toBeLessThan(5_000);
    // Pieces never split a surrogate pair (an odd start puts a boundary inside one).
    const pieces: string[] = [];
    const odd = `a${"🧠".repeat(300)}`;
    countInPieces(odd, (p) => (pieces.push(p), 0));
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces.join("")).toBe(odd);
    const unpaired = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    expect(pieces.some((p) => unpaired.test(p))).toBe(false);
  });
});

describe("offline summarizer", () => {
  it("keeps decisions, names, numbers and dates, drops chit-chat, attributes speakers, fits the budget", async () => {
    const counter = await tokenCounter("cl100k_base");
    const count = (s: string) => counter.count(s);
    const summary = extractiveSummary({ previous: null, messages: CONVERSATION, maxTokens: 150 }, count);
    expect(count(summary)).toBeLessThanOrEqual(150);
    for (const fact of [
      "PostgreSQL",
      "Redis",
      "September 14, 2026",
      "$45,000",
      "Maria Lopez",
      "Mondays",
      "Dmitri Ivanov",
      "August 3",
    ]) {
      expect(summary).toContain(fact);
    }
    for (const filler of ["Hi there", "Thanks!", "Sounds good", "Got it", "weather"])
      expect(summary).not.toContain(filler);
    expect(summary).toContain("- user: We decided to use PostgreSQL for the main database and Redis for caching.");
    // Conversation order is preserved.
    expect(summary.indexOf("Atlas")).toBeLessThan(summary.indexOf("PostgreSQL"));
    // Deterministic.
    expect(extractiveSummary({ previous: null, messages: CONVERSATION, maxTokens: 150 }, count)).toBe(summary);
  });

  it("a tighter budget keeps fewer facts, never filler", async () => {
    const counter = await tokenCounter("cl100k_base");
    const count = (s: string) => counter.count(s);
    const tight = extractiveSummary({ previous: null, messages: CONVERSATION, maxTokens: 60 }, count);
    expect(count(tight)).toBeLessThanOrEqual(60);
    const lines = tight.split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines)
      expect(line).toMatch(/^- user: .*(launch|PostgreSQL|\$45,000|Mondays|Dmitri|August 3|Maria)/);
  });

  it("folds the previous summary in, without repeating what it already says", async () => {
    const counter = await tokenCounter("cl100k_base");
    const count = (s: string) => counter.count(s);
    const first = extractiveSummary({ previous: null, messages: CONVERSATION.slice(0, 8), maxTokens: 200 }, count);
    const next = extractiveSummary(
      {
        previous: first,
        messages: [
          { role: "user", content: "We decided to use PostgreSQL for the main database and Redis for caching." },
          { role: "user", content: "The launch moved to September 21, 2026 because of the App Store review." },
        ],
        maxTokens: 200,
      },
      count,
    );
    expect(next).toContain("September 21, 2026");
    expect(next).toContain("Maria Lopez");
    expect(next.match(/PostgreSQL/g)).toHaveLength(1);
  });

  it("sentences that differ only in a name are different facts; an exact repeat is not", async () => {
    const counter = await tokenCounter("cl100k_base");
    const count = (s: string) => counter.count(s);
    const messages = [
      "Alice decided to use Redis for caching.",
      "Bob decided to use Redis for caching.",
      "Bob decided to use Redis for caching.",
    ].map((content) => ({ role: "user", content }));
    expect(extractiveSummary({ previous: null, messages, maxTokens: 100 }, count).split("\n")).toEqual([
      "- user: Alice decided to use Redis for caching.",
      "- user: Bob decided to use Redis for caching.",
    ]);
  });

  it("sentences that differ only in their numbers are different facts, not repeats", async () => {
    const counter = await tokenCounter("cl100k_base");
    const count = (s: string) => counter.count(s);
    const messages = Array.from({ length: 40 }, (_, i) => ({ role: "user", content: `Item ${i} costs $${i * 10}.` }));
    messages.push({ role: "user", content: "Item 3 costs $30." });
    const summary = extractiveSummary({ previous: null, messages, maxTokens: 100 }, count);
    const lines = summary.split("\n");
    expect(lines.length).toBeGreaterThan(5);
    expect(new Set(lines).size).toBe(lines.length);
    expect(count(summary)).toBeLessThanOrEqual(100);
  });

  it("splits sentences at terminal punctuation, not inside numbers", () => {
    expect(sentences("Version 3.5 ships. Then 4.0 follows!\nNew line here")).toEqual([
      "Version 3.5 ships.",
      "Then 4.0 follows!",
      "New line here",
    ]);
  });

  it("fitLines drops the oldest lines, then cuts words, to fit", async () => {
    const counter = await tokenCounter("cl100k_base");
    const count = (s: string) => counter.count(s);
    expect(fitLines(["one two three", "four five"], 3, count)).toBe("four five");
    const cut = fitLines(["alpha beta gamma delta epsilon zeta"], 3, count);
    expect(count(cut)).toBeLessThanOrEqual(3);
    expect(cut.startsWith("alpha")).toBe(true);
  });
});

describe("summarization plan", () => {
  it("summarizes exactly when the messages exceed threshold × window", () => {
    // window 1000, threshold 0.7: the limit is 700 tokens.
    expect(planSummarization([350, 350], 1000, 0.7)).toEqual({ summarize: false, limit: 700 });
    const plan = planSummarization([350, 351], 1000, 0.7);
    expect(plan.summarize).toBe(true);
  });

  it("keeps the newest messages within 4/7 of the limit and gives the summary up to 2/7", () => {
    const plan = planSummarization([100, 100, 100, 100, 100, 100, 100, 100], 1000, 0.7);
    // keep budget floor(700 * 4/7) = 400 -> the newest 4 messages.
    expect(plan).toEqual({ summarize: true, limit: 700, keep: 4, summaryTokens: 200 });
  });

  it("keeps an oversized newest message alone, and refuses one the budget cannot hold", () => {
    expect(planSummarization([101, 600], 1000, 0.7)).toMatchObject({ summarize: true, keep: 1, summaryTokens: 100 });
    expect(() => planSummarization([10, 695], 1000, 0.7)).toThrow(/too small to hold the last message \(695 tokens\)/);
  });
});

describe("prompt packing", () => {
  const memories = [
    { id: "m1", text: "The team uses PostgreSQL and Redis." },
    { id: "m2", text: "Maria Lopez is the product owner." },
    { id: "m3", text: "Status reports go out on Mondays." },
  ];

  it("one system message (summary + memories), the recent messages, then the query", async () => {
    const counter = await tokenCounter("o200k_base");
    const p = packPrompt(
      {
        query: "When is the launch?",
        summary: "- user: Launch on September 14.",
        memories,
        messages: CONVERSATION.slice(-4),
      },
      4000,
      counter,
    );
    expect(p.messages[0]!.role).toBe("system");
    expect(p.messages[0]!.content).toContain(`${SUMMARY_HEADING}\n- user: Launch on September 14.`);
    expect(p.messages[0]!.content).toContain("- Maria Lopez is the product owner. (ID: m2)");
    expect(p.messages.slice(1, -1).map((m) => m.content)).toEqual(CONVERSATION.slice(-4).map((m) => m.content));
    expect(p.messages.at(-1)).toEqual({ role: "user", content: "When is the launch?" });
    expect(p).toMatchObject({ memoriesUsed: 3, messagesUsed: 4, summaryTruncated: false });
    const total = p.messages.reduce((n, m) => n + messageTokens(counter, m), REPLY_PRIMING_TOKENS);
    expect(p.tokens).toBe(total);
  });

  it("never exceeds the window: older messages and weaker memories give way first", async () => {
    const counter = await tokenCounter("o200k_base");
    for (const window of [60, 90, 120, 200, 300]) {
      const p = packPrompt(
        { query: "When is the launch?", summary: "- user: Launch on September 14.", memories, messages: CONVERSATION },
        window,
        counter,
      );
      const total = p.messages.reduce((n, m) => n + messageTokens(counter, m), REPLY_PRIMING_TOKENS);
      expect(total).toBeLessThanOrEqual(window);
      expect(p.messages.at(-1)!.content).toBe("When is the launch?");
      // What is kept of the conversation is its newest part, in order.
      const kept = p.messages
        .filter((m) => m.role !== "system")
        .slice(0, -1)
        .map((m) => m.content);
      expect(kept).toEqual(CONVERSATION.slice(CONVERSATION.length - kept.length).map((m) => m.content));
      // Memories are kept best-first.
      const ids = [...(p.messages[0]?.content.matchAll(/\(ID: (m\d)\)/g) ?? [])].map((m) => m[1]);
      expect(ids).toEqual(["m1", "m2", "m3"].slice(0, ids.length));
    }
  });

  it("says so when a long-term search found nothing, and refuses a window too small for the query", async () => {
    const counter = await tokenCounter("o200k_base");
    const p = packPrompt({ query: "hi", summary: null, memories: [], messages: [] }, 1000, counter);
    expect(p.messages[0]!.content).toContain("No relevant long-term memories found.");
    expect(() =>
      packPrompt(
        { query: "a long question about many things", summary: null, memories: null, messages: [] },
        8,
        counter,
      ),
    ).toThrow(/too small for the query/);
  });

  it("maps stored roles to chat roles", () => {
    expect(["user", "assistant", "system", "developer", "tool", "function"].map(chatRole)).toEqual([
      "user",
      "assistant",
      "system",
      "system",
      "assistant",
      "assistant",
    ]);
  });
});
