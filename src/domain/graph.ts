import { entityType, type EntityType, type Extraction, type TokenUsage } from "./extract.ts";
import type { MemoryFilter } from "./filters.ts";
import type { IngestTraceEntry } from "./ingest-trace.ts";
import type { Deduplication, Memory } from "./memory.ts";

export interface Entity {
  id: string;
  name: string;
  type: EntityType;
  aliases: string[];
  created_at: number;
  updated_at: number;
}

export interface Relation {
  id: string;
  subject_id: string;
  predicate: string;
  object_id: string;
  source_memory_id: string | null;
  confidence: number;
  valid_from: number;
  valid_to: number | null;
}

/** Whose facts a read may see: those stated by a live memory passing `filter` (at time `now`). */
export interface GraphScope {
  filter: MemoryFilter;
  now: number;
}

/** Who owns what an ingest stores. */
export interface Owner {
  namespace?: string | null;
  user_id?: string | null;
  session_id?: string | null;
}

export interface IngestResult {
  memories: Memory[];
  deduplicated: Deduplication[];
  entities: Extraction["entities"];
  relations: { subject: string; predicate: string; object: string; source_memory_id: string | null }[];
  topics: string[];
  warnings: string[];
  /** With `trace`: every candidate and its outcome, and the LLM tokens spent (null offline). */
  trace?: { entries: IngestTraceEntry[]; usage: TokenUsage | null };
  /** A dry run: what would be written, nothing was. */
  dry_run?: true;
}

/** What an ingest reports besides its result, and whether it writes. */
export interface IngestOptions {
  /** Report every candidate and its outcome (and the LLM tokens spent). */
  trace?: boolean;
  /** Decide everything a write would, write nothing (no rows, no events, no vectors). */
  dryRun?: boolean;
}

/** A relation with its entities resolved. */
export interface GraphFact {
  id: string;
  subject: Entity;
  predicate: string;
  object: Entity;
  source_memory_id: string | null;
  valid_from: number;
  valid_to: number | null;
}

export interface GraphResult {
  entities: Entity[];
  relations: GraphFact[];
  neighbours: { entity: Entity; hops: number }[];
  memories: Memory[];
}

/** A graph query: the text naming entities, and whose facts it may see (`filter`, as a search's). */
export interface GraphQuery {
  query: string;
  hops: number;
  history: boolean;
  /** Memories mentioning the entities to include (0: none). */
  limit: number;
  filter: MemoryFilter;
}

/** The key an entity name is known by: trimmed, single-spaced, lower-cased. */
export const nameKey = (name: string) => name.trim().replace(/\s+/g, " ").toLowerCase();

/** A relation as a fact, its entities looked up in `entities` (which must hold both). */
export function factOf(r: Relation, entities: Map<string, Entity>): GraphFact {
  return {
    id: r.id,
    subject: entities.get(r.subject_id)!,
    predicate: r.predicate,
    object: entities.get(r.object_id)!,
    source_memory_id: r.source_memory_id,
    valid_from: r.valid_from,
    valid_to: r.valid_to,
  };
}

export function factSentence(f: GraphFact): string {
  return `${f.subject.name} ${f.predicate.replace(/_/g, " ")} ${f.object.name}`;
}

/**
 * The names a text may mention an entity by: the whole text and each run of one to three words
 * (stripped of punctuation but what names use: `.+#-`).
 */
export function nameCandidates(query: string): string[] {
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
  return [...grams].filter(Boolean);
}

/** Predicates whose subject is a person (the speaker, or a named person). */
const PERSON_SUBJECT = new Set(["prefers", "lives_in", "works_at", "role", "owns"]);

/** The types a relation implies for its subject and object (for entities the extraction did not type). */
export function relationEntityTypes(r: {
  subject: string;
  predicate: string;
  object: string;
}): [name: string, type: EntityType][] {
  return [
    [r.subject, r.predicate === "uses" ? "topic" : PERSON_SUBJECT.has(r.predicate) ? "person" : "concept"],
    [
      r.object,
      r.predicate === "lives_in" ? "place" : r.predicate === "works_at" ? "organization" : entityType(r.object),
    ],
  ];
}

/**
 * The fact a relation states, whoever stated it: owners who stated the same fact each have their
 * relation, and a reader sees a current fact once; a closed one keeps its period, so a fact true
 * twice shows twice in the history.
 */
export function factKey(r: Relation): string {
  return JSON.stringify([
    r.subject_id,
    r.predicate,
    r.object_id,
    r.valid_to === null ? null : [r.valid_from, r.valid_to],
  ]);
}
