import * as z from "zod";
import type { AppDeps } from "../deps.ts";
import { AppError, asAppError, type ErrorCode, type Reason } from "../domain/errors.ts";
import { validityOf, type MemoryFilter } from "../domain/filters.ts";
import { jsonObject } from "../domain/input-limits.ts";
import { MEMORY_TYPES, type Memory } from "../domain/memory.ts";
import { MESSAGE_ROLES } from "../domain/session.ts";
import { formatIso } from "../domain/stored-values.ts";
import { hybridSearch } from "../domain/search.ts";
import { amsRecord, label, memoryId, scoredMemories, validityFields } from "../wire/ams.ts";
import {
  collectAnswer,
  feedbackResponse,
  ingestOptions,
  ingestOptionsOf,
  ingestResponse,
  graphQueryBody,
  graphRequest,
  graphResponse,
  ratingOf,
  statsResponse,
  thinkRequest,
  thinkSources,
} from "../wire/knowledge.ts";
import { parse } from "../wire/parse.ts";
import type { Principal } from "../domain/principal.ts";
import {
  frameId,
  requireWrite,
  type Dialect,
  type Frame,
  type FrameId,
  type Refusal,
  type SequencedEvent,
} from "./dialect.ts";

/**
 * The engram dialect (`/ws`, frames `{command, payload}`): each command runs through the same
 * services REST uses; the adapter only parses, calls and shapes. Replies are
 * `{command, status: "ok", data}` (think also streams `{command, status: "streaming", data: {token}}`),
 * errors `{command, status: "error", error: {code, message}}`.
 */

const text = z.string().trim().min(1, { message: "must not be empty" });
const owner = { namespace: label.nullish(), user_id: label.nullish(), session_id: label.nullish() };

const payloads = {
  remember: z.object({
    content: text.max(100_000),
    memory_type: z.enum(MEMORY_TYPES).nullish(),
    priority: z.number().int().min(1).max(10).nullish(),
    confidence: z.number().min(0).max(1).nullish(),
    topics: z.array(z.string().min(1).max(256)).max(100).nullish(),
    entities: z.array(z.string().min(1).max(256)).max(100).nullish(),
    metadata: jsonObject.nullish(),
    id: memoryId.nullish(),
    ...owner,
  }),
  recall: z.object({
    query: z.string().max(10_000).nullish(),
    limit: z.number().int().min(1).max(100).default(10),
    memory_type: z.enum(MEMORY_TYPES).nullish(),
    ...owner,
    ...validityFields,
  }),
  think: z
    .object({
      question: text.max(10_000).optional(),
      query: text.max(10_000).optional(),
      limit: z.number().int().min(1).max(50).default(8),
      ...owner,
      ...validityFields,
    })
    .refine((p) => p.question ?? p.query, { message: "give question", path: ["question"] }),
  feedback: z
    .object({
      memory_id: memoryId,
      rating: z.enum(["positive", "negative"]).optional(),
      positive: z.boolean().optional(),
      helpful: z.boolean().optional(),
      comment: z.string().max(2000).nullish(),
    })
    // Presence, not truth: `positive: false` is a (negative) rating.
    .refine((p) => p.rating !== undefined || p.positive !== undefined || p.helpful !== undefined, {
      message: "give rating (positive|negative) or positive (boolean)",
      path: ["rating"],
    }),
  query: graphQueryBody,
  // Not wire/knowledge's ingestBody: an empty `messages` keeps zod's own message here.
  ingest: z.object({
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
      .min(1)
      .max(1000),
    ...owner,
    ...ingestOptions,
  }),
  status: z.object({}).passthrough(),
};

type EngramCommand = keyof typeof payloads;
/** Commands that change memories need the write scope (the upgrade checked read). */
const WRITES = new Set<EngramCommand>(["remember", "ingest", "feedback"]);
const ENGRAM_COMMANDS = Object.keys(payloads) as EngramCommand[];

const envelope = z.object({
  command: z.string().min(1),
  payload: z.unknown().optional(),
  id: z.union([z.string(), z.number()]).optional(),
});

type Id = FrameId | undefined;
/** An engram frame: a known command, an unknown one, or not `{command, payload}` at all. */
type EngramFrame =
  | { kind: "command"; id: Id; command: EngramCommand; payload: unknown }
  | { kind: "unknown"; id: Id; command: string }
  | { kind: "invalid"; id: Id };

/** An error frame: `{id?, command?, status: "error", error}`. */
function errorFrame(id: Id, command: string | undefined, error: Frame): Frame {
  return { ...(id === undefined ? {} : { id }), ...(command === undefined ? {} : { command }), status: "error", error };
}

const REFUSALS = {
  rate_limited: "RATE_LIMIT_EXCEEDED",
  too_large: "MESSAGE_TOO_LARGE",
  binary: "INVALID_MESSAGE",
  not_json: "INVALID_MESSAGE",
} as const satisfies Record<Refusal, string>;

function parseFrame(raw: unknown): EngramFrame {
  const f = envelope.safeParse(raw);
  if (!f.success) return { kind: "invalid", id: frameId(raw) };
  const { command, id, payload } = f.data;
  // Own keys only: `constructor` or `toString` are not commands.
  return Object.hasOwn(payloads, command)
    ? { kind: "command", id, command: command as EngramCommand, payload: payload ?? {} }
    : { kind: "unknown", id, command };
}

/**
 * The engram dialect: each frame answered before the events it caused are pushed; every
 * event of the tenant is pushed to every socket, and replayed on `?since=`.
 */
export const engram: Dialect = {
  name: "engram",
  runs: "awaited",

  async receive(raw, { app, principal, send }) {
    const f = parseFrame(raw);
    if (f.kind === "invalid") {
      send(errorFrame(f.id, undefined, { code: "INVALID_MESSAGE", message: "expected {command, payload}" }));
      return;
    }
    const { command, id } = f;
    const reply = (r: Frame) => send(id === undefined ? { command, ...r } : { id, command, ...r });
    try {
      if (f.kind === "unknown") {
        throw new AppError(
          "bad_request",
          `unknown command '${command}'; expected one of ${ENGRAM_COMMANDS.join(", ")}`,
        );
      }
      if (WRITES.has(f.command)) requireWrite(app, principal);
      const data = await run(f.command, f.payload, app, principal, (token) =>
        reply({ status: "streaming", data: { token } }),
      );
      reply({ status: "ok", data });
    } catch (e) {
      const err = asAppError(e);
      if (!err) app.log.error("engram command failed", { command, error: e instanceof Error ? e.message : String(e) });
      send(
        errorFrame(id, command, {
          code: engramCode(err?.reason ?? { code: "internal_error" }),
          message: err?.message ?? "internal error",
          issues: err?.issues.length ? err.issues : undefined,
        }),
      );
    }
  },

  refuse: (refusal, message, id) => errorFrame(id, undefined, { code: REFUSALS[refusal], message }),

  push: { shared: true, frames: engramPush },

  // The frame for a replay gap: events were missed for good (or `since` was unusable): resync, then
  // carry on from the events that follow.
  gap: (gap) => ({ event: "gap", data: gap }),
};

async function run(
  command: EngramCommand,
  raw: unknown,
  app: AppDeps,
  p: Principal,
  token: (t: string) => void,
): Promise<unknown> {
  switch (command) {
    case "remember": {
      const b = parse(payloads.remember, raw);
      const res = await app.memories.createOne(p, {
        id: b.id ?? undefined,
        text: b.content,
        memory_type: b.memory_type ?? "fact",
        priority: b.priority ?? undefined,
        confidence: b.confidence ?? undefined,
        topics: b.topics ?? undefined,
        entities: b.entities ?? undefined,
        metadata: b.metadata ?? undefined,
        namespace: b.namespace ?? null,
        user_id: b.user_id ?? null,
        session_id: b.session_id ?? null,
      });
      return { memory_id: res.memory.id, memory: amsRecord(res.memory), deduplicated: res.deduplicated };
    }
    case "recall": {
      const b = parse(payloads.recall, raw);
      const filter: MemoryFilter = { validity: validityOf(b) };
      if (b.memory_type) filter.memory_type = { eq: b.memory_type };
      if (b.namespace) filter.namespace = { eq: b.namespace };
      if (b.user_id) filter.user_id = { eq: b.user_id };
      if (b.session_id) filter.session_id = { eq: b.session_id };
      return scoredMemories(await app.search.search(p, hybridSearch(b.query ?? null, b.limit, filter)));
    }
    case "think": {
      const b = parse(payloads.think, raw);
      const res = await app.think.think(p, thinkRequest({ ...b, question: (b.question ?? b.query)! }));
      const { answer } = await collectAnswer(res.answer, token);
      return { answer, ...thinkSources(res) };
    }
    case "feedback": {
      const b = parse(payloads.feedback, raw);
      return feedbackResponse(await app.feedback.feedback(p, b.memory_id, ratingOf(b), b.comment ?? null));
    }
    case "query": {
      const b = parse(payloads.query, raw);
      return graphResponse(await app.graph.query(p, graphRequest(b)));
    }
    case "ingest": {
      const b = parse(payloads.ingest, raw);
      return ingestResponse(await app.graph.ingest(p, b.messages, b, ingestOptionsOf(b)));
    }
    case "status":
      return statsResponse(await app.stats.get(p));
  }
}

/** engram's error codes: the validation and lookup failures a client can act on, else internal. */
const ENGRAM_CODES = {
  bad_request: "INVALID_MESSAGE",
  validation_error: "INVALID_MESSAGE",
  unauthorized: "UNAUTHORIZED",
  forbidden: "UNAUTHORIZED",
  not_found: "NOT_FOUND",
  conflict: "INTERNAL_ERROR",
  payload_too_large: "MESSAGE_TOO_LARGE",
  unsupported_media_type: "INTERNAL_ERROR",
  upstream_error: "UPSTREAM_ERROR",
  upstream_timeout: "UPSTREAM_ERROR",
  internal_error: "INTERNAL_ERROR",
  unavailable: "UNAVAILABLE",
  storage_full: "STORAGE_FULL",
} as const satisfies Record<ErrorCode, string>;

/** engram's error code for a reason. */
function engramCode(r: Reason): (typeof ENGRAM_CODES)[ErrorCode] {
  return ENGRAM_CODES[r.code];
}

/** A memory event as engram pushes it: `{event, data: {memory_id, content, memory_type, created_at, ...}, seq}`. */
function engramPush(e: SequencedEvent): Frame[] {
  if (!("memory" in e)) return []; // session events are not part of the engram protocol
  const m = e.memory as Memory;
  return [
    {
      event: e.type,
      data: {
        memory_id: m.id,
        content: m.text,
        memory_type: m.memory_type,
        created_at: formatIso(m.created_at),
        updated_at: formatIso(m.updated_at),
        priority: m.priority,
        confidence: m.confidence,
        namespace: m.namespace,
        user_id: m.user_id,
        actor: e.actor,
        reason: e.reason ?? null,
      },
      seq: e.seq,
    },
  ];
}
