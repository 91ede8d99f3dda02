import * as z from "zod";
import { requireScope, WRITE_SCOPE } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../domain/errors.ts";
import type { MemoryFilter } from "../domain/filters.ts";
import { jsonObject } from "../domain/input-limits.ts";
import type { Memory } from "../domain/memory.ts";
import { formatIso } from "../domain/stored-values.ts";
import { amsRecord } from "../http/ams-schemas.ts";
import { citationOut, statsResponse } from "../http/knowledge-schemas.ts";
import { parse } from "../http/respond.ts";
import type { DomainEvent } from "../service/events.ts";
import type { Principal, SearchRequest } from "../service/memory-service.ts";

/**
 * The SYMindX dialect (`/ws`, frames `{id, type, data, targetAgent, priority, timestamp}`).
 * `targetAgent` is an agent id: its memories are those with that `agent_id`. Replies echo the
 * request `id`; errors are `{type: "error", data: {code, message, details}}`.
 */

export const SYMINDX_TYPES = [
  "chat",
  "command",
  "subscribe",
  "unsubscribe",
  "status",
  "batch",
  "join_conversation",
  "leave_conversation",
  "agent_handoff",
  "typing_start",
  "typing_stop",
] as const;

/** What a SYMindX socket asked to receive (kept in its attachment). */
export interface Subscription {
  events: string[];
  minImportance: number;
}

const envelope = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  type: z.string().min(1),
  data: z.unknown().optional(),
  targetAgent: z.string().min(1).max(256).optional(),
  priority: z.string().optional(),
  timestamp: z.string().optional(),
  // Typing indicators carry these at the top level.
  conversationId: z.string().min(1).max(256).optional(),
  userId: z.string().max(256).optional(),
});
type Envelope = z.output<typeof envelope>;

const chatData = z.object({ message: z.string().trim().min(1, { message: "must not be empty" }).max(10_000), conversationId: z.string().max(256).optional() });
const commandData = z.object({ instruction: z.string().trim().min(1, { message: "must not be empty" }).max(10_000), parameters: jsonObject.optional() });
const subscribeData = z.object({
  events: z.array(z.string().min(1).max(64)).max(50).optional(),
  stream: z.string().min(1).max(64).optional(),
  agentId: z.string().max(256).optional(),
  filter: z.object({ minImportance: z.number().min(0).max(1).optional() }).optional(),
});
const batchData = z.object({ messages: z.array(z.unknown()).min(1).max(50) });
const conversationData = z.object({ conversationId: z.string().min(1).max(256), agents: z.array(z.string().max(256)).max(50).optional() });
const handoffData = z.object({
  fromAgent: z.string().min(1).max(256),
  toAgent: z.string().min(1).max(256),
  conversationId: z.string().min(1).max(256),
  reason: z.string().max(2000).optional(),
});

export type Send = (frame: Record<string, unknown>) => void;

export interface SymindxContext {
  app: AppDeps;
  principal: Principal;
  subscription: Subscription;
  /** Persists a changed subscription in the socket's attachment. */
  setSubscription(s: Subscription): void;
  /** When the hub started (for `uptime`). */
  startedAt: number;
  /** The conversations (working-memory sessions) this socket has joined. */
  rooms: string[];
  setRooms(rooms: string[]): void;
  /** Sends a frame to the other sockets in a conversation; returns how many got it. */
  toRoom(conversationId: string, frame: Record<string, unknown>): number;
}

const now = () => new Date().toISOString();

export function symindxError(code: string, message: string, id?: string | number, details?: unknown): Record<string, unknown> {
  const frame: Record<string, unknown> = { type: "error", data: { code, message, details: details ?? null }, timestamp: now() };
  if (id !== undefined) frame.id = id;
  return frame;
}

/** Runs one SYMindX frame; replies (and errors) go through `send`. */
export async function handleSymindx(raw: unknown, ctx: SymindxContext, send: Send): Promise<void> {
  const env = envelope.safeParse(raw);
  if (!env.success) {
    // The id is echoed whenever it can be read, so the client can match the error to its message.
    const rawId = (raw as { id?: unknown } | null)?.id;
    const id = typeof rawId === "string" || typeof rawId === "number" ? rawId : undefined;
    const issue = env.error.issues[0]!;
    send(symindxError("INVALID_MESSAGE", "Message format is invalid", id, `${issue.path.join(".") || "message"}: ${issue.message}`));
    return;
  }
  const m = env.data;
  const reply = (type: string, data: unknown) => send(m.id === undefined ? { type, data, timestamp: now() } : { id: m.id, type, data, timestamp: now() });
  try {
    await run(m, ctx, reply, send);
  } catch (e) {
    const err = e instanceof AppError ? e : null;
    if (!err) ctx.app.log.error("symindx message failed", { type: m.type, error: e instanceof Error ? e.message : String(e) });
    const code = err?.code === "unauthorized" || err?.code === "forbidden" ? "UNAUTHORIZED" : err?.code === "not_found" && /agent/.test(err.message) ? "AGENT_NOT_FOUND" : err ? "INVALID_MESSAGE" : "INTERNAL_ERROR";
    send(symindxError(code, err?.message ?? "internal error", m.id, err?.issues.length ? err.issues : undefined));
  }
}

async function run(m: Envelope, ctx: SymindxContext, reply: (type: string, data: unknown) => void, send: Send): Promise<void> {
  const { app, principal: p } = ctx;
  switch (m.type) {
    case "chat": {
      const d = parse(chatData, m.data ?? {});
      const started = Date.now();
      await requireAgent(ctx, m.targetAgent);
      const filter: MemoryFilter = m.targetAgent ? { agent_id: { eq: m.targetAgent } } : {};
      const res = await app.knowledge.think(p, { question: d.message, limit: 8, filter });
      let response = "";
      for await (const t of res.answer) response += t;
      reply("chat_response", {
        response,
        agentId: m.targetAgent ?? null,
        conversationId: d.conversationId ?? null,
        processingTime: Date.now() - started,
        citations: res.citations.map(citationOut),
      });
      return;
    }
    case "command": {
      const d = parse(commandData, m.data ?? {});
      const started = Date.now();
      const commandId = `cmd_${crypto.randomUUID().slice(0, 8)}`;
      const result = await command(ctx, d.instruction, m.targetAgent);
      reply("command_result", { commandId, status: "completed", result, executionTime: Date.now() - started });
      return;
    }
    case "subscribe":
    case "unsubscribe": {
      const d = parse(subscribeData, m.data ?? {});
      const names = [...(d.events ?? []), ...(d.stream ? [d.stream] : [])];
      if (!names.length) throw AppError.validation([{ field: "data.events", message: "give events or a stream" }]);
      const current = new Set(ctx.subscription.events);
      for (const n of names) (m.type === "subscribe" ? current.add(n) : current.delete(n));
      const next: Subscription = { events: [...current], minImportance: d.filter?.minImportance ?? ctx.subscription.minImportance };
      ctx.setSubscription(next);
      reply(m.type === "subscribe" ? "subscribed" : "unsubscribed", next);
      return;
    }
    case "status": {
      const stats = statsResponse(await app.knowledge.stats(p));
      reply("status_update", { agentId: m.targetAgent ?? null, status: "active", queueLength: 0, uptime: Date.now() - ctx.startedAt, memory: stats });
      return;
    }
    case "batch": {
      const d = parse(batchData, m.data ?? {});
      // The seed's batches are flat; a nested one would multiply the work one frame can ask for.
      const nested = d.messages.findIndex(isBatch);
      if (nested >= 0) throw AppError.validation([{ field: `data.messages.${nested}.type`, message: "a batch cannot contain a batch" }]);
      // In order: each message gets its own reply, as if sent one by one.
      for (const inner of d.messages) await handleSymindx(inner, ctx, send);
      return;
    }
    case "join_conversation":
    case "leave_conversation": {
      const d = parse(conversationData, m.data ?? {});
      const rooms = new Set(ctx.rooms);
      if (m.type === "join_conversation") rooms.add(d.conversationId);
      else rooms.delete(d.conversationId);
      ctx.setRooms([...rooms]);
      const others = ctx.toRoom(d.conversationId, {
        type: "event",
        data: { eventType: m.type === "join_conversation" ? "participant_joined" : "participant_left", conversationId: d.conversationId, userId: p.subject },
        timestamp: now(),
      });
      reply(m.type === "join_conversation" ? "conversation_joined" : "conversation_left", { conversationId: d.conversationId, agents: d.agents ?? [], otherParticipants: others });
      return;
    }
    case "agent_handoff": {
      const d = parse(handoffData, m.data ?? {});
      requireScope(p, WRITE_SCOPE);
      // Recorded in the conversation: a system message in its working-memory session.
      await recordInSession(ctx, d.conversationId, `Agent handoff from ${d.fromAgent} to ${d.toAgent}${d.reason ? `: ${d.reason}` : ""}`);
      const data = { eventType: "agent_handoff", conversationId: d.conversationId, fromAgent: d.fromAgent, toAgent: d.toAgent, reason: d.reason ?? null };
      ctx.toRoom(d.conversationId, { type: "event", data, timestamp: now() });
      reply("agent_handoff", { ...data, status: "completed" });
      return;
    }
    case "typing_start":
    case "typing_stop": {
      const conversationId = m.conversationId ?? (m.data as { conversationId?: string } | undefined)?.conversationId;
      if (!conversationId) throw AppError.validation([{ field: "conversationId", message: "is required" }]);
      // Relayed to the other participants only; no reply (indicators are fire-and-forget).
      ctx.toRoom(conversationId, { type: m.type, conversationId, userId: m.userId ?? p.subject, timestamp: now() });
      return;
    }
    default:
      throw new AppError("bad_request", `unknown message type '${m.type}'; expected one of ${SYMINDX_TYPES.join(", ")}`);
  }
}

function isBatch(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && (raw as { type?: unknown }).type === "batch";
}

/**
 * The operations a SYMindX frame asks for, as the rate limit counts them: each message of a
 * batch is one, as if sent on its own (a nested batch is refused before it runs).
 */
export function symindxOperations(raw: unknown): number {
  if (!isBatch(raw)) return 1;
  const messages = ((raw as { data?: { messages?: unknown } }).data ?? {}).messages;
  return Array.isArray(messages) ? Math.max(1, messages.length) : 1;
}

/** Appends a system message to a conversation's working-memory session (creating it if needed). */
async function recordInSession(ctx: SymindxContext, conversationId: string, text: string): Promise<void> {
  await ctx.app.sessions.append(ctx.principal, conversationId, [{ role: "system", content: text }]);
}

/** An agent exists when the tenant has memories of it. */
async function requireAgent(ctx: SymindxContext, agent: string | undefined): Promise<void> {
  if (!agent) return;
  const { total } = await ctx.app.service.list(ctx.principal, { filter: { agent_id: { eq: agent } }, limit: 1 });
  if (!total) throw new AppError("not_found", `agent '${agent}' not found`);
}

/**
 * Instructions map to memory operations by their first word: remember/store/save <text>,
 * recall/search/find <query>, forget/delete <memory id>, think/ask <question>, status.
 */
async function command(ctx: SymindxContext, instruction: string, agent: string | undefined): Promise<unknown> {
  const { app, principal: p } = ctx;
  const [verb = "", ...rest] = instruction.trim().split(/\s+/);
  const arg = rest.join(" ");
  const need = (what: string) => {
    if (!arg) throw AppError.validation([{ field: "data.instruction", message: `'${verb}' needs ${what}` }]);
  };
  switch (verb.toLowerCase()) {
    case "remember":
    case "store":
    case "save": {
      need("the text to remember");
      requireScope(p, WRITE_SCOPE);
      const res = await app.service.create(p, [{ text: arg, agent_id: agent ?? null, memory_type: "fact" }]);
      const memory: Memory = res.memories[0] ?? (await app.service.get(p, res.deduplicated[0]!.existing_id));
      return { memory: amsRecord(memory), deduplicated: res.deduplicated.length > 0 };
    }
    case "recall":
    case "search":
    case "find": {
      need("a query");
      await requireAgent(ctx, agent);
      const req: SearchRequest = {
        text: arg,
        limit: 10,
        offset: 0,
        filter: agent ? { agent_id: { eq: agent } } : {},
        mode: "hybrid",
        hybridAlpha: 0.5,
        recency: null,
        distanceThreshold: null,
        explain: false,
      };
      const res = await app.service.search(p, req);
      return { memories: res.hits.map((h) => ({ ...amsRecord(h.memory), score: h.score })), total: res.total };
    }
    case "forget":
    case "delete": {
      need("a memory id");
      requireScope(p, WRITE_SCOPE);
      return { deleted: await app.service.remove(p, [arg], "symindx command") };
    }
    case "think":
    case "ask": {
      need("a question");
      const res = await app.knowledge.think(p, { question: arg, limit: 8, filter: agent ? { agent_id: { eq: agent } } : {} });
      let answer = "";
      for await (const t of res.answer) answer += t;
      return { answer, citations: res.citations.map(citationOut) };
    }
    case "status":
      return statsResponse(await app.knowledge.stats(p));
    default:
      throw AppError.validation([{ field: "data.instruction", message: `unknown instruction '${verb}'; use remember, recall, forget, think or status` }]);
  }
}

/**
 * A change as a SYMindX `event` frame, or null: memory changes for sockets subscribed to
 * `memory_update`; session changes for sockets in that conversation (a working-memory session).
 */
export function symindxEvent(e: DomainEvent & { seq: number }, s: Subscription, rooms: string[]): Record<string, unknown> | null {
  if (!("memory" in e)) {
    if (!rooms.includes(e.session.session_id)) return null;
    return {
      type: "event",
      data: { eventType: "conversation_update", action: e.type, conversationId: e.session.session_id, ...e.session, seq: e.seq },
      timestamp: formatIso(e.at),
    };
  }
  if (!s.events.includes("memory_update") && !s.events.includes("*")) return null;
  const importance = e.memory.priority / 10;
  if (importance < s.minImportance) return null;
  return {
    type: "event",
    data: {
      eventType: "memory_update",
      action: e.type,
      memoryId: e.memory.id,
      content: e.memory.text,
      memoryType: e.memory.memory_type,
      agentId: e.memory.agent_id,
      importance,
      seq: e.seq,
    },
    timestamp: formatIso(e.at),
  };
}
