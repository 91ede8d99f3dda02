/**
 * Read-your-writes bookmarks. Every answer that touched the database carries the server's
 * bookmark (`x-edgemem-bookmark` on REST, `bookmark` in a socket reply): `<shard>:<D1 bookmark>`.
 * Sent back, it makes the server read from a replica at least that fresh, so a client reads what
 * it (or whoever handed it the bookmark) wrote, even through another database replica.
 */

/** A bookmark's parts: the database (shard) it is of, and D1's bookmark in it. */
export interface BookmarkParts {
  shard: string;
  value: string;
}

// The server's own format (src/domain/placement.ts); anything else it refuses with a 400.
const BOOKMARK = /^([A-Za-z][A-Za-z0-9_]{0,62}):([0-9A-Za-z-]{1,200})$/;

/** A bookmark's parts, or null when `raw` is not a bookmark the server gives out. */
export function parseBookmark(raw: string): BookmarkParts | null {
  const m = BOOKMARK.exec(raw.trim());
  return m ? { shard: m[1]!, value: m[2]! } : null;
}

/**
 * The fresher of the bookmark held and one just received, as the server orders them: D1's
 * bookmarks of one database order as strings (the larger is newer); one of another database
 * means the tenant moved, so the one received later wins.
 */
export function newerBookmark(held: string | null, received: string | null): string | null {
  if (received === null) return held;
  if (held === null) return received;
  const a = parseBookmark(held);
  const b = parseBookmark(received);
  if (!a || !b || a.shard !== b.shard) return received;
  return a.value.localeCompare(b.value) < 0 ? received : held;
}

/**
 * The newest bookmark a client has seen. Each `EdgememClient` and `EngramSocket` has its own
 * unless given one: pass the same store to a REST client and a socket (or to several clients) and
 * each reads what any of them wrote.
 *
 * ```ts
 * const bookmarks = new BookmarkStore();
 * const client = new EdgememClient({ baseUrl, token, bookmarks });
 * const socket = new EngramSocket({ url: baseUrl, token, bookmarks });
 * ```
 */
export class BookmarkStore {
  #value: string | null = null;
  readonly #listeners = new Set<(bookmark: string | null) => void>();

  /** Starts from `initial` (e.g. one saved by an earlier process); throws a TypeError for a malformed one. */
  constructor(initial: string | null = null) {
    if (initial !== null) this.offer(checked(initial));
  }

  /** The newest bookmark seen, or null before any answer carried one. */
  get value(): string | null {
    return this.#value;
  }

  /** Keeps `bookmark` if it is fresher than the one held (see {@link newerBookmark}); null and undefined change nothing. */
  offer(bookmark: string | null | undefined): void {
    if (bookmark === null || bookmark === undefined) return;
    const next = newerBookmark(this.#value, bookmark);
    if (next === this.#value) return;
    this.#value = next;
    for (const f of this.#listeners) f(next);
  }

  /** Forgets the bookmark: reads are no longer held to any freshness. */
  clear(): void {
    if (this.#value === null) return;
    this.#value = null;
    for (const f of this.#listeners) f(null);
  }

  /** Calls `listener` whenever the bookmark changes (e.g. to save it); returns the unsubscribe. */
  onChange(listener: (bookmark: string | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** `raw`, if it is a bookmark; a TypeError otherwise (a bookmark set by hand fails where it is set, not on the next request). */
export function checked(raw: string): string {
  if (typeof raw !== "string" || !parseBookmark(raw))
    throw new TypeError(
      `not a bookmark (expected <shard>:<D1 bookmark>, e.g. from x-edgemem-bookmark): ${String(raw)}`,
    );
  return raw.trim();
}
