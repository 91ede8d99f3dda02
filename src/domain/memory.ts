import type { ExtractedRelation } from "./extract.ts";
import type { MemoryFilter } from "./filters.ts";
import type { HistoryKey, MemoryKey } from "./cursor.ts";
import { sha256Hex } from "./ids.ts";

/**
 * Memory types: the Agent Memory Server's three (semantic, episodic, message) and engram's
 * cognitive types. A closed set, so a typo is a 422 rather than a silently unfilterable type.
 */
export const MEMORY_TYPES = [
  "semantic",
  "episodic",
  "message",
  "fact",
  "decision",
  "preference",
  "todo",
  "event",
  "insight",
  "procedure",
  "pattern",
  "error",
  "context",
  "observation",
  "goal",
  "summary",
] as const;
export type MemoryType = (typeof MEMORY_TYPES)[number];

export const SCOPES = ["session", "agent", "global"] as const;
export type Scope = (typeof SCOPES)[number];

/** A stored memory. Field names follow the wire (AMS) and the D1 columns; times are epoch ms. */
export interface Memory {
  id: string;
  tenant: string;
  namespace: string | null;
  user_id: string | null;
  session_id: string | null;
  agent_id: string | null;
  scope: Scope;
  key: string | null;
  text: string;
  memory_type: MemoryType;
  topics: string[];
  entities: string[];
  priority: number;
  confidence: number;
  pinned: boolean;
  metadata: Record<string, unknown>;
  memory_hash: string;
  created_at: number;
  updated_at: number;
  last_accessed: number;
  persisted_at: number | null;
  event_date: number | null;
  expires_at: number | null;
  extracted_from: string[];
  discrete_memory_extracted: "t" | "f";
  extraction_strategy: string;
  embedding_model: string | null;
  /** Valid time (docs/temporal.md): when this became true; defaults to event_date, else creation. */
  valid_from: number;
  /** When this stopped being true (a newer memory superseded it, or it was invalidated); null = current. */
  valid_to: number | null;
  /** The memory that superseded this one (closed it by stating what is true now). */
  superseded_by: string | null;
  /** The memory this one superseded. */
  supersedes: string | null;
  /** Why this memory was closed (null while current). */
  invalid_reason: string | null;
  /** Bumped by every write of the row (0 until stored): the token of compare-and-set updates. */
  version: number;
}

/** What a caller may set when creating a memory; everything else is derived. */
export interface NewMemory {
  id?: string;
  text: string;
  namespace?: string | null;
  user_id?: string | null;
  session_id?: string | null;
  agent_id?: string | null;
  scope?: Scope;
  key?: string | null;
  memory_type?: MemoryType;
  topics?: string[];
  entities?: string[];
  priority?: number;
  confidence?: number;
  pinned?: boolean;
  metadata?: Record<string, unknown>;
  created_at?: number;
  last_accessed?: number;
  event_date?: number | null;
  expires_at?: number | null;
  extracted_from?: string[];
  discrete_memory_extracted?: "t" | "f";
  extraction_strategy?: string;
  /** When it became true (default: event_date, else creation). */
  valid_from?: number;
  /** When it stopped being true: a memory stored already closed (an import, a known past fact). */
  valid_to?: number | null;
  invalid_reason?: string | null;
}

/** A partial update: only the fields present change. `null` clears a nullable field. */
export type MemoryPatch = Partial<Omit<NewMemory, "id">> & Partial<Pick<Memory, "superseded_by" | "supersedes">>;

/** One entry of a memory's history: a version written (or deleted), by whom and why. */
export interface HistoryEntry {
  op: "create" | "update" | "delete";
  actor: string;
  at: number;
  reason: string | null;
  before: Memory | null;
  after: Memory | null;
}

export interface ListOptions {
  filter?: MemoryFilter;
  /** Case-insensitive substring that every word of must appear in key or text. */
  contains?: string;
  order?: "created_desc" | "created_asc" | "updated_desc";
  limit: number;
  /** Rows to skip: each costs a row read, so a deep page is O(offset). */
  offset?: number;
  /** Keyset paging: the rows after this key in `order` (O(page); instead of `offset`). */
  after?: MemoryKey;
  /** Count every match too: a read of each, so only where an answer must say the total. */
  count?: boolean;
}

/** A page of a memory list. */
export interface MemoryPage {
  memories: Memory[];
  /** Every match, when the list was asked to count (`count`); null otherwise. */
  total: number | null;
  /** The key to pass as `after` for the next page; null on the last page. */
  next: MemoryKey | null;
}

/** A page of a memory's history (oldest first, or newest first with `order: "desc"`). */
export interface HistoryPage {
  entries: HistoryEntry[];
  /** The key to pass as `after` for the next page; null on the last page. */
  next: HistoryKey | null;
}

export interface HistoryOptions {
  limit: number;
  order: "asc" | "desc";
  after?: HistoryKey;
}

export interface Deduplication {
  /** The id the caller gave (or would have been generated), which was not stored. */
  requested_id: string | null;
  existing_id: string;
  /** `exact`: same content, nothing written; `near`: the existing memory was updated instead. */
  kind: "exact" | "near";
}

export interface WriteResult {
  memories: Memory[];
  warnings: string[];
  deduplicated: Deduplication[];
}

export interface CreateOptions {
  reason?: string;
  /** Content dedup (default: DEDUP_ON_WRITE). The CRUD API's key upsert turns it off. */
  dedup?: boolean;
  /**
   * The relations an extractor found in each memory, by id (ingest): the claims checked for
   * contradictions. Without them, the offline rules read the memory's text.
   */
  relations?: ReadonlyMap<string, readonly ExtractedRelation[]>;
  /**
   * By id: the current memories each one makes no longer true, as an LLM judged them (ingest with
   * a model). A memory judged here is closed only by the verdict; the rules judge the others.
   */
  judged?: ReadonlyMap<string, readonly string[]>;
}

export const DEFAULT_PRIORITY = 5;
export const DEFAULT_CONFIDENCE = 0.8;

/** Scope implied by the owning ids when a caller gives none. */
export function defaultScope(m: Pick<NewMemory, "session_id" | "agent_id">): Scope {
  if (m.session_id) return "session";
  if (m.agent_id) return "agent";
  return "global";
}

/** Content hash: same text up to case and white space is the same memory content. */
export function contentHash(text: string): Promise<string> {
  return sha256Hex(text.trim().replace(/\s+/g, " ").toLowerCase());
}

/**
 * When a memory became true unless it says (`valid_from`): when the event happened, or when it was
 * stated for an event still to come (a plan is true from when it is made).
 */
export function defaultValidFrom(m: { event_date?: number | null; created_at: number }): number {
  return m.event_date !== null && m.event_date !== undefined ? Math.min(m.event_date, m.created_at) : m.created_at;
}

/** The validity fields a record written before they existed (migration 0012) reads with: current since it happened. */
export function withValidity<T extends { event_date: number | null; created_at: number }>(
  m: T & Partial<Pick<Memory, "valid_from" | "valid_to" | "superseded_by" | "supersedes" | "invalid_reason">>,
): T & Pick<Memory, "valid_from" | "valid_to" | "superseded_by" | "supersedes" | "invalid_reason"> {
  return {
    ...m,
    valid_from: m.valid_from ?? defaultValidFrom(m),
    valid_to: m.valid_to ?? null,
    superseded_by: m.superseded_by ?? null,
    supersedes: m.supersedes ?? null,
    invalid_reason: m.invalid_reason ?? null,
  };
}

/** Builds a full record from a creation request. */
export async function buildMemory(tenant: string, id: string, input: NewMemory, now: number): Promise<Memory> {
  const createdAt = input.created_at ?? now;
  return {
    id,
    tenant,
    namespace: input.namespace ?? null,
    user_id: input.user_id ?? null,
    session_id: input.session_id ?? null,
    agent_id: input.agent_id ?? null,
    scope: input.scope ?? defaultScope(input),
    key: input.key ?? null,
    text: input.text,
    memory_type: input.memory_type ?? "semantic",
    topics: dedupe(input.topics ?? []),
    entities: dedupe(input.entities ?? []),
    priority: input.priority ?? DEFAULT_PRIORITY,
    confidence: input.confidence ?? DEFAULT_CONFIDENCE,
    pinned: input.pinned ?? false,
    metadata: input.metadata ?? {},
    memory_hash: await contentHash(input.text),
    created_at: createdAt,
    updated_at: now,
    last_accessed: input.last_accessed ?? createdAt,
    persisted_at: now,
    event_date: input.event_date ?? null,
    expires_at: input.expires_at ?? null,
    extracted_from: input.extracted_from ?? [],
    discrete_memory_extracted: input.discrete_memory_extracted ?? "f",
    extraction_strategy: input.extraction_strategy ?? "discrete",
    embedding_model: null,
    valid_from: input.valid_from ?? defaultValidFrom({ event_date: input.event_date, created_at: createdAt }),
    valid_to: input.valid_to ?? null,
    superseded_by: null,
    supersedes: null,
    invalid_reason: input.valid_to != null ? (input.invalid_reason ?? null) : null,
    version: 0,
  };
}

/** Applies a patch to a record; returns the new record (the text hash is recomputed when text changes). */
export async function applyPatch(existing: Memory, patch: MemoryPatch, now: number): Promise<Memory> {
  const next: Memory = { ...existing, updated_at: now };
  for (const [k, v] of Object.entries(patch) as [keyof MemoryPatch, unknown][]) {
    if (v === undefined) continue;
    (next as unknown as Record<string, unknown>)[k] = v;
  }
  if (patch.topics) next.topics = dedupe(patch.topics);
  if (patch.entities) next.entities = dedupe(patch.entities);
  if (patch.metadata === null) next.metadata = {};
  if (patch.text !== undefined && patch.text !== existing.text) next.memory_hash = await contentHash(patch.text);
  // Reopened: no longer closed, so no longer superseded (the successor still names it in `supersedes`).
  if (patch.valid_to === null && existing.valid_to !== null) {
    next.superseded_by = null;
    next.invalid_reason = patch.invalid_reason ?? null;
  }
  return next;
}

/** Whether two records differ in a way that changes their vector or its index metadata. */
export function vectorInputsChanged(a: Memory, b: Memory): boolean {
  return (
    a.text !== b.text ||
    a.namespace !== b.namespace ||
    a.user_id !== b.user_id ||
    a.session_id !== b.session_id ||
    a.memory_type !== b.memory_type
  );
}

export function isExpired(m: Pick<Memory, "expires_at">, now: number): boolean {
  return m.expires_at !== null && m.expires_at <= now;
}

/** Same namespace and user: only such memories are duplicates of each other. */
export function sameOwner(m: Memory, input: Pick<NewMemory, "namespace" | "user_id">): boolean {
  return m.namespace === (input.namespace ?? null) && m.user_id === (input.user_id ?? null);
}

/** Whether two lists hold the same strings in the same order. */
export function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function dedupe(values: string[]): string[] {
  return [...new Set(values)];
}
