import type { FeedbackRecord } from "./feedback.ts";
import type { EntityType } from "./extract.ts";
import type { Entity, Relation } from "./graph.ts";
import { withValidity, type Memory, type NewMemory } from "./memory.ts";

/**
 * The `edgemem-export` format, version 1: a tenant as JSON Lines. Line 1 is a header; then typed
 * records, kind after kind in RECORD_KINDS order, each kind in a stable key order; a `cursor` line
 * after every page (pass it back to resume right after it); last an `end` trailer with the counts,
 * so a truncated stream is detectable. Times are epoch milliseconds (integers), as stored: lossless,
 * and what every record's own fields already are. Vectors are not carried: an import re-embeds
 * each memory with the target's model (a vector is only as good as the model that reads it).
 */

export const EXPORT_FORMAT = "edgemem-export";
export const EXPORT_VERSION = 1;
/** The media type of an export and of an import body. */
export const NDJSON = "application/x-ndjson";

/** The record kinds, in the order an export writes them. */
export const RECORD_KINDS = ["memory", "history", "entity", "relation", "session", "feedback"] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** Longest line an import reads (a record holds at most one D1 row, ≤ 2 MB, plus JSON escaping). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;
/** Largest import body: Workers take at most 100 MB per request; the import CLI posts chunks far below. */
export const MAX_IMPORT_BYTES = 100 * 1024 * 1024;
/**
 * Records one import request takes. A Worker invocation may run 1,000 D1 queries; a group of 50
 * records costs 2–8 (and up to 50 more when one record fails it), so 2,000 keep far inside that.
 * The answer's `stopped_at_line` says where to go on from (the CLI posts 500 at a time).
 */
export const MAX_IMPORT_RECORDS = 2000;
/** Errors an import answer lists (the rest are counted). */
export const MAX_REPORTED_ERRORS = 1000;

/**
 * A stored memory as exported: every field of the record except the tenant, the compare-and-set
 * counter (`version`) and the embedding model (an import re-embeds). Built by removing those
 * fields, not by listing the others, so fields added to Memory ride along.
 */
export type MemoryRecord = Omit<Memory, "tenant" | "version" | "embedding_model">;

/** One entry of a memory's history: `n` is its place in that memory's history (0: the first write). */
export interface HistoryRecord {
  memory_id: string;
  n: number;
  op: "create" | "update" | "delete";
  actor: string;
  at: number;
  reason: string | null;
  /** The memory before and after the write, as stored then (without the tenant). */
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/**
 * An entity of the knowledge graph (found by its name and aliases: an import indexes both). Its
 * type is `entity_type`: `type` names the record's kind on every line.
 */
export interface EntityRecord extends Omit<Entity, "type"> {
  entity_type: EntityType;
}

/** A relation with its owner and every memory that stated it. */
export interface RelationRecord extends Relation {
  created_at: number;
  namespace: string | null;
  user_id: string | null;
  sources: string[];
}

/** A working-memory session as stored (its memories without the tenant), less its write counter. */
export interface SessionRecord {
  session_id: string;
  namespace: string | null;
  user_id: string | null;
  messages: { id: string; role: string; content: string; created_at: number }[];
  memories: Record<string, unknown>[];
  context: string | null;
  data: Record<string, unknown> | null;
  long_term_memory_strategy: Record<string, unknown>;
  tokens: number;
  ttl_seconds: number | null;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
  last_accessed: number;
}

export interface RecordOf {
  memory: MemoryRecord;
  history: HistoryRecord;
  entity: EntityRecord;
  relation: RelationRecord;
  session: SessionRecord;
  feedback: FeedbackRecord;
}

/** A data line of an export: a record of one kind, `type` naming it. */
export type ExportRecord = { [K in RecordKind]: { type: K } & RecordOf[K] }[RecordKind];

/** The kinds an import writes as plain rows (memories take the memory write path; history is appended in place). */
export type RowKind = "entity" | "relation" | "session" | "feedback";
export type RowRecord = Extract<ExportRecord, { type: RowKind }>;

export interface ExportHeader {
  type: "header";
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  tenant: string;
  exported_at: number;
  /** The cursor this stream resumed after (absent: from the start). */
  resumed_from?: string;
}

/** Where an export stands: the kind it is in and the key of the last record written (null: none yet). */
export interface ExportPosition {
  kind: RecordKind;
  /** The last record's key (memory, entity, relation, feedback id; session id; history: the memory id). */
  key: string | null;
  /** History only: the last entry's `n`. */
  n?: number;
}

export type ExportLine =
  | ExportHeader
  | ExportRecord
  | { type: "cursor"; cursor: string }
  | { type: "end"; counts: Record<RecordKind, number>; complete: true };

/** What one line of an import turned into: a record to write, or why it cannot be. */
export type ImportItem =
  | { line: number; kind: "record"; record: ExportRecord }
  /** A memory in another system's format (mem0, AMS), written through the normal create path. */
  | { line: number; kind: "foreign"; memory: NewMemory & { id: string } }
  | { line: number; kind: "header" | "cursor" | "end"; counts?: Record<RecordKind, number> }
  | { line: number; kind: "error"; error: string; field: string | null };

export interface ImportLineError {
  line: number;
  error: string;
  field: string | null;
}

export interface ImportResult {
  /** Records written, by kind. */
  imported: Record<RecordKind, number>;
  /** Records already there, identical: left alone (a re-import is a no-op). */
  unchanged: Record<RecordKind, number>;
  /** Lines that could not be imported (at most MAX_REPORTED_ERRORS listed; `failed` counts them all). */
  errors: ImportLineError[];
  failed: number;
  lines: number;
  /** The stream had a header but no `end` trailer: it was cut short (what came is imported). */
  truncated: boolean;
  /** The first line not read because the request took MAX_IMPORT_RECORDS records (null: read to the end). */
  stopped_at_line: number | null;
  warnings: string[];
}

export function emptyCounts(): Record<RecordKind, number> {
  return { memory: 0, history: 0, entity: 0, relation: 0, session: 0, feedback: 0 };
}

/** A stored memory as an export record: everything but the tenant, the write counter and the model. */
export function memoryRecord(m: Memory): MemoryRecord {
  const { tenant: _tenant, version: _version, embedding_model: _model, ...rest } = m;
  return rest;
}

/**
 * An imported memory record as a memory of `tenant` (not yet stored: version 0, no vector yet).
 * Fields a record of an earlier export may lack get the value a new memory would: the temporal
 * ones (valid time and supersession) say "current since it happened".
 */
export function memoryOf(r: MemoryRecord, tenant: string): Memory {
  return { ...withValidity(r), tenant, version: 0, embedding_model: null };
}

/** Whether a stored memory is the imported one: on the fields the stored record has (volatile ones aside). */
export function sameMemory(stored: Memory, imported: Memory): boolean {
  const mine = memoryRecord(imported) as unknown as Record<string, unknown>;
  const there = memoryRecord(stored);
  return sameRecord(there, Object.fromEntries(Object.keys(there).map((k) => [k, mine[k]])));
}

/** A stored snapshot (history before/after, a session's memories) without its tenant. */
export function withoutTenant(v: Record<string, unknown>): Record<string, unknown> {
  const { tenant: _tenant, ...rest } = v;
  return rest;
}

/**
 * Fields that may differ between an imported record and the stored one without it being another
 * version: `last_accessed` moves on every read of a memory or session.
 */
const VOLATILE = new Set(["last_accessed"]);

/** Whether two records are the same, volatile fields aside (key order ignored). */
export function sameRecord(a: object, b: object): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown, top = true): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x, false)).join(",")}]`;
  const keys = Object.keys(v)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined && !(top && VOLATILE.has(k)))
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k], false)}`).join(",")}}`;
}

/** The key of a record in its kind's export order (history: the memory id, with `n` beside it). */
export function recordKey(r: ExportRecord): ExportPosition {
  switch (r.type) {
    case "memory":
    case "entity":
    case "relation":
    case "feedback":
      return { kind: r.type, key: r.id };
    case "history":
      return { kind: "history", key: r.memory_id, n: r.n };
    case "session":
      return { kind: "session", key: r.session_id };
  }
}

/** Cursors an export hands out: base64url of `["x", kind, key, n?]`. */
export function encodeExportCursor(p: ExportPosition): string {
  const values: unknown[] = ["x", p.kind, p.key];
  if (p.n !== undefined) values.push(p.n);
  let binary = "";
  for (const b of new TextEncoder().encode(JSON.stringify(values))) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The position an export cursor holds, or null when `raw` is not one. */
export function decodeExportCursor(raw: string): ExportPosition | null {
  if (raw.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(raw)) return null;
  let value: unknown;
  try {
    const binary = atob(raw.replace(/-/g, "+").replace(/_/g, "/"));
    value = JSON.parse(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
        Uint8Array.from(binary, (c) => c.charCodeAt(0)),
      ),
    );
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value[0] !== "x" || value.length < 3 || value.length > 4) return null;
  const [, kind, key, n] = value as unknown[];
  if (!RECORD_KINDS.includes(kind as RecordKind)) return null;
  if (key !== null && (typeof key !== "string" || !key.length || key.length > 512)) return null;
  if (kind === "history") {
    if (key === null ? n !== undefined : !(Number.isSafeInteger(n) && (n as number) >= 0)) return null;
    return key === null ? { kind, key } : { kind, key, n: n as number };
  }
  if (n !== undefined) return null;
  return { kind: kind as RecordKind, key: key as string | null };
}

/** What happened to one history entry of an import. */
export type HistoryOutcome = "imported" | "unchanged" | "conflict" | "gap" | "too_large";
