import * as z from "zod";
import type { Reranker } from "./reranker.ts";
import type { AiRunner } from "./workers-ai-chat.ts";

const result = z.object({ response: z.array(z.object({ id: z.number().int().min(0), score: z.number() })) });

/** Workers AI's cross-encoder rerankers (`@cf/baai/bge-reranker-base`): `{query, contexts}` in, `{response: [{id, score}]}` out. */
export class WorkersAiReranker implements Reranker {
  constructor(
    private readonly ai: AiRunner,
    readonly model: string,
  ) {}

  async rerank(query: string, texts: string[]): Promise<number[]> {
    if (!texts.length) return [];
    const raw = await this.ai.run(this.model, {
      query,
      contexts: texts.map((text) => ({ text })),
      top_k: texts.length,
    });
    const parsed = result.safeParse(raw);
    if (!parsed.success) throw new Error(`reranker ${this.model} returned an unexpected shape`);
    const scores = new Array<number>(texts.length).fill(Number.NEGATIVE_INFINITY);
    for (const { id, score } of parsed.data.response) if (id < texts.length) scores[id] = score;
    if (scores.includes(Number.NEGATIVE_INFINITY)) throw new Error(`reranker ${this.model} left some texts unscored`);
    return scores;
  }
}
