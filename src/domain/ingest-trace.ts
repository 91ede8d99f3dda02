import { entityType, type DropReason, type EntityType, type ExtractedRelation, type Extraction } from "./extract.ts";
import { nameKey, relationEntityTypes } from "./graph.ts";
import type { MemoryType } from "./memory.ts";
import type { WriteOutcome } from "./write-plan.ts";

/**
 * The ingest trace: every candidate the extractor produced and what became of it. Pure: the
 * service hands in the extraction, the write plan's outcomes and the entities the graph knew.
 */

/** One candidate of an ingest and its outcome. */
export interface IngestTraceEntry {
  /** As extracted (a dropped one has no type, and no tags of its own). */
  candidate: {
    text: string;
    memory_type: MemoryType | null;
    topics: string[];
    entities: string[];
    relations: ExtractedRelation[];
  };
  /**
   * `kept`: stored as `memory_id`; `dropped`: not kept by the extractor (`reason`); `merged`: an
   * existing memory holds it (`merged_into`); `superseding`: stored, closing `supersedes`.
   */
  outcome: "kept" | "dropped" | "merged" | "superseding";
  memory_id?: string;
  reason?: DropReason;
  detail?: string;
  merged_into?: WriteOutcome["merged_into"];
  supersedes?: WriteOutcome["supersedes"];
  /** The entities it records in the graph; `new` when the graph did not know the name before (nor an earlier candidate added it). */
  entities_added: { name: string; type: EntityType; new: boolean }[];
  /** The relations it records (a fact already current gains this memory as another source). */
  relations_added: ExtractedRelation[];
}

/**
 * The trace of an ingest: the extracted candidates in order (`candidates[i]` with `outcomes[i]`,
 * `entities[i]` the names its memory carries), then the dropped ones. `known` are the entities the
 * graph held before the ingest (a name or alias resolves to its entity).
 */
export function ingestTrace(
  extraction: Extraction,
  candidates: { entities: string[]; outcome: WriteOutcome }[],
  known: { name: string; type: EntityType; aliases: string[] }[],
): IngestTraceEntry[] {
  const before = new Map(
    known.flatMap((e) => [e.name, ...e.aliases].map((n) => [nameKey(n), { name: e.name, type: e.type }] as const)),
  );
  const extracted = new Map(extraction.entities.map((e) => [nameKey(e.name), e.type]));
  const added = new Set<string>();
  const kept = extraction.memories.map((m, i): IngestTraceEntry => {
    const { entities, outcome } = candidates[i]!;
    const named = new Map<string, { name: string; type: EntityType }>();
    const name = (n: string, type: () => EntityType) => {
      const key = nameKey(n);
      if (!named.has(key)) named.set(key, before.get(key) ?? { name: n.trim(), type: extracted.get(key) ?? type() });
    };
    for (const e of entities) name(e, () => entityType(e, m.text));
    for (const r of m.relations) for (const [n, type] of relationEntityTypes(r)) name(n, () => type);
    const entitiesAdded = [...named].map(([key, e]) => {
      const fresh = !before.has(key) && !added.has(key);
      added.add(key);
      return { name: e.name, type: e.type, new: fresh };
    });
    return {
      candidate: {
        text: m.text,
        memory_type: m.memory_type,
        topics: m.topics,
        entities: m.entities,
        relations: m.relations,
      },
      outcome: outcome.outcome,
      memory_id: outcome.memory_id,
      ...(outcome.merged_into ? { merged_into: outcome.merged_into } : {}),
      ...(outcome.supersedes ? { supersedes: outcome.supersedes } : {}),
      entities_added: entitiesAdded,
      relations_added: m.relations.map((r) => ({ subject: r.subject, predicate: r.predicate, object: r.object })),
    };
  });
  const dropped = extraction.dropped.map((d): IngestTraceEntry => ({
    candidate: { text: d.text, memory_type: null, topics: [], entities: [], relations: [] },
    outcome: "dropped",
    reason: d.reason,
    ...(d.detail ? { detail: d.detail } : {}),
    entities_added: [],
    relations_added: [],
  }));
  return [...kept, ...dropped];
}
