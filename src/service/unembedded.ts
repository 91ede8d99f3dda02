/** Per tenant: how many memories lack a vector of the current model (cached per isolate for a minute). */
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
