import type { LlmProvider } from "../ai/llm.ts";
import { LlmError } from "../ai/llm.ts";
import type { Config } from "../config.ts";
import { SINGLE_VALUED, tagText, type Extraction } from "../domain/extract.ts";
import { AppError } from "../domain/errors.ts";
import type { MemoryFilter } from "../domain/filters.ts";
import type { ForgetPolicy } from "../domain/forget.ts";
import { newId } from "../domain/ids.ts";
import type { ConsolidationResult } from "../domain/consolidation.ts";
import type { FeedbackResult, Rating } from "../domain/feedback.ts";
import {
  factOf,
  factSentence,
  nameKey,
  type Entity,
  type GraphFact,
  type GraphQuery,
  type GraphResult,
  type GraphScope,
  type IngestResult,
  type Owner,
  type Relation,
} from "../domain/graph.ts";
import type { Memory, NewMemory } from "../domain/memory.ts";
import type { Principal } from "../domain/principal.ts";
import type { SearchHit } from "../domain/search.ts";
import { ABSTAIN_ANSWER, citedHits, type RelevanceFloors } from "../domain/relevance.ts";
import { compatibleFacts, faithfulMerge } from "../domain/text.ts";
import { errorMessage, type Logger } from "../log.ts";
import type { GraphRepo } from "../store/graph-repo.ts";
import type { MaintenanceRepo } from "../store/maintenance-repo.ts";
import type { Change, MemoryService } from "./memory-service.ts";
import { retryOnConflict } from "./retry.ts";

export interface KnowledgeDeps {
  memories: MemoryService;
  graph: GraphRepo;
  maintenance: MaintenanceRepo;
  llm: LlmProvider;
  config: Pick<Config, "FEEDBACK_DELETE_THRESHOLD" | "FEEDBACK_DELETE_AFTER" | "CONSOLIDATION" | "FORGET_POLICY">;
  /** Similarity at or above which memories are near-duplicates (the embedder's, or DEDUP_SIMILARITY). */
  nearDuplicate: number;
  /** What a retrieved memory must score for think to answer from it (the vector floor is the embedder's). */
  relevance: RelevanceFloors;
  log: Logger;
  clock: () => number;
}

export interface ThinkResult {
  /** The answer as it is produced (streamed when the provider streams). */
  answer: AsyncIterable<string>;
  citations: SearchHit[];
  facts: GraphFact[];
  provider: string;
}

export interface Stats {
  memories: { total: number; by_type: Record<string, number> };
  entities: number;
  relations: { total: number; current: number };
  sessions: number;
  feedback: number;
  index: { pending: number; sent: number; indexed: number };
  last_consolidation: number | null;
  last_consolidation_result: Record<string, unknown> | null;
}

/** Feedback rules (engram's defaults). */
const POSITIVE = { confidence: 0.15, priority: 1 };
const NEGATIVE = { confidence: -0.2, priority: -1 };
/** Predicates whose subject is a person (the speaker, or a named person). */
const PERSON_SUBJECT = new Set(["prefers", "lives_in", "works_at", "role", "owns"]);
/** Memories checked for near-duplicates per tenant per consolidation run. */
const CONSOLIDATION_BATCH = 200;

/**
 * The cognitive layer: ingest (extraction), the knowledge graph, think, feedback, consolidation
 * and statistics. Memory writes go through the MemoryService (so dedup, history and events
 * apply); graph rows are written in the same transactions.
 */
export class KnowledgeService {
  constructor(private readonly d: KnowledgeDeps) {}

  /**
   * Extracts memories, entities, relations and topics from chat messages and stores them. The
   * extraction completes (or fails) before anything is written: nothing is stored half-parsed.
   */
  async ingest(p: Principal, messages: { role: string; content: string }[], owner: Owner): Promise<IngestResult> {
    let extraction: Extraction;
    try {
      extraction = await this.d.llm.extract(messages, owner.user_id ?? "user");
    } catch (e) {
      throw llmFailure(e, "extraction");
    }
    const now = this.d.clock();
    // Ids up front, so each relation can point at the memory that states it (or its duplicate).
    const ids = extraction.memories.map(() => newId(now));
    const inputs: NewMemory[] = extraction.memories.map((m, i) => ({
      id: ids[i],
      text: m.text,
      memory_type: m.memory_type,
      topics: m.topics,
      entities: m.entities.length || m.topics.length ? m.entities : tagText(m.text).entities.map((e) => e.name),
      namespace: owner.namespace ?? null,
      user_id: owner.user_id ?? null,
      session_id: owner.session_id ?? null,
      extraction_strategy: "ingest",
      discrete_memory_extracted: "t",
    }));
    const res = inputs.length
      ? await this.d.memories.create(p, inputs, { reason: "ingest" })
      : { memories: [], deduplicated: [], warnings: [] };

    const stored = new Set(res.memories.map((m) => m.id));
    const idOf = (id: string): string | null =>
      stored.has(id) ? id : (res.deduplicated.find((d) => d.requested_id === id)?.existing_id ?? null);
    const relations = extraction.memories.flatMap((m, i) =>
      m.relations.map((r) => ({ ...r, source_memory_id: idOf(ids[i]!) })),
    );
    const names = new Map<string, { name: string; type: Extraction["entities"][number]["type"] }>();
    for (const e of extraction.entities) names.set(nameKey(e.name), e);
    for (const r of relations) {
      for (const [name, type] of [
        [r.subject, r.predicate === "uses" ? "topic" : PERSON_SUBJECT.has(r.predicate) ? "person" : "concept"],
        [r.object, r.predicate === "lives_in" ? "place" : r.predicate === "works_at" ? "organization" : "concept"],
      ] as const) {
        if (!names.has(nameKey(name))) names.set(nameKey(name), { name, type });
      }
    }
    const stmts = this.d.graph.ensureEntities(p.tenant, [...names.values()], now);
    const ns = owner.namespace ?? null;
    const user = owner.user_id ?? null;
    for (const r of relations) {
      stmts.push(
        ...this.d.graph.relate(
          p.tenant,
          { ...r, confidence: 0.8, namespace: ns, user_id: user },
          SINGLE_VALUED.has(r.predicate),
          now,
        ),
      );
    }
    await this.d.graph.run(stmts);
    return {
      memories: res.memories,
      deduplicated: res.deduplicated,
      entities: extraction.entities,
      relations,
      topics: extraction.topics,
      warnings: res.warnings,
    };
  }

  /**
   * The graph around a query: entities named by it (by name or alias, or named inside it), their
   * relations (current, or all with `history`), neighbours up to `hops` away, and the memories
   * that mention them. Only what the filter lets the caller see: a relation (and so a neighbour)
   * when a live memory that stated it passes the filter, an entity when such a memory or relation
   * names it, memories that pass it.
   */
  async query(p: Principal, q: GraphQuery): Promise<GraphResult> {
    const scope: GraphScope = { filter: q.filter, now: this.d.clock() };
    const { seeds, facts, neighbours } = await this.graphAround(p, q.query, q.hops, q.history, scope);
    const mentioned = seeds.flatMap((e) => [e.name, ...e.aliases]);
    const [memories, named] = await Promise.all([
      mentioned.length && q.limit > 0 ? this.d.memories.mentioning(p, mentioned, q.limit, q.filter) : [],
      this.d.graph.namedInScope(p.tenant, seeds, scope),
    ]);
    const visible = new Set([...named, ...facts.flatMap((f) => [f.subject.id, f.object.id])]);
    return { entities: seeds.filter((e) => visible.has(e.id)), relations: facts, neighbours, memories };
  }

  /** The entities a text names, and the relations and neighbours within `hops` visible in `scope`. */
  private async graphAround(
    p: Principal,
    query: string,
    hops: number,
    history: boolean,
    scope: GraphScope,
  ): Promise<{ seeds: Entity[]; facts: GraphFact[]; neighbours: { entity: Entity; hops: number }[] }> {
    const text = query.trim();
    const words = text.split(/\s+/);
    const grams = new Set<string>([text]);
    for (let n = 1; n <= 3; n++)
      for (let i = 0; i + n <= words.length; i++)
        grams.add(
          words
            .slice(i, i + n)
            .join(" ")
            .replace(/[^\p{L}\p{N} .+#-]/gu, ""),
        );
    const seeds = await this.d.graph.findByNames(p.tenant, [...grams].filter(Boolean));
    const entities = new Map(seeds.map((e) => [e.id, e]));
    const neighbours: { entity: Entity; hops: number }[] = [];
    let frontier = seeds.map((e) => e.id);
    // By fact: owners who stated the same fact each have their relation; the caller sees a current
    // fact once. A closed one keeps its period, so a fact true twice shows twice in the history.
    const relations = new Map<string, Relation>();
    for (let hop = 1; hop <= hops && frontier.length; hop++) {
      const rels = await this.d.graph.relationsOf(p.tenant, frontier, history, scope);
      const next: string[] = [];
      for (const r of rels) {
        const key = JSON.stringify([
          r.subject_id,
          r.predicate,
          r.object_id,
          r.valid_to === null ? null : [r.valid_from, r.valid_to],
        ]);
        if (!relations.has(key)) relations.set(key, r);
        for (const id of [r.subject_id, r.object_id]) if (!entities.has(id) && !next.includes(id)) next.push(id);
      }
      const found = await this.d.graph.getEntities(p.tenant, next);
      for (const e of found) {
        entities.set(e.id, e);
        neighbours.push({ entity: e, hops: hop });
      }
      frontier = next;
    }
    const facts = [...relations.values()]
      .filter((r) => entities.has(r.subject_id) && entities.has(r.object_id))
      .map((r) => factOf(r, entities));
    return { seeds, facts, neighbours };
  }

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
      this.d.memories.search(p, {
        text: q.question,
        limit: q.limit,
        offset: 0,
        filter: q.filter,
        mode: "hybrid",
        hybridAlpha: null,
        recency: null,
        distanceThreshold: null,
        // The relevance signals (vector similarity, keyword match) come with the explanation.
        explain: true,
      }),
      this.graphAround(p, q.question, 1, false, scope),
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

  /**
   * Positive feedback raises a memory's confidence (+0.15) and priority (+1); negative lowers
   * them (−0.2, −1), bounded. After FEEDBACK_DELETE_AFTER negatives, a memory whose confidence
   * falls below FEEDBACK_DELETE_THRESHOLD is deleted. The feedback row is written in the same
   * transaction as the change; `feedback_recorded` and the change's event are emitted.
   */
  async feedback(p: Principal, memoryId: string, rating: Rating, comment: string | null): Promise<FeedbackResult> {
    const id = newId(this.d.clock());
    const rule = rating === "positive" ? POSITIVE : NEGATIVE;
    let written: Memory | null = null;
    // Computed from the memory as it is when the write wins (retried from a fresh read otherwise),
    // so concurrent feedbacks add up and the feedback row's before/after are the history's.
    const res = await this.d.memories.change(p, memoryId, async (before, now): Promise<Change> => {
      const confidence = round2(Math.min(1, Math.max(0, before.confidence + rule.confidence)));
      const priority = Math.min(10, Math.max(1, before.priority + rule.priority));
      const negatives =
        (await this.d.maintenance.negativeFeedback(p.tenant, memoryId)) + (rating === "negative" ? 1 : 0);
      const row = this.d.maintenance.feedbackRow(p.tenant, {
        id,
        memory_id: memoryId,
        rating,
        comment,
        actor: p.subject,
        at: now,
        confidence_before: before.confidence,
        confidence_after: confidence,
      });
      const after = { ...before, confidence, priority, updated_at: now };
      written = after;
      // feedback_recorded goes out with (and just before) the change's own event, only if the write succeeds.
      const extras = {
        statements: [row],
        events: [{ type: "feedback_recorded" as const, at: now, memory: after, actor: p.subject, reason: rating }],
      };
      const drop =
        rating === "negative" &&
        negatives >= this.d.config.FEEDBACK_DELETE_AFTER &&
        confidence < this.d.config.FEEDBACK_DELETE_THRESHOLD;
      if (drop)
        return { kind: "delete", reason: `negative feedback (${negatives}×, confidence ${confidence})`, extras };
      return { kind: "update", patch: { confidence, priority }, reason: `${rating} feedback`, extras };
    });
    return { feedback_id: id, memory: res.deleted ? written! : res.memory, deleted: res.deleted };
  }

  async stats(p: Principal): Promise<Stats> {
    const [graph, rest] = await Promise.all([
      this.d.graph.counts(p.tenant),
      this.d.maintenance.stats(p.tenant, this.d.clock()),
    ]);
    return {
      memories: rest.memories,
      entities: graph.entities,
      relations: { total: graph.relations, current: graph.current_relations },
      sessions: rest.sessions,
      feedback: rest.feedback,
      index: rest.index,
      last_consolidation: rest.last_consolidation,
      last_consolidation_result: rest.last_consolidation_result,
    };
  }

  /**
   * Consolidates one tenant: memories written since the last run are checked for
   * near-duplicates (same owner, same fact); each cluster is merged into its newest memory in
   * one transaction (the cursor advances after each, so an interrupted run resumes where it
   * stopped); then the forget policy runs when FORGET_POLICY is configured.
   */
  async consolidate(tenant: string): Promise<ConsolidationResult> {
    const p: Principal = { tenant, subject: "system", scopes: null };
    const state = await this.d.maintenance.get(tenant);
    const batch = await this.d.memories.changedSince(tenant, state.cursor, CONSOLIDATION_BATCH);
    const result: ConsolidationResult = { checked: batch.length, merged: 0, removed: 0, forgotten: 0 };
    const gone = new Set<string>();
    for (const m of batch) {
      if (!gone.has(m.id)) {
        let first = true;
        // A merge writes only if every memory of the cluster is still as read; otherwise the
        // cluster is rebuilt from fresh reads (a concurrent write is never overwritten).
        await retryOnConflict("consolidation", async () => {
          const current = first ? m : (await this.d.memories.getMany(p, [m.id]))[0];
          first = false;
          if (current) await this.mergeCluster(p, current, gone, result);
        });
      }
      await this.d.maintenance.advance(tenant, { at: m.updated_at, id: m.id });
    }
    if (this.d.config.FORGET_POLICY) {
      const policy = JSON.parse(this.d.config.FORGET_POLICY) as ForgetPolicy;
      const res = await this.d.memories.forget(p, { policy, limit: 1000, dry_run: false, pinned_ids: [] });
      result.forgotten = res.deleted;
    }
    await this.d.maintenance.finish(tenant, this.d.clock(), { ...result });
    return result;
  }

  /** Merges `m` with its near-duplicates (same owner, same fact) into the newest of them, if any. */
  private async mergeCluster(p: Principal, m: Memory, gone: Set<string>, result: ConsolidationResult): Promise<void> {
    const similar = (await this.d.memories.similar(p, m, this.d.nearDuplicate)).filter(
      (o) => !gone.has(o.id) && !o.pinned && compatibleFacts(o.text, m.text),
    );
    if (!similar.length) return;
    const cluster = [m, ...similar].sort((a, b) => b.updated_at - a.updated_at || b.created_at - a.created_at);
    const keep = cluster[0]!;
    const others = cluster.slice(1);
    const text = await this.mergedText(cluster.map((x) => x.text));
    const after: Memory = {
      ...keep,
      text,
      topics: [...new Set(cluster.flatMap((x) => x.topics))],
      entities: [...new Set(cluster.flatMap((x) => x.entities))],
      priority: Math.max(...cluster.map((x) => x.priority)),
      confidence: Math.max(...cluster.map((x) => x.confidence)),
      pinned: cluster.some((x) => x.pinned),
      created_at: Math.min(...cluster.map((x) => x.created_at)),
      updated_at: this.d.clock(),
    };
    await this.d.memories.merge(p.tenant, keep, after, others, "system");
    for (const o of others) gone.add(o.id);
    result.merged++;
    result.removed += others.length;
  }

  /**
   * The text a merged cluster keeps: the LLM's merge when it is faithful (every number and name
   * kept, none added, not much longer), else the newest text. A provider failure is logged, not fatal.
   */
  private async mergedText(texts: string[]): Promise<string> {
    try {
      const merged = await this.d.llm.merge(texts);
      if (merged && faithfulMerge(merged, texts)) return merged;
      if (merged) this.d.log.warn("consolidation: unfaithful merge ignored", { merged, sources: texts.length });
    } catch (e) {
      this.d.log.warn("consolidation: LLM merge failed; keeping the newest text", { error: errorMessage(e) });
    }
    return texts[0]!;
  }

  /** The Cron Trigger's consolidation: every tenant with memories written since its last run. */
  async consolidateAll(
    limit = 20,
  ): Promise<{ tenants: number; merged: number; removed: number; forgotten: number; errors: string[] }> {
    const out = { tenants: 0, merged: 0, removed: 0, forgotten: 0, errors: [] as string[] };
    if (!this.d.config.CONSOLIDATION) return out;
    for (const tenant of await this.d.maintenance.tenantsToConsolidate(limit)) {
      try {
        const r = await this.consolidate(tenant);
        out.tenants++;
        out.merged += r.merged;
        out.removed += r.removed;
        out.forgotten += r.forgotten;
      } catch (e) {
        // Logged and retried on the next run: the cursor only moved past what was done.
        this.d.log.error("consolidation failed", { tenant, error: errorMessage(e) });
        out.errors.push(`${tenant}: ${errorMessage(e)}`);
      }
    }
    return out;
  }
}

async function* once(text: string): AsyncGenerator<string> {
  yield text;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Provider failures as API errors: a timeout is a 504, anything else a 502; the cause is named. */
function llmFailure(e: unknown, what: string): unknown {
  if (!(e instanceof LlmError)) return e;
  return new AppError(e.kind === "timeout" ? "upstream_timeout" : "upstream_error", `LLM ${what} failed: ${e.message}`);
}
