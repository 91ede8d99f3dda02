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
  const counter: TokenCounter = { encoding, count: (text) => countInPieces(text, (t) => countTokens(t, PLAIN)) };
  counters.set(encoding, counter);
  return counter;
}

/**
 * BPE merges within a word cost time growing with the square of the word's length in
 * gpt-tokenizer: 99,000 letters without a space took 21 s of CPU (a 99,000-character CJK run 26 s),
 * stalling the isolate. Words longer than this are counted in pieces of this size: exact for any
 * text without such words, within a token per piece otherwise.
 */
const MAX_PIECE = 256;
const LONG_WORD = new RegExp(`\\S{${MAX_PIECE + 1},}`, "g");

/** Counts `text` with `count`, long words in pieces (see MAX_PIECE); linear in the text's length. */
export function countInPieces(text: string, count: (t: string) => number): number {
  if (!text) return 0;
  if (text.length <= MAX_PIECE) return count(text);
  let total = 0;
  let from = 0;
  for (const m of text.matchAll(LONG_WORD)) {
    if (m.index > from) total += count(text.slice(from, m.index));
    const word = m[0];
    for (let i = 0; i < word.length;) {
      let end = Math.min(word.length, i + MAX_PIECE);
      // Never split a surrogate pair.
      if (end < word.length && /[\ud800-\udbff]/.test(word[end - 1]!)) end++;
      total += count(word.slice(i, end));
      i = end;
    }
    from = m.index + word.length;
  }
  if (from < text.length) total += count(text.slice(from));
  return total;
}

/** Per-message overhead of the chat format (`<|start|>role<|message|>...<|end|>`), per OpenAI's cookbook. */
const TOKENS_PER_MESSAGE = 3;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
export const REPLY_PRIMING_TOKENS = 3;

/** Tokens a chat message occupies in a prompt. */
export function messageTokens(counter: TokenCounter, m: { role: string; content: string }): number {
  return TOKENS_PER_MESSAGE + counter.count(m.role) + counter.count(m.content);
}
