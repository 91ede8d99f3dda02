import { DIRECTORY, forgetPlacement, type Db, type Shards } from "./databases.ts";
import { AppError, WriteConflict } from "../domain/errors.ts";
import { byteLength, sha256Hex } from "../domain/ids.ts";
import {
  canonicalRows,
  MOVE_PHASES,
  parseProgress,
  type CopiedPage,
  type Cursor,
  type Fence,
  type MovePhase,
  type Placement,
  type SummedPage,
  type TenantMove,
} from "../domain/tenant-move.ts";

/**
 * The SQL of tenant moves (service/tenant-move.ts drives them): which tables hold a tenant, pages
 * of them read in a stable order, copied into another shard, checksummed and deleted; the write
 * fences; the directory switch; the move's saved state.
 *
 * Every statement here runs on a primary (`first-primary` sessions): a move must read what was
 * last written, never a replica's past.
 */

/** A table holding tenant rows, and the order its rows are read, inserted and checksummed in. */
interface TableSpec {
  name: string;
  /**
   * The order columns: an AUTOINCREMENT key (the target assigns its own, in the same relative
   * order, since pages are inserted in it) or the primary key after `tenant`; `[]` when the table
   * has one row per tenant.
   */
  order: readonly string[];
  /** The AUTOINCREMENT key, neither copied nor checksummed (global per database). */
  surrogate?: string;
  /**
   * SQL run with the table's first page on the target (bound: the source's AUTOINCREMENT counter,
   * and a placeholder id) to make the target's keys for the tenant start above every key it had.
   */
  floor?: readonly string[];
}

/**
 * Every table with tenant rows (each has migration 0009's fence triggers). `memory_terms`,
 * `keyword_stats` and `keyword_df` are not here: triggers on `memories` (migrations 0004, 0011) rebuild them on the target
 * as memories are inserted, and drop them as memories are deleted. A new tenant table must be added
 * here (test/tenant-move.test.ts fails until it is).
 */
export const TENANT_TABLES: readonly TableSpec[] = [
  { name: "memories", order: ["seq"], surrogate: "seq" },
  {
    name: "memory_vectors",
    order: ["vseq"],
    surrogate: "vseq",
    // The D1 vector index caches a tenant's vectors per isolate and loads only rows past the
    // highest vseq it has seen: the copies must get vseqs above every vseq the tenant ever had
    // (deleted rows' too), or an isolate that cached it before the move would never load them, nor
    // anything written after. A placeholder row at the source's counter raises the target's
    // (unless a row there already holds it higher), and goes in the same transaction.
    floor: [
      `INSERT INTO memory_vectors (vseq, tenant, memory_id, vector_id, model, dims, vector, memory_type, state, written_at)
       SELECT ?1, '', '', ?2, '', 0, '', '', 'indexed', 0 WHERE ?1 > (SELECT ifnull(max(vseq), 0) FROM memory_vectors)`,
      "DELETE FROM memory_vectors WHERE vector_id = ?2",
    ],
  },
  { name: "vector_epochs", order: [] },
  { name: "vector_deletes", order: ["vector_id"] },
  { name: "memory_history", order: ["hid"], surrogate: "hid" },
  { name: "working_memory", order: ["session_id"] },
  { name: "entities", order: ["id"] },
  { name: "entity_names", order: ["name_key"] },
  { name: "relations", order: ["id"] },
  { name: "relation_sources", order: ["relation_id", "memory_id"] },
  { name: "feedback", order: ["id"] },
  { name: "user_profiles", order: ["user_id", "namespace"] },
  { name: "maintenance", order: [] },
];

/** Tables a move leaves alone although they name tenants: derived by triggers, or the move's own bookkeeping. */
export const NOT_COPIED = [
  "memory_terms",
  "keyword_stats",
  "keyword_df",
  "tenant_shards",
  "tenant_fences",
  "tenant_moves",
  "tenant_move_progress",
] as const;

/**
 * Bytes of JSON bound to one insert statement: well under D1's limits on a statement's size and a
 * bound string (2 MB), and about a second of work for the target. A single larger row goes alone.
 */
const PAGE_BYTES = 500_000;
/** Rows read per page at first; then sized by the rows' measured bytes (at most this many). */
const FIRST_READ_ROWS = 100;
const MAX_READ_ROWS = 1000;
/** Rows deleted per statement (a memory's delete also drops ~20 keyword postings by trigger). */
const DELETE_ROWS: Record<string, number> = { memories: 200, memory_vectors: 500, memory_history: 500 };
const DEFAULT_DELETE_ROWS = 1000;

/** The message of the write_conflicts trigger (migration 0005): a guard statement aborted the batch. */
const CONFLICT_MESSAGE = "edgemem: write conflict";

type Row = unknown[];

function quote(id: string): string {
  return `"${id.replaceAll('"', '""')}"`;
}

/** D1 adapter of the tenant-move store (service/ports.ts `TenantMoveStore`). */
export class TenantCopy {
  readonly tables: readonly string[] = TENANT_TABLES.map((t) => t.name);
  private readonly sessions = new Map<string, Db>();
  private readonly columnCache = new Map<string, Map<string, string[]>>();
  /** Measured bytes per row, per table (this instance's pages), to size the next read. */
  private readonly rowBytes = new Map<string, number>();

  private readonly pageBytes: number;
  private readonly firstReadRows: number;

  /** `pages` shrinks the pages (tests: several pages of a small tenant). */
  constructor(
    private readonly shards: Shards,
    pages: { bytes?: number; firstReadRows?: number } = {},
  ) {
    this.pageBytes = pages.bytes ?? PAGE_BYTES;
    this.firstReadRows = pages.firstReadRows ?? FIRST_READ_ROWS;
  }

  get shardNames(): readonly string[] {
    return this.shards.names;
  }

  private db(shard: string): Db {
    let s = this.sessions.get(shard);
    if (!s) {
      s = this.shards.db(shard).withSession("first-primary");
      this.sessions.set(shard, s);
    }
    return s;
  }

  private get dir(): Db {
    return this.db(DIRECTORY);
  }

  // ---- the directory ----------------------------------------------------------------------

  async placement(tenant: string): Promise<Placement | null> {
    const row = await this.dir
      .prepare("SELECT shard, pinned, placed_at FROM tenant_shards WHERE tenant = ?")
      .bind(tenant)
      .first<{ shard: string; pinned: number; placed_at: number }>();
    return row ? { shard: row.shard, pinned: row.pinned === 1, placedAt: row.placed_at } : null;
  }

  /** Places a tenant the directory does not know yet on `shard` (pinned); returns where it is placed. */
  async placeIfAbsent(tenant: string, shard: string, now: number): Promise<Placement> {
    const [, read] = await this.dir.batch<{ shard: string; pinned: number; placed_at: number }>([
      this.dir
        .prepare(
          "INSERT INTO tenant_shards (tenant, shard, pinned, placed_at) VALUES (?, ?, 1, ?) ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(tenant, shard, now),
      this.dir.prepare("SELECT shard, pinned, placed_at FROM tenant_shards WHERE tenant = ?").bind(tenant),
    ]);
    const row = read!.results[0]!;
    forgetPlacement(tenant);
    return { shard: row.shard, pinned: row.pinned === 1, placedAt: row.placed_at };
  }

  /** Points the directory at `to` (pinned: an operator's choice), and forgets this isolate's cached placement. */
  async switchPlacement(tenant: string, to: string, now: number): Promise<void> {
    await this.dir
      .prepare(
        `INSERT INTO tenant_shards (tenant, shard, pinned, placed_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (tenant) DO UPDATE SET shard = excluded.shard, pinned = 1, placed_at = excluded.placed_at`,
      )
      .bind(tenant, to, now)
      .run();
    forgetPlacement(tenant);
  }

  // ---- the move's saved state -------------------------------------------------------------

  async load(tenant: string): Promise<TenantMove | null> {
    const row = await this.dir.prepare("SELECT * FROM tenant_moves WHERE tenant = ?").bind(tenant).first<MoveRow>();
    return row ? fromMoveRow(row) : null;
  }

  /** When the lease on a tenant's move ends (null: nobody holds it). */
  async leaseUntil(tenant: string): Promise<number | null> {
    const row = await this.dir
      .prepare("SELECT lease_until FROM tenant_moves WHERE tenant = ?")
      .bind(tenant)
      .first<{ lease_until: number | null }>();
    return row?.lease_until ?? null;
  }

  /**
   * Starts a move, holding its lease: inserts it, or replaces the tenant's finished move (`previous`,
   * as read). False when another driver started one first.
   */
  async start(move: TenantMove, previous: TenantMove | null, lease: { id: string; until: number }): Promise<boolean> {
    const values = moveValues(move);
    const sql = previous
      ? `UPDATE tenant_moves SET from_shard = ?2, to_shard = ?3, phase = ?4, state = ?5, drain_ms = ?6, started_at = ?7,
           updated_at = ?8, switched_at = ?9, finished_at = ?10, error = ?11, lease_id = ?12, lease_until = ?13
         WHERE tenant = ?1 AND phase IN ('done', 'failed') AND started_at = ?14`
      : `INSERT INTO tenant_moves (tenant, from_shard, to_shard, phase, state, drain_ms, started_at, updated_at,
           switched_at, finished_at, error, lease_id, lease_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (tenant) DO NOTHING`;
    const params = [...values, lease.id, lease.until, ...(previous ? [previous.startedAt] : [])];
    const r = await this.dir
      .prepare(sql)
      .bind(...params)
      .run();
    return r.meta.changes === 1;
  }

  /** Takes the lease on a tenant's move if it is free, expired or already this driver's. */
  async lease(tenant: string, lease: { id: string; until: number }, now: number): Promise<boolean> {
    const r = await this.dir
      .prepare(
        "UPDATE tenant_moves SET lease_id = ?2, lease_until = ?3 WHERE tenant = ?1 AND (lease_until IS NULL OR lease_until <= ?4 OR lease_id = ?2)",
      )
      .bind(tenant, lease.id, lease.until, now)
      .run();
    return r.meta.changes === 1;
  }

  /**
   * Saves a move, only while this driver holds its lease (false otherwise: nothing saved);
   * `release` lets the next driver in at once.
   */
  async save(move: TenantMove, leaseId: string, release: boolean): Promise<boolean> {
    const values = moveValues(move);
    const r = await this.dir
      .prepare(
        `UPDATE tenant_moves SET from_shard = ?2, to_shard = ?3, phase = ?4, state = ?5, drain_ms = ?6, started_at = ?7,
           updated_at = ?8, switched_at = ?9, finished_at = ?10, error = ?11,
           lease_until = CASE WHEN ?13 THEN NULL ELSE lease_until END
         WHERE tenant = ?1 AND lease_id = ?12`,
      )
      .bind(...values, leaseId, release ? 1 : 0)
      .run();
    return r.meta.changes === 1;
  }

  // ---- fences -----------------------------------------------------------------------------

  /** Sets (or replaces) a tenant's fence on a shard. */
  async fence(shard: string, tenant: string, f: Fence): Promise<void> {
    await this.db(shard)
      .prepare(
        `INSERT INTO tenant_fences (tenant, state, to_shard, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (tenant) DO UPDATE SET state = excluded.state, to_shard = excluded.to_shard, at = excluded.at`,
      )
      .bind(tenant, f.state, f.to, f.at)
      .run();
  }

  async unfence(shard: string, tenant: string): Promise<void> {
    await this.db(shard).prepare("DELETE FROM tenant_fences WHERE tenant = ?").bind(tenant).run();
  }

  /** A tenant's fence on a shard, if any. */
  async fenceOf(shard: string, tenant: string): Promise<Fence | null> {
    const row = await this.db(shard)
      .prepare("SELECT state, to_shard, at FROM tenant_fences WHERE tenant = ?")
      .bind(tenant)
      .first<{ state: Fence["state"]; to_shard: string; at: number }>();
    return row ? { state: row.state, to: row.to_shard, at: row.at } : null;
  }

  /**
   * Runs the mover's own writes on a fenced shard: one batch (one transaction) that checks the
   * fence is `f`, lifts it, writes, and puts it back. D1 runs one transaction at a time per
   * database, so no other write ever sees the fence lifted; and if the fence is not `f` (the move
   * was cancelled, or another driver changed it), nothing is written: WriteConflict.
   */
  private async underFence(
    db: Db,
    tenant: string,
    f: Fence,
    writes: D1PreparedStatement[],
    extraGuard?: { sql: string; params: unknown[] },
  ): Promise<D1Result[]> {
    const guard = db
      .prepare(
        `INSERT INTO write_conflicts (n) SELECT 1 WHERE NOT EXISTS (
           SELECT 1 FROM tenant_fences WHERE tenant = ? AND state = ? AND to_shard = ? AND at = ?)${extraGuard ? ` OR ${extraGuard.sql}` : ""}`,
      )
      .bind(tenant, f.state, f.to, f.at, ...(extraGuard?.params ?? []));
    try {
      const results = await db.batch([
        guard,
        db.prepare("DELETE FROM tenant_fences WHERE tenant = ?").bind(tenant),
        ...writes,
        db
          .prepare("INSERT INTO tenant_fences (tenant, state, to_shard, at) VALUES (?, ?, ?, ?)")
          .bind(tenant, f.state, f.to, f.at),
      ]);
      return results.slice(2, 2 + writes.length);
    } catch (e) {
      if (e instanceof Error && e.message.includes(CONFLICT_MESSAGE))
        throw new WriteConflict(`the move of tenant ${tenant}`);
      throw e;
    }
  }

  // ---- schema -----------------------------------------------------------------------------

  /** The columns of every tenant table on a shard, as its migrations made them (read once per instance). */
  private async columnsOf(shard: string): Promise<Map<string, string[]>> {
    const hit = this.columnCache.get(shard);
    if (hit) return hit;
    // One table at a time, by name: D1 refuses to describe its own tables (_cf_*), so a join over
    // sqlite_master could fail wherever the planner reaches one.
    const db = this.db(shard);
    const results = await db.batch<{ name: string }>(
      this.tables.map((t) => db.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid").bind(t)),
    );
    const names = results.map((r) => r.results.map((c) => c.name));
    const out = new Map(this.tables.map((t, i) => [t, names[i]!]));
    this.columnCache.set(shard, out);
    return out;
  }

  /**
   * Checks that both shards have every tenant table with the same columns (the copy names them
   * all): a shard a migration has not reached would lose data. A 409 naming the first difference.
   */
  async checkSchemas(from: string, to: string): Promise<void> {
    const [a, b] = await Promise.all([this.columnsOf(from), this.columnsOf(to)]);
    for (const t of this.tables) {
      const x = (a.get(t) ?? []).join(",");
      const y = (b.get(t) ?? []).join(",");
      if (!x || x !== y) {
        throw new AppError(
          { code: "conflict", clash: "concurrent" },
          `table ${t} differs between ${from} and ${to} (${x || "missing"} / ${y || "missing"}): run npm run migrate on every shard first`,
        );
      }
    }
  }

  /** The columns copied and checksummed: all but the tenant (bound on its own) and the surrogate key. */
  private async dataColumns(shard: string, spec: TableSpec): Promise<string[]> {
    const cols = (await this.columnsOf(shard)).get(spec.name);
    if (!cols?.length) throw new Error(`table ${spec.name} is missing on ${shard}`);
    return cols.filter((c) => c !== "tenant" && c !== spec.surrogate);
  }

  // ---- pages ------------------------------------------------------------------------------

  private spec(table: string): TableSpec {
    const s = TENANT_TABLES.find((t) => t.name === table);
    if (!s) throw new Error(`not a tenant table: ${table}`);
    return s;
  }

  /** Reads up to `limit` rows after `after`, in the table's order: each the order values, then the data columns. */
  private async readPage(
    shard: string,
    tenant: string,
    spec: TableSpec,
    after: Cursor | null,
    limit: number,
  ): Promise<{ order: Row[]; data: Row[] }> {
    const cols = await this.dataColumns(shard, spec);
    const n = spec.order.length;
    const order = spec.order.map(quote);
    const select = [...order, ...cols.map(quote)].join(", ");
    let sql = `SELECT ${select} FROM ${quote(spec.name)} WHERE tenant = ?`;
    const params: unknown[] = [tenant];
    if (n && after) {
      sql += ` AND (${order.join(", ")}) > (${order.map(() => "?").join(", ")})`;
      params.push(...after);
    }
    sql += n ? ` ORDER BY ${order.join(", ")} LIMIT ?` : " LIMIT ?";
    params.push(n ? limit : 1);
    const rows = await this.db(shard)
      .prepare(sql)
      .bind(...params)
      .raw<unknown[]>();
    return { order: rows.map((r) => r.slice(0, n)), data: rows.map((r) => r.slice(n)) };
  }

  private readLimit(table: string): number {
    const bytes = this.rowBytes.get(table);
    if (!bytes) return this.firstReadRows;
    return Math.max(1, Math.min(MAX_READ_ROWS, Math.floor(this.pageBytes / bytes)));
  }

  /** The target's record of what has been copied: per table, the source cursor after the last page and the rows. */
  async progress(to: string, tenant: string): Promise<Map<string, { after: Cursor; rows: number }>> {
    const { results } = await this.db(to)
      .prepare("SELECT tbl, after, rows FROM tenant_move_progress WHERE tenant = ?")
      .bind(tenant)
      .all<{ tbl: string; after: string; rows: number }>();
    return new Map(results.map((r) => [r.tbl, { after: JSON.parse(r.after) as Cursor, rows: r.rows }]));
  }

  /**
   * Copies the next page of a table from `from` to `to`: rows after `after` in the table's order,
   * as many as fit in PAGE_BYTES of JSON, inserted by ONE statement (the page bound as one JSON
   * parameter) in the batch that advances the target's progress row. The batch applies only if
   * that row still says `after` (so a page is never copied twice) and `to`'s fence is `fence`.
   */
  async copyPage(
    tenant: string,
    from: string,
    to: string,
    table: string,
    after: Cursor | null,
    fence: Fence,
  ): Promise<CopiedPage> {
    const spec = this.spec(table);
    const single = spec.order.length === 0;
    // A table of one row per tenant is copied in one page: a cursor means it was.
    if (single && after !== null) return { rows: 0, after, done: true };
    const limit = this.readLimit(table);
    const { order, data } = await this.readPage(from, tenant, spec, after, limit);
    const floor = spec.floor && after === null ? await this.keyCounter(from, tenant, spec) : null;
    if (!data.length) {
      // No rows to copy, but a cache may hold the tenant's deleted ones: the floor still applies.
      if (floor !== null)
        await this.underFence(this.db(to), tenant, fence, this.floorStatements(to, tenant, spec, floor));
      return { rows: 0, after, done: true };
    }
    // The longest prefix of the rows that fits in PAGE_BYTES (at least one row).
    let bytes = 0;
    let take = 0;
    for (const row of data) {
      const size = byteLength(JSON.stringify(row)) + 1;
      if (take > 0 && bytes + size > this.pageBytes) break;
      bytes += size;
      take++;
    }
    this.rowBytes.set(table, Math.max(1, Math.ceil(bytes / take)));
    const next = single ? [] : (order[take - 1] as Cursor);
    await this.writePage(tenant, to, spec, data.slice(0, take), after, next, fence, floor);
    return { rows: take, after: next, done: single || (take === data.length && data.length < limit) };
  }

  private async writePage(
    tenant: string,
    to: string,
    spec: TableSpec,
    rows: Row[],
    after: Cursor | null,
    next: Cursor,
    fence: Fence,
    floor: number | null,
  ): Promise<void> {
    const db = this.db(to);
    const cols = await this.dataColumns(to, spec);
    const values = cols.map((_, i) => `value ->> ${i}`).join(", ");
    const writes = [
      ...(floor !== null ? this.floorStatements(to, tenant, spec, floor) : []),
      db
        .prepare(
          `INSERT INTO ${quote(spec.name)} (tenant, ${cols.map(quote).join(", ")})
           SELECT ?, ${values} FROM json_each(?) ORDER BY key`,
        )
        .bind(tenant, JSON.stringify(rows)),
      db
        .prepare(
          `INSERT INTO tenant_move_progress (tenant, tbl, after, rows) VALUES (?, ?, ?, ?)
           ON CONFLICT (tenant, tbl) DO UPDATE SET after = excluded.after, rows = rows + excluded.rows`,
        )
        .bind(tenant, spec.name, JSON.stringify(next), rows.length),
    ];
    await this.underFence(db, tenant, fence, writes, {
      sql: "(SELECT after FROM tenant_move_progress WHERE tenant = ? AND tbl = ?) IS NOT ?",
      params: [tenant, spec.name, after === null ? null : JSON.stringify(after)],
    });
  }

  private floorStatements(to: string, tenant: string, spec: TableSpec, floor: number): D1PreparedStatement[] {
    const db = this.db(to);
    const placeholder = `\u0000edgemem-move-floor:${tenant}`;
    return (spec.floor ?? []).map((sql) => db.prepare(sql).bind(floor, placeholder));
  }

  /**
   * A shard's AUTOINCREMENT counter of a table: at least every key a tenant ever had there. Where
   * `sqlite_sequence` cannot be read, the tenant's highest key now.
   */
  private async keyCounter(shard: string, tenant: string, spec: TableSpec): Promise<number> {
    const db = this.db(shard);
    const highest = `SELECT ifnull(max(${quote(spec.surrogate!)}), 0) FROM ${quote(spec.name)} WHERE tenant = ?1`;
    const counter = "SELECT ifnull((SELECT seq FROM sqlite_sequence WHERE name = ?2), 0)";
    const read = (sql: string, ...params: unknown[]) =>
      db
        .prepare(sql)
        .bind(...params)
        .first<{ n: number }>()
        .then((r) => r?.n ?? 0);
    try {
      return await read(`SELECT max((${counter}), (${highest})) AS n`, tenant, spec.name);
    } catch {
      return read(`SELECT (${highest}) AS n`, tenant);
    }
  }

  /**
   * Checksums the next `limit` rows of a table on one shard (after `after`, in the table's order;
   * the cursor is that shard's own, since surrogate keys differ between shards).
   */
  async checksumPage(
    shard: string,
    tenant: string,
    table: string,
    after: Cursor | null,
    limit: number,
  ): Promise<SummedPage> {
    const spec = this.spec(table);
    const { order, data } = await this.readPage(shard, tenant, spec, after, limit);
    const single = spec.order.length === 0;
    return {
      rows: data.length,
      after: data.length ? (single ? [] : (order[data.length - 1] as Cursor)) : after,
      done: single || data.length < limit,
      sha256: await sha256Hex(canonicalRows(data)),
    };
  }

  /** The derived keyword statistics of a tenant on a shard (docs, total length), rebuilt by triggers. */
  async keywordStats(shard: string, tenant: string): Promise<{ docs: number; length: number }> {
    const row = await this.db(shard)
      .prepare("SELECT docs, length FROM keyword_stats WHERE tenant = ?")
      .bind(tenant)
      .first<{ docs: number; length: number }>();
    return { docs: row?.docs ?? 0, length: row?.length ?? 0 };
  }

  /** Deletes up to a page of a tenant's rows of one table on a fenced shard; returns how many went. */
  async deletePage(shard: string, tenant: string, table: string, fence: Fence): Promise<number> {
    const spec = this.spec(table);
    const db = this.db(shard);
    const t = quote(spec.name);
    const key = spec.order.length ? spec.order.map(quote).join(", ") : null;
    const sql = key
      ? `DELETE FROM ${t} WHERE tenant = ?1 AND (${key}) IN (SELECT ${key} FROM ${t} WHERE tenant = ?1 ORDER BY ${key} LIMIT ?2)`
      : `DELETE FROM ${t} WHERE tenant = ?1 AND ?2 > 0`;
    const [r] = await this.underFence(db, tenant, fence, [
      db.prepare(sql).bind(tenant, DELETE_ROWS[spec.name] ?? DEFAULT_DELETE_ROWS),
    ]);
    return r!.meta.changes;
  }

  /** Drops the copy's progress rows of a tenant on a shard (the target, once the move has switched). */
  async clearProgress(shard: string, tenant: string): Promise<void> {
    await this.db(shard).prepare("DELETE FROM tenant_move_progress WHERE tenant = ?").bind(tenant).run();
  }

  /**
   * Drops what is left of a tenant on a shard besides the copied tables: the keyword statistics row
   * (and any postings) the memory triggers leave behind, and the copy's progress rows.
   */
  async clearLeftovers(shard: string, tenant: string): Promise<void> {
    const db = this.db(shard);
    await db.batch([
      db.prepare("DELETE FROM memory_terms WHERE tenant = ?").bind(tenant),
      db.prepare("DELETE FROM keyword_stats WHERE tenant = ?").bind(tenant),
      db.prepare("DELETE FROM keyword_df WHERE tenant = ?").bind(tenant),
      db.prepare("DELETE FROM tenant_move_progress WHERE tenant = ?").bind(tenant),
    ]);
  }

  /** Rows of a tenant on a shard, per copied table (the admin view; a full count, so not for hot paths). */
  async counts(shard: string, tenant: string): Promise<Record<string, number>> {
    const db = this.db(shard);
    const results = await db.batch<{ n: number }>(
      this.tables.map((t) => db.prepare(`SELECT count(*) AS n FROM ${quote(t)} WHERE tenant = ?`).bind(tenant)),
    );
    return Object.fromEntries(this.tables.map((t, i) => [t, results[i]!.results[0]?.n ?? 0]));
  }
}

interface MoveRow {
  tenant: string;
  from_shard: string;
  to_shard: string;
  phase: string;
  state: string;
  drain_ms: number;
  started_at: number;
  updated_at: number;
  switched_at: number | null;
  finished_at: number | null;
  error: string | null;
}

function fromMoveRow(r: MoveRow): TenantMove {
  const phase = (MOVE_PHASES as readonly string[]).includes(r.phase) ? (r.phase as MovePhase) : "failed";
  return {
    tenant: r.tenant,
    from: r.from_shard,
    to: r.to_shard,
    phase,
    progress: parseProgress(r.state),
    drainMs: r.drain_ms,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    switchedAt: r.switched_at,
    finishedAt: r.finished_at,
    error: phase === r.phase ? r.error : (r.error ?? `unknown phase ${r.phase}`),
  };
}

/** ?1..?11 of the move statements. */
function moveValues(m: TenantMove): unknown[] {
  return [
    m.tenant,
    m.from,
    m.to,
    m.phase,
    JSON.stringify(m.progress),
    m.drainMs,
    m.startedAt,
    m.updatedAt,
    m.switchedAt,
    m.finishedAt,
    m.error,
  ];
}
