import { tenantOrSweep, unfenced, type Db, type TenantDb } from "./databases.ts";
import {
  defaultValidFrom,
  withValidity,
  type HistoryEntry,
  type HistoryOptions,
  type HistoryPage,
  type ListOptions,
  type Memory,
  type MemoryPage,
} from "../domain/memory.ts";
import { ANY_VALIDITY, type MemoryFilter } from "../domain/filters.ts";
import { AppError, WriteConflict } from "../domain/errors.ts";
import { parseStoredJson } from "../domain/stored-values.ts";
import { errorMessage } from "../log.ts";
import { BM25_B, BM25_K1, indexTerms, type KeywordQuery, type KeywordStats } from "../domain/text.ts";
import { andAll, bindChecked, containsAllWords, D1_LIMITS, IN_JSON, jsonList } from "./d1-limits.ts";
import type { WriteIntent, WriteOp } from "../domain/writes.ts";
import { intentStatements } from "./intents.ts";
import { compileFilter, LIVE, type SqlFragment } from "./sql-filter.ts";
import { vectorStatements } from "./vector-repo.ts";

/** The conflict a write gets when another memory holds the CRUD key (agent_id, scope, key) it takes. */
const KEY_TAKEN = "another memory already has this (agent_id, scope, key)";
/**
 * SQLite's error when a write takes a CRUD key: the unique index memories_agent_scope_key
 * (migration 0001) is on an expression, ifnull(agent_id, ''), so SQLite names the index rather
 * than its columns.
 */
const KEY_INDEX_VIOLATION = "UNIQUE constraint failed: index 'memories_agent_scope_key'";

type Row = Record<string, unknown>;

const COLUMNS = [
  "tenant",
  "id",
  "namespace",
  "user_id",
  "session_id",
  "agent_id",
  "scope",
  "key",
  "text",
  "memory_type",
  "topics",
  "entities",
  "priority",
  "confidence",
  "pinned",
  "metadata",
  "memory_hash",
  "created_at",
  "updated_at",
  "last_accessed",
  "persisted_at",
  "event_date",
  "expires_at",
  "extracted_from",
  "discrete_memory_extracted",
  "extraction_strategy",
  "embedding_model",
  "valid_from",
  "valid_to",
  "superseded_by",
  "supersedes",
  "invalid_reason",
] as const;

/** Every column of a memory (as `m`); read with `memoryFromRow`. */
export const SELECT = `SELECT ${COLUMNS.map((c) => `m.${c}`).join(", ")}, m.version FROM memories m`;
/** SELECT with the row id, for lists that hand out keyset cursors. */
const SELECT_KEYED = SELECT.replace(" FROM memories m", ", m.seq FROM memories m");
/** The sort column and direction of each list order; ties go by seq, the same way. */
const LIST_ORDERS = {
  created_desc: ["created_at", "DESC"],
  created_asc: ["created_at", "ASC"],
  updated_desc: ["updated_at", "DESC"],
} as const;
/** Written with every version of a memory, never read back: its keyword-index terms (migration 0004). */
const INDEX_COLUMNS = ["terms", "doc_len"] as const;
const WRITTEN = [...COLUMNS, ...INDEX_COLUMNS];
const MUTABLE = WRITTEN.filter((c) => c !== "tenant" && c !== "id");
/*
 * Compare-and-set writes (no lost updates): each statement changes its row only if the row is
 * as the service read it, and is followed by GUARD, which aborts the batch when it changed nothing.
 * A create takes a free id, or one held by an expired memory (reads treat those as absent);
 * the version keeps counting there, so a stale read of the expired row can never match again.
 */
const CREATE = `INSERT INTO memories (${WRITTEN.join(", ")}, version) VALUES (${WRITTEN.map(() => "?").join(", ")}, 1)
  ON CONFLICT (tenant, id) DO UPDATE SET ${MUTABLE.map((c) => `${c} = excluded.${c}`).join(", ")}, version = memories.version + 1
  WHERE memories.expires_at IS NOT NULL AND memories.expires_at <= ?
  RETURNING version`;
const UPDATE = `UPDATE memories SET ${MUTABLE.map((c) => `${c} = ?`).join(", ")}, version = version + 1
  WHERE tenant = ? AND id = ? AND version = ? RETURNING version`;
const DELETE = "DELETE FROM memories WHERE tenant = ? AND id = ? AND version = ?";
/** changes() counts the rows the previous statement of the batch changed itself (not its triggers'). */
const GUARD = "INSERT INTO write_conflicts (n) SELECT 1 WHERE changes() = 0";
/** The message of the write_conflicts trigger (migration 0005). */
const CONFLICT_MESSAGE = "edgemem: write conflict";

/** D1 repository for memory records, their history, and (through vector-repo) their vectors. */
export class MemoryRepo {
  constructor(
    private readonly dbs: TenantDb,
    /** Whether deleted vectors must be queued for a remote index (Vectorize). */
    private readonly remoteIndex: boolean,
  ) {}

  /**
   * Applies all ops in one D1 batch: one transaction, so a failure writes nothing. The
   * `intents` (graph entities and relations, feedback rows) join the same transaction. Each op
   * applies only if its memory is still as `before` says (same version, or absent for a create);
   * otherwise nothing is written and this throws WriteConflict. A create that takes another
   * memory's CRUD key (agent_id, scope, key) throws a `conflict` (clash `key`). Returns the written
   * memories of the put ops, with their new versions.
   */
  async write(
    tenant: string,
    ops: WriteOp[],
    actor: string,
    now: number,
    intents: WriteIntent[] = [],
  ): Promise<Memory[]> {
    const db = await this.dbs.of(tenant);
    const stmts: D1PreparedStatement[] = [];
    const puts: { after: Memory; at: number }[] = [];
    for (const op of ops) {
      if (op.kind === "put") {
        const { before, after } = op;
        puts.push({ after, at: stmts.length });
        const values = toRow(after);
        stmts.push(
          before
            ? db.prepare(UPDATE).bind(...values.slice(2), tenant, after.id, before.version)
            : db.prepare(CREATE).bind(...values, now),
        );
        stmts.push(db.prepare(GUARD));
        stmts.push(...(await vectorStatements(db, after, op.vector, this.remoteIndex, now)));
        if (op.audit !== false) {
          stmts.push(
            this.historyRow(db, tenant, after.id, before ? "update" : "create", actor, now, op.reason, before, after),
          );
        }
      } else {
        stmts.push(db.prepare(DELETE).bind(tenant, op.before.id, op.before.version));
        stmts.push(db.prepare(GUARD));
        stmts.push(...(await vectorStatements(db, op.before, { kind: "drop" }, this.remoteIndex, now)));
        stmts.push(this.historyRow(db, tenant, op.before.id, "delete", actor, now, op.reason, op.before, null));
      }
    }
    stmts.push(...intentStatements(db, tenant, intents, now));
    if (!stmts.length) return [];
    let results: D1Result<Row>[];
    try {
      results = await db.batch<Row>(stmts);
    } catch (e) {
      if (e instanceof Error && e.message.includes(CONFLICT_MESSAGE))
        throw new WriteConflict(`memory of tenant ${tenant}`);
      // The one constraint a caller can break: the CRUD API's unique (agent_id, scope, key). Any
      // other unique violation in the batch is a bug, not a key clash.
      if (errorMessage(e).includes(KEY_INDEX_VIOLATION))
        throw new AppError({ code: "conflict", clash: "key" }, KEY_TAKEN);
      throw e;
    }
    return puts.map(({ after, at }) => ({ ...after, version: Number(results[at]!.results[0]?.version) }));
  }

  async get(tenant: string, id: string, now: number): Promise<Memory | null> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(`${SELECT} WHERE m.tenant = ? AND m.id = ? AND ${LIVE}`)
      .bind(tenant, id, now)
      .first<Row>();
    return row ? fromRow(row) : null;
  }

  /** Live memories among `ids` that pass `filter` (by default, superseded ones too), in no particular order. */
  async getMany(tenant: string, ids: string[], now: number, filter: MemoryFilter = ANY_VALIDITY): Promise<Memory[]> {
    const db = await this.dbs.of(tenant);
    if (!ids.length) return [];
    const { results } = await this.manyStatement(db, tenant, ids, now, compileFilter(filter)).all<Row>();
    return results.map(fromRow);
  }

  async findByKey(
    tenant: string,
    agentId: string | null,
    scope: string,
    key: string,
    now: number,
  ): Promise<Memory | null> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(`${SELECT} WHERE m.tenant = ? AND ifnull(m.agent_id, '') = ? AND m.scope = ? AND m.key = ? AND ${LIVE}`)
      .bind(tenant, agentId ?? "", scope, key, now)
      .first<Row>();
    return row ? fromRow(row) : null;
  }

  /**
   * In one query: live memories with any of the ids, and current ones with any of the content
   * hashes (each once): a fact stated again after it was superseded is true again, not a duplicate.
   */
  async findByIdsOrHashes(tenant: string, ids: string[], hashes: string[], now: number): Promise<Memory[]> {
    const db = await this.dbs.of(tenant);
    if (!ids.length && !hashes.length) return [];
    // Two indexed lookups, (tenant, id) and (tenant, memory_hash), a few rows each. With OR, SQLite
    // scans the whole tenant (14 ms at 12,000 memories); with UNION it merges the halves over the
    // (tenant, id) index and so reads every row of the tenant too (10,004 at 10,000 memories).
    // UNION ALL runs each half on its own index; a memory found by both is dropped here.
    const { results } = await db
      .prepare(
        `${SELECT} WHERE m.tenant = ?1 AND m.id IN (SELECT value FROM json_each(?2)) AND (m.expires_at IS NULL OR m.expires_at > ?4)
         UNION ALL
         ${SELECT} WHERE m.tenant = ?1 AND m.memory_hash IN (SELECT value FROM json_each(?3)) AND (m.expires_at IS NULL OR m.expires_at > ?4) AND m.valid_to IS NULL`,
      )
      .bind(tenant, JSON.stringify(ids), JSON.stringify(hashes), now)
      .all<Row>();
    const byId = new Map(results.map((r) => [String(r.id), r]));
    return [...byId.values()].map(fromRow);
  }

  /** Live memories passing `filter` whose `entities` name any of `names` (case-insensitively), most recently updated first. */
  async mentioning(
    tenant: string,
    names: string[],
    now: number,
    limit: number,
    filter: MemoryFilter = {},
  ): Promise<Memory[]> {
    const db = await this.dbs.of(tenant);
    if (!names.length) return [];
    const f = compileFilter(filter);
    const { results } = await bindChecked(
      db,
      `${SELECT} WHERE m.tenant = ? AND ${LIVE} AND EXISTS (
         SELECT 1 FROM json_each(m.entities) e WHERE lower(e.value) IN (SELECT lower(value) FROM json_each(?)))
       AND ${f.sql} ORDER BY m.updated_at DESC LIMIT ?`,
      [tenant, now, JSON.stringify(names), ...f.params, limit],
    ).all<Row>();
    return results.map(fromRow);
  }

  /** Live memories (closed ones too) after the cursor in (updated_at, id) order (ties on updated_at are common: batches). */
  async changedSince(
    tenant: string,
    cursor: { at: number; id: string },
    now: number,
    limit: number,
  ): Promise<Memory[]> {
    const db = await this.dbs.of(tenant);
    const { results } = await db
      .prepare(
        `${SELECT} WHERE m.tenant = ? AND m.updated_at >= ? AND (m.updated_at > ? OR m.id > ?) AND ${LIVE}
         ORDER BY m.updated_at, m.id LIMIT ?`,
      )
      .bind(tenant, cursor.at, cursor.at, cursor.id, now, limit)
      .all<Row>();
    return results.map(fromRow);
  }

  /** Whether the tenant has a live memory of the agent. */
  async hasAgent(tenant: string, agent: string, now: number): Promise<boolean> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(`SELECT 1 AS found FROM memories m WHERE m.tenant = ? AND m.agent_id = ? AND ${LIVE} LIMIT 1`)
      .bind(tenant, agent, now)
      .first();
    return row !== null;
  }

  /** The agent of the tenant's earliest live memory that names one, or null (none does). */
  async firstAgent(tenant: string, now: number): Promise<string | null> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(
        `SELECT m.agent_id AS agent FROM memories m WHERE m.tenant = ? AND ${LIVE} AND m.agent_id IS NOT NULL ORDER BY m.created_at, m.seq LIMIT 1`,
      )
      .bind(tenant, now)
      .first<{ agent: string }>();
    return row?.agent ?? null;
  }

  /**
   * Live memories passing `filter` whose time — `event_date`, or `created_at` for a memory without
   * one — lies in [from, to), the latest first (index `memories_when`, migration 0008).
   */
  async datedIn(
    tenant: string,
    now: number,
    filter: MemoryFilter,
    range: { from: number; to: number },
    limit: number,
  ): Promise<Memory[]> {
    const db = await this.dbs.of(tenant);
    const f = compileFilter(filter);
    const when = "coalesce(m.event_date, m.created_at)";
    const { results } = await bindChecked(
      db,
      `${SELECT} WHERE ${andAll(["m.tenant = ?", `${when} >= ?`, `${when} < ?`, LIVE, f.sql])} ORDER BY ${when} DESC, m.seq DESC LIMIT ?`,
      [tenant, range.from, range.to, now, ...f.params, limit],
    ).all<Row>();
    return results.map(fromRow);
  }

  /**
   * Live memories matching a filter, a page in the order asked (newest first by default): after
   * `opts.after` (keyset: the order's index from that key on) or after `offset` rows (each read
   * and skipped). Reads one row past the page to tell whether another page follows; counts every
   * match only when asked (`count`).
   */
  async list(tenant: string, now: number, opts: ListOptions): Promise<MemoryPage> {
    const db = await this.dbs.of(tenant);
    const f = compileFilter(opts.filter ?? {});
    const contains = containsAllWords(
      ["m.text", "ifnull(m.key, '')"],
      (opts.contains ?? "").split(/\s+/).filter(Boolean),
    );
    const where = andAll([`m.tenant = ?`, LIVE, f.sql, contains.sql]);
    const params: unknown[] = [tenant, now, ...f.params, ...contains.params];
    const [column, dir] = LIST_ORDERS[opts.order ?? "created_desc"];
    // (column, seq) is unique and its index is (tenant, column) — SQLite indexes end with the
    // row id (seq) — so the row value picks up exactly where the key left off, in index order.
    const after = opts.after ? [`(m.${column}, m.seq) ${dir === "DESC" ? "<" : ">"} (?, ?)`] : [];
    const page = bindChecked(
      db,
      `${SELECT_KEYED} WHERE ${andAll([where, ...after])} ORDER BY m.${column} ${dir}, m.seq ${dir} LIMIT ?${opts.offset ? " OFFSET ?" : ""}`,
      [
        ...params,
        ...(opts.after ? [opts.after.at, opts.after.seq] : []),
        opts.limit + 1,
        ...(opts.offset ? [opts.offset] : []),
      ],
    );
    const [rows, count] = opts.count
      ? await db.batch<Row>([page, bindChecked(db, `SELECT count(*) AS n FROM memories m WHERE ${where}`, params)])
      : [await page.all<Row>(), null];
    const results = rows!.results;
    const last = results.length > opts.limit ? results[opts.limit - 1] : undefined;
    return {
      memories: results.slice(0, opts.limit).map(fromRow),
      total: count ? Number(count.results[0]?.n ?? 0) : null,
      next: last ? { at: Number(last[column]), seq: Number(last.seq) } : null,
    };
  }

  /**
   * A search's candidates in one round trip: the keyword candidates of `keyword` (none without a
   * query), best BM25 first, scored from the tenant's own index rows and statistics only (higher is
   * better like every other score here), reading only the query terms' postings within the tenant
   * (one index range per term); and the live memories among `ids` (the vector side's hits) passing
   * `filter`, in no particular order. A memory in both comes in both.
   */
  async searchCandidates(
    tenant: string,
    keyword: KeywordQuery | null,
    ids: string[],
    now: number,
    filter: MemoryFilter,
    limit: number,
  ): Promise<{ keyword: { memory: Memory; score: number }[]; rows: Memory[] }> {
    const db = await this.dbs.of(tenant);
    const f = compileFilter(filter);
    // Without a filter, ranked from the index rows alone (half the time of joining every posting's
    // memory), then the top rows are read whole; with one, only live rows passing it are ranked.
    // (Current memories only is the default, and the fast plan's `live` checks it.)
    const fast =
      (filter.validity?.kind ?? "current") === "current" && compileFilter({ ...filter, ...ANY_VALIDITY }).sql === "1";
    const statements = [
      ...(keyword ? [this.keywordStatement(db, tenant, keyword, now, f, limit, fast)] : []),
      ...(ids.length ? [this.manyStatement(db, tenant, ids, now, f)] : []),
    ];
    if (!statements.length) return { keyword: [], rows: [] };
    const results = statements.length === 1 ? [await statements[0]!.all<Row>()] : await db.batch<Row>(statements);
    const rows = ids.length ? results.at(-1)!.results.map(fromRow) : [];
    if (!keyword) return { keyword: [], rows };
    let ranked = results[0]!.results;
    if (fast) {
      // An expired or superseded memory among the top rows is left out; if that leaves the page short while more
      // candidates exist, the filtered plan decides (live rows only).
      const live = ranked.filter((r) => Number(r.live) === 1);
      if (live.length < ranked.length && ranked.length >= limit) {
        ranked = (await this.keywordStatement(db, tenant, keyword, now, f, limit, false).all<Row>()).results;
      } else ranked = live;
    }
    return { keyword: ranked.map((r) => ({ memory: fromRow(r), score: Number(r.kw) })), rows };
  }

  /** Live memories among `ids` that pass the compiled filter `f`. */
  private manyStatement(db: Db, tenant: string, ids: string[], now: number, f: SqlFragment): D1PreparedStatement {
    return bindChecked(db, `${SELECT} WHERE m.tenant = ? AND m.id IN ${IN_JSON} AND ${LIVE} AND ${f.sql}`, [
      tenant,
      jsonList(ids),
      now,
      ...f.params,
    ]);
  }

  /**
   * The top `limit` keyword candidates, rows whole with their score `kw`. `fast`: ranked from the
   * index rows alone (`f` must be current memories only), each row saying whether it is `live` (and current); otherwise only live
   * rows passing `f` are ranked.
   */
  private keywordStatement(
    db: Db,
    tenant: string,
    query: KeywordQuery,
    now: number,
    f: SqlFragment,
    limit: number,
    fast: boolean,
  ): D1PreparedStatement {
    const p = postings(tenant, query);
    const score = `sum(p.idf * p.tf * ${BM25_K1 + 1} / (p.tf + ${BM25_K1} * (${1 - BM25_B} + ${BM25_B} * p.doc_len / ?)))`;
    if (fast) {
      return bindChecked(
        db,
        // CROSS JOIN keeps `top` the outer loop: joined, SQLite walked the tenant's memories by the
        // (tenant, ...) index and probed `top` for each (10,000 rows read at 10,000 memories, every search).
        `WITH p AS (${p.sql}), top AS (SELECT p.seq AS seq, ${score} AS kw FROM p GROUP BY p.seq ORDER BY kw DESC, p.seq DESC LIMIT ?)
         ${SELECT.replace("FROM memories m", `, top.kw, (${LIVE} AND m.valid_to IS NULL) AS live FROM top CROSS JOIN memories m ON m.seq = top.seq`)}
         WHERE m.tenant = ? ORDER BY top.kw DESC, m.seq DESC`,
        [...p.params, query.avgLength, limit, now, tenant],
      );
    }
    return bindChecked(
      db,
      `WITH p AS (${p.sql}), top AS (
         SELECT p.seq AS seq, ${score} AS kw FROM p CROSS JOIN memories m ON m.seq = p.seq
         WHERE m.tenant = ? AND ${LIVE} AND ${f.sql}
         GROUP BY p.seq ORDER BY kw DESC, p.seq DESC LIMIT ?)
       ${SELECT.replace("FROM memories m", ", top.kw FROM top JOIN memories m ON m.seq = top.seq")} ORDER BY top.kw DESC, m.seq DESC`,
      [...p.params, query.avgLength, tenant, now, ...f.params, limit],
    );
  }

  /**
   * A tenant's keyword statistics for some index terms: a row per term and one for the totals
   * (migrations 0004 and 0011), nothing of other tenants.
   */
  async keywordStats(tenant: string, terms: string[]): Promise<KeywordStats> {
    const db = await this.dbs.of(tenant);
    const [totals, counts] = await db.batch<Row>([
      db.prepare("SELECT docs, length FROM keyword_stats WHERE tenant = ?").bind(tenant),
      db
        .prepare(`SELECT term, df FROM keyword_df WHERE tenant = ? AND term IN ${IN_JSON}`)
        .bind(tenant, jsonList([...new Set(terms)])),
    ]);
    const row = totals!.results[0];
    return {
      docs: Number(row?.docs ?? 0),
      length: Number(row?.length ?? 0),
      df: new Map(counts!.results.map((r) => [String(r.term), Number(r.df)])),
    };
  }

  /** Rate-limited last_accessed update: only rows not touched in the last `minIntervalMs`. */
  async touch(tenant: string, ids: string[], now: number, minIntervalMs: number): Promise<void> {
    const db = await this.dbs.of(tenant);
    if (!ids.length) return;
    await db
      .prepare(
        "UPDATE memories SET last_accessed = ? WHERE tenant = ? AND id IN (SELECT value FROM json_each(?)) AND last_accessed < ?",
      )
      .bind(now, tenant, JSON.stringify(ids), now - minIntervalMs)
      .run();
  }

  /** Expired memories of any tenant (or one), oldest expiry first. */
  async expired(now: number, limit: number, tenant?: string): Promise<Memory[]> {
    const db = await tenantOrSweep(this.dbs, tenant);
    const { results } = await db
      .prepare(
        `${SELECT} WHERE m.expires_at IS NOT NULL AND m.expires_at <= ? AND ${tenant ? "m.tenant = ?" : unfenced("m.tenant")} ORDER BY m.expires_at LIMIT ?`,
      )
      .bind(...(tenant ? [now, tenant, limit] : [now, limit]))
      .all<Row>();
    return results.map(fromRow);
  }

  /**
   * Memories whose vector is missing (a failed embedding: first) or from another model (after a
   * model change: the bulk migration, oldest first).
   */
  async needingEmbedding(model: string, limit: number): Promise<Memory[]> {
    const db = this.dbs.sweep();
    const { results } = await db
      .prepare(
        `${SELECT} WHERE (m.embedding_model IS NULL OR m.embedding_model != ?) AND ${unfenced("m.tenant")} ORDER BY m.embedding_model IS NOT NULL, m.seq LIMIT ?`,
      )
      .bind(model, limit)
      .all<Row>();
    return results.map(fromRow);
  }

  async countNotEmbeddedWith(tenant: string, model: string): Promise<number> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(
        "SELECT count(*) AS n FROM memories WHERE tenant = ? AND (embedding_model IS NULL OR embedding_model != ?)",
      )
      .bind(tenant, model)
      .first<{ n: number }>();
    return row?.n ?? 0;
  }

  /** A page of a memory's history, in write order (`hid`) or newest first, after `opts.after`. */
  async history(tenant: string, id: string, opts: HistoryOptions): Promise<HistoryPage> {
    const db = await this.dbs.of(tenant);
    const dir = opts.order === "desc" ? "DESC" : "ASC";
    const after = opts.after ? ` AND hid ${dir === "DESC" ? "<" : ">"} ?` : "";
    const { results } = await db
      .prepare(
        `SELECT hid, op, actor, at, reason, before, after FROM memory_history WHERE tenant = ? AND memory_id = ?${after} ORDER BY hid ${dir} LIMIT ?`,
      )
      .bind(tenant, id, ...(opts.after ? [opts.after.hid] : []), opts.limit + 1)
      .all<Row>();
    const last = results.length > opts.limit ? results[opts.limit - 1] : undefined;
    return {
      entries: results.slice(0, opts.limit).map((r) => ({
        op: r.op as HistoryEntry["op"],
        actor: String(r.actor),
        at: Number(r.at),
        reason: (r.reason as string | null) ?? null,
        before: r.before ? historyVersion(r.before, "memory_history.before") : null,
        after: r.after ? historyVersion(r.after, "memory_history.after") : null,
      })),
      next: last ? { hid: Number(last.hid) } : null,
    };
  }

  async hasHistory(tenant: string, id: string): Promise<boolean> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare("SELECT 1 AS found FROM memory_history WHERE tenant = ? AND memory_id = ? LIMIT 1")
      .bind(tenant, id)
      .first();
    return row !== null;
  }

  private historyRow(
    db: Db,
    tenant: string,
    id: string,
    op: HistoryEntry["op"],
    actor: string,
    at: number,
    reason: string | undefined,
    before: Memory | null,
    after: Memory | null,
  ): D1PreparedStatement {
    return db
      .prepare(
        // `after` gets the version the write gave the row (it follows the row's statement in the batch).
        `INSERT INTO memory_history (tenant, memory_id, op, actor, at, reason, before, after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, json_set(?8, '$.version', (SELECT version FROM memories WHERE tenant = ?1 AND id = ?2)))`,
      )
      .bind(
        tenant,
        id,
        op,
        actor,
        at,
        reason ?? null,
        before ? JSON.stringify(before) : null,
        after ? JSON.stringify(after) : null,
      );
  }
}

/**
 * The postings of a keyword query's terms in the tenant (`seq, tf, doc_len, idf`). Up to D1's
 * compound-SELECT limit, one index range per term merged in `seq` order: BM25's GROUP BY seq
 * then streams instead of sorting every posting into a temporary B-tree (at 10,000 memories, a
 * three-term query's ranking ran 3.6 -> 2.8 ms and read 7,547 -> 4,897 rows). Longer queries
 * join the terms' JSON to the index.
 */
function postings(tenant: string, query: KeywordQuery): SqlFragment {
  if (query.terms.length <= D1_LIMITS.compoundSelect) {
    const arm = "SELECT seq, tf, doc_len, ? AS idf FROM memory_terms WHERE tenant = ? AND term = ?";
    return {
      sql: `${query.terms.map(() => arm).join(" UNION ALL ")} ORDER BY seq`,
      params: query.terms.flatMap((t) => [t.idf, tenant, t.term]),
    };
  }
  return {
    sql: `SELECT t.seq AS seq, t.tf AS tf, t.doc_len AS doc_len, q.value ->> 1 AS idf
          FROM json_each(?) q CROSS JOIN memory_terms t ON t.tenant = ? AND t.term = q.value ->> 0`,
    params: [JSON.stringify(query.terms.map((t) => [t.term, t.idf])), tenant],
  };
}

function toRow(m: Memory): unknown[] {
  const index = indexTerms(m.text, m.key);
  const values = COLUMNS.map((c) => {
    const v = m[c];
    if (c === "pinned") return v ? 1 : 0;
    if (Array.isArray(v) || (typeof v === "object" && v !== null)) return JSON.stringify(v);
    return v;
  });
  return [...values, JSON.stringify(index.terms), index.length];
}

/** A memories row (read with SELECT) as the domain record. */
export function fromRow(r: Row): Memory {
  return {
    id: String(r.id),
    tenant: String(r.tenant),
    namespace: (r.namespace as string | null) ?? null,
    user_id: (r.user_id as string | null) ?? null,
    session_id: (r.session_id as string | null) ?? null,
    agent_id: (r.agent_id as string | null) ?? null,
    scope: r.scope as Memory["scope"],
    key: (r.key as string | null) ?? null,
    text: String(r.text),
    memory_type: r.memory_type as Memory["memory_type"],
    topics: parseStoredJson<string[]>(r.topics, [], "memories.topics"),
    entities: parseStoredJson<string[]>(r.entities, [], "memories.entities"),
    priority: Number(r.priority),
    confidence: Number(r.confidence),
    pinned: Number(r.pinned) === 1,
    metadata: parseStoredJson<Record<string, unknown>>(r.metadata, {}, "memories.metadata"),
    memory_hash: String(r.memory_hash),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
    last_accessed: Number(r.last_accessed),
    persisted_at: r.persisted_at === null ? null : Number(r.persisted_at),
    event_date: r.event_date === null ? null : Number(r.event_date),
    expires_at: r.expires_at === null ? null : Number(r.expires_at),
    extracted_from: parseStoredJson<string[]>(r.extracted_from, [], "memories.extracted_from"),
    discrete_memory_extracted: r.discrete_memory_extracted === "t" ? "t" : "f",
    extraction_strategy: String(r.extraction_strategy),
    embedding_model: (r.embedding_model as string | null) ?? null,
    valid_from:
      r.valid_from === null || r.valid_from === undefined
        ? defaultValidFrom({
            event_date: r.event_date === null ? null : Number(r.event_date),
            created_at: Number(r.created_at),
          })
        : Number(r.valid_from),
    valid_to: r.valid_to === null || r.valid_to === undefined ? null : Number(r.valid_to),
    superseded_by: (r.superseded_by as string | null) ?? null,
    supersedes: (r.supersedes as string | null) ?? null,
    invalid_reason: (r.invalid_reason as string | null) ?? null,
    version: Number(r.version),
  };
}

/** A version of a memory kept in its history: written before migration 0012, it has no validity yet. */
function historyVersion(json: unknown, what: string): Memory | null {
  const m = parseStoredJson<Memory | null>(json, null, what);
  return m && withValidity(m);
}
