import type { Memory } from "./memory.ts";
import type { SessionSnapshot } from "./session.ts";

/** The push events of the engram protocol; every memory change emits one. */
export type MemoryEventType = "memory_created" | "memory_updated" | "memory_deleted" | "feedback_recorded";

export interface MemoryEvent {
  type: MemoryEventType;
  at: number;
  /** The memory after the change (before it, for a deletion). */
  memory: Memory;
  actor: string;
  reason?: string;
}

/** Working-memory session changes (a PUT, with or without summarization; a delete or expiry). */
export type SessionEventType = "session_updated" | "session_deleted";

export interface SessionEvent {
  type: SessionEventType;
  at: number;
  session: SessionSnapshot;
  actor: string;
  reason?: string;
}

export type DomainEvent = MemoryEvent | SessionEvent;
