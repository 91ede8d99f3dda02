import { AppError } from "../domain/errors.ts";
import { formatBookmark, newerBookmark, parseBookmark, rendezvous, type Bookmark } from "../domain/placement.ts";

/** What the repositories query: a D1 database or one of its sessions. */
export type Db = Pick<D1Database, "prepare" | "batch">;

/** Where the repositories find a tenant's records. */
export interface TenantDb {
  /** The database (session) holding this tenant's records. */
  of(tenant: string): Promise<Db>;
  /** The one shard a cross-tenant sweep (upkeep, consolidation) works on; requests have none. */
  sweep(): Db;
}

/** The binding that is always there; it also holds the tenant directory (`tenant_shards`). */
export const DIRECTORY = "DB";

/** The D1 databases a deployment binds: `DB` and `DB_SHARD_1..n`, each with the same migrations. */
export class Shards {
  readonly names: readonly string[];

  constructor(private readonly dbs: ReadonlyMap<string, D1Database>) {
    if (!dbs.has(DIRECTORY)) throw new Error(`the ${DIRECTORY} binding is missing`);
    this.names = [...dbs.keys()];
  }

  has(name: string): boolean {
    return this.dbs.has(name);
  }

  db(name: string): D1Database {
    const db = this.dbs.get(name);
    if (!db) throw new Error(`no D1 binding ${name}`);
    return db;
  }

  get directory(): D1Database {
    return this.dbs.get(DIRECTORY)!;
  }
}

/**
 * How long an isolate trusts a placement it read, unless configured (PLACEMENT_TTL_SECONDS). A
 * tenant move drains at least this long between switching the placement and deleting the source
 * (`service/tenant-move.ts`), so the shorter it is, the sooner a move finishes; each isolate reads
 * the directory once per tenant per TTL.
 */
export const PLACEMENT_TTL_MS = 10_000;

/** Placements this isolate has read: tenant → shard, until when (forever with a single shard). */
const placements = new Map<string, { shard: string; until: number }>();
const PLACEMENT_CACHE_MAX = 10_000;

/**
 * The shard holding a tenant's records: the directory's entry, recorded on first sight (on the
 * shard rendezvous hashing picks among the shards bound now), so binding another shard later
 * moves no existing tenant. Read from the nearest replica (`fresh`: from the primary, past this
 * isolate's cache); recorded on the primary.
 */
export async function placement(
  shards: Shards,
  tenant: string,
  now: number,
  opts: { ttlMs?: number; fresh?: boolean } = {},
): Promise<string> {
  const key = `${shards.names.join(",")}\u0000${tenant}`;
  const hit = placements.get(key);
  if (hit && hit.until > now && !opts.fresh) return hit.shard;
  const dir = shards.directory;
  let row = await dir
    .withSession(opts.fresh ? "first-primary" : "first-unconstrained")
    .prepare("SELECT shard FROM tenant_shards WHERE tenant = ?")
    .bind(tenant)
    .first<{ shard: string }>();
  if (!row) {
    const [, read] = await dir.batch<{ shard: string }>([
      dir
        .prepare(
          "INSERT INTO tenant_shards (tenant, shard, placed_at) VALUES (?, ?, ?) ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(tenant, rendezvous(tenant, shards.names), now),
      dir.prepare("SELECT shard FROM tenant_shards WHERE tenant = ?").bind(tenant),
    ]);
    row = read!.results[0]!;
  }
  if (!shards.has(row.shard)) throw new Error(`tenant ${tenant} is placed on ${row.shard}, which is not bound`);
  // With one shard no tenant can move, so the placement never goes stale.
  const until = shards.names.length === 1 ? Number.POSITIVE_INFINITY : now + (opts.ttlMs ?? PLACEMENT_TTL_MS);
  placements.delete(key);
  placements.set(key, { shard: row.shard, until });
  if (placements.size > PLACEMENT_CACHE_MAX) placements.delete(placements.keys().next().value!);
  return row.shard;
}

/** Forgets what this isolate knows of a tenant's placement (after a move, or a fenced write). */
export function forgetPlacement(tenant: string): void {
  for (const key of placements.keys()) if (key.endsWith(`\u0000${tenant}`)) placements.delete(key);
}

/**
 * One request's (or WebSocket frame's) sessions (D1 Sessions API): reads go to the nearest
 * replica that is at least as fresh as the client's bookmark; a request that writes asks for the
 * primary (`usePrimary`) before its first query, so its reads see the latest committed state
 * (read-modify-write). `bookmark()` is what the client sends back to read its own writes.
 */
export class RequestDatabases implements TenantDb {
  private primary = false;
  private floor: Bookmark | null = null;
  private readonly raw: string[] = [];
  private readonly sessions = new Map<string, D1DatabaseSession>();
  private current: string | null = null;
  /** The tenants this request looked up, and whether it re-read the directory for them already. */
  private readonly tenants = new Map<string, { fresh: boolean }>();

  constructor(
    private readonly shards: Shards,
    private readonly clock: () => number,
    /** How long this isolate trusts a placement it read (PLACEMENT_TTL_SECONDS). */
    private readonly placementTtlMs: number = PLACEMENT_TTL_MS,
  ) {}

  /** Every later session starts on the primary: the request writes, and reads what it writes over. */
  usePrimary(): void {
    this.primary = true;
  }

  /** A bookmark the client sent (header, query or frame field): reads will be at least that fresh. */
  atLeast(bookmark: string | null | undefined): void {
    if (bookmark) this.raw.push(bookmark);
  }

  async of(tenant: string): Promise<Db> {
    const now = this.clock();
    const floor = this.clientFloor();
    const seen = this.tenants.get(tenant) ?? { fresh: false };
    this.tenants.set(tenant, seen);
    let shard = await placement(this.shards, tenant, now, { ttlMs: this.placementTtlMs });
    // The client read or wrote on another shard: from before a move (the cache is right), or from
    // after one this isolate has not seen yet (the cache is stale, and the client would not read
    // its own writes). Only the directory's primary tells: asked once per request and tenant.
    if (floor && floor.shard !== shard && this.shards.has(floor.shard) && !seen.fresh) {
      seen.fresh = true;
      shard = await placement(this.shards, tenant, now, { ttlMs: this.placementTtlMs, fresh: true });
    }
    let session = this.sessions.get(shard);
    if (!session) {
      session = this.shards.db(shard).withSession(this.constraint(shard));
      this.sessions.set(shard, session);
    }
    this.current = shard;
    return session;
  }

  sweep(): Db {
    throw new Error("cross-tenant sweeps run per shard (ShardSweep), not in a request");
  }

  /**
   * Forgets this isolate's placements of the tenants this request used: after an answer of
   * `unavailable` (a write met a move's fence), the client's retry reads the directory again and
   * finds the tenant's new shard as soon as the move has switched.
   */
  forgetPlacements(): void {
    for (const tenant of this.tenants.keys()) forgetPlacement(tenant);
  }

  /** The bookmark of the session used last (`<shard>:<D1 bookmark>`), or null before any query. */
  bookmark(): string | null {
    if (!this.current) return null;
    const value = this.sessions.get(this.current)?.getBookmark();
    return value ? formatBookmark({ shard: this.current, value }) : null;
  }

  private constraint(shard: string): string {
    // Parsed even when unused (a write): a malformed bookmark is the client's error either way.
    const floor = this.clientFloor();
    if (this.primary) return "first-primary";
    if (!floor) return "first-unconstrained";
    // A bookmark of another shard predates a move of this tenant: only the primary is surely as fresh.
    return floor.shard === shard ? floor.value : "first-primary";
  }

  private clientFloor(): Bookmark | null {
    for (const raw of this.raw.splice(0)) {
      const parsed = parseBookmark(raw);
      if (!parsed) {
        const message = "not a bookmark this server gave out (expected <shard>:<D1 bookmark>)";
        throw new AppError("bad_request", `bookmark: ${message}`, [{ field: "bookmark", message }]);
      }
      this.floor = newerBookmark(this.floor, parsed);
    }
    return this.floor;
  }
}

/** The databases of a cron sweep over one shard: every query goes to that shard's primary. */
export class ShardSweep implements TenantDb {
  private readonly session: Db;

  constructor(
    readonly shard: string,
    db: D1Database,
  ) {
    this.session = db.withSession("first-primary");
  }

  async of(): Promise<Db> {
    return this.session;
  }

  sweep(): Db {
    return this.session;
  }
}

/**
 * The condition a cross-tenant sweep (cron upkeep) puts on `column` to leave out the tenants
 * behind a move's fence on this shard: their writes abort, and with them the sweep's statement
 * (or step) for every other tenant of the shard. A moving tenant is swept on its new shard.
 */
export function unfenced(column = "tenant"): string {
  return `${column} NOT IN (SELECT tenant FROM tenant_fences)`;
}

/** One tenant's database, or (no tenant: a cron sweep) the swept shard's. */
export async function tenantOrSweep(dbs: TenantDb, tenant: string | undefined): Promise<Db> {
  return tenant === undefined ? dbs.sweep() : dbs.of(tenant);
}
