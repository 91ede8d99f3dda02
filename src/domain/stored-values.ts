import { jsonDepth, MAX_DATE_MS, MIN_DATE_MS } from "./input-limits.ts";

/**
 * Reading stored values without ever throwing. Input is validated at the edge (input-limits.ts),
 * but rows written before those checks, or by a bug, must still read back: a read path that
 * throws on one row fails every list and search that meets it. Each repair is logged.
 */

/**
 * Deepest stored JSON accepted as is. Accepted values nest at most 32 levels, inside a few levels
 * of row structure (a session's memories, a history entry's record); serializing this depth is
 * far from overflowing the stack.
 */
const MAX_STORED_DEPTH = 100;

function warn(msg: string, fields: Record<string, unknown>): void {
  // Same line format as log.ts; mappers and repositories have no logger in reach.
  console.warn(JSON.stringify({ level: "warn", msg, ...fields }));
}

/**
 * An epoch-ms date as ISO 8601. A value outside years 1000–9999 (or not a number) is clamped
 * into that window (NaN to the epoch) rather than throwing as `toISOString()` does past ±8.64e15.
 */
export function formatIso(ms: number): string {
  const n = Number(ms);
  if (n >= MIN_DATE_MS && n <= MAX_DATE_MS) return new Date(n).toISOString();
  warn("stored date out of range; clamped", { value: String(ms) });
  return new Date(Number.isNaN(n) ? 0 : Math.min(Math.max(n, MIN_DATE_MS), MAX_DATE_MS)).toISOString();
}

/** `formatIso`, with null (or a missing value) as null. */
export function formatIsoOrNull(ms: number | null): string | null {
  return ms === null || ms === undefined ? null : formatIso(ms);
}

/**
 * A stored JSON column parsed. Text that is not JSON, is not the expected kind (an array when
 * `fallback` is one, else an object) or nests deeper than MAX_STORED_DEPTH becomes `fallback`.
 */
export function parseStoredJson<T extends object | null>(text: unknown, fallback: T, what: string): T {
  const wantArray = Array.isArray(fallback);
  let value: unknown;
  try {
    value = JSON.parse(String(text));
  } catch {
    warn("stored JSON unreadable; replaced", { what });
    return fallback;
  }
  const kindOk = value !== null && typeof value === "object" && Array.isArray(value) === wantArray;
  if (!kindOk || jsonDepth(value, MAX_STORED_DEPTH) > MAX_STORED_DEPTH) {
    warn(kindOk ? "stored JSON nests too deep; replaced" : "stored JSON of the wrong kind; replaced", { what });
    return fallback;
  }
  return value as T;
}
