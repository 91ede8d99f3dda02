import * as z from "zod";
import { errorMessage } from "../log.ts";
import {
  LlmError,
  usageSchema,
  withRetries,
  type ChatMessage,
  type ChatModel,
  type ChatOptions,
  type RetryPolicy,
} from "./llm.ts";
import { idleTimeout, sseData } from "./sse.ts";
import { withTimeout } from "../timeout.ts";

/** The slice of the AI binding a chat model uses (so a test can hand in a stand-in). */
export interface AiRunner {
  run(model: string, inputs: Record<string, unknown>): Promise<unknown>;
}

/** Workers AI text generation reports `usage` in OpenAI's shape; a malformed one is ignored. */
const usage = usageSchema.nullish().catch(null);
const result = z.union([
  z.object({ response: z.string(), usage }),
  // Some Workers AI models answer in the OpenAI shape.
  z
    .object({
      choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
      usage,
    })
    .transform((r) => ({ response: r.choices[0]!.message.content ?? "", usage: r.usage })),
]);
const event = z.object({ response: z.string().nullish() });

/** Errors Workers AI reports for a request it will never accept (bad input, unknown model). */
const PERMANENT = /\b(5006|5007|400|401|403|404)\b|invalid input|no such model|not found/i;

/** A Workers AI text-generation model through the AI binding. */
export class WorkersAiChat implements ChatModel {
  readonly name: string;

  constructor(
    private readonly ai: AiRunner,
    private readonly model: string,
    private readonly timeoutMs: number,
    private readonly retry: RetryPolicy,
  ) {
    this.name = `workers-ai:${model}`;
  }

  async complete(messages: ChatMessage[], opts: ChatOptions = {}): Promise<string> {
    const raw = await withRetries(this.retry, () => this.run(this.inputs(messages, opts, false)));
    const parsed = result.safeParse(raw);
    if (!parsed.success) throw new LlmError(`Workers AI model ${this.model} returned no text`, "malformed", false);
    if (parsed.data.usage) opts.onUsage?.(parsed.data.usage);
    return parsed.data.response;
  }

  async *stream(messages: ChatMessage[], opts: ChatOptions = {}): AsyncGenerator<string> {
    const raw = await withRetries(this.retry, () => this.run(this.inputs(messages, opts, true)));
    if (!(raw instanceof ReadableStream))
      throw new LlmError(`Workers AI model ${this.model} did not stream`, "malformed", false);
    try {
      for await (const data of idleTimeout(
        sseData(raw as ReadableStream<Uint8Array>),
        this.timeoutMs,
        "Workers AI stream",
      )) {
        if (data === "[DONE]") return;
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch {
          throw new LlmError("Workers AI streamed an event that is not JSON", "malformed", false);
        }
        const parsed = event.safeParse(json);
        if (!parsed.success) throw new LlmError("Workers AI streamed a malformed event", "malformed", false);
        if (parsed.data.response) yield parsed.data.response;
      }
    } catch (e) {
      if (e instanceof LlmError) throw e;
      throw new LlmError(`Workers AI stream broke off: ${errorMessage(e)}`, "unavailable", false);
    }
  }

  private inputs(messages: ChatMessage[], opts: ChatOptions, stream: boolean): Record<string, unknown> {
    const inputs: Record<string, unknown> = { messages, stream };
    if (opts.maxTokens !== undefined) inputs.max_tokens = opts.maxTokens;
    if (opts.temperature !== undefined) inputs.temperature = opts.temperature;
    return inputs;
  }

  /** One call with a time limit; failures classified for the retry loop. */
  private async run(inputs: Record<string, unknown>): Promise<unknown> {
    try {
      return await withTimeout(
        this.ai.run(this.model, inputs),
        this.timeoutMs,
        () => new LlmError(`Workers AI model ${this.model} timed out after ${this.timeoutMs} ms`, "timeout", false),
      );
    } catch (e) {
      if (e instanceof LlmError) throw e;
      const message = errorMessage(e);
      const permanent = PERMANENT.test(message);
      throw new LlmError(
        `Workers AI model ${this.model} failed: ${message}`,
        permanent ? "rejected" : "unavailable",
        !permanent,
      );
    }
  }
}
