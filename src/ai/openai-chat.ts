import * as z from "zod";
import { errorMessage } from "../log.ts";
import {
  LlmError,
  retryableStatus,
  retryAfter,
  usageSchema,
  withRetries,
  type ChatMessage,
  type ChatModel,
  type ChatOptions,
  type RetryPolicy,
} from "./llm.ts";
import { idleTimeout, sseData } from "./sse.ts";

export interface OpenAiChatConfig {
  /** e.g. `https://api.openai.com/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  apiKey?: string;
  model: string;
  /** Per attempt: until the response (and the whole body, when not streaming); between chunks when streaming. */
  timeoutMs: number;
  retry: RetryPolicy;
}

const completion = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
  // A malformed usage block is ignored, not an error: the completion itself is fine.
  usage: usageSchema.nullish().catch(null),
});
const chunk = z.object({
  choices: z
    .array(
      z.object({
        delta: z.object({ content: z.string().nullish() }).nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .default([]),
});
const errorBody = z.object({ error: z.union([z.string(), z.object({ message: z.string() })]) });

/** Any OpenAI-compatible chat-completions endpoint (OpenAI, Azure-style proxies, vLLM, Ollama, LiteLLM, ...). */
export class OpenAiChat implements ChatModel {
  readonly name: string;
  private readonly url: string;

  constructor(private readonly c: OpenAiChatConfig) {
    this.name = `openai:${c.model}`;
    this.url = `${c.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  }

  async complete(messages: ChatMessage[], opts: ChatOptions = {}): Promise<string> {
    return withRetries(this.c.retry, async () => {
      const timer = new Deadline(this.c.timeoutMs, opts.signal);
      try {
        const res = await this.post(this.body(messages, opts, false), timer);
        let json: unknown;
        try {
          json = await res.json();
        } catch {
          throw timer.expired
            ? timer.error()
            : new LlmError("LLM provider returned a body that is not JSON", "malformed", false);
        }
        const parsed = completion.safeParse(json);
        if (!parsed.success) throw new LlmError("LLM provider returned no completion choices", "malformed", false);
        if (parsed.data.usage) opts.onUsage?.(parsed.data.usage);
        return parsed.data.choices[0]!.message.content ?? "";
      } finally {
        timer.clear();
      }
    });
  }

  async *stream(messages: ChatMessage[], opts: ChatOptions = {}): AsyncGenerator<string> {
    // Only the request is retried: once tokens have been handed out, a retry would repeat them.
    const abort = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, abort.signal]) : abort.signal;
    const res = await withRetries(this.c.retry, async () => {
      const timer = new Deadline(this.c.timeoutMs, signal);
      try {
        return await this.post(this.body(messages, opts, true), timer);
      } finally {
        timer.clear();
      }
    });
    if (!res.body) throw new LlmError("LLM provider sent an empty stream", "malformed", false);
    let finished = false;
    try {
      for await (const data of idleTimeout(sseData(res.body), this.c.timeoutMs, "LLM stream", () => abort.abort())) {
        if (data === "[DONE]") {
          finished = true;
          break;
        }
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch {
          throw new LlmError("LLM provider streamed an event that is not JSON", "malformed", false);
        }
        const err = errorBody.safeParse(json);
        if (err.success)
          throw new LlmError(`LLM provider failed mid-stream: ${describe(err.data.error)}`, "unavailable", false);
        const parsed = chunk.safeParse(json);
        if (!parsed.success) throw new LlmError("LLM provider streamed a malformed chunk", "malformed", false);
        for (const choice of parsed.data.choices) {
          if (choice.delta?.content) yield choice.delta.content;
          if (choice.finish_reason) finished = true;
        }
      }
    } catch (e) {
      if (e instanceof LlmError) throw e;
      throw new LlmError(`LLM stream broke off: ${errorMessage(e)}`, "unavailable", false);
    }
    if (!finished) throw new LlmError("LLM stream ended before the completion finished", "unavailable", false);
  }

  private body(messages: ChatMessage[], opts: ChatOptions, stream: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = { model: this.c.model, messages, stream };
    if (opts.maxTokens !== undefined) body.max_tokens = opts.maxTokens;
    if (opts.temperature !== undefined) body.temperature = opts.temperature;
    return body;
  }

  private async post(body: Record<string, unknown>, timer: Deadline): Promise<Response> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: body.stream ? "text/event-stream" : "application/json",
    };
    if (this.c.apiKey) headers.authorization = `Bearer ${this.c.apiKey}`;
    let res: Response;
    try {
      res = await fetch(this.url, { method: "POST", headers, body: JSON.stringify(body), signal: timer.signal });
    } catch (e) {
      if (timer.expired) throw timer.error();
      if (timer.cancelled) throw e;
      throw new LlmError(`LLM provider unreachable: ${errorMessage(e)}`, "unavailable", true);
    }
    if (res.ok) return res;
    const detail = await res
      .text()
      .then((t) => {
        const parsed = errorBody.safeParse(safeJson(t));
        return parsed.success ? describe(parsed.data.error) : t.slice(0, 200);
      })
      .catch(() => "");
    const kind = retryableStatus(res.status) ? "unavailable" : "rejected";
    throw new LlmError(
      `LLM provider answered ${res.status}${detail ? `: ${detail}` : ""}`,
      kind,
      retryableStatus(res.status),
      retryAfter(res.headers.get("retry-after")),
    );
  }
}

/** One attempt's time limit, combined with the caller's cancellation. */
class Deadline {
  readonly signal: AbortSignal;
  private readonly own = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;
  expired = false;

  constructor(
    private readonly ms: number,
    private readonly outer?: AbortSignal,
  ) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.own.abort();
    }, ms);
    this.signal = outer ? AbortSignal.any([outer, this.own.signal]) : this.own.signal;
  }

  get cancelled(): boolean {
    return this.outer?.aborted ?? false;
  }

  error(): LlmError {
    return new LlmError(`LLM provider timed out after ${this.ms} ms`, "timeout", false);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

function describe(error: string | { message: string }): string {
  return (typeof error === "string" ? error : error.message).slice(0, 200);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
