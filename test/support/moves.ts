import { env } from "cloudflare:workers";
import { TENANT_TABLES } from "../../src/store/tenant-copy.ts";
import { call, jwtEnv, sign, type Reply } from "./api.ts";
import { testShards } from "./shards.ts";

/** An admin token (memory:admin) for the admin routes; its own tenant claim is irrelevant to them. */
export async function adminToken(): Promise<string> {
  return sign({ tenant_id: "operations", sub: "operator", scope: "memory:admin" });
}

/** Calls an admin route with JWT auth on, as the operator. */
export async function admin<T = any>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
  return call<T>(jwtEnv(), method, path, body, { authorization: `Bearer ${await adminToken()}` });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Drives a move over REST the way `npm run tenant:move` does: POST until done, waiting
 * `retry_after_ms` when given. Returns every answer (the last is the finished move).
 */
export async function moveTenant(
  tenant: string,
  to: string,
  body: Record<string, unknown> = {},
  maxCalls = 200,
): Promise<Reply[]> {
  const answers: Reply[] = [];
  for (let i = 0; i < maxCalls; i++) {
    const res = await admin("POST", `/v1/admin/tenants/${encodeURIComponent(tenant)}/move`, { to, ...body });
    answers.push(res);
    if (res.status !== 200) throw new Error(`move failed: ${res.status} ${JSON.stringify(res.body)}`);
    if (res.body.done) return answers;
    await pause(Math.min(res.body.retry_after_ms ?? 0, 2000));
  }
  throw new Error(`move of ${tenant} not done after ${maxCalls} calls: ${JSON.stringify(answers.at(-1)?.body)}`);
}

/** Rows per table, each an array of its values (surrogate keys left out), in the table's order. */
export type TenantExport = Record<string, unknown[][]>;

/**
 * Every row of a tenant on one database, table by table (the derived keyword rows too, keyed by
 * the memory's id instead of its seq), minus the surrogate keys: equal exports are equal tenants.
 */
export async function exportTenant(db: D1Database, tenant: string): Promise<TenantExport> {
  const out: TenantExport = {};
  for (const spec of TENANT_TABLES) {
    const cols = (
      await db.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid").bind(spec.name).all<{ name: string }>()
    ).results
      .map((r) => r.name)
      .filter((c) => c !== spec.surrogate);
    const order = spec.order.length ? ` ORDER BY ${spec.order.join(", ")}` : "";
    out[spec.name] = await db
      .prepare(`SELECT ${cols.join(", ")} FROM ${spec.name} WHERE tenant = ?${order}`)
      .bind(tenant)
      .raw();
  }
  out.memory_terms = await db
    .prepare(
      "SELECT m.id, t.term, t.tf, t.doc_len FROM memory_terms t JOIN memories m ON m.seq = t.seq WHERE t.tenant = ? ORDER BY m.id, t.term",
    )
    .bind(tenant)
    .raw();
  out.keyword_stats = await db.prepare("SELECT docs, length FROM keyword_stats WHERE tenant = ?").bind(tenant).raw();
  return out;
}

/** Rows of a tenant on a database, all tables (derived and bookkeeping ones too). */
export async function rowCount(db: D1Database, tenant: string): Promise<number> {
  const tables = [...TENANT_TABLES.map((t) => t.name), "memory_terms", "keyword_stats", "tenant_move_progress"];
  let n = 0;
  for (const t of tables) {
    const row = await db.prepare(`SELECT count(*) AS n FROM ${t} WHERE tenant = ?`).bind(tenant).first<{ n: number }>();
    n += row!.n;
  }
  return n;
}

export async function directoryOf(tenant: string): Promise<{ shard: string; pinned: number } | null> {
  return env.DB.prepare("SELECT shard, pinned FROM tenant_shards WHERE tenant = ?")
    .bind(tenant)
    .first<{ shard: string; pinned: number }>();
}

export async function fenceOn(shard: string, tenant: string): Promise<{ state: string; to_shard: string } | null> {
  return testShards()
    .db(shard)
    .prepare("SELECT state, to_shard FROM tenant_fences WHERE tenant = ?")
    .bind(tenant)
    .first<{ state: string; to_shard: string }>();
}

/** The shard that is not `shard` (the tests bind two). */
export function otherShard(shard: string): string {
  return shard === "DB" ? "DB_SHARD_1" : "DB";
}
