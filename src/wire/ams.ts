import * as z from "zod";
import { AppError } from "../domain/errors.ts";
import { numericFilterSchema, tagFilterSchema, validityOf } from "../domain/filters.ts";
import { jsonObject, MAX_SPAN_DAYS, MAX_TTL_SECONDS, timestamp } from "../domain/input-limits.ts";
import { byteLength, MAX_ID_BYTES } from "../domain/ids.ts";
import { MEMORY_TYPES, SCOPES, type Memory, type MemoryPatch, type NewMemory } from "../domain/memory.ts";
import { DEFAULT_RECENCY, type RecencyParams } from "../domain/ranking.ts";
import { formatIso, formatIsoOrNull } from "../domain/stored-values.ts";
import type { SearchHit, SearchRequest, SearchResult } from "../domain/search.ts";
import type { HistoryEntry } from "../domain/memory.ts";
import { cursorOrOffset, cursorParam, nextCursor, nextCursorOut } from "./paging.ts";

/**
 * Wire schemas of the Agent Memory Server API (seed + the official clients' extras). The
 * clients send `null` for every unset optional field, so optional fields are nullish throughout.
 */

export const memoryId = z
  .string()
  .min(1)
  .refine((s) => byteLength(s) <= MAX_ID_BYTES, { message: `must be at most ${MAX_ID_BYTES} bytes` });
export const label = z.string().min(1).max(256);
const text = z.string().trim().min(1, { message: "must not be empty" }).max(100_000);
const stringList = z.array(z.string().min(1).max(256)).max(100);

const recordFields = {
  text,
  session_id: label.nullish(),
  user_id: label.nullish(),
  namespace: label.nullish(),
  agent_id: label.nullish(),
  scope: z.enum(SCOPES).nullish(),
  key: z.string().min(1).max(512).nullish(),
  memory_type: z.enum(MEMORY_TYPES).nullish(),
  topics: stringList.nullish(),
  entities: stringList.nullish(),
  priority: z.number().int().min(1).max(10).nullish(),
  confidence: z.number().min(0).max(1).nullish(),
  pinned: z.boolean().nullish(),
  metadata: jsonObject.nullish(),
  created_at: timestamp.nullish(),
  last_accessed: timestamp.nullish(),
  event_date: timestamp.nullish(),
  expires_at: timestamp.nullish(),
  /** Seconds to live from now (alternative to expires_at); at most 100 years. */
  ttl_seconds: z.number().int().positive().max(MAX_TTL_SECONDS).nullish(),
  // Message ids: bounded like ids, so a record (and its history row, before + after) stays far under D1's 2 MB row.
  extracted_from: z.array(memoryId).max(1000).nullish(),
  discrete_memory_extracted: z.enum(["t", "f"]).nullish(),
  extraction_strategy: z.string().max(64).nullish(),
  // Sent back by clients that round-trip records; derived server-side, so checked and ignored.
  memory_hash: z.string().nullish(),
  persisted_at: timestamp.nullish(),
  updated_at: timestamp.nullish(),
  /** edgemem, valid time (docs/temporal.md): when the memory became true (default: event_date, else now). */
  valid_from: timestamp.nullish(),
  /** edgemem: when it stopped being true (null = current). */
  valid_to: timestamp.nullish(),
  // Set by supersession and invalidation: sent back by clients that round-trip records, ignored.
  superseded_by: z.string().nullish(),
  supersedes: z.string().nullish(),
  invalid_reason: z.string().max(1000).nullish(),
};

export const memoryRecordInput = z.object({ id: memoryId.nullish(), ...recordFields });
export type MemoryRecordInput = z.output<typeof memoryRecordInput>;

export const createMemoriesBody = z.object({
  memories: z.array(memoryRecordInput).min(1, { message: "at least one memory is required" }),
  /** AMS's flag: content dedup on write (default: DEDUP_ON_WRITE). */
  deduplicate: z.boolean().nullish(),
});

export const namespaceQuery = z.object({ namespace: label.optional() });

/** Unknown fields are a 422, as in AMS: a misspelt field must not be a silent no-op. */
export const patchMemoryBody = z.strictObject(recordFields).partial();

/** edgemem, valid time (docs/temporal.md): which memories a read sees; by default the current ones. */
export const validityFields = {
  as_of: timestamp
    .nullish()
    .meta({ description: "edgemem: answer as of this time: the memories valid then (superseded since or not)." }),
  include_superseded: z
    .boolean()
    .nullish()
    .meta({ description: "edgemem: include memories superseded or invalidated since (the history of a fact)." }),
};

const tagFilter = tagFilterSchema.nullish();
const numericFilter = numericFilterSchema.nullish();

export const searchBody = z.object({
  text: z.string().max(10_000).nullish(),
  limit: z.number().int().min(1).max(100).default(10),
  offset: z.number().int().min(0).max(10_000).default(0),
  /** edgemem: keyset paging of a search without text (a browse), instead of offset. */
  cursor: cursorParam("memories")
    .meta({
      description:
        "edgemem, a search without `text` (a browse, newest first): the previous page's `next_cursor`. O(page) however deep, where `offset` reads and skips every memory before the page; not with `text` or `offset`.",
    })
    .nullish(),
  session_id: tagFilter,
  namespace: tagFilter,
  topics: tagFilter,
  entities: tagFilter,
  user_id: tagFilter,
  memory_type: tagFilter,
  agent_id: tagFilter,
  extraction_strategy: tagFilter,
  created_at: numericFilter,
  last_accessed: numericFilter,
  updated_at: numericFilter,
  event_date: numericFilter,
  search_mode: z.enum(["hybrid", "semantic", "keyword"]).nullish(),
  hybrid_alpha: z.number().min(0).max(1).nullish(),
  distance_threshold: z.number().min(0).max(2).nullish(),
  recency_boost: z.boolean().nullish(),
  recency_semantic_weight: z.number().min(0).nullish(),
  recency_recency_weight: z.number().min(0).nullish(),
  recency_freshness_weight: z.number().min(0).nullish(),
  recency_novelty_weight: z.number().min(0).nullish(),
  recency_half_life_last_access_days: z.number().positive().nullish(),
  recency_half_life_created_days: z.number().positive().nullish(),
  /** Accepted for client compatibility: recency is always applied server-side here. */
  server_side_recency: z.boolean().nullish(),
  text_scorer: z.string().nullish(),
  /** edgemem: add `score_details` (vector, keyword, recency) to every hit. */
  explain: z.boolean().nullish(),
  ...validityFields,
});
export type SearchBody = z.output<typeof searchBody>;

const days = z.number().min(0).max(MAX_SPAN_DAYS);
const forgetPolicy = z.object({
  max_age_days: days.nullish(),
  max_inactive_days: days.nullish(),
  budget: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
  memory_type_allowlist: z.array(z.enum(MEMORY_TYPES)).nullish(),
  hard_age_multiplier: z.number().positive().max(1000).nullish(),
});

export const forgetBody = z.object({
  policy: forgetPolicy.default({}),
  namespace: label.nullish(),
  user_id: label.nullish(),
  session_id: label.nullish(),
  limit: z.number().int().min(1).max(10_000).nullish(),
  dry_run: z.boolean().nullish(),
  pinned_ids: z.array(z.string()).max(10_000).nullish(),
});

export const invalidateBody = z.object({
  reason: z.string().trim().min(1, { message: "must not be empty" }).max(1000),
  at: timestamp.nullish().meta({ description: "When it stopped being true (default: now)." }),
});

export const boolParam = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
export const forgetQuery = z.object({
  namespace: label.optional(),
  user_id: label.optional(),
  session_id: label.optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  dry_run: boolParam.optional(),
});

export const deleteQuery = z.object({
  memory_ids: z
    .union([memoryId, z.array(memoryId)])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .pipe(z.array(memoryId).min(1).max(1000)),
  namespace: label.optional(),
});

// ---------------------------------------------------------------------------------------------
// Wire → service

/** A create request may carry at most `max` memories (MAX_BATCH): a 422 naming the field otherwise. */
export function checkBatch(memories: readonly unknown[], max: number): void {
  if (memories.length > max) {
    throw new AppError("validation_error", `at most ${max} memories per request`, [
      { field: "memories", message: `at most ${max} items` },
    ]);
  }
}

/** A record as the service takes it: nulls dropped, ttl_seconds turned into expires_at. */
export function toNewMemory(r: MemoryRecordInput, now: number, defaultNamespace?: string): NewMemory {
  const m: NewMemory = {
    text: r.text,
    namespace: r.namespace ?? defaultNamespace ?? null,
    expires_at: r.expires_at ?? (r.ttl_seconds ? now + r.ttl_seconds * 1000 : null),
  };
  if (r.id) m.id = r.id;
  copyDefined(r, m, [
    "session_id",
    "user_id",
    "agent_id",
    "scope",
    "key",
    "memory_type",
    "topics",
    "entities",
    "priority",
    "confidence",
    "pinned",
    "metadata",
    "created_at",
    "last_accessed",
    "event_date",
    "extracted_from",
    "discrete_memory_extracted",
    "extraction_strategy",
    "valid_from",
    "valid_to",
    "invalid_reason",
  ]);
  return m;
}

/** A PATCH body as a service patch: absent fields unchanged, null clears nullable fields. */
export function toPatch(body: z.output<typeof patchMemoryBody>, now: number): MemoryPatch {
  const patch: Record<string, unknown> = {};
  const clearable = new Set([
    "session_id",
    "user_id",
    "namespace",
    "agent_id",
    "key",
    "event_date",
    "expires_at",
    "valid_to",
    "invalid_reason",
  ]);
  const derived = ["memory_hash", "persisted_at", "updated_at", "ttl_seconds", "superseded_by", "supersedes"];
  for (const [k, v] of Object.entries(body)) {
    if (v === undefined || derived.includes(k)) continue;
    if (v === null) {
      if (clearable.has(k)) patch[k] = null;
      else if (k === "topics" || k === "entities") patch[k] = [];
      continue;
    }
    patch[k] = v;
  }
  if (typeof body.ttl_seconds === "number") patch.expires_at = now + body.ttl_seconds * 1000;
  return patch as MemoryPatch;
}

export function toSearchRequest(b: SearchBody): SearchRequest {
  if (b.cursor && b.text?.trim()) {
    const message = "only a search without text (a browse) pages by cursor; a ranked search pages by offset";
    throw AppError.validation([{ field: "cursor", message }]);
  }
  cursorOrOffset(b.cursor, b.offset);
  const filter: SearchRequest["filter"] = {};
  for (const k of [
    "session_id",
    "namespace",
    "topics",
    "entities",
    "user_id",
    "memory_type",
    "agent_id",
    "extraction_strategy",
  ] as const) {
    const f = b[k];
    if (f) filter[k] = f;
  }
  for (const k of ["created_at", "last_accessed", "updated_at", "event_date"] as const) {
    const f = b[k];
    if (f) filter[k] = f;
  }
  filter.validity = validityOf(b);
  const recency: RecencyParams | null =
    b.recency_boost === false
      ? null
      : {
          semantic_weight: b.recency_semantic_weight ?? DEFAULT_RECENCY.semantic_weight,
          recency_weight: b.recency_recency_weight ?? DEFAULT_RECENCY.recency_weight,
          freshness_weight: b.recency_freshness_weight ?? DEFAULT_RECENCY.freshness_weight,
          novelty_weight: b.recency_novelty_weight ?? DEFAULT_RECENCY.novelty_weight,
          half_life_last_access_days:
            b.recency_half_life_last_access_days ?? DEFAULT_RECENCY.half_life_last_access_days,
          half_life_created_days: b.recency_half_life_created_days ?? DEFAULT_RECENCY.half_life_created_days,
        };
  return {
    text: b.text,
    limit: b.limit,
    offset: b.offset,
    after: b.cursor ?? null,
    filter,
    mode: b.search_mode ?? "hybrid",
    hybridAlpha: b.hybrid_alpha ?? null,
    recency,
    distanceThreshold: b.distance_threshold ?? null,
    explain: b.explain ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Service → wire: the response schemas (documented in /openapi.json) and the functions that fill them

export const isoDate = z.iso.datetime();
const count = z.number().int().min(0);

export const memoryRecordOut = z
  .object({
    id: z.string(),
    text: z.string(),
    session_id: z.string().nullable(),
    user_id: z.string().nullable(),
    namespace: z.string().nullable(),
    last_accessed: isoDate,
    created_at: isoDate,
    updated_at: isoDate,
    topics: z.array(z.string()),
    entities: z.array(z.string()),
    memory_hash: z.string(),
    memory_type: z.enum(MEMORY_TYPES),
    persisted_at: isoDate.nullable(),
    extracted_from: z.array(z.string()),
    event_date: isoDate.nullable(),
    discrete_memory_extracted: z.enum(["t", "f"]),
    extraction_strategy: z.string(),
    pinned: z.boolean(),
    metadata: z.record(z.string(), z.unknown()),
    agent_id: z.string().nullable(),
    scope: z.enum(SCOPES),
    key: z.string().nullable(),
    priority: z.number().int(),
    confidence: z.number(),
    expires_at: isoDate.nullable(),
    valid_from: isoDate.meta({ description: "edgemem: when this became true (valid time)." }),
    valid_to: isoDate.nullable().meta({ description: "edgemem: when it stopped being true; null = current." }),
    superseded_by: z.string().nullable().meta({ description: "edgemem: the memory that superseded this one." }),
    supersedes: z.string().nullable().meta({ description: "edgemem: the memory this one superseded." }),
    invalid_reason: z.string().nullable().meta({ description: "edgemem: why it stopped being current." }),
  })
  .meta({
    id: "MemoryRecord",
    description: "A long-term memory as AMS clients read it (ISO dates), plus edgemem's fields.",
  });

export const scoreDetailsOut = z
  .object({
    vector: z.number().nullable(),
    vector_rank: z.number().int().nullable(),
    keyword: z.number().nullable(),
    keyword_rank: z.number().int().nullable(),
    keyword_match: z.number().nullable().meta({ description: "Share of the query's IDF weight the memory matched." }),
    vector_weight: z.number().nullable().meta({
      description: "Weight fusion gave the vector side: hybrid_alpha, or chosen by how far each side can be trusted.",
    }),
    rerank: z
      .number()
      .nullable()
      .meta({ description: "The reranker's score (RERANK on), when it re-ordered this hit." }),
    time: z.number().nullable().meta({
      description:
        'How well the memory\'s date fits a time the query names ("in May 2024"), 0-1; null when it names none.',
    }),
    relevance: z.number(),
    recency: z.number().nullable(),
    final: z.number(),
  })
  .meta({ id: "ScoreDetails" });

export const memoryHitOut = memoryRecordOut
  .extend({
    dist: z.number(),
    score: z.number(),
    score_type: z.enum(["hybrid", "semantic", "keyword"]),
    score_details: scoreDetailsOut.optional().meta({ description: "With `explain: true`." }),
  })
  .meta({ id: "MemoryHit", description: "A search result: the memory, its distance (1 - relevance) and final score." });

const warnings = z.array(z.string()).optional().meta({ description: "Degraded but successful: what did not work." });

export const searchResultOut = z
  .object({
    memories: z.array(memoryHitOut),
    total: count,
    next_offset: count.nullable(),
    next_cursor: nextCursorOut.meta({
      description:
        "A search without text (a browse): pass it as `cursor` for the next page (O(page), where offset is O(offset)); null on the last page, and for a ranked search.",
    }),
    warnings,
  })
  .meta({ id: "MemoryRecordResults" });

export const deduplicationOut = z
  .object({ requested_id: z.string().nullable(), existing_id: z.string(), kind: z.enum(["exact", "near"]) })
  .meta({
    id: "Deduplication",
    description:
      "A memory not stored because an identical (exact) or near-identical (near, updated instead) one exists.",
  });

export const ackOut = z.object({ status: z.literal("ok") }).meta({ id: "AckResponse" });
export const createMemoriesOut = ackOut.extend({ deduplicated: z.array(deduplicationOut).optional(), warnings });
export const healthOut = z.object({ now: z.number().meta({ description: "Server time, Unix seconds." }) });
export const forgetOut = z.object({
  scanned: count,
  deleted: count,
  deleted_ids: z.array(z.string()),
  dry_run: z.boolean(),
});

export const historyEntryOut = z
  .object({
    op: z.enum(["create", "update", "delete"]),
    actor: z.string(),
    at: isoDate,
    reason: z.string().nullable(),
    before: memoryRecordOut.nullable(),
    after: memoryRecordOut.nullable(),
  })
  .meta({ id: "HistoryEntry" });
export const historyOut = z.object({
  memory_id: z.string(),
  history: z.array(historyEntryOut),
  next_cursor: nextCursorOut,
});

export const historyQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ description: "Entries per page." }),
  order: z
    .enum(["asc", "desc"])
    .default("asc")
    .meta({ description: "`asc`: in the order they were written; `desc`: the newest first." }),
  cursor: cursorParam("history").optional(),
});

/** A memory as AMS clients read it (ISO dates), plus edgemem's own fields. */
export function amsRecord(m: Memory): z.input<typeof memoryRecordOut> {
  return {
    id: m.id,
    text: m.text,
    session_id: m.session_id,
    user_id: m.user_id,
    namespace: m.namespace,
    last_accessed: formatIso(m.last_accessed),
    created_at: formatIso(m.created_at),
    updated_at: formatIso(m.updated_at),
    topics: m.topics,
    entities: m.entities,
    memory_hash: m.memory_hash,
    memory_type: m.memory_type,
    persisted_at: formatIsoOrNull(m.persisted_at),
    extracted_from: m.extracted_from,
    event_date: formatIsoOrNull(m.event_date),
    discrete_memory_extracted: m.discrete_memory_extracted,
    extraction_strategy: m.extraction_strategy,
    pinned: m.pinned,
    metadata: m.metadata,
    agent_id: m.agent_id,
    scope: m.scope,
    key: m.key,
    priority: m.priority,
    confidence: m.confidence,
    expires_at: formatIsoOrNull(m.expires_at),
    valid_from: formatIso(m.valid_from),
    valid_to: formatIsoOrNull(m.valid_to),
    superseded_by: m.superseded_by,
    supersedes: m.supersedes,
    invalid_reason: m.invalid_reason,
  };
}

export function amsSearchResult(r: SearchResult): z.input<typeof searchResultOut> {
  return {
    memories: r.hits.map(amsHit),
    total: r.total,
    next_offset: r.nextOffset,
    next_cursor: nextCursor("memories", r.next),
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
  };
}

/** Search hits as the WebSocket dialects answer them: the records with their scores, and the total. */
export function scoredMemories(r: SearchResult): {
  memories: (z.input<typeof memoryRecordOut> & { score: number })[];
  total: number;
} {
  return { memories: r.hits.map((h) => ({ ...amsRecord(h.memory), score: h.score })), total: r.total };
}

export function amsHit(h: SearchHit): z.input<typeof memoryHitOut> {
  return {
    ...amsRecord(h.memory),
    dist: round(h.dist),
    score: round(h.score),
    score_type: h.scoreType,
    ...(h.details ? { score_details: h.details } : {}),
  };
}

export function historyEntry(e: HistoryEntry): z.input<typeof historyEntryOut> {
  return {
    op: e.op,
    actor: e.actor,
    at: formatIso(e.at),
    reason: e.reason,
    before: e.before ? amsRecord(e.before) : null,
    after: e.after ? amsRecord(e.after) : null,
  };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function copyDefined<T extends object>(from: T, to: object, keys: (keyof T)[]): void {
  for (const k of keys) {
    const v = from[k];
    if (v !== null && v !== undefined) (to as Record<string, unknown>)[k as string] = v;
  }
}
