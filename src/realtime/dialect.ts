import { requireScope, WRITE_SCOPE } from "../auth/jwt.ts";
import type { AppDeps } from "../deps.ts";
import type { DomainEvent } from "../domain/events.ts";
import type { Principal } from "../domain/principal.ts";
import type { Gap } from "./replay.ts";

/** A frame as sent: a JSON object. */
export type Frame = Record<string, unknown>;
export type Send = (frame: Frame) => void;
export type SequencedEvent = DomainEvent & { seq: number };
/** A frame's `id` as a client sent it, echoed in its reply. */
export type FrameId = string | number;

export type DialectName = "engram" | "symindx" | "trustgraph";

/** Why the hub refuses a frame before any dialect reads it. */
export type Refusal = "rate_limited" | "too_large" | "binary" | "not_json";

/** What a socket asked to receive (kept in its attachment). */
export interface Subscription {
  /** Seed-style names (`data.events`, `data.stream`): changes arrive as `{type: "event", data: {eventType}}`. */
  events: string[];
  minImportance: number;
  /** Runtime-style channels (`data.channel`): changes arrive with the event as the top-level type. */
  channels?: string[];
}

/** What a socket keeps across frames (and hibernation) that pushes read. */
export interface SocketState {
  subscription: Subscription;
  /** Conversations (working-memory sessions) joined. */
  rooms: string[];
}

/** What the hub gives a frame: the services, who the socket is, its state, its reply channel and its peers. */
export interface HubContext extends SocketState {
  app: AppDeps;
  principal: Principal;
  /** The socket's id. */
  connectionId: string;
  /** When the hub started. */
  startedAt: number;
  /** Replies on this socket. */
  send: Send;
  setSubscription(s: Subscription): void;
  setRooms(rooms: string[]): void;
  /** Sends a frame to every socket of this dialect in the tenant, this one included. */
  broadcast(frame: Frame): void;
  /** Sends a frame to the other sockets of this dialect in a conversation; returns how many got it. */
  toRoom(conversationId: string, frame: Frame): number;
}

/**
 * An application-level heartbeat: the hub sends `ping` to the dialect's sockets and closes one that
 * answered a ping once and then missed one.
 */
export interface Heartbeat {
  /** The ping, as sent. */
  readonly ping: string;
  /** The answer to a client's ping, which the runtime sends for the whole object without waking the hub (AUTO_RESPONSE). */
  readonly pong: string;
  /** A client's answer to a ping: recorded by the hub and not run. */
  isPong(raw: unknown): boolean;
}

/**
 * One WebSocket protocol. The hub owns sockets, rate limits, the event log and hibernation; a
 * dialect turns frames into calls and results into frames.
 */
export interface Dialect {
  readonly name: DialectName;
  /**
   * Runs a frame (its parsed JSON): read into the dialect's own frame union, run through the
   * services, answered through `ctx.send`. Every failure becomes an error frame, never a rejection.
   */
  receive(raw: unknown, ctx: HubContext): Promise<void>;
  /** The error frame for a frame the hub refused. */
  refuse(refusal: Refusal, message: string, id?: FrameId): Frame;
  /**
   * `awaited`: the hub awaits the frame and holds the events it causes until it is answered, so
   * its sender reads the reply first. `detached`: the frame runs in the background (answers are
   * matched by id) and its events go out at once. Neither queues a socket's frames: a Durable
   * Object takes the next message while one awaits D1 or a model.
   */
  readonly runs: "awaited" | "detached";
  /** How many operations a frame counts as for the rate limit (1 unless given). */
  cost?(raw: unknown): number;
  /** The hub pings sockets of this dialect. */
  readonly heartbeat?: Heartbeat;
  /** The frame a new socket gets first. */
  greeting?(connectionId: string): Frame;
  /** Replays `?since=` on connect: the gap frame (missed events) before the replayed events. */
  gap?(gap: Gap): Frame;
  /** How an event reaches sockets of this dialect: the same frames for all, or chosen per socket. */
  readonly push?:
    | { readonly shared: true; frames(e: SequencedEvent): Frame[] }
    | { readonly shared: false; frames(e: SequencedEvent, socket: SocketState): Frame[] };
}

/**
 * The `id` of a raw frame when it has a usable one (a string or a number), even if the rest of the
 * frame is refused: echoing it lets the client match the error to what it sent.
 */
export function frameId(raw: unknown): FrameId | undefined {
  const id = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
  return typeof id === "string" || typeof id === "number" ? id : undefined;
}

/**
 * A socket command that writes: the principal must hold the write scope, and the frame's D1
 * session starts on the primary (it reads what it writes over, as a REST write does).
 */
export function requireWrite(app: AppDeps, principal: Principal): void {
  requireScope(principal, WRITE_SCOPE);
  app.databases.usePrimary();
}
