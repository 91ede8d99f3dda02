/**
 * The wire types of edgemem's REST API, as its OpenAPI document (`/openapi.json`) describes them.
 * Types, and one list a program needs as a value (the memory types); `npm run typecheck` proves
 * each is the server's (test/client-types.ts), so they cannot drift from what the server
 * validates and sends.
 */

/** Every memory type the server accepts, in its order: for a picker or a check before sending. */
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
export type Scope = "session" | "agent" | "global";
export type MessageRole = "user" | "assistant" | "system" | "tool" | "function" | "developer";
export type EntityType = "person" | "organization" | "technology" | "product" | "place" | "date" | "topic" | "concept";
export type SearchMode = "hybrid" | "semantic" | "keyword";
/** ISO 8601 string or Unix seconds. */
export type Timestamp = string | number;

export interface TagFilter {
  eq?: string;
  ne?: string;
  not_eq?: string;
  any?: string[];
  in_?: string[];
  all?: string[];
  not_in?: string[];
  none?: string[];
}

export interface DateFilter {
  gt?: Timestamp;
  lt?: Timestamp;
  gte?: Timestamp;
  lte?: Timestamp;
  eq?: Timestamp;
  ne?: Timestamp;
  between?: [Timestamp, Timestamp];
}

/** A memory to store (AMS's MemoryRecord as clients send it). Only `text` is required. */
export interface MemoryInput {
  id?: string | null;
  text: string;
  session_id?: string | null;
  user_id?: string | null;
  namespace?: string | null;
  agent_id?: string | null;
  scope?: Scope | null;
  key?: string | null;
  memory_type?: MemoryType | null;
  topics?: string[] | null;
  entities?: string[] | null;
  priority?: number | null;
  confidence?: number | null;
  pinned?: boolean | null;
  metadata?: Record<string, unknown> | null;
  created_at?: Timestamp | null;
  last_accessed?: Timestamp | null;
  event_date?: Timestamp | null;
  expires_at?: Timestamp | null;
  ttl_seconds?: number | null;
  extracted_from?: string[] | null;
  discrete_memory_extracted?: "t" | "f" | null;
  extraction_strategy?: string | null;
  memory_hash?: string | null;
  persisted_at?: Timestamp | null;
  updated_at?: Timestamp | null;
  /** When the memory became true (default: event_date, else now). docs/temporal.md */
  valid_from?: Timestamp | null;
  /** When it stopped being true (null = current). */
  valid_to?: Timestamp | null;
  /** Derived (set by supersession); sent back by round-tripping clients and ignored. */
  superseded_by?: string | null;
  supersedes?: string | null;
  invalid_reason?: string | null;
}

/** Closes a memory: why, and when it stopped being true (default now). */
export interface InvalidateRequest {
  reason: string;
  at?: Timestamp | null;
}

/** Which memories a read sees by valid time: the current ones unless told otherwise. */
export interface ValidityOptions {
  /** Answer as of this time: the memories valid then. */
  as_of?: Timestamp | null;
  /** Include memories superseded or invalidated since. */
  include_superseded?: boolean | null;
}

/** Fields to change on a memory; absent fields stay, null clears. */
export type MemoryPatch = Partial<Omit<MemoryInput, "id">>;

export interface MemoryRecord {
  id: string;
  text: string;
  session_id: string | null;
  user_id: string | null;
  namespace: string | null;
  last_accessed: string;
  created_at: string;
  updated_at: string;
  topics: string[];
  entities: string[];
  memory_hash: string;
  memory_type: MemoryType;
  persisted_at: string | null;
  extracted_from: string[];
  event_date: string | null;
  discrete_memory_extracted: "t" | "f";
  extraction_strategy: string;
  pinned: boolean;
  metadata: Record<string, unknown>;
  agent_id: string | null;
  scope: Scope;
  key: string | null;
  priority: number;
  confidence: number;
  expires_at: string | null;
  /** When this became true (valid time). */
  valid_from: string;
  /** When it stopped being true; null = current. */
  valid_to: string | null;
  /** The memory that superseded this one. */
  superseded_by: string | null;
  /** The memory this one superseded. */
  supersedes: string | null;
  /** Why it stopped being current. */
  invalid_reason: string | null;
}

export interface ScoreDetails {
  vector: number | null;
  vector_rank: number | null;
  keyword: number | null;
  keyword_rank: number | null;
  /** Share of the query's IDF weight the memory matched. */
  keyword_match: number | null;
  /** Weight fusion gave the vector side. */
  vector_weight: number | null;
  /** The reranker's score, when it re-ordered this hit. */
  rerank: number | null;
  /** How well the memory's date fits a time the query names. */
  time: number | null;
  relevance: number;
  recency: number | null;
  final: number;
}

export interface MemoryHit extends MemoryRecord {
  dist: number;
  score: number;
  score_type: SearchMode;
  score_details?: ScoreDetails;
}

export interface SearchRequest extends ValidityOptions {
  text?: string | null;
  limit?: number;
  /** Hits to skip: a deep page costs O(offset). A search without text can page by `cursor` instead. */
  offset?: number;
  /**
   * A search without text (a browse, newest first): the previous page's `next_cursor`. O(page)
   * however deep; not with `text` or `offset`.
   */
  cursor?: string | null;
  session_id?: TagFilter | null;
  namespace?: TagFilter | null;
  topics?: TagFilter | null;
  entities?: TagFilter | null;
  user_id?: TagFilter | null;
  memory_type?: TagFilter | null;
  agent_id?: TagFilter | null;
  extraction_strategy?: TagFilter | null;
  created_at?: DateFilter | null;
  last_accessed?: DateFilter | null;
  updated_at?: DateFilter | null;
  event_date?: DateFilter | null;
  search_mode?: SearchMode | null;
  hybrid_alpha?: number | null;
  distance_threshold?: number | null;
  recency_boost?: boolean | null;
  recency_semantic_weight?: number | null;
  recency_recency_weight?: number | null;
  recency_freshness_weight?: number | null;
  recency_novelty_weight?: number | null;
  recency_half_life_last_access_days?: number | null;
  recency_half_life_created_days?: number | null;
  server_side_recency?: boolean | null;
  text_scorer?: string | null;
  explain?: boolean | null;
}

export interface SearchResult {
  memories: MemoryHit[];
  total: number;
  next_offset: number | null;
  /** A browse's next page (pass it as `cursor`); null on the last page and for a ranked search. */
  next_cursor: string | null;
  warnings?: string[];
}

export interface Deduplication {
  requested_id: string | null;
  existing_id: string;
  kind: "exact" | "near";
}

export interface Ack {
  status: "ok";
}

export interface CreateResult extends Ack {
  deduplicated?: Deduplication[];
  warnings?: string[];
}

export interface ForgetPolicy {
  max_age_days?: number | null;
  max_inactive_days?: number | null;
  budget?: number | null;
  memory_type_allowlist?: MemoryType[] | null;
  hard_age_multiplier?: number | null;
}

export interface ForgetRequest {
  policy?: ForgetPolicy;
  namespace?: string | null;
  user_id?: string | null;
  session_id?: string | null;
  limit?: number | null;
  dry_run?: boolean | null;
  pinned_ids?: string[] | null;
}

export interface ForgetResult {
  scanned: number;
  deleted: number;
  deleted_ids: string[];
  dry_run: boolean;
}

export interface HistoryEntry {
  op: "create" | "update" | "delete";
  actor: string;
  at: string;
  reason: string | null;
  before: MemoryRecord | null;
  after: MemoryRecord | null;
}

export interface History {
  memory_id: string;
  history: HistoryEntry[];
  /** The next page (pass it as `cursor`); null on the last page. */
  next_cursor: string | null;
}

/** A page of a memory's history: `limit` entries (100), in the order written (`asc`) or newest first. */
export interface HistoryQuery {
  limit?: number;
  order?: "asc" | "desc";
  /** The previous page's `next_cursor`. */
  cursor?: string;
}

export interface SessionList {
  /** Most recently written first. */
  sessions: string[];
  total: number;
  /** The next page (pass it as `cursor`); null on the last page. */
  next_cursor: string | null;
}

export interface SessionListQuery {
  limit?: number;
  /** Sessions to skip: a deep page costs O(offset); prefer `cursor`. */
  offset?: number;
  /** The previous page's `next_cursor`: O(page) however deep. */
  cursor?: string;
  namespace?: string;
  user_id?: string;
}

export interface MessageInput {
  id?: string | null;
  role: MessageRole;
  content: string;
  created_at?: Timestamp | null;
}

/** The body of PUT /v1/working-memory/{session_id}. */
export interface WorkingMemoryInput {
  session_id?: string | null;
  namespace?: string | null;
  user_id?: string | null;
  messages?: MessageInput[];
  memories?: (MemoryInput & { persisted_at?: Timestamp | null })[];
  context?: string | null;
  data?: Record<string, unknown> | null;
  long_term_memory_strategy?: { strategy: string; [k: string]: unknown } | null;
  ttl_seconds?: number | null;
}

export interface WorkingMemory {
  session_id: string;
  namespace: string | null;
  user_id: string | null;
  messages: { id: string; role: MessageRole; content: string; created_at: string }[];
  memories: MemoryRecord[];
  data: Record<string, unknown> | null;
  context: string | null;
  tokens: number;
  long_term_memory_strategy: Record<string, unknown>;
  ttl_seconds: number | null;
  last_accessed: string;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
  context_percentage_total_used: number | null;
  context_percentage_until_summarization: number | null;
  new_session: boolean;
  unsaved: null;
  warnings?: string[];
}

/** Selects a session and (for token budgets) the model. */
export interface SessionOptions {
  namespace?: string;
  user_id?: string;
  model_name?: string;
  context_window_max?: number;
}

export interface PromptRequest {
  query: string;
  session?: {
    session_id: string;
    namespace?: string | null;
    user_id?: string | null;
    model_name?: string | null;
    context_window_max?: number | null;
  } | null;
  /** true: AMS's default search; an object: a full search request. */
  long_term_search?: boolean | SearchRequest | null;
  /** edgemem: include the user's profile (the session's user_id, else the search's user_id {eq}). */
  include_profile?: boolean | null;
}

export interface PromptResult {
  messages: { role: "system" | "user" | "assistant"; content: string }[];
  long_term_memories: MemoryHit[];
  tokens: number;
  token_budget: number;
  warnings?: string[];
  /** With include_profile: whose profile, its lines and how many the prompt holds. */
  profile?: { user_id: string; generated_by: "rules" | "llm"; lines: number; lines_used: number };
}

export type ProfileKind =
  "name" | "location" | "work" | "role" | "preference" | "tool" | "fact" | "topic" | "task" | "recent" | "summary";

/** One line of a user's profile, citing the memories it rests on. */
export interface ProfileLine {
  kind: ProfileKind;
  text: string;
  memory_ids: string[];
}

/** What edgemem knows about a user (`GET /v1/profile`). */
export interface UserProfile {
  user_id: string;
  namespace: string | null;
  /** Name, location, work, role, preferences, tools, facts. */
  stable: ProfileLine[];
  /** Active topics, open tasks, recent decisions and events. */
  recent: ProfileLine[];
  /** `rules` offline or when the LLM failed (see warnings); `llm` when an LLM summarized it. */
  generated_by: "rules" | "llm";
  generated_at: string;
  /** Of the memories and facts it was built from: unchanged while they are. */
  fingerprint: string;
  memories_read: number;
  warnings?: string[];
}

export interface Owner {
  namespace?: string | null;
  user_id?: string | null;
  session_id?: string | null;
}

export interface IngestRequest extends Owner {
  messages: { role: MessageRole; content: string }[];
  /** Answer also with `trace` (every candidate and what became of it) and `usage`. */
  trace?: boolean;
  /** Decide everything a write would and write nothing (no rows, no events, no vectors). */
  dry_run?: boolean;
}

export interface IngestResult {
  memories: MemoryRecord[];
  deduplicated: Deduplication[];
  entities: { name: string; type: EntityType }[];
  relations: { subject: string; predicate: string; object: string; source_memory_id: string | null }[];
  topics: string[];
  warnings?: string[];
  /** With `trace: true`. */
  trace?: IngestTraceEntry[];
  /** With `trace: true`: the LLM tokens the extraction spent; null offline. */
  usage?: TokenUsage | null;
  /** With `dry_run: true`: nothing was written. */
  dry_run?: true;
}

/** An ingest with `trace: true`: the trace and usage are always there. */
export type TracedIngestResult = IngestResult & { trace: IngestTraceEntry[]; usage: TokenUsage | null };

/** Why the extractor did not keep a candidate. */
export type DropReason =
  | "question"
  | "greeting"
  | "too_short"
  | "low_information"
  | "duplicate_in_message"
  | "assistant_chatter"
  | "invalid"
  | "over_limit";

/** One candidate of an ingest and what became of it. */
export interface IngestTraceEntry {
  candidate: {
    text: string;
    /** null for a dropped candidate. */
    memory_type: MemoryType | null;
    topics: string[];
    entities: string[];
    relations: { subject: string; predicate: string; object: string }[];
  };
  /** kept: stored as memory_id; dropped: see reason; merged: see merged_into; superseding: see supersedes. */
  outcome: "kept" | "dropped" | "merged" | "superseding";
  /** The memory holding the candidate: its own, or the one it merged into. */
  memory_id?: string;
  reason?: DropReason;
  /** What failed validation (reason `invalid`). */
  detail?: string;
  merged_into?: { memory_id: string; kind: "exact" | "near"; similarity?: number };
  supersedes?: { memory_id: string; text: string; reason: string };
  /** Entities it records in the graph; `new` when the graph did not know the name. */
  entities_added: { name: string; type: EntityType; new: boolean }[];
  relations_added: { subject: string; predicate: string; object: string }[];
}

/** Tokens a model spent, as its provider reported them. */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface Entity {
  id: string;
  name: string;
  type: EntityType;
  aliases: string[];
}

export interface Relation {
  id: string;
  subject: Entity;
  predicate: string;
  object: Entity;
  source_memory_id: string | null;
  valid_from: string;
  valid_to: string | null;
  current: boolean;
}

export interface GraphQuery {
  query: string;
  hops?: number;
  include_history?: boolean;
  limit?: number;
  /** Only facts and memories of this namespace / user. */
  namespace?: string | null;
  user_id?: string | null;
  /** The facts and memories valid at this time (docs/temporal.md). */
  as_of?: Timestamp | null;
}

export interface GraphResult {
  entities: Entity[];
  relations: Relation[];
  neighbours: (Entity & { hops: number })[];
  memories: MemoryRecord[];
}

export interface ThinkRequest extends ValidityOptions {
  question: string;
  limit?: number;
  namespace?: string | null;
  user_id?: string | null;
}

export interface Citation {
  memory_id: string;
  text: string;
  memory_type: MemoryType;
  score: number;
  /** Only on a memory no longer current: when it stopped holding, and what superseded it. */
  valid_to?: string;
  superseded_by?: string | null;
}

export interface ThinkSources {
  citations: Citation[];
  facts: Relation[];
  provider: string;
}

export interface ThinkResult extends ThinkSources {
  answer: string;
}

/** One event of a streamed think: a token, the end with the sources, or an error. */
export type ThinkEvent =
  { token: string } | (ThinkSources & { done: true }) | { error: { code: string; message: string } };

export interface FeedbackRequest {
  memory_id: string;
  rating?: "positive" | "negative";
  helpful?: boolean;
  comment?: string | null;
}

export interface FeedbackResult {
  feedback_id: string;
  memory: MemoryRecord;
  deleted: boolean;
}

export interface Whoami {
  tenant: string;
  subject: string;
  /** The token's scopes; null when it has none (everything allowed). */
  scopes: string[] | null;
  can_write: boolean;
  auth_mode: "none" | "jwt";
}

export interface Status {
  memories: { total: number; by_type: Record<string, number> };
  entities: number;
  relations: { total: number; current: number };
  sessions: number;
  feedback: number;
  index: { pending: number; sent: number; indexed: number };
  last_consolidation: string | null;
  last_consolidation_result: Record<string, unknown> | null;
}

export interface ConsolidationResult {
  checked: number;
  merged: number;
  removed: number;
  forgotten: number;
}

/** A memory of the CRUD API (`/api/memories`): `value` is its text. */
export interface CrudMemory {
  id: string;
  agent_id: string | null;
  scope: Scope;
  key: string | null;
  value: string;
  embedding: null;
  metadata: Record<string, unknown>;
  ttl: string | null;
  created_at: string;
  updated_at: string;
}

export interface CrudCreate {
  agent_id?: string | null;
  scope?: Scope;
  key: string;
  value: string;
  metadata?: Record<string, unknown> | null;
  /** Absolute expiry (ISO 8601), or null for none. */
  ttl?: string | null;
  session_id?: string | null;
  memory_type?: MemoryType;
}

export type CrudUpdate = Partial<CrudCreate>;

export interface CrudListQuery {
  agent_id?: string;
  scope?: Scope;
  tags?: string | string[];
  limit?: number;
  /** Memories to skip: a deep page costs O(offset); prefer `cursor`. */
  offset?: number;
  /** The `next_cursor` of the previous page ({@link CrudPage}): O(page) however deep. */
  cursor?: string;
}

/** A page of the CRUD list: the memories, and the cursor of the next page (null on the last). */
export interface CrudPage {
  memories: CrudMemory[];
  next_cursor: string | null;
}

export interface CrudSearch {
  agent_id?: string | null;
  query: string;
  scope?: Scope | null;
  limit?: number;
}

export type ErrorCode =
  | "bad_request"
  | "validation_error"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "upstream_error"
  | "upstream_timeout"
  | "internal_error"
  /** 503: the tenant is moving between databases; nothing was written, retry after `retry-after` seconds. */
  | "unavailable"
  /** 507: the tenant's database is full; nothing was written (an operator moves tenants). */
  | "storage_full";

/** Every error body. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
  detail: string;
  issues?: { field: string; message: string }[];
}

// ---- Export and import (`edgemem-export` JSON Lines) ------------------------------------------

/** Records of each kind (an export's `end` line; an import's `imported` and `unchanged`). */
export interface RecordCounts {
  memory: number;
  history: number;
  entity: number;
  relation: number;
  session: number;
  feedback: number;
}

/** Line 1 of an export. */
export interface ExportHeader {
  type: "header";
  format: string;
  version: number;
  tenant: string;
  exported_at: number;
  resumed_from?: string;
}

/** A stored memory; times are epoch milliseconds. */
export interface ExportMemory {
  type: "memory";
  id: string;
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
  /** Valid time: when it became true (epoch ms). */
  valid_from?: number;
  /** When it stopped being true; null: current. */
  valid_to?: number | null;
  superseded_by?: string | null;
  supersedes?: string | null;
  invalid_reason?: string | null;
}

/** A memory as a history entry or a session stored it (and whatever else it held then). */
export type ExportMemorySnapshot = Omit<ExportMemory, "type"> & { [field: string]: unknown };

export interface ExportHistory {
  type: "history";
  memory_id: string;
  /** Its place in the memory's history (0: the first write). */
  n: number;
  op: "create" | "update" | "delete";
  actor: string;
  at: number;
  reason: string | null;
  before: ExportMemorySnapshot | null;
  after: ExportMemorySnapshot | null;
}

export interface ExportEntity {
  type: "entity";
  id: string;
  name: string;
  entity_type: EntityType;
  aliases: string[];
  created_at: number;
  updated_at: number;
}

export interface ExportRelation {
  type: "relation";
  id: string;
  subject_id: string;
  predicate: string;
  object_id: string;
  source_memory_id: string | null;
  confidence: number;
  valid_from: number;
  valid_to: number | null;
  created_at: number;
  namespace: string | null;
  user_id: string | null;
  sources: string[];
}

export interface ExportSession {
  type: "session";
  session_id: string;
  namespace: string | null;
  user_id: string | null;
  messages: ({ id: string; role: MessageRole; content: string; created_at: number } & { [field: string]: unknown })[];
  memories: ExportMemorySnapshot[];
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

export interface ExportFeedback {
  type: "feedback";
  id: string;
  memory_id: string;
  rating: "positive" | "negative";
  comment: string | null;
  actor: string;
  at: number;
  confidence_before: number;
  confidence_after: number;
}

/** One line of an export: the header, a record, a cursor (pass it to `export({cursor})` to resume), the end. */
export type ExportLine =
  | ExportHeader
  | ExportMemory
  | ExportHistory
  | ExportEntity
  | ExportRelation
  | ExportSession
  | ExportFeedback
  | { type: "cursor"; cursor: string }
  | { type: "end"; counts: RecordCounts; complete?: true };

/** What an import reads: this server's export, mem0 memories, or Agent Memory Server records. */
export type ImportFormat = "edgemem" | "mem0" | "ams";

export interface ImportResult {
  imported: RecordCounts;
  /** Already stored, identical: left alone. */
  unchanged: RecordCounts;
  errors: { line: number; error: string; field: string | null }[];
  failed: number;
  lines: number;
  /** A header but no end line: the stream was cut short. */
  truncated: boolean;
  /** The first line not read (one request takes at most 2,000 records): post the rest from there. */
  stopped_at_line: number | null;
  warnings: string[];
}
