import type {
  ExportPosition,
  ExportRecord,
  HistoryOutcome,
  HistoryRecord,
  RowKind,
  RowRecord,
} from "../domain/export.ts";
import type { FactProbe, StatedFact } from "../domain/temporal.ts";
import type { ConsolidationCursor, ConsolidationResult } from "../domain/consolidation.ts";
import type { DomainEvent } from "../domain/events.ts";
import type { MemoryFilter } from "../domain/filters.ts";
import type { Entity, GraphScope, Relation } from "../domain/graph.ts";
import type { HistoryOptions, HistoryPage, ListOptions, Memory, MemoryPage } from "../domain/memory.ts";
import type { CachedProfile } from "../domain/profile.ts";
import type { Session, SessionListOptions, SessionPage } from "../domain/session.ts";
import type { GraphCounts, StoredCounts } from "../domain/stats.ts";
import type { KeywordQuery, KeywordStats } from "../domain/text.ts";
import type { CopiedPage, Cursor, Fence, Placement, SummedPage, TenantMove } from "../domain/tenant-move.ts";
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
  /** Live memories passing the options' filter, a page in the options' order (the total only when asked to count). */
  list(tenant: string, now: number, opts: ListOptions): Promise<MemoryPage>;
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
  /** A page of a memory's history in write order (or newest first): empty when it never existed. */
  history(tenant: string, id: string, opts: HistoryOptions): Promise<HistoryPage>;
  /** Whether the memory has any history (it was ever written, and not purged since). */
  hasHistory(tenant: string, id: string): Promise<boolean>;
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
  /** Current single-valued facts (with a memory stating each) that the probes look up. */
  statedFacts(tenant: string, probes: FactProbe[]): Promise<StatedFact[]>;
}

/** The per-user profile cache (LLM summaries; the rule profile is rebuilt on every read). */
export interface ProfileStore {
  /** The cached summary of a user's profile (namespace null: across namespaces), if any. */
  get(tenant: string, userId: string, namespace: string | null): Promise<CachedProfile | null>;
  /** Replaces it. */
  put(tenant: string, profile: CachedProfile): Promise<void>;
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
  list(tenant: string, now: number, opts: SessionListOptions): Promise<SessionPage>;
  touch(tenant: string, sessionId: string, now: number, minIntervalMs: number): Promise<void>;
  /** Deletes expired sessions of any tenant (at most `limit`); returns them. */
  deleteExpired(now: number, limit: number): Promise<Session[]>;
}

/** Where the services send their events (the tenant's hub in the Worker; a list in tests). */
export interface EventSink {
  publish(tenant: string, events: DomainEvent[]): void;
}

/**
 * What a tenant move needs of the storage (store/tenant-copy.ts): the directory, the move's saved
 * state and lease, the shards' fences, and pages of the tenant's tables copied, checksummed and
 * deleted. Every call reads and writes primaries.
 */
export interface TenantMoveStore {
  /** The shards bound, `DB` first. */
  readonly shardNames: readonly string[];
  /** The tables a move copies, in the order it copies them. */
  readonly tables: readonly string[];
  placement(tenant: string): Promise<Placement | null>;
  /** Places a tenant the directory does not know yet (pinned); returns where it is placed. */
  placeIfAbsent(tenant: string, shard: string, now: number): Promise<Placement>;
  /** Points the directory at `to` (pinned) and forgets this isolate's cached placement. */
  switchPlacement(tenant: string, to: string, now: number): Promise<void>;
  load(tenant: string): Promise<TenantMove | null>;
  leaseUntil(tenant: string): Promise<number | null>;
  /** Starts a move holding its lease (replacing `previous`, a finished one); false when another driver came first. */
  start(move: TenantMove, previous: TenantMove | null, lease: { id: string; until: number }): Promise<boolean>;
  lease(tenant: string, lease: { id: string; until: number }, now: number): Promise<boolean>;
  /** Saves a move while holding its lease (false: the lease was lost, nothing saved). */
  save(move: TenantMove, leaseId: string, release: boolean): Promise<boolean>;
  /** 409 unless both shards have every tenant table with the same columns. */
  checkSchemas(from: string, to: string): Promise<void>;
  fence(shard: string, tenant: string, f: Fence): Promise<void>;
  unfence(shard: string, tenant: string): Promise<void>;
  fenceOf(shard: string, tenant: string): Promise<Fence | null>;
  /** The target's own record of the copy: per table, the source cursor after its last page and the rows. */
  progress(to: string, tenant: string): Promise<Map<string, { after: Cursor; rows: number }>>;
  /** Copies the next page (throws WriteConflict, copying nothing, unless the target's progress says `after` and its fence is `fence`). */
  copyPage(
    tenant: string,
    from: string,
    to: string,
    table: string,
    after: Cursor | null,
    fence: Fence,
  ): Promise<CopiedPage>;
  checksumPage(shard: string, tenant: string, table: string, after: Cursor | null, limit: number): Promise<SummedPage>;
  keywordStats(shard: string, tenant: string): Promise<{ docs: number; length: number }>;
  /** Deletes up to a page of the tenant's rows of a table on a shard fenced with `fence`; returns how many. */
  deletePage(shard: string, tenant: string, table: string, fence: Fence): Promise<number>;
  /** Drops the copy's progress rows of a tenant on a shard. */
  clearProgress(shard: string, tenant: string): Promise<void>;
  /** Drops the derived keyword rows and the copy's progress rows of a tenant on a shard. */
  clearLeftovers(shard: string, tenant: string): Promise<void>;
  counts(shard: string, tenant: string): Promise<Record<string, number>>;
}

/** A tenant's records read for an export, and written back by an import (store/export-repo.ts). */
export interface ExportStore {
  /** Up to `limit` records of `after.kind` after `after.key`, in that kind's key order (live memories and sessions only). */
  page(tenant: string, after: ExportPosition, limit: number, now: number): Promise<ExportRecord[]>;
  /** The stored records of a kind with any of the keys (ids; session ids for sessions), as an export writes them. */
  existing(tenant: string, kind: RowKind, keys: string[], now: number): Promise<RowRecord[]>;
  /** Inserts records in one transaction; AppError `conflict` (writing nothing) when one's key or name is taken. */
  insert(tenant: string, records: RowRecord[], now: number): Promise<void>;
  /** Appends history entries at their places `n`, in one transaction; what happened to each. */
  appendHistory(tenant: string, entries: HistoryRecord[]): Promise<HistoryOutcome[]>;
}
