import type { ConsolidationCursor, ConsolidationResult } from "../domain/consolidation.ts";
import type { DomainEvent } from "../domain/events.ts";
import type { MemoryFilter } from "../domain/filters.ts";
import type { Entity, GraphScope, Relation } from "../domain/graph.ts";
import type { HistoryEntry, ListOptions, Memory } from "../domain/memory.ts";
import type { Session, SessionListOptions } from "../domain/session.ts";
import type { GraphCounts, StoredCounts } from "../domain/stats.ts";
import type { KeywordQuery, KeywordStats } from "../domain/text.ts";
import type { GraphIntent, WriteIntent, WriteOp } from "../domain/writes.ts";

/**
 * The storage the services use, implemented by src/store (D1). Reads take `now` so that expired
 * rows read as absent; writes are compare-and-set and throw WriteConflict, writing nothing, when a
 * row changed since it was read.
 */

/** Memories, their vectors' rows, history and keyword index. */
export interface MemoryStore {
  /**
   * Applies all ops and `intents` in one transaction, so a failure writes nothing. Each op
   * applies only if its memory is still as `before` says; otherwise this throws WriteConflict.
   * A create taking another memory's CRUD key throws AppError `conflict` (clash `key`). Returns the
   * written memories of the put ops, with their new versions.
   */
  write(tenant: string, ops: WriteOp[], actor: string, now: number, intents?: WriteIntent[]): Promise<Memory[]>;
  get(tenant: string, id: string, now: number): Promise<Memory | null>;
  /** Live memories among `ids` that pass `filter`, in no particular order. */
  getMany(tenant: string, ids: string[], now: number, filter?: MemoryFilter): Promise<Memory[]>;
  findByKey(tenant: string, agentId: string | null, scope: string, key: string, now: number): Promise<Memory | null>;
  /** Live memories with any of the ids, and those with any of the content hashes. */
  findByIdsOrHashes(tenant: string, ids: string[], hashes: string[], now: number): Promise<Memory[]>;
  /** Live memories passing `filter` whose `entities` name any of `names` (case-insensitively), most recently updated first. */
  mentioning(tenant: string, names: string[], now: number, limit: number, filter?: MemoryFilter): Promise<Memory[]>;
  /** Live memories after the cursor in (updated_at, id) order. */
  changedSince(tenant: string, cursor: ConsolidationCursor, now: number, limit: number): Promise<Memory[]>;
  /** Whether the tenant has a live memory of the agent. */
  hasAgent(tenant: string, agent: string, now: number): Promise<boolean>;
  /** The agent of the tenant's earliest live memory that names one, or null. */
  firstAgent(tenant: string, now: number): Promise<string | null>;
  /** Live memories passing `filter` whose time (`event_date`, else `created_at`) lies in [from, to), latest first. */
  datedIn(
    tenant: string,
    now: number,
    filter: MemoryFilter,
    range: { from: number; to: number },
    limit: number,
  ): Promise<Memory[]>;
  list(tenant: string, now: number, opts: ListOptions): Promise<{ memories: Memory[]; total: number }>;
  /**
   * A search's candidates in one round trip: the best `limit` keyword candidates of `keyword` (none
   * without), best BM25 first, scored from the tenant's own index and statistics, and the live
   * memories among `ids` (as `getMany`), both passing `filter`.
   */
  searchCandidates(
    tenant: string,
    keyword: KeywordQuery | null,
    ids: string[],
    now: number,
    filter: MemoryFilter,
    limit: number,
  ): Promise<{ keyword: { memory: Memory; score: number }[]; rows: Memory[] }>;
  keywordStats(tenant: string, terms: string[]): Promise<KeywordStats>;
  /** Sets last_accessed of the memories not touched within `minIntervalMs`. */
  touch(tenant: string, ids: string[], now: number, minIntervalMs: number): Promise<void>;
  /** Expired memories (of one tenant, or all). */
  expired(now: number, limit: number, tenant?: string): Promise<Memory[]>;
  /** Memories of any tenant without a vector of `model`. */
  needingEmbedding(model: string, limit: number): Promise<Memory[]>;
  countNotEmbeddedWith(tenant: string, model: string): Promise<number>;
  /** A memory's history, oldest first (empty when it never existed). */
  history(tenant: string, id: string): Promise<HistoryEntry[]>;
}

/** The knowledge graph: entities (with their names) and relations (with history). */
export interface GraphStore {
  /** Records `intents` (entities, relations) in one transaction. */
  apply(tenant: string, intents: GraphIntent[], now: number): Promise<void>;
  /** Entities known by any of the names (or aliases). */
  findByNames(tenant: string, names: string[]): Promise<Entity[]>;
  getEntities(tenant: string, ids: string[]): Promise<Entity[]>;
  /** Relations touching any of the entities (closed ones only with `history`) that are visible in `scope`. */
  relationsOf(tenant: string, entityIds: string[], history: boolean, scope: GraphScope): Promise<Relation[]>;
  /** Which of the entities a memory visible in `scope` names, by name or alias. */
  namedInScope(tenant: string, entities: Entity[], scope: GraphScope): Promise<string[]>;
  counts(tenant: string): Promise<GraphCounts>;
}

/** Recorded feedback (written as a `feedback` intent with the memory's change). */
export interface FeedbackStore {
  negativeFeedback(tenant: string, memoryId: string): Promise<number>;
}

/** Per-tenant maintenance state (the consolidation cursor) and statistics. */
export interface MaintenanceStore {
  get(tenant: string): Promise<{ cursor: ConsolidationCursor; last: number | null }>;
  /** Moves the consolidation cursor forward (never back). */
  advance(tenant: string, c: ConsolidationCursor): Promise<void>;
  /** Records a consolidation pass: when it ran and what it did. */
  finish(tenant: string, at: number, result: ConsolidationResult): Promise<void>;
  /** Tenants with memories written past their consolidation cursor, least recently consolidated first. */
  tenantsToConsolidate(limit: number): Promise<string[]>;
  stats(tenant: string, now: number): Promise<StoredCounts>;
}

/** Working-memory sessions. */
export interface SessionStore {
  /** A live (unexpired) session. */
  get(tenant: string, sessionId: string, now: number): Promise<Session | null>;
  /** Replaces a session (creating it if needed); version 1 is a new session. */
  put(s: Omit<Session, "version">, tokens: number): Promise<{ version: number; created_at: number }>;
  /** Compare-and-set replacement of the session as read (`expected`; null: absent); null when another write came first. */
  replaceIf(
    s: Omit<Session, "version">,
    tokens: number,
    expected: Pick<Session, "version" | "created_at"> | null,
  ): Promise<{ version: number; created_at: number } | null>;
  /** Records promoted memories, only if the session is still the one and version read. */
  setMemories(
    s: Pick<Session, "tenant" | "session_id" | "version" | "created_at">,
    memories: Memory[],
  ): Promise<boolean>;
  /** Deletes a session; returns it if it existed (and had not expired). */
  delete(tenant: string, sessionId: string, now: number): Promise<Session | null>;
  list(tenant: string, now: number, opts: SessionListOptions): Promise<{ sessions: string[]; total: number }>;
  touch(tenant: string, sessionId: string, now: number, minIntervalMs: number): Promise<void>;
  /** Deletes expired sessions of any tenant (at most `limit`); returns them. */
  deleteExpired(now: number, limit: number): Promise<Session[]>;
}

/** Where the services send their events (the tenant's hub in the Worker; a list in tests). */
export interface EventSink {
  publish(tenant: string, events: DomainEvent[]): void;
}
