import type { AppDeps } from "../deps.ts";
import type { DomainEvent } from "../domain/events.ts";
import type { Principal } from "../domain/principal.ts";
import type { Gap } from "./replay.ts";

/** A frame as sent: a JSON object. */
export type Frame = Record<string, unknown>;
export type Send = (frame: Frame) => void;
export type SequencedEvent = DomainEvent & { seq: number };

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

/** What every frame's handler gets: the services, who the socket is, and its reply channel. */
export interface FrameContext {
  app: AppDeps;
  principal: Principal;
  send: Send;
}

/** What the hub offers beyond the reply channel: the socket's state and the other sockets. */
export interface SocketContext extends SocketState {
  app: AppDeps;
  principal: Principal;
  /** The socket's id. */
  connectionId: string;
  /** When the hub started. */
  startedAt: number;
  setSubscription(s: Subscription): void;
  setRooms(rooms: string[]): void;
  /** Sends a frame to every socket of this dialect in the tenant, this one included. */
  broadcast(frame: Frame): void;
  /** Sends a frame to the other sockets of this dialect in a conversation; returns how many got it. */
  toRoom(conversationId: string, frame: Frame): number;
}

/** What the hub gives every frame's handler; each dialect reads what it needs. */
export type HubContext = SocketContext & FrameContext;

/**
 * One WebSocket protocol: a raw frame is parsed into the dialect's typed frame once, then handled;
 * replies, streams and errors go through the context's `send`. The hub owns sockets, rate limits,
 * the event log and hibernation, and asks the dialect only for frames.
 */
export interface Dialect<F = unknown, C extends FrameContext = FrameContext> {
  readonly name: DialectName;
  /** A frame's JSON as the dialect's frame union; never throws (a malformed frame is a variant). */
  parse(raw: unknown): F;
  /** Runs a frame; every failure becomes an error frame, never a rejection. */
  handle(frame: F, ctx: C): Promise<void>;
  /** The error frame for a frame the hub refused. */
  refuse(refusal: Refusal, message: string, id?: string | number): Frame;
  /** Each frame runs on its own (not awaited before the next is read; its events are not held for its reply). */
  readonly concurrent?: boolean;
  /** How many operations a raw frame counts as for the rate limit (1 unless given). */
  cost?(raw: unknown): number;
  /**
   * The dialect that runs a frame sent on a socket of this one, when not this one (dialects that
   * share an endpoint tell theirs apart by shape).
   */
  handoff?(raw: unknown): DialectName | undefined;
  /** A socket of this dialect becomes the dialect of the first frame it hands off (`/ws` is engram until then). */
  readonly provisional?: boolean;
  /** The hub pings sockets of this dialect and closes those that stop answering. */
  readonly heartbeat?: boolean;
  /** The frame a new socket gets first. */
  greeting?(connectionId: string): Frame;
  /** How an event reaches sockets of this dialect: the same frames for all, or chosen per socket. */
  readonly push?:
    | { readonly shared: true; frames(e: SequencedEvent): Frame[] }
    | { readonly shared: false; frames(e: SequencedEvent, socket: SocketState): Frame[] };
  /** Replays `?since=` on connect: the gap frame (missed events) before the replayed events. */
  gap?(gap: Gap): Frame;
}
