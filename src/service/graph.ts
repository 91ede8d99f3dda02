import { llmFailure, type LlmProvider } from "../ai/llm.ts";
import { SINGLE_VALUED, tagText, type Extraction } from "../domain/extract.ts";
import {
  factKey,
  factOf,
  nameCandidates,
  nameKey,
  relationEntityTypes,
  type Entity,
  type GraphFact,
  type GraphQuery,
  type GraphResult,
  type GraphScope,
  type IngestOptions,
  type IngestResult,
  type Owner,
  type Relation,
} from "../domain/graph.ts";
import { validIn } from "../domain/filters.ts";
import { newId } from "../domain/ids.ts";
import { ingestTrace } from "../domain/ingest-trace.ts";
import type { CreateOptions, NewMemory, WriteResult } from "../domain/memory.ts";
import type { Principal } from "../domain/principal.ts";
import type { WritePlan } from "../domain/write-plan.ts";
import type { GraphIntent } from "../domain/writes.ts";
import type { Memories } from "./memories.ts";
import type { GraphStore } from "./ports.ts";

/** Current memories a model judging contradictions is shown with a conversation. */
const JUDGED_MEMORIES = 10;

/** The text a conversation's nearest memories are looked up by: what its speakers said, cut to a query's length. */
function conversationText(messages: { role: string; content: string }[]): string {
  return messages
    .filter((m) => m.role === "user" || m.role === "assistant")
    .map((m) => m.content)
    .join("\n")
    .slice(0, 4000);
}

export interface KnowledgeGraphDeps {
  memories: Memories;
  graphStore: Pick<GraphStore, "apply" | "findByNames" | "getEntities" | "relationsOf" | "namedInScope">;
  llm: LlmProvider;
  clock: () => number;
}

/** The graph around a text: the entities it names, and the facts and neighbours within reach. */
export interface GraphAround {
  seeds: Entity[];
  facts: GraphFact[];
  neighbours: { entity: Entity; hops: number }[];
}

/**
 * The knowledge graph: ingest (extraction into memories, entities and relations) and graph
 * queries. Memories are written through Memories (so dedup, history and events apply).
 */
export class KnowledgeGraph {
  constructor(private readonly d: KnowledgeGraphDeps) {}

  /**
   * Extracts memories, entities, relations and topics from chat messages and stores them. The
   * extraction completes (or fails) before anything is written: nothing is stored half-parsed.
   * With `trace`, the result says what became of every candidate; with `dryRun`, everything is
   * decided as for a write and nothing is written (the memories returned are those a write would
   * store now).
   */
  async ingest(
    p: Principal,
    messages: { role: string; content: string }[],
    owner: Owner,
    opts: IngestOptions = {},
  ): Promise<IngestResult> {
    let extraction: Extraction;
    let knownIds = new Set<string>();
    try {
      // A model judging contradictions sees the speaker's current memories nearest the conversation.
      const known = this.d.llm.judgesContradictions
        ? await this.d.memories.nearCurrent(p, owner, conversationText(messages), JUDGED_MEMORIES)
        : [];
      extraction = await this.d.llm.extract(
        messages,
        owner.user_id ?? "user",
        known.map((m) => ({ id: m.id, text: m.text })),
      );
      knownIds = new Set(known.map((m) => m.id));
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
    // The graph as it was, for the trace's new entities: read before anything is written.
    const known = opts.trace
      ? await this.d.graphStore.findByNames(p.tenant, [
          ...inputs.flatMap((m) => m.entities ?? []),
          ...extraction.memories.flatMap((m) => m.relations.flatMap((r) => [r.subject, r.object])),
        ])
      : [];
    const createOpts: CreateOptions = {
      reason: "ingest",
      relations: new Map(extraction.memories.map((m, i) => [ids[i]!, m.relations])),
      // Only ids the model was shown count: never one it made up, nor another owner's.
      ...(this.d.llm.judgesContradictions
        ? {
            judged: new Map(
              extraction.memories.map((m, i) => [ids[i]!, (m.supersedes ?? []).filter((id) => knownIds.has(id))]),
            ),
          }
        : {}),
    };
    let plan: WritePlan = { pairs: [], deduplicated: [], outcomes: [], intents: [] };
    let res: WriteResult = { memories: [], deduplicated: [], warnings: [] };
    if (inputs.length && opts.dryRun) {
      plan = await this.d.memories.planCreate(p, inputs, createOpts);
      res = { memories: plan.pairs.map((x) => x.after), deduplicated: plan.deduplicated, warnings: [] };
    } else if (inputs.length) ({ plan, result: res } = await this.d.memories.createWithPlan(p, inputs, createOpts));

    const stored = new Set(res.memories.map((m) => m.id));
    const idOf = (id: string): string | null =>
      stored.has(id) ? id : (res.deduplicated.find((d) => d.requested_id === id)?.existing_id ?? null);
    const relations = extraction.memories.flatMap((m, i) =>
      m.relations.map((r) => ({ ...r, source_memory_id: idOf(ids[i]!) })),
    );
    // The write recorded the single-valued facts of the memories it created, at their valid time
    // (closing the values they replace): those are not recorded again here.
    const created = new Set(plan.pairs.flatMap((x) => (x.before ? [] : [x.after.id])));
    const toRecord = relations.filter(
      (r) => !(SINGLE_VALUED.has(r.predicate) && r.source_memory_id !== null && created.has(r.source_memory_id)),
    );
    const names = new Map<string, { name: string; type: Extraction["entities"][number]["type"] }>();
    for (const e of extraction.entities) names.set(nameKey(e.name), e);
    for (const r of relations) {
      for (const [name, type] of relationEntityTypes(r)) {
        if (!names.has(nameKey(name))) names.set(nameKey(name), { name, type });
      }
    }
    const ns = owner.namespace ?? null;
    const user = owner.user_id ?? null;
    const intents: GraphIntent[] = [
      ...(names.size ? [{ kind: "entities" as const, entities: [...names.values()] }] : []),
      ...toRecord.map((r): GraphIntent => ({
        kind: "relation",
        relation: { ...r, confidence: 0.8, namespace: ns, user_id: user },
        singleValued: SINGLE_VALUED.has(r.predicate),
      })),
    ];
    if (!opts.dryRun) await this.d.graphStore.apply(p.tenant, intents, now);
    const outcomes = new Map(plan.outcomes.map((o) => [o.id, o]));
    const candidates = inputs.map((m, i) => ({ entities: m.entities ?? [], outcome: outcomes.get(ids[i]!)! }));
    return {
      memories: res.memories,
      deduplicated: res.deduplicated,
      entities: extraction.entities,
      relations,
      topics: extraction.topics,
      warnings: res.warnings,
      ...(opts.trace
        ? { trace: { entries: ingestTrace(extraction, candidates, known), usage: extraction.usage ?? null } }
        : {}),
      ...(opts.dryRun ? { dry_run: true as const } : {}),
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
    const { seeds, facts, neighbours } = await this.around(p, q.query, q.hops, q.history, scope);
    const mentioned = seeds.flatMap((e) => [e.name, ...e.aliases]);
    const [memories, named] = await Promise.all([
      mentioned.length && q.limit > 0 ? this.d.memories.mentioning(p, mentioned, q.limit, q.filter) : [],
      this.d.graphStore.namedInScope(p.tenant, seeds, scope),
    ]);
    const visible = new Set([...named, ...facts.flatMap((f) => [f.subject.id, f.object.id])]);
    return { entities: seeds.filter((e) => visible.has(e.id)), relations: facts, neighbours, memories };
  }

  /**
   * The entities a text names, and the relations and neighbours within `hops` visible in `scope`.
   * Public for Thinker (think's graph facts); transports call `query`.
   */
  async around(p: Principal, query: string, hops: number, history: boolean, scope: GraphScope): Promise<GraphAround> {
    const seeds = await this.d.graphStore.findByNames(p.tenant, nameCandidates(query));
    const entities = new Map(seeds.map((e) => [e.id, e]));
    const neighbours: { entity: Entity; hops: number }[] = [];
    let frontier = seeds.map((e) => e.id);
    // By fact (factKey): a fact several owners stated is seen once.
    const relations = new Map<string, Relation>();
    // Facts of another time than now: closed ones are read too, and those valid then are kept.
    const validity = scope.filter.validity ?? { kind: "current" };
    const closedToo = history || validity.kind !== "current";
    for (let hop = 1; hop <= hops && frontier.length; hop++) {
      const read = await this.d.graphStore.relationsOf(p.tenant, frontier, closedToo, scope);
      const rels = validity.kind === "current" ? read : read.filter((r) => validIn(r, validity));
      const next: string[] = [];
      for (const r of rels) {
        const key = factKey(r);
        if (!relations.has(key)) relations.set(key, r);
        for (const id of [r.subject_id, r.object_id]) if (!entities.has(id) && !next.includes(id)) next.push(id);
      }
      const found = await this.d.graphStore.getEntities(p.tenant, next);
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
}
