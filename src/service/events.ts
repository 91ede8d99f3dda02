import type { DomainEvent } from "../domain/events.ts";
import { packInOrder } from "../domain/pack.ts";

/** Events per publish call to the hub. */
export const PUBLISH_CHUNK_EVENTS = 200;
/** Serialized bytes per publish call (far below the 32 MiB a Workers RPC call may carry). */
export const PUBLISH_CHUNK_BYTES = 1 << 20;

/**
 * Splits events into consecutive chunks of at most `maxEvents` events and about `maxBytes` of
 * JSON (a larger event goes alone), keeping their order: one write may emit thousands of events
 * (an ingest, a forget) and each chunk must fit one call.
 */
export function chunkEvents(
  events: DomainEvent[],
  maxEvents = PUBLISH_CHUNK_EVENTS,
  maxBytes = PUBLISH_CHUNK_BYTES,
): DomainEvent[][] {
  return packInOrder(events, approximateSize, maxBytes, maxEvents);
}

function approximateSize(e: DomainEvent): number {
  try {
    return JSON.stringify(e).length;
  } catch {
    return 0; // the hub logs and skips what it cannot serialize
  }
}
