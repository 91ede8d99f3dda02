import { dot } from "../../src/ai/embedder.ts";
import { OfflineEmbedder } from "../../src/ai/offline-embedder.ts";

/**
 * A stand-in for the Workers AI binding, answering as the real models do: embeddings
 * (`{text}` → `{shape, data}`, 768 dimensions, computed offline) and a cross-encoder reranker
 * (`{query, contexts, top_k}` → `{response: [{id, score}]}`, best first, at most top_k, scores in
 * (0, 1)). The reranker reads query and text together, so it knows what a lexical model cannot:
 * a small table of related words stands in for a cross-encoder's sense of meaning.
 */
export class FakeWorkersAi {
  /** Every call fails (an outage). */
  down = false;
  /** Reranker calls never answer (to exercise timeouts). */
  rerankHangs = false;
  rerankCalls = 0;
  private readonly embedder = new OfflineEmbedder(768);

  async run(model: string, input: Record<string, unknown>): Promise<unknown> {
    if (this.down) throw new Error("AI binding unavailable (fake outage)");
    if (Array.isArray(input.contexts))
      return this.rerank(
        String(input.query),
        input.contexts as { text: string }[],
        Number(input.top_k ?? input.contexts.length),
      );
    if (Array.isArray(input.text)) {
      const vectors = await this.embedder.embed(input.text as string[]);
      return { shape: [vectors.length, 768], data: vectors.map((v) => Array.from(v)) };
    }
    throw new Error(`5006: fake Workers AI has no answer for ${model}`);
  }

  private async rerank(query: string, contexts: { text: string }[], topK: number) {
    this.rerankCalls++;
    if (this.rerankHangs) await new Promise(() => {});
    const [q, ...texts] = await this.embedder.embed([query, ...contexts.map((c) => c.text)]);
    const response = texts.map((t, id) => {
      let logit = 8 * (dot(q!, t) - 0.3);
      for (const [a, related] of RELATED)
        if (has(query, a) && related.some((r) => has(contexts[id]!.text, r))) logit += 4;
      return { id, score: 1 / (1 + Math.exp(-logit)) };
    });
    return { response: response.sort((a, b) => b.score - a.score).slice(0, topK) };
  }
}

const RELATED: [string, string[]][] = [
  ["japan", ["kyoto", "osaka", "tokyo"]],
  ["diet", ["vegetarian", "vegan", "allergic"]],
  ["car", ["automobile", "sedan", "honda", "toyota"]],
];

const has = (text: string, word: string) => new RegExp(`\\b${word}\\b`, "i").test(text);
