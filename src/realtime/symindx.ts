import * as z from "zod";
import { verifyToken } from "../auth/jwt.ts";
import { AppError, asAppError, type Reason } from "../domain/errors.ts";
import { jsonObject } from "../domain/input-limits.ts";
import { validityOf, type MemoryFilter, type Validity } from "../domain/filters.ts";
import { formatIso } from "../domain/stored-values.ts";
import { hybridSearch } from "../domain/search.ts";
import { amsRecord, scoredMemories, validityFields } from "../wire/ams.ts";
import { citationOut, collectAnswer, statsResponse } from "../wire/knowledge.ts";
import { parse } from "../wire/parse.ts";
import { VERSION } from "../version.ts";
import {
  frameId,
  type Dialect,
  type Frame,
  type FrameId,
  type Heartbeat,
  requireWrite,
  type HubContext,
  type Refusal,
  type SequencedEvent,
  type Subscription,
} from "./dialect.ts";

/**
 * The SYMindX dialect (`/ws`, frames `{id, type, data, targetAgent, priority, timestamp}`).
 * `targetAgent` is an agent id: its memories are those with that `agent_id`. Replies echo the
 * request `id`; errors are `{type: "error", error, data: {code, message, details}}`.
 *
 * Besides the seed document's shapes, the frames SYMindX's own runtime and dashboards send
 * (repository SYMBaiEX/SYMindX, `mind-agents/src/extensions/api/`):
 * - `index.ts` (the live server, `handleWebSocketMessage`): `chat` with top-level `agentId` and the
 *   text as string `data` or top-level `message`, answered `chat_response` with `{response,
 *   timestamp, sessionId, metadata: {tokensUsed, processingTime, memoryRetrieved}}`
 *   (`processChatMessage`); `action` with a command string in `data`, answered `command_response
 *   {commandId, status}`; errors `{type: "error", error: "<text>"}`.
 * - `skills/websocket-server.ts`: `chat_message` (`agentId`, `data.message`), `command`
 *   (`data.command`, `data.parameters`) answered `command_result`, `subscribe` / `unsubscribe`
 *   with `data.channel` answered `{type: "subscribed", channel}`.
 * - `components/WebSocketManager.ts` (used by `index-new.ts`): `auth {data: {token, userId}}`
 *   answered `auth.success`, `agent.command {data: {agentId, command, parameters}}` answered
 *   `agent.command.result`, errors `{type: "error", data: {error, timestamp}}`.
 */

const SYMINDX_TYPES = [
  "chat",
  "chat_message",
  "command",
  "action",
  "agent.command",
  "auth",
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

/**
 * The channels whose subscribers get memory changes as top-level `memory_update` frames, the type
 * SYMindX's website reads (`website/src/components/ThoughtStream.tsx`: `data.agentId`, `content`).
 */
const MEMORY_CHANNELS = ["memory_update", "memory", "memories", "*"];

const envelope = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  type: z.string().min(1),
  data: z.unknown().optional(),
  targetAgent: z.string().min(1).max(256).optional(),
  // The runtime's chat names its agent and carries its text at the top level (index.ts).
  agentId: z.string().min(1).max(256).optional(),
  message: z.string().optional(),
  priority: z.string().optional(),
  timestamp: z.string().optional(),
  // Typing indicators carry these at the top level.
  conversationId: z.string().min(1).max(256).optional(),
  userId: z.string().max(256).optional(),
});
type Envelope = z.output<typeof envelope>;

const instructionText = z.string().trim().min(1, { message: "must not be empty" }).max(10_000);
const chatData = z.object({
  message: z.string().trim().min(1, { message: "must not be empty" }).max(10_000),
  conversationId: z.string().max(256).optional(),
});
// The seed's `instruction`, or the skill server's `command` (websocket-server.ts `handleCommand`).
const commandData = z
  .object({
    instruction: instructionText.optional(),
    command: instructionText.optional(),
    parameters: jsonObject.optional(),
  })
  .refine((d) => d.instruction ?? d.command, { message: "give instruction (or command)", path: ["instruction"] });
const agentCommandData = z.object({
  agentId: z.string().min(1).max(256).optional(),
  command: instructionText,
  parameters: jsonObject.optional(),
});
const commandValidity = z.object({ parameters: z.object(validityFields) });
const authData = z.object({ token: z.string().min(1).max(16_384), userId: z.string().max(256).optional() });
const subscribeData = z.object({
  events: z.array(z.string().min(1).max(64)).max(50).optional(),
  stream: z.string().min(1).max(64).optional(),
  channel: z.string().min(1).max(64).optional(),
  agentId: z.string().max(256).optional(),
  filter: z.object({ minImportance: z.number().min(0).max(1).optional() }).optional(),
});
const batchData = z.object({ messages: z.array(z.unknown()).min(1).max(50) });
const conversationData = z.object({
  conversationId: z.string().min(1).max(256),
  agents: z.array(z.string().max(256)).max(50).optional(),
});
const handoffData = z.object({
  fromAgent: z.string().min(1).max(256),
  toAgent: z.string().min(1).max(256),
  conversationId: z.string().min(1).max(256),
  reason: z.string().max(2000).optional(),
});

const now = () => new Date().toISOString();

function symindxError(code: string, message: string, id?: FrameId, details?: unknown): Frame {
  // `error` (a string) is where the runtime's own clients read it (index.ts, websocket-server.ts).
  const frame: Record<string, unknown> = {
    type: "error",
    error: message,
    data: { code, message, details: details ?? null },
    timestamp: now(),
  };
  if (id !== undefined) frame.id = id;
  return frame;
}

/** A SYMindX frame: a message in the envelope, or not one (`details` says why). */
type SymindxFrame = { kind: "message"; m: Envelope } | { kind: "invalid"; id: FrameId | undefined; details: string };

function parseFrame(raw: unknown): SymindxFrame {
  const env = envelope.safeParse(raw);
  if (env.success) return { kind: "message", m: env.data };
  const issue = env.error.issues[0]!;
  return { kind: "invalid", id: frameId(raw), details: `${issue.path.join(".") || "message"}: ${issue.message}` };
}

const REFUSALS = {
  rate_limited: "RATE_LIMIT_EXCEEDED",
  too_large: "INVALID_MESSAGE",
  binary: "INVALID_MESSAGE",
  not_json: "INVALID_MESSAGE",
} as const satisfies Record<Refusal, string>;

/**
 * SYMindX's application heartbeat (the seed's `{type: "ping"}` answered `{type: "pong"}`); a pong
 * with more fields still counts.
 */
const heartbeat: Heartbeat = {
  ping: '{"type":"ping"}',
  pong: '{"type":"pong"}',
  isPong: (raw) => typeof raw === "object" && raw !== null && (raw as { type?: unknown }).type === "pong",
};

/**
 * The SYMindX dialect: sockets say so with the `symindx` subprotocol (greeted on connect) or by
 * their first SYMindX frame on `/ws`; each frame answered before its events; sockets get the changes they
 * subscribed to, and are pinged.
 */
export const symindx: Dialect = {
  name: "symindx",
  runs: "awaited",
  heartbeat,
  cost: symindxOperations,

  async receive(raw, ctx) {
    const f = parseFrame(raw);
    if (f.kind === "invalid") {
      ctx.send(symindxError("INVALID_MESSAGE", "Message format is invalid", f.id, f.details));
      return;
    }
    const { m } = f;
    const reply: Reply = (type, data, top) =>
      ctx.send({ ...(m.id === undefined ? {} : { id: m.id }), type, ...top, data, timestamp: now() });
    try {
      await run(m, ctx, reply);
    } catch (e) {
      const err = asAppError(e);
      if (!err)
        ctx.app.log.error("symindx message failed", {
          type: m.type,
          error: e instanceof Error ? e.message : String(e),
        });
      const code = err ? symindxCode(err.reason) : "INTERNAL_ERROR";
      ctx.send(symindxError(code, err?.message ?? "internal error", m.id, err?.issues.length ? err.issues : undefined));
    }
  },

  refuse: (refusal, message, id) => symindxError(REFUSALS[refusal], message, id),

  push: { shared: false, frames: (e, socket) => symindxEvents(e, socket.subscription, socket.rooms) },

  // The greeting of SYMindX's skill server (websocket-server.ts `handleConnection`); the website
  // reads `data.name` from it (website/src/App.tsx).
  greeting(connectionId) {
    const timestamp = now();
    return {
      type: "connection_established",
      connectionId,
      timestamp,
      data: { connectionId, name: "edgemem", serverVersion: VERSION, timestamp },
    };
  },
};

/**
 * SYMindX's error code for a reason: a refused token, an unknown agent, else the message (its
 * fields, its target, its size) was not acceptable.
 */
function symindxCode(r: Reason): "UNAUTHORIZED" | "AGENT_NOT_FOUND" | "INVALID_MESSAGE" {
  switch (r.code) {
    case "unauthorized":
    case "forbidden":
      return "UNAUTHORIZED";
    case "not_found":
      return r.missing === "agent" ? "AGENT_NOT_FOUND" : "INVALID_MESSAGE";
    case "bad_request":
    case "validation_error":
    case "conflict":
    case "payload_too_large":
    case "unsupported_media_type":
    case "upstream_error":
    case "upstream_timeout":
    case "internal_error":
    case "unavailable":
    case "storage_full":
      return "INVALID_MESSAGE";
  }
}

/** Sends a reply: `top` adds top-level fields next to `data` (the runtime's `agentId`, `channel`). */
type Reply = (type: string, data: unknown, top?: Record<string, unknown>) => void;

async function run(m: Envelope, ctx: HubContext, reply: Reply): Promise<void> {
  const { app, principal: p } = ctx;
  switch (m.type) {
    case "chat":
    case "chat_message": {
      const d = parse(chatData, chatInput(m));
      const started = Date.now();
      const named = m.targetAgent ?? m.agentId;
      if (named) await app.memories.requireAgent(p, named);
      // Like the runtime (index.ts: `message.agentId || firstAgent?.id`), a chat without an agent
      // goes to the first agent; with no agent at all, to all of the tenant's memories.
      const agent = named ?? (await app.memories.firstAgent(p)) ?? undefined;
      const { answer: response, citations, chunks } = await think(ctx, d.message, agent);
      const processingTime = Date.now() - started;
      reply(
        "chat_response",
        {
          response,
          agentId: agent ?? null,
          conversationId: d.conversationId ?? null,
          processingTime,
          citations,
          // The runtime's ChatResponse (index.ts `processChatMessage`).
          timestamp: now(),
          sessionId: ctx.connectionId,
          metadata: { tokensUsed: chunks, processingTime, memoryRetrieved: citations.length > 0 },
        },
        { agentId: agent ?? null },
      );
      return;
    }
    case "command": {
      const d = parse(commandData, m.data ?? {});
      const started = Date.now();
      const commandId = newCommandId();
      const agent = m.targetAgent ?? m.agentId;
      const result = await command(ctx, (d.instruction ?? d.command)!, agent, d.parameters);
      reply(
        "command_result",
        { commandId, status: "completed", result, executionTime: Date.now() - started },
        agent ? { agentId: agent } : {},
      );
      return;
    }
    case "action": {
      // index.ts: `{type: "action", data: "<command string>"}` → `command_response {commandId, status}`;
      // the runtime then broadcasts the command's progress as `command_update`.
      const instruction = parse(z.object({ data: instructionText }), { data: m.data }).data;
      const started = Date.now();
      const commandId = newCommandId();
      const agent = m.targetAgent ?? m.agentId;
      const result = await command(ctx, instruction, agent);
      reply("command_response", { commandId, status: "completed" });
      ctx.broadcast({
        type: "command_update",
        data: {
          id: commandId,
          agentId: agent ?? null,
          instruction,
          status: "completed",
          progress: 100,
          result,
          executionTime: Date.now() - started,
        },
        timestamp: now(),
      });
      return;
    }
    case "agent.command": {
      const d = parse(agentCommandData, m.data ?? {});
      const result = await command(ctx, d.command, d.agentId, d.parameters);
      reply("agent.command.result", {
        agentId: d.agentId ?? null,
        command: d.command,
        success: true,
        result,
        timestamp: now(),
      });
      return;
    }
    case "auth": {
      // WebSocketManager.ts `handleAuth`. The socket was authenticated at the upgrade: the token is
      // verified like any other (with AUTH_MODE=none there is nothing to verify, as at the upgrade)
      // and must be the same tenant's: a socket's tenant and rights never change.
      const d = parse(authData, m.data ?? {});
      if (app.config.AUTH_MODE !== "none") {
        const q = await verifyToken(d.token, app.config);
        if (q.tenant !== p.tenant)
          throw new AppError("unauthorized", "the token is for another tenant; a socket's tenant never changes");
      }
      reply("auth.success", { authenticated: true, userId: d.userId ?? p.subject, timestamp: now() });
      return;
    }
    case "subscribe":
    case "unsubscribe": {
      const d = parse(subscribeData, m.data ?? {});
      const names = [...(d.events ?? []), ...(d.stream ? [d.stream] : [])];
      if (!names.length && !d.channel)
        throw AppError.validation([{ field: "data.events", message: "give events, a stream or a channel" }]);
      const add = m.type === "subscribe";
      const events = new Set(ctx.subscription.events);
      for (const n of names) add ? events.add(n) : events.delete(n);
      const channels = new Set(ctx.subscription.channels ?? []);
      if (d.channel) add ? channels.add(d.channel) : channels.delete(d.channel);
      const next: Subscription = {
        events: [...events],
        minImportance: d.filter?.minImportance ?? ctx.subscription.minImportance,
      };
      if (channels.size) next.channels = [...channels];
      ctx.setSubscription(next);
      // websocket-server.ts answers `{type: "subscribed", channel}`: the channel at the top level.
      reply(add ? "subscribed" : "unsubscribed", next, d.channel ? { channel: d.channel } : {});
      return;
    }
    case "status": {
      const stats = statsResponse(await app.stats.get(p));
      reply("status_update", {
        agentId: m.targetAgent ?? null,
        status: "active",
        queueLength: 0,
        uptime: Date.now() - ctx.startedAt,
        memory: stats,
      });
      return;
    }
    case "batch": {
      const d = parse(batchData, m.data ?? {});
      // The seed's batches are flat; a nested one would multiply the work one frame can ask for.
      const nested = d.messages.findIndex(isBatch);
      if (nested >= 0)
        throw AppError.validation([
          { field: `data.messages.${nested}.type`, message: "a batch cannot contain a batch" },
        ]);
      // In order: each message gets its own reply, as if sent one by one.
      for (const inner of d.messages) await symindx.receive(inner, ctx);
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
        data: {
          eventType: m.type === "join_conversation" ? "participant_joined" : "participant_left",
          conversationId: d.conversationId,
          userId: p.subject,
        },
        timestamp: now(),
      });
      reply(m.type === "join_conversation" ? "conversation_joined" : "conversation_left", {
        conversationId: d.conversationId,
        agents: d.agents ?? [],
        otherParticipants: others,
      });
      return;
    }
    case "agent_handoff": {
      const d = parse(handoffData, m.data ?? {});
      requireWrite(app, p);
      // Recorded in the conversation: a system message in its working-memory session.
      await app.sessions.recordHandoff(p, d.conversationId, { from: d.fromAgent, to: d.toAgent, reason: d.reason });
      const data = {
        eventType: "agent_handoff",
        conversationId: d.conversationId,
        fromAgent: d.fromAgent,
        toAgent: d.toAgent,
        reason: d.reason ?? null,
      };
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
      throw new AppError(
        "bad_request",
        `unknown message type '${m.type}'; expected one of ${SYMINDX_TYPES.join(", ")}`,
      );
  }
}

/** The chat's fields with its text where the seed has it (`data.message`), from any of the forms. */
function chatInput(m: Envelope): unknown {
  if (typeof m.data === "string") return { message: m.data };
  if (m.data === undefined || m.data === null) return { message: m.message };
  if (
    typeof m.data === "object" &&
    !Array.isArray(m.data) &&
    (m.data as { message?: unknown }).message === undefined &&
    m.message !== undefined
  ) {
    return { ...m.data, message: m.message };
  }
  return m.data;
}

const newCommandId = () => `cmd_${crypto.randomUUID().slice(0, 8)}`;

function isBatch(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && (raw as { type?: unknown }).type === "batch";
}

/**
 * The operations a SYMindX frame asks for, as the rate limit counts them: each message of a
 * batch is one, as if sent on its own (a nested batch is refused before it runs).
 */
function symindxOperations(raw: unknown): number {
  if (!isBatch(raw)) return 1;
  const messages = ((raw as { data?: { messages?: unknown } }).data ?? {}).messages;
  return Array.isArray(messages) ? Math.max(1, messages.length) : 1;
}

/**
 * Instructions map to memory operations by their first word: remember/store/save <text>,
 * recall/search/find <query>, forget/delete <memory id>, think/ask <question>, status. Any other
 * instruction is a question: SYMindX sends its agents free-form instructions ("analyze project
 * structure"), which the tenant's memories answer as think does.
 */
async function command(
  ctx: HubContext,
  instruction: string,
  agent: string | undefined,
  parameters: Record<string, unknown> = {},
): Promise<unknown> {
  const { app, principal: p } = ctx;
  // edgemem: `parameters.as_of` / `parameters.include_superseded` (docs/temporal.md) for recall and think.
  const validity = validityOf(parse(commandValidity, { parameters }).parameters);
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
      requireWrite(app, p);
      const res = await app.memories.createOne(p, { text: arg, agent_id: agent ?? null, memory_type: "fact" });
      return { memory: amsRecord(res.memory), deduplicated: res.deduplicated };
    }
    case "recall":
    case "search":
    case "find": {
      need("a query");
      if (agent) await app.memories.requireAgent(p, agent);
      const filter: MemoryFilter = agent ? { agent_id: { eq: agent }, validity } : { validity };
      return scoredMemories(await app.search.search(p, hybridSearch(arg, 10, filter)));
    }
    case "forget":
    case "delete": {
      need("a memory id");
      requireWrite(app, p);
      return { deleted: await app.memories.remove(p, [arg], "symindx command") };
    }
    case "think":
    case "ask":
      need("a question");
      return answerOf(await think(ctx, arg, agent, validity));
    case "status":
      return statsResponse(await app.stats.get(p));
    default:
      return answerOf(await think(ctx, instruction, agent));
  }
}

/** A think result as a command's result: the answer and its citations. */
const answerOf = ({ answer, citations }: { answer: string; citations: unknown[] }) => ({ answer, citations });

/** Think over the agent's memories (all the tenant's without one); `chunks`: streamed answer pieces. */
async function think(
  ctx: HubContext,
  question: string,
  agent: string | undefined,
  validity: Validity = { kind: "current" },
): Promise<{ answer: string; citations: unknown[]; chunks: number }> {
  const res = await ctx.app.think.think(ctx.principal, {
    question,
    limit: 8,
    filter: agent ? { agent_id: { eq: agent }, validity } : { validity },
  });
  const { answer, chunks } = await collectAnswer(res.answer);
  return { answer, citations: res.citations.map(citationOut), chunks };
}

/**
 * A change as the frames a SYMindX socket gets (none, one or two): memory changes as `event`
 * frames for sockets subscribed to `memory_update` by name, and as top-level `memory_update`
 * frames for sockets subscribed to a memory channel; session changes for sockets in that
 * conversation (a working-memory session).
 */
function symindxEvents(e: SequencedEvent, s: Subscription, rooms: string[]): Record<string, unknown>[] {
  const timestamp = formatIso(e.at);
  if (!("memory" in e)) {
    if (!rooms.includes(e.session.session_id)) return [];
    return [
      {
        type: "event",
        data: {
          eventType: "conversation_update",
          action: e.type,
          conversationId: e.session.session_id,
          ...e.session,
          seq: e.seq,
        },
        timestamp,
      },
    ];
  }
  const importance = e.memory.priority / 10;
  if (importance < s.minImportance) return [];
  const change = {
    action: e.type,
    memoryId: e.memory.id,
    content: e.memory.text,
    memoryType: e.memory.memory_type,
    agentId: e.memory.agent_id,
    importance,
    seq: e.seq,
  };
  const out: Record<string, unknown>[] = [];
  if (s.events.includes("memory_update") || s.events.includes("*"))
    out.push({ type: "event", data: { eventType: "memory_update", ...change }, timestamp });
  if (s.channels?.some((c) => MEMORY_CHANNELS.includes(c))) {
    // ThoughtStream.tsx shows `data.type` as the entry's kind and `data.id` as its key.
    out.push({ type: "memory_update", data: { id: e.memory.id, type: "memory", timestamp, ...change }, timestamp });
  }
  return out;
}
