import { vi } from "vitest";

/**
 * A local OpenAI-compatible chat-completions server, installed as the global fetch for its base
 * URL (the Worker runs in the test's isolate). It validates requests like the real API (400 for
 * a bad body, 401 without the key), answers in OpenAI's JSON or SSE streaming format, and can be
 * told to fail: a status (with Retry-After), a hang, a network error, a stalled or cut stream.
 */

export const LLM_BASE_URL = "https://llm.test/v1";
export const LLM_API_KEY = "sk-test-key";

export type Behaviour =
  | { kind: "reply"; text?: string }
  | { kind: "status"; status: number; retryAfter?: string; message?: string }
  | { kind: "hang" }
  | { kind: "network" }
  | { kind: "not-json" }
  | { kind: "stall-stream"; text: string }
  | { kind: "cut-stream"; text: string };

export interface RecordedRequest {
  url: string;
  headers: Record<string, string>;
  body: {
    model: string;
    messages: { role: string; content: string }[];
    stream?: boolean;
    max_tokens?: number;
    temperature?: number;
  };
}

export interface FakeOpenAi {
  requests: RecordedRequest[];
  /** Behaviours for the next requests, in order; then every request gets `reply`. */
  queue(...behaviours: Behaviour[]): void;
  /** What a successful completion says (default: a summary that names how many lines it read). */
  reply: (req: RecordedRequest) => string;
  restore(): void;
}

export function fakeOpenAi(): FakeOpenAi {
  const pending: Behaviour[] = [];
  const fake: FakeOpenAi = {
    requests: [],
    queue: (...b) => pending.push(...b),
    reply: (req) => {
      const last = req.body.messages.at(-1)?.content ?? "";
      return `Summary: ${last.split("\n").length} lines covered.`;
    },
    restore: () => spy.mockRestore(),
  };
  const original = globalThis.fetch;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    if (!req.url.startsWith(LLM_BASE_URL)) return original(input, init);
    if (req.method !== "POST" || new URL(req.url).pathname !== "/v1/chat/completions")
      return apiError(404, "unknown endpoint");
    if (req.headers.get("authorization") !== `Bearer ${LLM_API_KEY}`)
      return apiError(401, "Incorrect API key provided");
    let body: RecordedRequest["body"];
    try {
      body = (await req.json()) as RecordedRequest["body"];
    } catch {
      return apiError(400, "We could not parse the JSON body of your request.");
    }
    const valid =
      typeof body.model === "string" &&
      Array.isArray(body.messages) &&
      body.messages.length > 0 &&
      body.messages.every((m) => ["system", "user", "assistant"].includes(m.role) && typeof m.content === "string");
    if (!valid) return apiError(400, "Invalid 'messages': expected an array of {role, content}");
    const recorded: RecordedRequest = { url: req.url, headers: Object.fromEntries(req.headers), body };
    fake.requests.push(recorded);

    const b = pending.shift() ?? { kind: "reply" };
    switch (b.kind) {
      case "status": {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (b.retryAfter !== undefined) headers["retry-after"] = b.retryAfter;
        return Response.json(
          { error: { message: b.message ?? `status ${b.status}`, type: "server_error" } },
          { status: b.status, headers },
        );
      }
      case "hang":
        return new Promise<Response>((_, reject) => {
          const signal = init?.signal;
          signal?.addEventListener("abort", () => reject(signal.reason ?? new DOMException("aborted", "AbortError")));
        });
      case "network":
        throw new TypeError("Network connection lost.");
      case "not-json":
        return new Response("<html>Bad Gateway</html>", { status: 200, headers: { "content-type": "text/html" } });
      case "stall-stream":
        return sse(b.text, "stall");
      case "cut-stream":
        return sse(b.text, "cut");
      case "reply": {
        const text = b.text ?? fake.reply(recorded);
        if (body.stream) return sse(text, "complete");
        return Response.json({
          id: "chatcmpl-test",
          object: "chat.completion",
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        });
      }
    }
  });
  return fake;
}

function apiError(status: number, message: string): Response {
  return Response.json({ error: { message, type: "invalid_request_error" } }, { status });
}

/**
 * An SSE completion, one word per chunk, sent in pieces that split lines mid-way (as TCP may).
 * `stall` sends the first chunk and then nothing; `cut` ends without finish_reason or [DONE].
 */
function sse(text: string, mode: "complete" | "stall" | "cut"): Response {
  const words = text.split(/(?<= )/);
  const events = words.map(
    (w) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })}\n\n`,
  );
  if (mode === "complete") {
    events.push(
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`,
      "data: [DONE]\n\n",
    );
  }
  const bytes = new TextEncoder().encode(mode === "stall" ? events[0]! : events.join(""));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7));
      if (mode !== "stall") controller.close();
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream" } });
}
