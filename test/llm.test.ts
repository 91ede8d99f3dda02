import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChatLlm } from "../src/ai/chat-llm.ts";
import { LlmError, retryAfter } from "../src/ai/llm.ts";
import { OfflineLlm } from "../src/ai/offline-llm.ts";
import { OpenAiChat } from "../src/ai/openai-chat.ts";
import { WorkersAiChat, type AiRunner } from "../src/ai/workers-ai-chat.ts";
import { ABSTAIN_ANSWER } from "../src/domain/relevance.ts";
import { tokenCounter } from "../src/domain/tokens.ts";
import { store, tenantApi } from "./support/api.ts";
import { fakeOpenAi, LLM_API_KEY, LLM_BASE_URL, type FakeOpenAi } from "./support/fake-openai.ts";
import { warmTokenizers } from "./support/tokens.ts";
import { CONVERSATION } from "./support/conversation.ts";

warmTokenizers();

const MESSAGES = [
  { role: "system" as const, content: "Be brief." },
  { role: "user" as const, content: "Say hello." },
];

function openAi(overrides: Partial<ConstructorParameters<typeof OpenAiChat>[0]> = {}) {
  return new OpenAiChat({
    baseUrl: `${LLM_BASE_URL}/`,
    apiKey: LLM_API_KEY,
    model: "gpt-4o-mini",
    timeoutMs: 2_000,
    retry: { retries: 2, baseMs: 1 },
    ...overrides,
  });
}

async function collect(stream: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

async function failure(p: Promise<unknown>): Promise<LlmError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LlmError);
    return e as LlmError;
  }
  throw new Error("expected a failure");
}

describe("OpenAI-compatible chat model (against a local OpenAI-compatible double)", () => {
  let fake: FakeOpenAi;
  beforeEach(() => {
    fake = fakeOpenAi();
  });
  afterEach(() => fake.restore());

  it("reports the tokens a completion spent (OpenAI's usage)", async () => {
    const usage: unknown[] = [];
    await openAi().complete(MESSAGES, { onUsage: (u) => usage.push(u) });
    expect(usage).toEqual([{ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }]);
  });

  it("sends the chat-completions request shape and reads the reply", async () => {
    const text = await openAi().complete(MESSAGES, { maxTokens: 50, temperature: 0.2 });
    expect(text).toBe("Summary: 1 lines covered.");
    expect(fake.requests).toHaveLength(1);
    const [req] = fake.requests;
    expect(req!.url).toBe(`${LLM_BASE_URL}/chat/completions`);
    expect(req!.headers.authorization).toBe(`Bearer ${LLM_API_KEY}`);
    expect(req!.headers["content-type"]).toBe("application/json");
    expect(req!.body).toEqual({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: false,
      max_tokens: 50,
      temperature: 0.2,
    });
  });

  it("streams tokens in order, across chunk boundaries that split SSE lines", async () => {
    fake.queue({ kind: "reply", text: "The launch is on September 14, 2026." });
    const chunks = await collect(openAi().stream(MESSAGES));
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.join("")).toBe("The launch is on September 14, 2026.");
    expect(fake.requests[0]!.body.stream).toBe(true);
    expect(fake.requests[0]!.headers.accept).toBe("text/event-stream");
  });

  it("retries 429 and 5xx with backoff, honouring Retry-After, then succeeds", async () => {
    fake.queue(
      { kind: "status", status: 429, retryAfter: "0", message: "Rate limit reached" },
      { kind: "status", status: 503 },
    );
    expect(await openAi().complete(MESSAGES)).toBe("Summary: 1 lines covered.");
    expect(fake.requests).toHaveLength(3);
  });

  it("gives up after the retries with a clear error naming the provider's answer", async () => {
    fake.queue(
      ...Array.from({ length: 3 }, () => ({ kind: "status" as const, status: 502, message: "upstream overloaded" })),
    );
    const err = await failure(openAi().complete(MESSAGES));
    expect(err.kind).toBe("unavailable");
    expect(err.message).toBe("LLM provider answered 502: upstream overloaded");
    expect(fake.requests).toHaveLength(3);
  });

  it("does not retry what can never succeed (a 401, a 400)", async () => {
    const err = await failure(openAi({ apiKey: "wrong" }).complete(MESSAGES));
    expect(err).toMatchObject({ kind: "rejected", retryable: false });
    expect(err.message).toContain("401: Incorrect API key provided");
    expect(fake.requests).toHaveLength(0);
    const bad = await failure(openAi().complete([]));
    expect(bad.message).toContain("400");
  });

  it("network failures are retried; a provider that stays unreachable is reported", async () => {
    fake.queue({ kind: "network" });
    expect(await openAi().complete(MESSAGES)).toBe("Summary: 1 lines covered.");
    fake.queue({ kind: "network" }, { kind: "network" }, { kind: "network" });
    const err = await failure(openAi().complete(MESSAGES));
    expect(err.message).toBe("LLM provider unreachable: Network connection lost.");
  });

  it("times out a provider that does not answer, without retrying the wait", async () => {
    fake.queue({ kind: "hang" });
    const started = Date.now();
    const err = await failure(openAi({ timeoutMs: 50 }).complete(MESSAGES));
    expect(err).toMatchObject({ kind: "timeout", message: "LLM provider timed out after 50 ms" });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(fake.requests).toHaveLength(1);
  });

  it("reports malformed answers: a body that is not JSON, a stream cut short, a stalled stream", async () => {
    fake.queue({ kind: "not-json" });
    expect((await failure(openAi().complete(MESSAGES))).kind).toBe("malformed");

    fake.queue({ kind: "cut-stream", text: "partial answer" });
    const cut = await failure(collect(openAi().stream(MESSAGES)));
    expect(cut.message).toBe("LLM stream ended before the completion finished");

    fake.queue({ kind: "stall-stream", text: "first words then silence" });
    const stalled = await failure(collect(openAi({ timeoutMs: 100 }).stream(MESSAGES)));
    expect(stalled).toMatchObject({ kind: "timeout", message: "LLM stream stalled: no data for 100 ms" });
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(retryAfter("2")).toBe(2000);
    expect(retryAfter(new Date(Date.now() + 3000).toUTCString(), Date.now())).toBeGreaterThan(1000);
    expect(retryAfter(null)).toBeNull();
    expect(retryAfter("soon")).toBeNull();
  });
});

describe("summarizing with a chat model", () => {
  let fake: FakeOpenAi;
  beforeEach(() => {
    fake = fakeOpenAi();
  });
  afterEach(() => fake.restore());

  it("prompts with the previous summary and the transcript, and enforces the token budget", async () => {
    const counter = await tokenCounter("o200k_base");
    fake.reply = () => "Maria Lopez owns the Atlas launch on September 14, 2026. ".repeat(20);
    const llm = new ChatLlm(openAi(), "gpt-4o-mini");
    const summary = await llm.summarize({
      previous: "- user: The budget is $45,000.",
      messages: CONVERSATION.slice(0, 5),
      maxTokens: 40,
      count: (t) => counter.count(t),
    });
    expect(counter.count(summary)).toBeLessThanOrEqual(40);
    expect(summary).toContain("Maria Lopez owns the Atlas launch");
    const sent = fake.requests[0]!.body;
    expect(sent.max_tokens).toBe(40);
    expect(sent.messages[0]!.role).toBe("system");
    expect(sent.messages[0]!.content).toContain("Stay under 40 tokens");
    expect(sent.messages[1]!.content).toContain("Previous summary:\n- user: The budget is $45,000.");
    expect(sent.messages[1]!.content).toContain("user: The launch is scheduled for September 14, 2026.");
  });

  it("summarizes a transcript longer than the model's window in rounds, never dropping messages", async () => {
    const counter = await tokenCounter("cl100k_base");
    let round = 0;
    fake.reply = () => `Round ${++round} summary.`;
    // gpt-4 has an 8k window: 400 messages of ~60 tokens need several rounds.
    const messages = Array.from({ length: 400 }, (_, i) => ({
      role: "user",
      content: `Fact number ${i}: ${"detail ".repeat(50)}`,
    }));
    const llm = new ChatLlm(openAi({ model: "gpt-4" }), "gpt-4");
    const summary = await llm.summarize({ previous: null, messages, maxTokens: 500, count: (t) => counter.count(t) });
    expect(fake.requests.length).toBeGreaterThan(2);
    expect(summary).toBe(`Round ${fake.requests.length} summary.`);
    // Each round carries the previous round's summary; together the rounds saw every message.
    expect(fake.requests[1]!.body.messages[1]!.content).toContain("Previous summary:\nRound 1 summary.");
    const seen = fake.requests.map((r) => r.body.messages[1]!.content).join("\n");
    for (const i of [0, 199, 399]) expect(seen).toContain(`Fact number ${i}:`);
  });

  it("an empty answer is an error, not an empty summary", async () => {
    const counter = await tokenCounter("cl100k_base");
    fake.reply = () => "   ";
    const llm = new ChatLlm(openAi(), "gpt-4o-mini");
    const err = await failure(
      llm.summarize({ previous: null, messages: CONVERSATION, maxTokens: 100, count: (t) => counter.count(t) }),
    );
    expect(err.kind).toBe("malformed");
  });
});

describe("answering with a chat model", () => {
  let fake: FakeOpenAi;
  beforeEach(() => {
    fake = fakeOpenAi();
  });
  afterEach(() => fake.restore());

  it("the system prompt tells the model to say it has no memory of it when the memories do not contain the answer", async () => {
    fake.reply = () => ABSTAIN_ANSWER;
    const llm = new ChatLlm(openAi(), "gpt-4o-mini");
    const answer = await collect(
      llm.answer({
        question: "Am I allergic to anything?",
        memories: [{ id: "m1", text: "I drink coffee", score: 0.4 }],
        facts: [],
      }),
    );
    expect(answer.join("")).toBe(ABSTAIN_ANSWER);
    const [system, user] = fake.requests[0]!.body.messages;
    expect(system!.content).toContain(
      `If the memories and facts given do not contain the answer, answer exactly "${ABSTAIN_ANSWER}"`,
    );
    expect(user!.content).toContain("[m1] I drink coffee");
  });

  it("think does not call the model when nothing retrieved is relevant, and does when something is", async () => {
    const api = await tenantApi({ env: { LLM_BASE_URL, LLM_API_KEY } });
    await store(api, [
      { id: "r1", text: "We decided to use Redis for caching" },
      { id: "k1", text: "Alice is going to Kyoto next month" },
    ]);
    for (const stream of [false, true]) {
      const res = await api.call("POST", "/v1/think", { question: "Do I have any diet or allergies?", stream });
      expect(stream ? String(res.body) : res.body.answer).toContain(ABSTAIN_ANSWER);
    }
    expect(fake.requests).toHaveLength(0);
    fake.reply = () => "You use Redis for caching [r1].";
    const known = await api.call("POST", "/v1/think", { question: "what do we use for caching?" });
    expect(known.body).toMatchObject({ answer: "You use Redis for caching [r1].", citations: [{ memory_id: "r1" }] });
    expect(fake.requests).toHaveLength(1);
    // Only the relevant memories reach the model.
    expect(fake.requests[0]!.body.messages[1]!.content).not.toContain("Kyoto");
  });
});

describe("Workers AI chat model (against a stand-in for the AI binding)", () => {
  /** Answers like Workers AI: `{response}`, or an SSE stream of `{response}` events ending in [DONE]. */
  function fakeAi(behaviour: "ok" | "capacity" | "invalid" = "ok") {
    const calls: { model: string; inputs: Record<string, unknown> }[] = [];
    const ai: AiRunner = {
      async run(model, inputs) {
        calls.push({ model, inputs });
        if (behaviour === "capacity" && calls.length < 2)
          throw new Error("3040: Capacity temporarily exceeded, please try again.");
        if (behaviour === "invalid") throw new Error("5006: Error: required properties at '/' are 'messages'");
        if (!inputs.stream)
          return {
            response: "Hello from Llama.",
            usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 },
          };
        const body =
          ["Hello", " from", " Llama."].map((t) => `data: ${JSON.stringify({ response: t })}\n\n`).join("") +
          "data: [DONE]\n\n";
        return new Response(body).body;
      },
    };
    return { ai, calls };
  }

  it("completes and streams with the binding's request and response shapes", async () => {
    const { ai, calls } = fakeAi();
    const chat = new WorkersAiChat(ai, "@cf/meta/llama-3.1-8b-instruct", 1000, { retries: 2, baseMs: 1 });
    expect(await chat.complete(MESSAGES, { maxTokens: 64 })).toBe("Hello from Llama.");
    expect(calls[0]).toEqual({
      model: "@cf/meta/llama-3.1-8b-instruct",
      inputs: { messages: MESSAGES, stream: false, max_tokens: 64 },
    });
    expect(await collect(chat.stream(MESSAGES))).toEqual(["Hello", " from", " Llama."]);
    expect(calls[1]!.inputs.stream).toBe(true);
  });

  it("reports the tokens a completion spent, when the model says", async () => {
    const { ai } = fakeAi();
    const usage: unknown[] = [];
    const chat = new WorkersAiChat(ai, "m", 1000, { retries: 0, baseMs: 1 });
    await chat.complete(MESSAGES, { onUsage: (u) => usage.push(u) });
    expect(usage).toEqual([{ prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 }]);
    // A model that reports none (or garbage) answers all the same.
    const bare: AiRunner = { run: async () => ({ response: "Hi.", usage: { prompt_tokens: "many" } }) };
    expect(await new WorkersAiChat(bare, "m", 1000, { retries: 0, baseMs: 1 }).complete(MESSAGES)).toBe("Hi.");
  });

  it("retries capacity errors and does not retry invalid input", async () => {
    const busy = fakeAi("capacity");
    expect(await new WorkersAiChat(busy.ai, "m", 1000, { retries: 2, baseMs: 1 }).complete(MESSAGES)).toBe(
      "Hello from Llama.",
    );
    expect(busy.calls).toHaveLength(2);
    const invalid = fakeAi("invalid");
    const err = await failure(new WorkersAiChat(invalid.ai, "m", 1000, { retries: 2, baseMs: 1 }).complete(MESSAGES));
    expect(err).toMatchObject({ kind: "rejected", retryable: false });
    expect(invalid.calls).toHaveLength(1);
  });
});

describe("offline provider", () => {
  it("summarizes real text extractively within the budget", async () => {
    const counter = await tokenCounter("cl100k_base");
    const summary = await new OfflineLlm().summarize({
      previous: null,
      messages: CONVERSATION,
      maxTokens: 80,
      count: (t) => counter.count(t),
    });
    expect(counter.count(summary)).toBeLessThanOrEqual(80);
    expect(summary).toMatch(/^- user: /);
    expect(summary).not.toMatch(/Hi there|Thanks!/);
  });
});
