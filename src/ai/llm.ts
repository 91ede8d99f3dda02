import * as z from "zod";
import type { ChatMessage } from "../domain/budget.ts";
import { AppError } from "../domain/errors.ts";
import type { Extraction, TokenUsage } from "../domain/extract.ts";

export type { ChatMessage };

/** Token counts as OpenAI and Workers AI report them (`usage`); compatible servers may leave it out. */
export const usageSchema = z.object({
  prompt_tokens: z.number().int().min(0),
  completion_tokens: z.number().int().min(0),
  total_tokens: z.number().int().min(0),
});

export interface ChatOptions {
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  /** Called with the tokens a completion spent, when the provider reports them (`complete` only). */
  onUsage?: (usage: TokenUsage) => void;
}

/** A chat-completion model behind a provider's API (Workers AI, any OpenAI-compatible endpoint). */
export interface ChatModel {
  /** `provider:model`, e.g. `openai:gpt-4o-mini`. */
  readonly name: string;
  complete(messages: ChatMessage[], opts?: ChatOptions): Promise<string>;
  /** Streams the reply as text chunks; the first chunk arrives as soon as the provider sends it. */
  stream(messages: ChatMessage[], opts?: ChatOptions): AsyncIterable<string>;
}

export interface SummaryRequest {
  /** The summary so far (the session's context), to be extended. */
  previous: string | null;
  messages: { role: string; content: string }[];
  maxTokens: number;
  /** Counts tokens the way the session's model does; the summary must fit `maxTokens` by it. */
  count(text: string): number;
}

/** What an answer may draw on: retrieved memories (best first) and current graph facts. */
export interface AnswerRequest {
  question: string;
  memories: { id: string; text: string; score: number }[];
  /** Facts as sentences, e.g. `caching uses Redis`. */
  facts: string[];
}

/**
 * What edgemem asks of a language model. Remote providers answer with a prompted chat model;
 * the offline provider answers without one (extractively).
 */
export interface LlmProvider {
  readonly name: string;
  summarize(req: SummaryRequest): Promise<string>;
  /** Streams an answer drawn from the evidence, citing memory ids as `[id]`. */
  answer(req: AnswerRequest): AsyncIterable<string>;
  /**
   * Memories worth keeping in a conversation, with entities, relations and topics. `known`: the
   * speaker's current memories nearest the conversation; a provider that `judgesContradictions`
   * names, for each memory, those of them it makes no longer true.
   */
  extract(
    messages: { role: string; content: string }[],
    speaker: string,
    known?: readonly { id: string; text: string }[],
  ): Promise<Extraction>;
  /** Whether extraction judges contradictions with `known` memories (a model does; the offline rules do it on write). */
  readonly judgesContradictions: boolean;
  /** One statement saying what near-duplicate statements (newest first) say; null to keep the newest as it is. */
  merge(texts: string[]): Promise<string | null>;
}

export type LlmFailure = "timeout" | "unavailable" | "rejected" | "malformed";

/** A provider failure. `retryable` failures (429, 5xx, network) are retried with backoff first. */
export class LlmError extends Error {
  constructor(
    message: string,
    readonly kind: LlmFailure,
    readonly retryable: boolean,
    /** From the provider's Retry-After header, when it sent one. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = "LlmError";
  }
}

/**
 * A provider failure as an API error: a timeout is a 504 `upstream_timeout`, anything else a 502
 * `upstream_error`; the cause is named. Any other error is returned as it is.
 */
export function llmFailure(e: unknown, what: string): unknown {
  if (!(e instanceof LlmError)) return e;
  return new AppError(e.kind === "timeout" ? "upstream_timeout" : "upstream_error", `LLM ${what} failed: ${e.message}`);
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff; doubles per retry (with jitter), capped at 8 s; Retry-After wins when sent. */
  baseMs: number;
}

const MAX_BACKOFF_MS = 8_000;

/** Runs `attempt` until it succeeds, fails for good, or the retries are spent. */
export async function withRetries<T>(policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      const err = e instanceof LlmError ? e : new LlmError(`LLM request failed: ${String(e)}`, "unavailable", true);
      if (!err.retryable || n >= policy.retries) throw err;
      const backoff = Math.min(MAX_BACKOFF_MS, policy.baseMs * 2 ** n * (0.75 + Math.random() / 2));
      await sleep(err.retryAfterMs !== null ? Math.min(err.retryAfterMs, MAX_BACKOFF_MS) : backoff);
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds from a Retry-After header (seconds or an HTTP date); null when absent or unreadable. */
export function retryAfter(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Whether an HTTP status is worth retrying. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}
