/**
 * Where a new tenant's records go: rendezvous (highest random weight) hashing over the shard
 * names. Every shard scores the tenant and the highest score wins, so binding one more shard
 * takes about 1/n of new tenants and changes nobody else's choice. Deterministic across isolates
 * and deploys: the hash is fixed (cyrb53, 53 bits, no I/O).
 */
export function rendezvous(tenant: string, shards: readonly string[]): string {
  if (!shards.length) throw new Error("no shard to place a tenant on");
  let best = shards[0]!;
  let bestScore = -1;
  for (const shard of shards) {
    const score = cyrb53(`${shard}\u0000${tenant}`);
    // Ties (astronomically rare) go to the name that sorts first, so every isolate agrees.
    if (score > bestScore || (score === bestScore && shard < best)) {
      best = shard;
      bestScore = score;
    }
  }
  return best;
}

/** cyrb53 (public domain, bryc): a fast 53-bit string hash with good avalanche. */
function cyrb53(s: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * A D1 bookmark as edgemem hands it out: `<shard>:<D1 bookmark>`. The shard makes a bookmark from
 * before a tenant moved harmless: it names a database the tenant no longer reads.
 */
export interface Bookmark {
  shard: string;
  value: string;
}

const BOOKMARK = /^([A-Za-z][A-Za-z0-9_]{0,62}):([0-9A-Za-z-]{1,200})$/;

/** Parses a client's bookmark; null when it is not one (the caller says which field was bad). */
export function parseBookmark(raw: string): Bookmark | null {
  const m = BOOKMARK.exec(raw.trim());
  return m ? { shard: m[1]!, value: m[2]! } : null;
}

export function formatBookmark(b: Bookmark): string {
  return `${b.shard}:${b.value}`;
}

/**
 * The fresher of two bookmarks. D1 bookmarks of one database order as strings (workerd's own
 * session keeps the larger by `localeCompare`); across shards the later-placed one wins, which
 * the caller passes as `b`.
 */
export function newerBookmark(a: Bookmark | null, b: Bookmark | null): Bookmark | null {
  if (!a) return b;
  if (!b) return a;
  if (a.shard !== b.shard) return b;
  return a.value.localeCompare(b.value) < 0 ? b : a;
}
