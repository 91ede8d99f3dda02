/**
 * The `id` of a raw frame when it has a usable one (a string or a number), even if the rest of the
 * frame is refused: echoing it lets the client match the error to what it sent.
 */
export function frameId(raw: unknown): string | number | undefined {
  const id = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
  return typeof id === "string" || typeof id === "number" ? id : undefined;
}

/** A SYMindX frame names its `type`; an engram frame its `command` (the two share `/ws`). */
export function isSymindxFrame(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && "type" in raw && !("command" in raw);
}
