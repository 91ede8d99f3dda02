import { extractiveAnswer } from "../domain/answer.ts";
import { extract } from "../domain/extract.ts";
import { extractiveSummary } from "../domain/summarize.ts";
import type { AnswerRequest, LlmProvider, SummaryRequest } from "./llm.ts";

/**
 * The provider that needs no model: summaries and answers are the most informative sentences,
 * verbatim (domain/summarize.ts, domain/answer.ts); extraction is rule-based (domain/extract.ts).
 * Deterministic, instant, offline.
 */
export class OfflineLlm implements LlmProvider {
  readonly name = "offline-extractive";
  readonly judgesContradictions = false;

  async summarize(req: SummaryRequest): Promise<string> {
    return extractiveSummary(req, req.count);
  }

  async *answer(req: AnswerRequest): AsyncGenerator<string> {
    const lines = extractiveAnswer(req.question, req.memories, req.facts);
    for (let i = 0; i < lines.length; i++) yield i ? ` ${lines[i]}` : lines[i]!;
  }

  /** Offline, the newest statement stands for the cluster (texts are never concatenated). */
  async merge(): Promise<string | null> {
    return null;
  }

  async extract(messages: { role: string; content: string }[], speaker: string) {
    return extract(messages, speaker);
  }
}
