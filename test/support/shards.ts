import { env } from "cloudflare:workers";
import {
  DIRECTORY,
  placement,
  RequestDatabases,
  ShardSweep,
  Shards,
  type TenantDb,
} from "../../src/store/databases.ts";

/** The shards the tests run with (wrangler.toml binds two). */
export function testShards(): Shards {
  return new Shards(
    new Map([
      [DIRECTORY, env.DB],
      ["DB_SHARD_1", env.DB_SHARD_1!],
    ]),
  );
}

/** The D1 database holding a tenant's records (where the server placed it, or would). */
export async function dbOf(tenant: string): Promise<D1Database> {
  const shards = testShards();
  return shards.db(await placement(shards, tenant, Date.now()));
}

/** Repositories over one database, as a cron sweep of that shard sees it. */
export function oneShard(db: D1Database = env.DB): TenantDb {
  return new ShardSweep(DIRECTORY, db);
}

/** Repositories that find each tenant where the server placed it (as a request does). */
export function routed(): TenantDb {
  return new RequestDatabases(testShards(), Date.now);
}
