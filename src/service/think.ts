import { llmFailure, type LlmProvider } from "../ai/llm.ts";
import type { ThinkResult } from "../domain/answer.ts";
import type { MemoryFilter } from "../domain/filters.ts";
import type { Memory } from "../domain/memory.ts";
import { formatIso } from "../domain/stored-values.ts";
import { parseTimeQuery } from "../domain/time-query.ts";
import { factSentence, type GraphScope } from "../domain/graph.ts";
import type { Principal } from "../domain/principal.ts";
import { hybridSearch } from "../domain/search.ts";
import { ABSTAIN_ANSWER, citedHits, type RelevanceFloors } from "../domain/relevance.ts";
import type { KnowledgeGraph } from "./graph.ts";
import type { Memories } from "./memories.ts";
import type { MemorySearch } from "./memory-search.ts";

export interface ThinkerDeps {
  search: Pick<MemorySearch, "search">;
  /** The knowledge graph service (not a store): think reads the facts around a question. */
  graph: Pick<KnowledgeGraph, "around">;
  /** Reads the memories that superseded a cited one, to say what it changed to. */
  memories: Pick<Memories, "getMany">;
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
    const now = this.d.clock();
    const filter = this.validityAsked(q, now);
    const scope: GraphScope = { filter, now };
    const [search, graph] = await Promise.all([
      // The relevance signals (vector similarity, keyword match) come with the explanation.
      this.d.search.search(p, { ...hybridSearch(q.question, q.limit, filter), explain: true }),
      this.d.graph.around(p, q.question, 1, false, scope),
    ]);
    const llm = this.d.llm;
    const citations = citedHits(search.hits, this.d.relevance);
    if (!citations.length) return { answer: once(ABSTAIN_ANSWER), citations: [], facts: [], provider: llm.name };
    const facts = graph.facts;
    const changes = await this.changes(
      p,
      citations.map((h) => h.memory),
    );
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
      // What the answer rests on may have changed since: say when, and to what.
      if (changes.length) yield `\n${changes.join("\n")}`;
    }
    return { answer: answer(), citations, facts, provider: llm.name };
  }

  /**
   * The validity a question is answered under: the caller's (`as_of`, `include_superseded`), else
   * a past period the question names ("what did we use for caching in March?") — what was true
   * then — else the current memories.
   */
  private validityAsked(q: { question: string; filter: MemoryFilter }, now: number): MemoryFilter {
    if (q.filter.validity && q.filter.validity.kind !== "current") return q.filter;
    const time = parseTimeQuery(q.question, now);
    if (!time || time.to > now) return q.filter;
    return { ...q.filter, validity: { kind: "then", from: time.from, to: time.to - 1 } };
  }

  /** A sentence per cited memory no longer current: until when it held, and what replaced it. */
  private async changes(p: Principal, cited: Memory[]): Promise<string[]> {
    const closed = cited.filter((m) => m.valid_to !== null);
    if (!closed.length) return [];
    const successors = new Map(
      (
        await this.d.memories.getMany(
          p,
          closed.flatMap((m) => (m.superseded_by ? [m.superseded_by] : [])),
        )
      ).map((m) => [m.id, m]),
    );
    return closed.map((m) => {
      const until = formatIso(m.valid_to!).slice(0, 10);
      const next = m.superseded_by ? successors.get(m.superseded_by) : undefined;
      if (next) return `[${m.id}] held until ${until}, when it changed: ${next.text} [${next.id}]`;
      return `[${m.id}] held until ${until}${m.invalid_reason ? ` (${m.invalid_reason})` : ""}.`;
    });
  }
}

async function* once(text: string): AsyncGenerator<string> {
  yield text;
}
