import type { Memory } from "../domain/memory.ts";

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

/** Where the service sends its events (the tenant's hub in the Worker; a list in tests). */
export interface EventSink {
  publish(tenant: string, events: MemoryEvent[]): void;
}
