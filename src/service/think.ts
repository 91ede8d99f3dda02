import { llmFailure, type LlmProvider } from "../ai/llm.ts";
import type { ThinkResult } from "../domain/answer.ts";
import type { MemoryFilter } from "../domain/filters.ts";
import { factSentence, type GraphScope } from "../domain/graph.ts";
import type { Principal } from "../domain/principal.ts";
import { hybridSearch } from "../domain/search.ts";
import { ABSTAIN_ANSWER, citedHits, type RelevanceFloors } from "../domain/relevance.ts";
import type { KnowledgeGraph } from "./graph.ts";
import type { MemorySearch } from "./memory-search.ts";

export interface ThinkerDeps {
  search: Pick<MemorySearch, "search">;
  /** The knowledge graph service (not a store): think reads the facts around a question. */
  graph: Pick<KnowledgeGraph, "around">;
  llm: LlmProvider;
  /** What a retrieved memory must score for think to answer from it (the vector floor is the embedder's). */
  relevance: RelevanceFloors;
  clock: () => number;
}

/** Answers questions from long-term memory and the knowledge graph. */
export class Thinker {
  constructor(private readonly d: ThinkerDeps) {}

  /**
   * Answers a question from both stores: episodic memories by hybrid search and the current
   * graph facts about the entities the question names (both under the question's filter), then
   * the LLM provider (offline: the best-supported sentences), citing memory ids. Only memories
   * relevant enough count (domain/relevance.ts); when none is, the answer is ABSTAIN_ANSWER with
   * no citations and no facts, and the provider is not called. Every transport answers through here.
   */
  async think(p: Principal, q: { question: string; limit: number; filter: MemoryFilter }): Promise<ThinkResult> {
    const scope: GraphScope = { filter: q.filter, now: this.d.clock() };
    const [search, graph] = await Promise.all([
      // The relevance signals (vector similarity, keyword match) come with the explanation.
      this.d.search.search(p, { ...hybridSearch(q.question, q.limit, q.filter), explain: true }),
      this.d.graph.around(p, q.question, 1, false, scope),
    ]);
    const llm = this.d.llm;
    const citations = citedHits(search.hits, this.d.relevance);
    if (!citations.length) return { answer: once(ABSTAIN_ANSWER), citations: [], facts: [], provider: llm.name };
    const facts = graph.facts;
    async function* answer(): AsyncGenerator<string> {
      try {
        yield* llm.answer({
          question: q.question,
          memories: citations.map((h) => ({ id: h.memory.id, text: h.memory.text, score: h.score })),
          facts: facts.map(factSentence),
        });
      } catch (e) {
        throw llmFailure(e, "answer");
      }
    }
    return { answer: answer(), citations, facts, provider: llm.name };
  }
}

async function* once(text: string): AsyncGenerator<string> {
  yield text;
}
