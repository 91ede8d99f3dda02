import { extractiveSummary } from "../domain/summarize.ts";
import type { LlmProvider, SummaryRequest } from "./llm.ts";

/**
 * The provider that needs no model: summaries are the conversation's most informative
 * sentences, verbatim (see domain/summarize.ts). Deterministic, instant, offline.
 */
export class OfflineLlm implements LlmProvider {
  readonly name = "offline-extractive";

  async summarize(req: SummaryRequest): Promise<string> {
    return extractiveSummary(req, req.count);
  }
}
