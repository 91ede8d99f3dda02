import { unfenced, type TenantDb } from "./databases.ts";
import type { Memory } from "../domain/memory.ts";
import {
  DEFAULT_STRATEGY,
  type Session,
  type SessionListOptions,
  type SessionMessage,
  type SessionPage,
} from "../domain/session.ts";
import { parseStoredJson } from "../domain/stored-values.ts";
import { checkRowSize } from "./d1-limits.ts";

type Row = Record<string, unknown>;

const COLUMNS = [
  "tenant",
  "session_id",
  "namespace",
  "user_id",
  "messages",
  "memories",
  "context",
  "data",
  "long_term_memory_strategy",
  "tokens",
  "ttl_seconds",
  "expires_at",
  "created_at",
  "updated_at",
  "last_accessed",
] as const;

const LIVE = "(expires_at IS NULL OR expires_at > ?)";
/** In an upsert: the row being replaced had expired, so the write starts a new session. */
const EXPIRED = "working_memory.expires_at IS NOT NULL AND working_memory.expires_at <= excluded.updated_at";

/** D1 repository for working-memory sessions (one row per session, transcript as JSON). */
export class SessionRepo {
  constructor(private readonly dbs: TenantDb) {}

  /** A live (unexpired) session. */
  async get(tenant: string, sessionId: string, now: number): Promise<Session | null> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(`SELECT * FROM working_memory WHERE tenant = ? AND session_id = ? AND ${LIVE}`)
      .bind(tenant, sessionId, now)
      .first<Row>();
    return row ? fromRow(row) : null;
  }

  /**
   * Replaces a session (creating it if needed) in one statement; returns its new version (1 for
   * a new session, including one replacing an expired row) and its creation time.
   */
  async put(s: Omit<Session, "version">, tokens: number): Promise<{ version: number; created_at: number }> {
    const db = await this.dbs.of(s.tenant);
    const values = toRow(s, tokens);
    const row = await db
      .prepare(
        `INSERT INTO working_memory (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})
         ON CONFLICT (tenant, session_id) DO UPDATE SET
           ${COLUMNS.filter((c) => c !== "tenant" && c !== "session_id" && c !== "created_at")
             .map((c) => `${c} = excluded.${c}`)
             .join(", ")},
           created_at = CASE WHEN ${EXPIRED} THEN excluded.created_at ELSE working_memory.created_at END,
           version = CASE WHEN ${EXPIRED} THEN 1 ELSE working_memory.version + 1 END
         RETURNING version, created_at`,
      )
      .bind(...values)
      .first<{ version: number; created_at: number }>();
    return { version: row!.version, created_at: row!.created_at };
  }

  /**
   * Compare-and-set replacement: writes the session only if it is still as read — `expected`
   * (its version and creation time), or, for null, absent (or expired). Returns the new version
   * and creation time, or null (nothing written) when another write came first.
   */
  async replaceIf(
    s: Omit<Session, "version">,
    tokens: number,
    expected: Pick<Session, "version" | "created_at"> | null,
  ): Promise<{ version: number; created_at: number } | null> {
    const db = await this.dbs.of(s.tenant);
    const values = toRow(s, tokens);
    const mutable = COLUMNS.filter((c) => c !== "tenant" && c !== "session_id" && c !== "created_at");
    const statement = expected
      ? db
          .prepare(
            `UPDATE working_memory SET ${mutable.map((c) => `${c} = ?`).join(", ")}, version = version + 1
             WHERE tenant = ? AND session_id = ? AND version = ? AND created_at = ? AND ${LIVE}
             RETURNING version, created_at`,
          )
          .bind(
            ...mutable.map((c) => values[COLUMNS.indexOf(c)]),
            s.tenant,
            s.session_id,
            expected.version,
            expected.created_at,
            s.updated_at,
          )
      : db
          .prepare(
            `INSERT INTO working_memory (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})
             ON CONFLICT (tenant, session_id) DO UPDATE SET
               ${COLUMNS.filter((c) => c !== "tenant" && c !== "session_id")
                 .map((c) => `${c} = excluded.${c}`)
                 .join(", ")}, version = 1
             WHERE ${EXPIRED}
             RETURNING version, created_at`,
          )
          .bind(...values);
    return (await statement.first<{ version: number; created_at: number }>()) ?? null;
  }

  /**
   * Records that memories were promoted to long-term memory, only if the session is still the
   * one (creation time) and version the promotion read (a newer write promotes its own memories).
   */
  async setMemories(
    s: Pick<Session, "tenant" | "session_id" | "version" | "created_at">,
    memories: Memory[],
  ): Promise<boolean> {
    const db = await this.dbs.of(s.tenant);
    // A write like any other: it bumps the version, so an append that read the session before it
    // cannot write the old, unpromoted memories back.
    const res = await db
      .prepare(
        "UPDATE working_memory SET memories = ?, version = version + 1 WHERE tenant = ? AND session_id = ? AND version = ? AND created_at = ?",
      )
      .bind(JSON.stringify(memories), s.tenant, s.session_id, s.version, s.created_at)
      .run();
    return res.meta.changes > 0;
  }

  /** Deletes a session; returns it if it existed (and had not expired). */
  async delete(tenant: string, sessionId: string, now: number): Promise<Session | null> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(`DELETE FROM working_memory WHERE tenant = ? AND session_id = ? RETURNING *`)
      .bind(tenant, sessionId)
      .first<Row>();
    if (!row) return null;
    const s = fromRow(row);
    return s.expires_at !== null && s.expires_at <= now ? null : s;
  }

  /**
   * Live session ids, most recently written first, with the total count: after `opts.after`
   * (keyset, on the index working_memory_recent) or after `offset` sessions (each read and skipped).
   */
  async list(tenant: string, now: number, opts: SessionListOptions): Promise<SessionPage> {
    const db = await this.dbs.of(tenant);
    let where = `tenant = ? AND ${LIVE}`;
    const params: unknown[] = [tenant, now];
    if (opts.namespace !== undefined) {
      where += " AND namespace = ?";
      params.push(opts.namespace);
    }
    if (opts.user_id !== undefined) {
      where += " AND user_id = ?";
      params.push(opts.user_id);
    }
    // Newest first, ties by id ascending: no row value says that order, so the key is spelt out
    // (the first term bounds the index range, the second skips the ties already shown).
    const after = opts.after ? " AND updated_at <= ? AND (updated_at < ? OR session_id > ?)" : "";
    const [page, count] = await db.batch<Row>([
      db
        .prepare(
          `SELECT session_id, updated_at FROM working_memory WHERE ${where}${after}
           ORDER BY updated_at DESC, session_id LIMIT ? OFFSET ?`,
        )
        .bind(
          ...params,
          ...(opts.after ? [opts.after.at, opts.after.at, opts.after.id] : []),
          opts.limit + 1,
          opts.offset,
        ),
      db.prepare(`SELECT count(*) AS n FROM working_memory WHERE ${where}`).bind(...params),
    ]);
    const rows = page!.results;
    const last = rows.length > opts.limit ? rows[opts.limit - 1] : undefined;
    return {
      sessions: rows.slice(0, opts.limit).map((r) => String(r.session_id)),
      total: Number(count!.results[0]?.n ?? 0),
      next: last ? { at: Number(last.updated_at), id: String(last.session_id) } : null,
    };
  }

  /** Rate-limited last_accessed update. */
  async touch(tenant: string, sessionId: string, now: number, minIntervalMs: number): Promise<void> {
    const db = await this.dbs.of(tenant);
    await db
      .prepare("UPDATE working_memory SET last_accessed = ? WHERE tenant = ? AND session_id = ? AND last_accessed < ?")
      .bind(now, tenant, sessionId, now - minIntervalMs)
      .run();
  }

  /** Deletes expired sessions of any tenant (at most `limit`); returns them. */
  async deleteExpired(now: number, limit: number): Promise<Session[]> {
    const db = this.dbs.sweep();
    const { results } = await db
      .prepare(
        `DELETE FROM working_memory WHERE (tenant, session_id) IN
           (SELECT tenant, session_id FROM working_memory WHERE expires_at IS NOT NULL AND expires_at <= ? AND ${unfenced()} LIMIT ?)
         RETURNING *`,
      )
      .bind(now, limit)
      .all<Row>();
    return results.map(fromRow);
  }
}

function toRow(s: Omit<Session, "version">, tokens: number): unknown[] {
  // Appends (SYMindX conversations) grow a session with summarization off: refuse, never a D1 error.
  return checkRowSize(
    [
      s.tenant,
      s.session_id,
      s.namespace,
      s.user_id,
      JSON.stringify(s.messages),
      JSON.stringify(s.memories),
      s.context,
      s.data === null ? null : JSON.stringify(s.data),
      JSON.stringify(s.long_term_memory_strategy),
      tokens,
      s.ttl_seconds,
      s.expires_at,
      s.created_at,
      s.updated_at,
      s.last_accessed,
    ],
    `session ${s.session_id}`,
  );
}

function fromRow(r: Row): Session {
  return {
    tenant: String(r.tenant),
    session_id: String(r.session_id),
    namespace: (r.namespace as string | null) ?? null,
    user_id: (r.user_id as string | null) ?? null,
    messages: parseStoredJson<SessionMessage[]>(r.messages, [], "working_memory.messages"),
    memories: parseStoredJson<Memory[]>(r.memories, [], "working_memory.memories"),
    context: (r.context as string | null) ?? null,
    data: r.data === null ? null : parseStoredJson<Record<string, unknown> | null>(r.data, null, "working_memory.data"),
    long_term_memory_strategy: parseStoredJson<Record<string, unknown>>(
      r.long_term_memory_strategy,
      { ...DEFAULT_STRATEGY },
      "working_memory.long_term_memory_strategy",
    ),
    ttl_seconds: r.ttl_seconds === null ? null : Number(r.ttl_seconds),
    expires_at: r.expires_at === null ? null : Number(r.expires_at),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
    last_accessed: Number(r.last_accessed),
    version: Number(r.version),
  };
}
