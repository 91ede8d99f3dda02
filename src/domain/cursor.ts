/**
 * Keyset paging. A cursor is the sort key of the last row a page showed, handed to the client as
 * an opaque string (base64url of a small JSON array tagged with what it pages); the next page
 * starts right after that key, through the same index the order uses, so a page costs O(page)
 * however deep it is, where `offset` reads and skips every row before it. Rows written meanwhile
 * never shift a later page: a row is after a key or it is not.
 *
 * A client's cursor is parsed, never trusted: anything but a well-formed key of the right kind
 * is null, and the caller answers a 4xx naming `cursor`.
 */

/** A memory in a list ordered by creation time, then `seq` (the row id: unique, in every index). */
export interface MemoryKey {
  at: number;
  seq: number;
}

/** A session in the list ordered by last write (`updated_at`), then id. */
export interface SessionKey {
  at: number;
  id: string;
}

/** An entry of a memory's history (`hid`: its row id, in write order). */
export interface HistoryKey {
  hid: number;
}

interface Kinds {
  memories: MemoryKey;
  sessions: SessionKey;
  history: HistoryKey;
}
export type CursorKind = keyof Kinds;

/** The first element of the encoded array: a cursor of one list is not taken for another's. */
const TAG = { memories: "m", sessions: "s", history: "h" } as const satisfies Record<CursorKind, string>;

/** No key the server hands out comes near this (a session id is at most 256 characters). */
const MAX_CURSOR_LENGTH = 1024;
const MAX_SESSION_ID = 256;

export function encodeCursor<K extends CursorKind>(kind: K, key: Kinds[K]): string {
  const k = key as Partial<MemoryKey & SessionKey & HistoryKey>;
  const values = kind === "memories" ? [k.at, k.seq] : kind === "sessions" ? [k.at, k.id] : [k.hid];
  return toBase64Url(new TextEncoder().encode(JSON.stringify([TAG[kind], ...values])));
}

/** The key a cursor of `kind` holds, or null when `raw` is not one. */
export function decodeCursor<K extends CursorKind>(kind: K, raw: string): Kinds[K] | null {
  if (raw.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(raw)) return null;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64Url(raw)));
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value[0] !== TAG[kind]) return null;
  const [, a, b] = value as unknown[];
  const int = (v: unknown, min: number): v is number => Number.isSafeInteger(v) && (v as number) >= min;
  switch (kind) {
    case "memories":
      return value.length === 3 && int(a, Number.MIN_SAFE_INTEGER) && int(b, 1)
        ? ({ at: a, seq: b } as Kinds[K])
        : null;
    case "sessions":
      return value.length === 3 &&
        int(a, Number.MIN_SAFE_INTEGER) &&
        typeof b === "string" &&
        b.length >= 1 &&
        b.length <= MAX_SESSION_ID
        ? ({ at: a, id: b } as Kinds[K])
        : null;
    case "history":
      return value.length === 2 && int(a, 1) ? ({ hid: a } as Kinds[K]) : null;
  }
  return null;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Throws on input that is not base64url (atob's InvalidCharacterError, e.g. a lone trailing character). */
function fromBase64Url(s: string): Uint8Array {
  const binary = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
