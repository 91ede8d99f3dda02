import type { Db, TenantDb } from "./databases.ts";
import { AppError } from "../domain/errors.ts";
import { nameKey } from "../domain/graph.ts";
import {
  memoryRecord,
  sameRecord,
  withoutTenant,
  type EntityRecord,
  type ExportPosition,
  type ExportRecord,
  type HistoryOutcome,
  type HistoryRecord,
  type RowKind,
  type RowRecord,
  type RelationRecord,
  type SessionRecord,
} from "../domain/export.ts";
import type { FeedbackRecord } from "../domain/feedback.ts";
import { parseStoredJson } from "../domain/stored-values.ts";
import { errorMessage } from "../log.ts";
import { checkRowSize, IN_JSON, jsonList } from "./d1-limits.ts";
import { entityFromRow, relationFromRow } from "./graph-repo.ts";
import { fromRow as memoryFromRow, SELECT as SELECT_MEMORY } from "./memory-repo.ts";

type Row = Record<string, unknown>;

/** A relation with the memories that stated it (`sources`, a JSON array in id order). */
const SELECT_RELATION = `SELECT r.*, (SELECT json_group_array(memory_id) FROM (
    SELECT s.memory_id FROM relation_sources s WHERE s.tenant = r.tenant AND s.relation_id = r.id ORDER BY s.memory_id)
  ) AS sources FROM relations r`;

/** SQLite's message when an insert takes a key another row holds. */
const UNIQUE = "UNIQUE constraint failed";
/** Aborts the batch when the previous statement changed nothing (the write_conflicts trigger, migration 0005). */
const GUARD = "INSERT INTO write_conflicts (n) SELECT 1 WHERE changes() = 0";
const CONFLICT_MESSAGE = "edgemem: write conflict";

/**
 * Export and import of a tenant's records (service/ports.ts `ExportStore`): pages in each kind's
 * key order (keyset: a page costs O(page) however deep), and the rows of an import written as
 * they were exported. Keys are the records' own ids, never row ids, so a cursor stays valid
 * when the tenant moves to another shard.
 */
export class ExportRepo {
  constructor(private readonly dbs: TenantDb) {}

  /** Up to `limit` records of `after.kind` after `after.key`, in key order; live memories and sessions only. */
  async page(tenant: string, after: ExportPosition, limit: number, now: number): Promise<ExportRecord[]> {
    const db = await this.dbs.of(tenant);
    const key = after.key ?? "";
    switch (after.kind) {
      case "memory": {
        const { results } = await db
          .prepare(
            `${SELECT_MEMORY} WHERE m.tenant = ?1 AND (m.expires_at IS NULL OR m.expires_at > ?2) AND m.id > ?3 ORDER BY m.id LIMIT ?4`,
          )
          .bind(tenant, now, key, limit)
          .all<Row>();
        return results.map((r) => ({ type: "memory", ...memoryRecord(memoryFromRow(r)) }));
      }
      case "history":
        return this.historyPage(db, tenant, after, limit);
      case "entity": {
        const { results } = await db
          .prepare("SELECT * FROM entities WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?")
          .bind(tenant, key, limit)
          .all<Row>();
        return results.map(entityOf);
      }
      case "relation": {
        const { results } = await db
          .prepare(`${SELECT_RELATION} WHERE r.tenant = ? AND r.id > ? ORDER BY r.id LIMIT ?`)
          .bind(tenant, key, limit)
          .all<Row>();
        return results.map(relationOf);
      }
      case "session": {
        const { results } = await db
          .prepare(
            "SELECT * FROM working_memory WHERE tenant = ? AND (expires_at IS NULL OR expires_at > ?) AND session_id > ? ORDER BY session_id LIMIT ?",
          )
          .bind(tenant, now, key, limit)
          .all<Row>();
        return results.map(sessionOf);
      }
      case "feedback": {
        const { results } = await db
          .prepare("SELECT * FROM feedback WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?")
          .bind(tenant, key, limit)
          .all<Row>();
        return results.map(feedbackOf);
      }
    }
  }

  /**
   * History in (memory id, write order). `n` is counted here: the page starts right after entry
   * `after.n` of memory `after.key` (its row found by that place, so the cursor holds no row id).
   */
  private async historyPage(db: Db, tenant: string, after: ExportPosition, limit: number): Promise<ExportRecord[]> {
    const { results } = await db
      .prepare(
        `SELECT memory_id, op, actor, at, reason, before, after FROM memory_history
         WHERE tenant = ?1 AND (memory_id, hid) > (?2, ifnull(
           (SELECT hid FROM memory_history WHERE tenant = ?1 AND memory_id = ?2 ORDER BY hid LIMIT 1 OFFSET ?3), -1))
         ORDER BY memory_id, hid LIMIT ?4`,
      )
      .bind(tenant, after.key ?? "", after.n ?? 0, limit)
      .all<Row>();
    let memory = after.key;
    let n = after.key === null ? -1 : (after.n ?? -1);
    return results.map((r): ExportRecord => {
      const id = String(r.memory_id);
      n = id === memory ? n + 1 : 0;
      memory = id;
      return {
        type: "history",
        memory_id: id,
        n,
        op: r.op as HistoryRecord["op"],
        actor: String(r.actor),
        at: Number(r.at),
        reason: (r.reason as string | null) ?? null,
        before: snapshot(r.before, "memory_history.before"),
        after: snapshot(r.after, "memory_history.after"),
      };
    });
  }

  /** The stored records of a kind with any of the keys (ids; session ids), as an export would write them. */
  async existing(tenant: string, kind: RowKind, keys: string[], now: number): Promise<RowRecord[]> {
    const db = await this.dbs.of(tenant);
    if (!keys.length) return [];
    const ids = jsonList([...new Set(keys)]);
    switch (kind) {
      case "entity": {
        const { results } = await db
          .prepare(`SELECT * FROM entities WHERE tenant = ? AND id IN ${IN_JSON}`)
          .bind(tenant, ids)
          .all<Row>();
        return results.map(entityOf);
      }
      case "relation": {
        const { results } = await db
          .prepare(`${SELECT_RELATION} WHERE r.tenant = ? AND r.id IN ${IN_JSON}`)
          .bind(tenant, ids)
          .all<Row>();
        return results.map(relationOf);
      }
      case "session": {
        // An expired session is absent (an import replaces it), as it is to every read.
        const { results } = await db
          .prepare(
            `SELECT * FROM working_memory WHERE tenant = ? AND session_id IN ${IN_JSON} AND (expires_at IS NULL OR expires_at > ?)`,
          )
          .bind(tenant, ids, now)
          .all<Row>();
        return results.map(sessionOf);
      }
      case "feedback": {
        const { results } = await db
          .prepare(`SELECT * FROM feedback WHERE tenant = ? AND id IN ${IN_JSON}`)
          .bind(tenant, ids)
          .all<Row>();
        return results.map(feedbackOf);
      }
    }
  }

  /**
   * Inserts records in one transaction (nothing written if any fails). A record whose key (or an
   * entity's name) another row holds is a `conflict`, naming the record.
   */
  async insert(tenant: string, records: RowRecord[], now: number): Promise<void> {
    const db = await this.dbs.of(tenant);
    if (!records.length) return;
    try {
      await db.batch(records.flatMap((r) => insertStatements(db, tenant, r, now)));
    } catch (e) {
      const message = errorMessage(e);
      if (message.includes(UNIQUE) || message.includes(CONFLICT_MESSAGE)) {
        const what = records.length === 1 ? describe(records[0]!) : "one of the records";
        // An entity's name is unique in a tenant (migration 0003's entities_name index) as its id is.
        const field = /entities\.name_key|entities_name/.test(message)
          ? "name"
          : records[0]?.type === "session"
            ? "session_id"
            : "id";
        const text = `${what} clashes with a stored one (same ${field === "name" ? "name" : "id"})`;
        throw new AppError({ code: "conflict", clash: "key" }, text, [{ field, message: text }]);
      }
      throw e;
    }
  }

  /**
   * Appends history entries, each only at its place (`n`) in its memory's history, in one
   * transaction; an entry already there (identical: `unchanged`, else `conflict`) or with
   * earlier entries missing (`gap`) is not written.
   */
  async appendHistory(tenant: string, entries: HistoryRecord[]): Promise<HistoryOutcome[]> {
    const db = await this.dbs.of(tenant);
    if (!entries.length) return [];
    // An entry too large for a D1 row is refused on its own (`too_large`); the others go on.
    const values = entries.map((h) => {
      try {
        return checkRowSize(
          [
            tenant,
            h.memory_id,
            h.op,
            h.actor,
            h.at,
            h.reason,
            h.before ? JSON.stringify({ ...h.before, tenant }) : null,
            h.after ? JSON.stringify({ ...h.after, tenant }) : null,
          ],
          `history entry ${h.n} of memory ${h.memory_id}`,
        );
      } catch (e) {
        if (e instanceof AppError) return null;
        throw e;
      }
    });
    const writable = entries.flatMap((_, i) => (values[i] ? [i] : []));
    const results = writable.length
      ? await db.batch(
          writable.map((i) =>
            db
              .prepare(
                `INSERT INTO memory_history (tenant, memory_id, op, actor, at, reason, before, after)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
                 WHERE (SELECT count(*) FROM memory_history WHERE tenant = ?1 AND memory_id = ?2) = ?9`,
              )
              .bind(...values[i]!, entries[i]!.n),
          ),
        )
      : [];
    const outcomes: HistoryOutcome[] = entries.map(() => "too_large");
    writable.forEach((i, j) => (outcomes[i] = results[j]!.meta.changes > 0 ? "imported" : "gap"));
    const skipped = entries.flatMap((_, i) => (outcomes[i] === "gap" ? [i] : []));
    if (!skipped.length) return outcomes;
    const stored = await db.batch<Row>(
      skipped.map((i) =>
        db
          .prepare(
            "SELECT op, actor, at, reason, before, after FROM memory_history WHERE tenant = ? AND memory_id = ? ORDER BY hid LIMIT 1 OFFSET ?",
          )
          .bind(tenant, entries[i]!.memory_id, entries[i]!.n),
      ),
    );
    skipped.forEach((i, j) => {
      const row = stored[j]!.results[0];
      if (!row) return;
      const h = entries[i]!;
      const there = {
        op: row.op,
        actor: row.actor,
        at: Number(row.at),
        reason: row.reason ?? null,
        before: snapshot(row.before, "memory_history.before"),
        after: snapshot(row.after, "memory_history.after"),
      };
      const { memory_id: _id, n: _n, type: _type, ...mine } = h as HistoryRecord & { type?: "history" };
      outcomes[i] = sameRecord(there, mine) ? "unchanged" : "conflict";
    });
    return outcomes;
  }
}

function describe(r: RowRecord): string {
  return r.type === "session" ? `session ${r.session_id}` : `${r.type} ${r.id}`;
}

function insertStatements(db: Db, tenant: string, r: RowRecord, now: number): D1PreparedStatement[] {
  switch (r.type) {
    case "entity":
      return [
        db
          .prepare(
            "INSERT INTO entities (tenant, id, name, name_key, type, aliases, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          )
          .bind(
            tenant,
            r.id,
            r.name,
            nameKey(r.name),
            r.entity_type,
            JSON.stringify(r.aliases),
            r.created_at,
            r.updated_at,
          ),
        db
          .prepare(
            "INSERT INTO entity_names (tenant, name_key, entity_id) SELECT ?1, value, ?2 FROM json_each(?3) WHERE true ON CONFLICT DO NOTHING",
          )
          .bind(tenant, r.id, JSON.stringify([...new Set([r.name, ...r.aliases].map(nameKey))])),
      ];
    case "relation":
      return [
        db
          .prepare(
            `INSERT INTO relations (tenant, id, subject_id, predicate, object_id, source_memory_id, confidence, valid_from, valid_to, created_at, namespace, user_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .bind(
            tenant,
            r.id,
            r.subject_id,
            r.predicate,
            r.object_id,
            r.source_memory_id,
            r.confidence,
            r.valid_from,
            r.valid_to,
            r.created_at,
            r.namespace,
            r.user_id,
          ),
        db
          .prepare(
            "INSERT INTO relation_sources (tenant, relation_id, memory_id) SELECT ?1, ?2, value FROM json_each(?3) WHERE true ON CONFLICT DO NOTHING",
          )
          .bind(tenant, r.id, JSON.stringify(r.sources)),
      ];
    case "session": {
      // Replaces an expired row of the same id (reads treat it as absent), never a live one.
      const values = checkRowSize(
        [
          tenant,
          r.session_id,
          r.namespace,
          r.user_id,
          JSON.stringify(r.messages),
          JSON.stringify(r.memories.map((m) => ({ ...m, tenant }))),
          r.context,
          r.data === null ? null : JSON.stringify(r.data),
          JSON.stringify(r.long_term_memory_strategy),
          r.tokens,
          r.ttl_seconds,
          r.expires_at,
          r.created_at,
          r.updated_at,
          r.last_accessed,
        ],
        `session ${r.session_id}`,
      );
      return [
        db
          .prepare(
            `INSERT INTO working_memory (tenant, session_id, namespace, user_id, messages, memories, context, data,
               long_term_memory_strategy, tokens, ttl_seconds, expires_at, created_at, updated_at, last_accessed, version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1)
             ON CONFLICT (tenant, session_id) DO UPDATE SET namespace = excluded.namespace, user_id = excluded.user_id,
               messages = excluded.messages, memories = excluded.memories, context = excluded.context, data = excluded.data,
               long_term_memory_strategy = excluded.long_term_memory_strategy, tokens = excluded.tokens,
               ttl_seconds = excluded.ttl_seconds, expires_at = excluded.expires_at, created_at = excluded.created_at,
               updated_at = excluded.updated_at, last_accessed = excluded.last_accessed, version = working_memory.version + 1
             WHERE working_memory.expires_at IS NOT NULL AND working_memory.expires_at <= ?16`,
          )
          .bind(...values, now),
        // A live session of that id (a writer came first): the upsert changed nothing, so abort the batch.
        db.prepare(GUARD),
      ];
    }
    case "feedback":
      return [
        db
          .prepare(
            `INSERT INTO feedback (tenant, id, memory_id, rating, comment, actor, at, confidence_before, confidence_after)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .bind(tenant, r.id, r.memory_id, r.rating, r.comment, r.actor, r.at, r.confidence_before, r.confidence_after),
      ];
  }
}

function snapshot(v: unknown, what: string): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  const parsed = parseStoredJson<Record<string, unknown> | null>(v, null, what);
  return parsed && typeof parsed === "object" ? withoutTenant(parsed) : null;
}

function entityOf(r: Row): { type: "entity" } & EntityRecord {
  const { type, ...entity } = entityFromRow(r);
  return { type: "entity", ...entity, entity_type: type };
}

function relationOf(r: Row): { type: "relation" } & RelationRecord {
  return {
    type: "relation",
    ...relationFromRow(r),
    created_at: Number(r.created_at),
    namespace: (r.namespace as string | null) ?? null,
    user_id: (r.user_id as string | null) ?? null,
    sources: parseStoredJson<string[]>(r.sources, [], "relation_sources"),
  };
}

function sessionOf(r: Row): { type: "session" } & SessionRecord {
  return {
    type: "session",
    session_id: String(r.session_id),
    namespace: (r.namespace as string | null) ?? null,
    user_id: (r.user_id as string | null) ?? null,
    messages: parseStoredJson<SessionRecord["messages"]>(r.messages, [], "working_memory.messages"),
    memories: parseStoredJson<Record<string, unknown>[]>(r.memories, [], "working_memory.memories").map(withoutTenant),
    context: (r.context as string | null) ?? null,
    data: r.data === null ? null : parseStoredJson<Record<string, unknown> | null>(r.data, null, "working_memory.data"),
    long_term_memory_strategy: parseStoredJson<Record<string, unknown>>(
      r.long_term_memory_strategy,
      {},
      "working_memory.long_term_memory_strategy",
    ),
    tokens: Number(r.tokens),
    ttl_seconds: r.ttl_seconds === null ? null : Number(r.ttl_seconds),
    expires_at: r.expires_at === null ? null : Number(r.expires_at),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
    last_accessed: Number(r.last_accessed),
  };
}

function feedbackOf(r: Row): { type: "feedback" } & FeedbackRecord {
  return {
    type: "feedback",
    id: String(r.id),
    memory_id: String(r.memory_id),
    rating: r.rating as FeedbackRecord["rating"],
    comment: (r.comment as string | null) ?? null,
    actor: String(r.actor),
    at: Number(r.at),
    confidence_before: Number(r.confidence_before),
    confidence_after: Number(r.confidence_after),
  };
}
