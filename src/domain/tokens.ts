/**
 * Token counting and model context windows. Counts are exact for OpenAI models (their own BPE
 * encodings, shipped by gpt-tokenizer) and an approximation with cl100k_base for everything else
 * (Claude, Gemini, Llama, Mistral: same order of magnitude, usually within ~10-15%).
 */

export type Encoding = "o200k_base" | "cl100k_base";

export interface ModelInfo {
  /** Context window in tokens. */
  window: number;
  encoding: Encoding;
  /** Whether `encoding` is the model's own tokenizer (counts are exact). */
  exact: boolean;
}

/** Known models by name prefix (the longest matching prefix wins). */
const MODELS: [prefix: string, window: number, encoding: Encoding, exact: boolean][] = [
  ["gpt-5", 400_000, "o200k_base", true],
  ["gpt-4.1", 1_047_576, "o200k_base", true],
  ["gpt-4.5", 128_000, "o200k_base", true],
  ["gpt-4o", 128_000, "o200k_base", true],
  ["chatgpt-4o", 128_000, "o200k_base", true],
  ["gpt-oss", 131_072, "o200k_base", true],
  ["o1-mini", 128_000, "o200k_base", true],
  ["o1", 200_000, "o200k_base", true],
  ["o3", 200_000, "o200k_base", true],
  ["o4-mini", 200_000, "o200k_base", true],
  ["gpt-4-turbo", 128_000, "cl100k_base", true],
  ["gpt-4-1106", 128_000, "cl100k_base", true],
  ["gpt-4-0125", 128_000, "cl100k_base", true],
  ["gpt-4-32k", 32_768, "cl100k_base", true],
  ["gpt-4", 8_192, "cl100k_base", true],
  ["gpt-3.5-turbo-instruct", 4_096, "cl100k_base", true],
  ["gpt-3.5-turbo", 16_385, "cl100k_base", true],
  ["text-embedding-3", 8_191, "cl100k_base", true],
  ["text-embedding-ada-002", 8_191, "cl100k_base", true],
  ["claude", 200_000, "cl100k_base", false],
  ["gemini-1.5-pro", 2_097_152, "cl100k_base", false],
  ["gemini", 1_048_576, "cl100k_base", false],
  ["llama-3.1", 128_000, "cl100k_base", false],
  ["llama-3.2", 128_000, "cl100k_base", false],
  ["llama-3.3", 128_000, "cl100k_base", false],
  ["llama-4", 131_072, "cl100k_base", false],
  ["llama-3", 8_192, "cl100k_base", false],
  ["mistral", 32_768, "cl100k_base", false],
  ["mixtral", 32_768, "cl100k_base", false],
  ["qwen", 32_768, "cl100k_base", false],
  ["deepseek", 128_000, "cl100k_base", false],
];

/**
 * A model by name: case-insensitive, provider prefixes ignored (`@cf/meta/llama-3.1-8b-instruct`,
 * `openai/gpt-4o`), dated variants matched by prefix (`gpt-4o-2024-08-06`). Null when unknown.
 */
export function modelInfo(name: string): ModelInfo | null {
  const bare = name.trim().toLowerCase().split("/").pop()!;
  let best: (typeof MODELS)[number] | null = null;
  for (const m of MODELS) {
    if (bare.startsWith(m[0]) && (!best || m[0].length > best[0].length)) best = m;
  }
  return best && { window: best[1], encoding: best[2], exact: best[3] };
}

/** Counts tokens of plain text (special-token markers in user text count as text, never as control tokens). */
export interface TokenCounter {
  readonly encoding: Encoding;
  count(text: string): number;
}

type CountFn = (text: string, options: { disallowedSpecial: Set<string> }) => number;
const counters = new Map<Encoding, TokenCounter>();
const PLAIN = { disallowedSpecial: new Set<string>() };

/**
 * The counter for an encoding. The encodings are large (o200k_base 2.4 MB of JS), so each is
 * loaded on first use, never at start-up: ~170 ms once per isolate, then ~0.1 ms per 500 tokens.
 */
export async function tokenCounter(encoding: Encoding): Promise<TokenCounter> {
  const hit = counters.get(encoding);
  if (hit) return hit;
  const mod =
    encoding === "o200k_base"
      ? await import("gpt-tokenizer/encoding/o200k_base")
      : await import("gpt-tokenizer/encoding/cl100k_base");
  const countTokens = mod.countTokens as unknown as CountFn;
  const counter: TokenCounter = { encoding, count: (text) => (text ? countTokens(text, PLAIN) : 0) };
  counters.set(encoding, counter);
  return counter;
}

/** Per-message overhead of the chat format (`<|start|>role<|message|>...<|end|>`), per OpenAI's cookbook. */
const TOKENS_PER_MESSAGE = 3;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
export const REPLY_PRIMING_TOKENS = 3;

/** Tokens a chat message occupies in a prompt. */
export function messageTokens(counter: TokenCounter, m: { role: string; content: string }): number {
  return TOKENS_PER_MESSAGE + counter.count(m.role) + counter.count(m.content);
}
