import * as z from "zod";
import { checkJsonBounds, jsonObject, timestamp } from "../domain/input-limits.ts";
import { MESSAGE_ROLES, type Session } from "../domain/session.ts";
import { formatIso, formatIsoOrNull } from "../domain/stored-values.ts";
import type { PromptRequest, PromptResult, SessionInput, SessionPage, SessionView } from "../domain/session.ts";
import type { SearchRequest } from "../domain/search.ts";
import {
  amsHit,
  amsRecord,
  boolParam,
  isoDate,
  label,
  memoryId,
  memoryHitOut,
  memoryRecordInput,
  memoryRecordOut,
  searchBody,
  toNewMemory,
  toSearchRequest,
} from "./ams.ts";
import { cursorParam, nextCursor, nextCursorOut } from "./paging.ts";

/** Wire schemas of AMS working memory and prompt hydration (seed + the official clients' extras). */

/** More messages than this in one session is a client bug, not a conversation. */
export const MAX_SESSION_MESSAGES = 5_000;
const TEN_YEARS_SECONDS = 10 * 365 * 86_400;

const modelName = z.string().min(1).max(200);
const contextWindow = z.number().int().min(1).max(100_000_000);

const message = z.object({
  id: memoryId.nullish(),
  role: z.enum(MESSAGE_ROLES, {
    error: (i) => `unknown role ${JSON.stringify(i.input)}; expected one of ${MESSAGE_ROLES.join(", ")}`,
  }),
  content: z
    .string()
    .max(100_000)
    .refine((s) => s.trim().length > 0, { message: "must not be empty" }),
  created_at: timestamp.nullish(),
});

export const workingMemoryBody = z.object({
  /** Optional (the path names the session); when given it must match the path. */
  session_id: label.nullish(),
  namespace: label.nullish(),
  user_id: label.nullish(),
  messages: z.array(message).max(MAX_SESSION_MESSAGES).default([]),
  memories: z
    .array(memoryRecordInput.extend({ persisted_at: timestamp.nullish() }))
    .max(100)
    .default([]),
  context: z.string().max(200_000).nullish(),
  data: jsonObject.nullish(),
  long_term_memory_strategy: z
    .looseObject({ strategy: z.string().min(1).max(64) })
    .superRefine(checkJsonBounds)
    .nullish(),
  ttl_seconds: z.number().int().positive().max(TEN_YEARS_SECONDS).nullish(),
});

const modelQuery = {
  model_name: modelName.optional(),
  context_window_max: z.coerce.number().pipe(contextWindow).optional(),
};

export const sessionPath = z.object({ session_id: label });

export const getSessionQuery = z.object({
  ...modelQuery,
  namespace: label.optional(),
  user_id: label.optional(),
  recent_messages_limit: z.coerce.number().int().min(1).max(MAX_SESSION_MESSAGES).optional(),
});

export const putSessionQuery = z.object({
  ...modelQuery,
  namespace: label.optional(),
  user_id: label.optional(),
  /** AMS clients send it; promotion always runs after the response here. */
  background: boolParam.optional(),
});

export const deleteSessionQuery = z.object({ namespace: label.optional(), user_id: label.optional() });

export const listSessionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(10),
  offset: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .meta({ description: "Sessions to skip: each is read, so a deep page costs O(offset); prefer `cursor`." }),
  cursor: cursorParam("sessions").optional(),
  namespace: label.optional(),
  user_id: label.optional(),
});

export const promptBody = z.object({
  query: z.string().trim().min(1, { message: "must not be empty" }).max(100_000),
  session: z
    .object({
      session_id: label,
      namespace: label.nullish(),
      user_id: label.nullish(),
      model_name: modelName.nullish(),
      context_window_max: contextWindow.nullish(),
    })
    .nullish(),
  long_term_search: z.union([z.boolean(), searchBody]).nullish(),
  include_profile: z.boolean().nullish().meta({
    description:
      "edgemem: include the user's profile (GET /v1/profile) in the system message, within the token budget. The user is session.user_id, else long_term_search.user_id ({eq}); without either, a 422.",
  }),
});

// ---------------------------------------------------------------------------------------------
// Wire → service

export function toSessionInput(
  b: z.output<typeof workingMemoryBody>,
  q: z.output<typeof putSessionQuery>,
): SessionInput {
  const namespace = b.namespace ?? q.namespace ?? null;
  return {
    namespace,
    user_id: b.user_id ?? q.user_id ?? null,
    messages: b.messages.map((m) => ({
      id: m.id ?? undefined,
      role: m.role,
      content: m.content,
      created_at: m.created_at ?? undefined,
    })),
    memories: b.memories.map((m) => ({
      ...toNewMemory(m, Date.now(), namespace ?? undefined),
      persisted_at: m.persisted_at ?? null,
    })),
    context: b.context ?? null,
    data: b.data ?? null,
    long_term_memory_strategy: b.long_term_memory_strategy ?? null,
    ttl_seconds: b.ttl_seconds ?? null,
  };
}

/** A prompt body as the service's request. */
export function toPromptRequest(b: z.output<typeof promptBody>): PromptRequest {
  return {
    query: b.query,
    session: b.session
      ? {
          session_id: b.session.session_id,
          namespace: b.session.namespace ?? undefined,
          user_id: b.session.user_id ?? undefined,
          model_name: b.session.model_name ?? undefined,
          context_window_max: b.session.context_window_max ?? undefined,
        }
      : null,
    longTermSearch: toPromptSearch(b.long_term_search),
    ...(b.include_profile ? { includeProfile: true } : {}),
  };
}

/** `true` is AMS's default long-term search; an object is a full search request. */
export function toPromptSearch(s: z.output<typeof promptBody>["long_term_search"]): SearchRequest | null {
  if (!s) return null;
  return toSearchRequest(s === true ? searchBody.parse({}) : s);
}

// ---------------------------------------------------------------------------------------------
// Service → wire

const count = z.number().int().min(0);
const percentage = z.number().nullable().meta({ description: "Null without model_name or context_window_max." });

export const sessionListOut = z.object({
  sessions: z.array(z.string()).meta({ description: "Most recently written first." }),
  total: count,
  next_cursor: nextCursorOut,
});

/** A page of sessions as AMS clients read it, with edgemem's cursor to the next. */
export function sessionList(p: SessionPage): z.input<typeof sessionListOut> {
  return { sessions: p.sessions, total: p.total, next_cursor: nextCursor("sessions", p.next) };
}

export const workingMemoryOut = z
  .object({
    session_id: z.string(),
    namespace: z.string().nullable(),
    user_id: z.string().nullable(),
    messages: z.array(
      z.object({ id: z.string(), role: z.enum(MESSAGE_ROLES), content: z.string(), created_at: isoDate }),
    ),
    memories: z.array(memoryRecordOut),
    data: z.record(z.string(), z.unknown()).nullable(),
    context: z.string().nullable().meta({ description: "The summary of older messages." }),
    tokens: count,
    long_term_memory_strategy: z.record(z.string(), z.unknown()),
    ttl_seconds: z.number().int().nullable(),
    last_accessed: isoDate,
    created_at: isoDate,
    updated_at: isoDate,
    expires_at: isoDate.nullable(),
    context_percentage_total_used: percentage,
    context_percentage_until_summarization: percentage,
    new_session: z.boolean(),
    unsaved: z.null(),
    warnings: z.array(z.string()).optional(),
  })
  .meta({ id: "WorkingMemoryResponse" });

export const promptOut = z.object({
  messages: z.array(z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() })),
  long_term_memories: z.array(memoryHitOut),
  tokens: count,
  token_budget: count,
  warnings: z.array(z.string()).optional(),
  profile: z
    .object({
      user_id: z.string(),
      generated_by: z.enum(["rules", "llm"]),
      lines: count.meta({ description: "Lines the profile has." }),
      lines_used: count.meta({ description: "Lines the prompt holds (the first ones, stable before recent)." }),
    })
    .optional()
    .meta({ description: "edgemem, with include_profile: whose profile the prompt includes, and how much of it." }),
});

/** A session as AMS clients read it (WorkingMemoryResponse). */
export function workingMemoryResponse(v: SessionView): z.input<typeof workingMemoryOut> {
  const s: Session = v.session;
  return {
    session_id: s.session_id,
    namespace: s.namespace,
    user_id: s.user_id,
    messages: s.messages.map((m) => ({
      id: m.id,
      role: m.role,
      content: m.content,
      created_at: formatIso(m.created_at),
    })),
    memories: s.memories.map(amsRecord),
    data: s.data,
    context: s.context,
    tokens: v.tokens,
    long_term_memory_strategy: s.long_term_memory_strategy,
    ttl_seconds: s.ttl_seconds,
    last_accessed: formatIso(s.last_accessed),
    created_at: formatIso(s.created_at),
    updated_at: formatIso(s.updated_at),
    expires_at: formatIsoOrNull(s.expires_at),
    context_percentage_total_used: v.usage ? round(v.usage.total) : null,
    context_percentage_until_summarization: v.usage ? round(v.usage.untilSummarization) : null,
    new_session: v.newSession,
    unsaved: null,
    ...(v.warnings.length ? { warnings: v.warnings } : {}),
  };
}

export function promptResponse(r: PromptResult): z.input<typeof promptOut> {
  return {
    messages: r.messages,
    long_term_memories: r.memories.map(amsHit),
    tokens: r.tokens,
    token_budget: r.window,
    ...(r.warnings.length ? { warnings: r.warnings } : {}),
    ...(r.profile ? { profile: r.profile } : {}),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
