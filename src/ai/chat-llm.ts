import { fitLines, sentences } from "../domain/summarize.ts";
import { modelInfo } from "../domain/tokens.ts";
import { LlmError, type ChatModel, type LlmProvider, type SummaryRequest } from "./llm.ts";

const SUMMARY_SYSTEM = (maxTokens: number) =>
  [
    "You maintain the running summary of a conversation between a user and an AI assistant; the summary",
    "replaces the older messages in the assistant's memory. Merge the previous summary and the new messages",
    "into one updated summary. Keep every name, number, date, decision, preference, commitment and open",
    "question, attributed to who said it; drop greetings and filler. Write plain, compact sentences with no",
    `preamble or commentary. Stay under ${maxTokens} tokens.`,
  ].join(" ");

/** Tokens reserved for the instructions and the previous summary's framing in each request. */
const PROMPT_OVERHEAD = 512;
/**
 * Assumed when the summarizing model's window is unknown, and for Workers AI models, which are
 * often served with a smaller window than the model's own (LLM_CONTEXT_WINDOW overrides).
 */
const DEFAULT_MODEL_WINDOW = 8_000;

/** An LlmProvider that prompts a chat model (Workers AI or an OpenAI-compatible endpoint). */
export class ChatLlm implements LlmProvider {
  readonly name: string;
  private readonly window: number;

  /** `window`: the chat model's context window in tokens, when known better than by its name. */
  constructor(
    private readonly chat: ChatModel,
    model: string,
    window?: number,
  ) {
    this.name = chat.name;
    this.window = window ?? (model.startsWith("@cf/") ? null : modelInfo(model)?.window) ?? DEFAULT_MODEL_WINDOW;
  }

  /**
   * Summarizes in as many rounds as the model's window needs: each round folds the next chunk
   * of messages into the summary so far, so no message is dropped unsummarized.
   */
  async summarize(req: SummaryRequest): Promise<string> {
    const inputBudget = Math.max(1024, this.window - req.maxTokens * 2 - PROMPT_OVERHEAD);
    let summary = req.previous?.trim() || null;
    for (const chunk of chunks(req.messages, inputBudget, req.count)) {
      const transcript = chunk.join("\n");
      const out = await this.chat.complete(
        [
          { role: "system", content: SUMMARY_SYSTEM(req.maxTokens) },
          { role: "user", content: `Previous summary:\n${summary ?? "(none)"}\n\nNew messages:\n${transcript}` },
        ],
        { maxTokens: req.maxTokens, temperature: 0.2 },
      );
      const text = out.trim();
      if (!text) throw new LlmError(`${this.name} returned an empty summary`, "malformed", false);
      summary = req.count(text) <= req.maxTokens ? text : fitLines(sentences(text), req.maxTokens, req.count);
    }
    return summary ?? "";
  }
}

/** `role: content` lines grouped so each group stays within `budget` tokens (a longer message is cut). */
function chunks(messages: SummaryRequest["messages"], budget: number, count: (s: string) => number): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let used = 0;
  for (const m of messages) {
    let line = `${m.role}: ${m.content}`;
    let cost = count(line);
    if (cost > budget) {
      line = fitLines([line], budget, count);
      cost = count(line);
    }
    if (used + cost > budget && current.length) {
      out.push(current);
      current = [];
      used = 0;
    }
    current.push(line);
    used += cost;
  }
  if (current.length) out.push(current);
  return out;
}
