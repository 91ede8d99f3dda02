import * as z from "zod";
import { MESSAGE_ROLES } from "../domain/session.ts";
import { ownerFilter, validityOf, type MemoryFilter } from "../domain/filters.ts";
import type { FeedbackResult, Rating } from "../domain/feedback.ts";
import type { Entity, GraphFact, GraphQuery, GraphResult, IngestOptions, IngestResult } from "../domain/graph.ts";
import type { IngestTraceEntry } from "../domain/ingest-trace.ts";
import type { SearchHit } from "../domain/search.ts";
import type { Stats } from "../domain/stats.ts";
import type { ThinkResult } from "../domain/answer.ts";
import { MEMORY_TYPES } from "../domain/memory.ts";
import { DROP_REASONS, ENTITY_TYPES } from "../domain/extract.ts";
import { amsRecord, deduplicationOut, isoDate, label, memoryId, memoryRecordOut, validityFields } from "./ams.ts";
import { formatIso, formatIsoOrNull } from "../domain/stored-values.ts";

/** Wire schemas of edgemem's cognitive routes (ingest, graph query, think, feedback, status). */

const owner = {
  namespace: label.nullish(),
  user_id: label.nullish(),
  session_id: label.nullish(),
};

/** Ingest's options, the same on every transport (REST, MCP, engram, TrustGraph). */
export const ingestOptions = {
  trace: z
    .boolean()
    .default(false)
    .meta({ description: "Answer also with `trace`: every candidate the extractor produced and what became of it." }),
  dry_run: z.boolean().default(false).meta({
    description:
      "Decide everything a write would (extraction, dedup, graph) and write nothing: no rows, no events, no vectors.",
  }),
};

/** Ingest's options as the service takes them. */
export function ingestOptionsOf(b: { trace: boolean; dry_run: boolean }): IngestOptions {
  return { trace: b.trace, dryRun: b.dry_run };
}

export const ingestBody = z.object({
  messages: z
    .array(
      z.object({
        role: z.enum(MESSAGE_ROLES),
        content: z
          .string()
          .max(100_000)
          .refine((s) => s.trim().length > 0, { message: "must not be empty" }),
      }),
    )
    .min(1, { message: "at least one message is required" })
    .max(1000),
  ...owner,
  ...ingestOptions,
});

export const graphQueryBody = z.object({
  query: z.string().trim().min(1, { message: "must not be empty" }).max(1000),
  hops: z.number().int().min(1).max(2).default(2),
  include_history: z.boolean().default(false),
  limit: z.number().int().min(1).max(100).default(20),
  namespace: label.nullish().meta({ description: "Only facts and memories of this namespace." }),
  user_id: label.nullish().meta({ description: "Only facts and memories of this user." }),
  as_of: validityFields.as_of,
});

export const thinkBody = z.object({
  question: z.string().trim().min(1, { message: "must not be empty" }).max(10_000),
  limit: z.number().int().min(1).max(50).default(8),
  namespace: label.nullish(),
  user_id: label.nullish(),
  stream: z.boolean().default(false),
  ...validityFields,
});

export const feedbackBody = z
  .object({
    memory_id: memoryId,
    rating: z.enum(["positive", "negative"]).optional(),
    /** engram-style alternative to `rating`. */
    helpful: z.boolean().optional(),
    comment: z.string().max(2000).nullish(),
  })
  .refine((b) => b.rating !== undefined || b.helpful !== undefined, {
    message: "give rating (positive|negative) or helpful (boolean)",
    path: ["rating"],
  });

// ---------------------------------------------------------------------------------------------
// Service → wire

const count = z.number().int().min(0);

export const entityOutSchema = z
  .object({ id: z.string(), name: z.string(), type: z.enum(ENTITY_TYPES), aliases: z.array(z.string()) })
  .meta({ id: "Entity" });

export const factOutSchema = z
  .object({
    id: z.string(),
    subject: entityOutSchema,
    predicate: z.string(),
    object: entityOutSchema,
    source_memory_id: z.string().nullable(),
    valid_from: isoDate,
    valid_to: isoDate
      .nullable()
      .meta({ description: "When a newer contradicting fact closed this one; null while current." }),
    current: z.boolean(),
  })
  .meta({ id: "Relation" });

const relationOut = z.object({ subject: z.string(), predicate: z.string(), object: z.string() });

export const ingestTraceEntryOut = z
  .object({
    candidate: z.object({
      text: z.string(),
      memory_type: z.enum(MEMORY_TYPES).nullable().meta({ description: "null for a dropped candidate." }),
      topics: z.array(z.string()),
      entities: z.array(z.string()),
      relations: z.array(relationOut),
    }),
    outcome: z.enum(["kept", "dropped", "merged", "superseding"]).meta({
      description:
        "kept: stored as memory_id; dropped: not kept by the extractor (reason); merged: an existing memory holds it (merged_into); superseding: stored, closing the memory in supersedes.",
    }),
    memory_id: z
      .string()
      .optional()
      .meta({ description: "The memory holding the candidate: its own, or the one it merged into." }),
    reason: z.enum(DROP_REASONS).optional().meta({ description: "Why a dropped candidate was not kept." }),
    detail: z.string().optional().meta({ description: "What failed validation (reason invalid)." }),
    merged_into: z
      .object({
        memory_id: z.string(),
        kind: z.enum(["exact", "near"]),
        similarity: z.number().optional().meta({ description: "Cosine similarity of a near duplicate." }),
      })
      .optional(),
    supersedes: z.object({ memory_id: z.string(), text: z.string(), reason: z.string() }).optional(),
    entities_added: z
      .array(z.object({ name: z.string(), type: z.enum(ENTITY_TYPES), new: z.boolean() }))
      .meta({ description: "Entities it records in the graph; new when the graph did not know the name." }),
    relations_added: z.array(relationOut),
  })
  .meta({ id: "IngestTraceEntry" });

export const tokenUsageOut = z
  .object({ prompt_tokens: count, completion_tokens: count, total_tokens: count })
  .meta({ id: "TokenUsage" });

export const ingestOut = z.object({
  memories: z.array(memoryRecordOut),
  deduplicated: z.array(deduplicationOut),
  entities: z.array(z.object({ name: z.string(), type: z.enum(ENTITY_TYPES) })),
  relations: z.array(
    z.object({
      subject: z.string(),
      predicate: z.string(),
      object: z.string(),
      source_memory_id: z.string().nullable(),
    }),
  ),
  topics: z.array(z.string()),
  warnings: z.array(z.string()).optional(),
  trace: z.array(ingestTraceEntryOut).optional().meta({ description: "With trace: true." }),
  usage: tokenUsageOut
    .nullable()
    .optional()
    .meta({ description: "With trace: true, the LLM tokens the extraction spent; null offline." }),
  dry_run: z.literal(true).optional().meta({ description: "With dry_run: true: nothing was written." }),
});

export const graphOut = z.object({
  entities: z.array(entityOutSchema),
  relations: z.array(factOutSchema),
  neighbours: z.array(entityOutSchema.extend({ hops: z.number().int().min(1).max(2) })),
  memories: z.array(memoryRecordOut),
});

export const citationOutSchema = z
  .object({
    memory_id: z.string(),
    text: z.string(),
    memory_type: z.enum(MEMORY_TYPES),
    score: z.number(),
    valid_to: isoDate.optional().meta({ description: "Only on a memory no longer current: when it stopped holding." }),
    superseded_by: z.string().nullable().optional().meta({ description: "Only on a memory no longer current." }),
  })
  .meta({ id: "Citation" });

const thinkSourcesOut = z.object({
  citations: z.array(citationOutSchema),
  facts: z.array(factOutSchema),
  provider: z.string().meta({ description: "Which LLM provider answered (offline, openai, workers-ai)." }),
});
export const thinkOut = thinkSourcesOut.extend({ answer: z.string() });
/** The events of a streamed think (`stream: true`): tokens, then done with the sources, or an error. */
export const thinkEvent = z.union([
  z.object({ token: z.string() }),
  thinkSourcesOut.extend({ done: z.literal(true) }),
  z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
]);

export const feedbackOut = z.object({
  feedback_id: z.string(),
  memory: memoryRecordOut,
  deleted: z.boolean().meta({ description: "The feedback took the memory under the deletion threshold." }),
});

export const statsOut = z.object({
  memories: z.object({ total: count, by_type: z.record(z.string(), count) }),
  entities: count,
  relations: z.object({ total: count, current: count }),
  sessions: count,
  feedback: count,
  index: z
    .object({ pending: count, sent: count, indexed: count })
    .meta({ description: "Vector-index sync: rows not yet confirmed are pending or sent." }),
  last_consolidation: isoDate.nullable(),
  last_consolidation_result: z.record(z.string(), z.unknown()).nullable(),
});

export const whoamiOut = z.object({
  tenant: z.string(),
  subject: z.string(),
  scopes: z
    .array(z.string())
    .nullable()
    .meta({ description: "The token's scopes; null when it has none (all allowed)." }),
  can_write: z.boolean(),
  auth_mode: z.enum(["none", "jwt"]),
});

export const consolidationOut = z.object({ checked: count, merged: count, removed: count, forgotten: count });

/** A think body as the service's question: namespace and user_id narrow the memories and facts consulted. */
export function thinkRequest(b: z.output<typeof thinkBody> | Omit<z.output<typeof thinkBody>, "stream">): {
  question: string;
  limit: number;
  filter: MemoryFilter;
} {
  return { question: b.question, limit: b.limit, filter: { ...ownerFilter(b), validity: validityOf(b) } };
}

/** A graph query body as the service's query: namespace and user_id narrow the facts and memories seen. */
export function graphRequest(b: z.output<typeof graphQueryBody>): GraphQuery {
  return {
    query: b.query,
    hops: b.hops,
    history: b.include_history,
    limit: b.limit,
    filter: { ...ownerFilter(b), validity: validityOf({ as_of: b.as_of, include_superseded: b.include_history }) },
  };
}

/** What accompanies a think answer: the memories and graph facts it rests on. */
export function thinkSources(r: ThinkResult): z.input<typeof thinkSourcesOut> {
  return { citations: r.citations.map(citationOut), facts: r.facts.map(factOut), provider: r.provider };
}

/** A whole (not streamed) think reply: the answer collected, then its sources. */
export async function thinkResponse(r: ThinkResult): Promise<z.input<typeof thinkOut>> {
  const { answer } = await collectAnswer(r.answer);
  return { answer, ...thinkSources(r) };
}

/** A streamed answer read to its end: the text and how many chunks it came in; `onChunk` sees each as it arrives. */
export async function collectAnswer(
  chunks: AsyncIterable<string>,
  onChunk?: (chunk: string) => void,
): Promise<{ answer: string; chunks: number }> {
  let answer = "";
  let n = 0;
  for await (const chunk of chunks) {
    answer += chunk;
    n++;
    onChunk?.(chunk);
  }
  return { answer, chunks: n };
}

export function entityOut(e: Entity): z.input<typeof entityOutSchema> {
  return { id: e.id, name: e.name, type: e.type, aliases: e.aliases };
}

export function factOut(f: GraphFact): z.input<typeof factOutSchema> {
  return {
    id: f.id,
    subject: entityOut(f.subject),
    predicate: f.predicate,
    object: entityOut(f.object),
    source_memory_id: f.source_memory_id,
    valid_from: formatIso(f.valid_from),
    valid_to: formatIsoOrNull(f.valid_to),
    current: f.valid_to === null,
  };
}

export function ingestResponse(r: IngestResult): z.input<typeof ingestOut> {
  return {
    memories: r.memories.map(amsRecord),
    deduplicated: r.deduplicated,
    entities: r.entities,
    relations: r.relations,
    topics: r.topics,
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
    ...(r.trace ? { trace: r.trace.entries.map(traceEntryOut), usage: r.trace.usage } : {}),
    ...(r.dry_run ? { dry_run: true as const } : {}),
  };
}

function traceEntryOut(e: IngestTraceEntry): z.input<typeof ingestTraceEntryOut> {
  if (e.merged_into?.similarity === undefined) return e;
  const similarity = Math.round(e.merged_into.similarity * 1e6) / 1e6;
  return { ...e, merged_into: { ...e.merged_into, similarity } };
}

export function graphResponse(r: GraphResult): z.input<typeof graphOut> {
  return {
    entities: r.entities.map(entityOut),
    relations: r.relations.map(factOut),
    neighbours: r.neighbours.map((n) => ({ ...entityOut(n.entity), hops: n.hops })),
    memories: r.memories.map(amsRecord),
  };
}

export function feedbackResponse(r: FeedbackResult): z.input<typeof feedbackOut> {
  return { feedback_id: r.feedback_id, memory: amsRecord(r.memory), deleted: r.deleted };
}

/** `rating` (positive|negative) or engram's booleans (`helpful`, `positive`) as a rating. */
export function ratingOf(b: { rating?: Rating; helpful?: boolean; positive?: boolean }): Rating {
  return b.rating ?? ((b.positive ?? b.helpful) ? "positive" : "negative");
}

export function citationOut(h: SearchHit): z.input<typeof citationOutSchema> {
  const m = h.memory;
  return {
    memory_id: m.id,
    text: m.text,
    memory_type: m.memory_type,
    score: Math.round(h.score * 1e6) / 1e6,
    ...(m.valid_to !== null ? { valid_to: formatIso(m.valid_to), superseded_by: m.superseded_by } : {}),
  };
}

export function statsResponse(s: Stats): z.input<typeof statsOut> {
  return { ...s, last_consolidation: formatIsoOrNull(s.last_consolidation) };
}
