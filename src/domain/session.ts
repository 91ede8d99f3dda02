import type { ChatMessage } from "./budget.ts";
import type { SessionKey } from "./cursor.ts";
import type { Memory, NewMemory } from "./memory.ts";
import type { SearchHit, SearchRequest } from "./search.ts";

/**
 * Working memory: one conversation session (AMS's working memory). Its messages, a summary of
 * what was summarized away (`context`), structured memories on their way to long-term memory,
 * and free-form `data`.
 */

/** Roles a stored message may have (OpenAI's chat roles); anything else is a 422. */
export const MESSAGE_ROLES = ["user", "assistant", "system", "tool", "function", "developer"] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export interface SessionMessage {
  id: string;
  role: MessageRole;
  content: string;
  /** Epoch ms. */
  created_at: number;
}

export interface Session {
  tenant: string;
  /** Unique per tenant: namespace and user_id are attributes of a session, not part of its key. */
  session_id: string;
  namespace: string | null;
  user_id: string | null;
  messages: SessionMessage[];
  /** Structured memories; `persisted_at` is set once promoted to long-term memory. */
  memories: Memory[];
  context: string | null;
  data: Record<string, unknown> | null;
  long_term_memory_strategy: Record<string, unknown>;
  ttl_seconds: number | null;
  expires_at: number | null;
  created_at: number;
  updated_at: number;
  last_accessed: number;
  /** Bumped by every replacement; background promotion writes only to the version it read. */
  version: number;
}

export const DEFAULT_STRATEGY: Record<string, unknown> = { strategy: "discrete", config: {} };

/** What a session change event carries: enough to route and show it, never the whole transcript (texts cut at 1,000 characters). */
export interface SessionSnapshot {
  session_id: string;
  namespace: string | null;
  user_id: string | null;
  message_count: number;
  memory_count: number;
  tokens: number;
  context: string | null;
  last_message: Pick<SessionMessage, "id" | "role" | "content"> | null;
  /** How many messages this change summarized into `context` (0 when none). */
  summarized_messages: number;
}

/** Text in a snapshot is cut to this many characters: events announce, GET tells the whole. */
const SNAPSHOT_TEXT = 1000;
const clip = (t: string) => (t.length > SNAPSHOT_TEXT ? `${t.slice(0, SNAPSHOT_TEXT)}…` : t);

export function snapshot(s: Session, tokens: number, summarized: number): SessionSnapshot {
  const last = s.messages.at(-1);
  return {
    session_id: s.session_id,
    namespace: s.namespace,
    user_id: s.user_id,
    message_count: s.messages.length,
    memory_count: s.memories.length,
    tokens,
    context: s.context === null ? null : clip(s.context),
    last_message: last ? { id: last.id, role: last.role, content: clip(last.content) } : null,
    summarized_messages: summarized,
  };
}

/** Filters for listing sessions. */
export interface SessionListOptions {
  namespace?: string;
  user_id?: string;
  limit: number;
  /** Sessions to skip: each costs a row read, so a deep page is O(offset). */
  offset: number;
  /** Keyset paging: the sessions after this key (O(page); instead of `offset`). */
  after?: SessionKey;
}

/** A page of session ids, most recently written first. */
export interface SessionPage {
  sessions: string[];
  total: number;
  /** The key to pass as `after` for the next page; null on the last page. */
  next: SessionKey | null;
}

/** The client's model, which sets the token budget (AMS: `model_name`, `context_window_max`). */
export interface ModelParams {
  model_name?: string | null;
  context_window_max?: number | null;
}

export interface SessionInput {
  namespace: string | null;
  user_id: string | null;
  messages: { id?: string; role: MessageRole; content: string; created_at?: number }[];
  /** Structured memories; those with `persisted_at` were promoted already and are not promoted again. */
  memories: (NewMemory & { persisted_at?: number | null })[];
  context: string | null;
  data: Record<string, unknown> | null;
  long_term_memory_strategy: Record<string, unknown> | null;
  ttl_seconds: number | null;
}

export interface SessionSelector {
  namespace?: string;
  user_id?: string;
}

export interface SessionView {
  session: Session;
  /** Tokens of the session's messages, counted for the client's model. */
  tokens: number;
  /** AMS's usage figures; null unless the request named a model or a window. */
  usage: { total: number; untilSummarization: number } | null;
  newSession: boolean;
  warnings: string[];
}

export interface PromptRequest {
  query: string;
  session: ({ session_id: string } & SessionSelector & ModelParams) | null;
  /** A long-term search (its text defaults to the query), or null for none. */
  longTermSearch: SearchRequest | null;
  /**
   * Include the user's profile (docs/profile.md): the user is the session's `user_id`, else the
   * long-term search's `user_id` filter ({eq}); the namespace likewise.
   */
  includeProfile?: boolean;
}

export interface PromptResult {
  messages: ChatMessage[];
  /** The long-term memories the prompt includes, best first. */
  memories: SearchHit[];
  tokens: number;
  window: number;
  warnings: string[];
  /** With includeProfile: whose profile, and how many of its lines the prompt holds. */
  profile?: { user_id: string; generated_by: "rules" | "llm"; lines: number; lines_used: number };
}
