/**
 * Per tenant: how many memories lack a vector of the current model, cached for a minute. The
 * services are built anew for every request, so the cache is module state to outlive them: one
 * per isolate. Another isolate's writes show after the TTL at worst (the count only words a
 * search warning); this isolate's writes and upkeep drop the tenant's entry at once.
 */
const UNEMBEDDED_TTL_MS = 60_000;
const unembedded = new Map<string, { n: number; at: number }>();

/** The tenant's count of memories without a vector of the current model, counted by `count` at most once a TTL. */
export async function unembeddedCount(tenant: string, now: number, count: () => Promise<number>): Promise<number> {
  const hit = unembedded.get(tenant);
  if (hit && now - hit.at < UNEMBEDDED_TTL_MS) return hit.n;
  const n = await count();
  unembedded.set(tenant, { n, at: now });
  return n;
}

/** Drops the tenant's cached count: a write stored memories without vectors, or upkeep embedded some. */
export function forgetUnembedded(tenant: string): void {
  unembedded.delete(tenant);
}
