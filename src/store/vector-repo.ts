import { tenantOrSweep, unfenced, type Db, type TenantDb } from "./databases.ts";
import { sha256Hex } from "../domain/ids.ts";
import type { Memory } from "../domain/memory.ts";
import type { VectorWrite } from "../domain/writes.ts";

/** A vector row as the indexes read it. */
export interface VectorRow {
  vseq: number;
  memory_id: string;
  vector_id: string;
  model: string;
  vector: Float32Array;
  namespace: string | null;
  user_id: string | null;
  session_id: string | null;
  memory_type: string;
  state: "pending" | "sent" | "indexed";
  sent_at: number | null;
}

const ROW_COLUMNS =
  "vseq, memory_id, vector_id, model, vector, namespace, user_id, session_id, memory_type, state, sent_at";

/**
 * The Vectorize id of a memory: unique across tenants (hashed, so any tenant and id fit in 64 bytes).
 * The pair is encoded unambiguously: with a separator, tenant `v2` + id `ww\0zz` and tenant
 * `v2\0ww` + id `zz` hashed alike.
 */
async function vectorId(tenant: string, id: string): Promise<string> {
  const hex = await sha256Hex(JSON.stringify([tenant, id]));
  return hex.slice(0, 48);
}

/**
 * The statements that keep `memory_vectors` in step with a memory write; they run in the same
 * D1 batch as the memory row. Every rewrite is INSERT OR REPLACE, which deletes and re-inserts,
 * so `vseq` grows on every change: the D1 index's in-isolate cache loads only rows past the last
 * vseq it has seen. With a remote index, rows start 'pending' and deletions are queued.
 */
export async function vectorStatements(
  db: Db,
  m: Memory,
  write: VectorWrite,
  remoteIndex: boolean,
  now: number,
): Promise<D1PreparedStatement[]> {
  const state = remoteIndex ? "pending" : "indexed";
  switch (write.kind) {
    case "keep":
      return [];
    case "set": {
      const id = await vectorId(m.tenant, m.id);
      const stmts: D1PreparedStatement[] = [];
      if (remoteIndex) {
        // A vector written under an earlier id scheme is removed from the remote index.
        stmts.push(
          db
            .prepare(
              "INSERT OR IGNORE INTO vector_deletes (vector_id, tenant, created_at) SELECT vector_id, tenant, ? FROM memory_vectors WHERE tenant = ? AND memory_id = ? AND vector_id != ?",
            )
            .bind(now, m.tenant, m.id, id),
        );
      }
      stmts.push(
        db
          .prepare(
            `INSERT OR REPLACE INTO memory_vectors (tenant, memory_id, vector_id, model, dims, vector, namespace, user_id, session_id, memory_type, state, written_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .bind(
            m.tenant,
            m.id,
            id,
            write.model,
            write.vector.length,
            encodeVector(write.vector),
            m.namespace,
            m.user_id,
            m.session_id,
            m.memory_type,
            state,
            now,
          ),
      );
      return stmts;
    }
    case "refresh":
      return [
        db
          .prepare(
            `INSERT OR REPLACE INTO memory_vectors (tenant, memory_id, vector_id, model, dims, vector, namespace, user_id, session_id, memory_type, state, written_at)
             SELECT tenant, memory_id, vector_id, model, dims, vector, ?, ?, ?, ?, ?, ? FROM memory_vectors WHERE tenant = ? AND memory_id = ?`,
          )
          .bind(m.namespace, m.user_id, m.session_id, m.memory_type, state, now, m.tenant, m.id),
      ];
    case "drop": {
      const stmts: D1PreparedStatement[] = [];
      if (remoteIndex) {
        stmts.push(
          db
            .prepare(
              "INSERT OR IGNORE INTO vector_deletes (vector_id, tenant, created_at) SELECT vector_id, tenant, ? FROM memory_vectors WHERE tenant = ? AND memory_id = ?",
            )
            .bind(now, m.tenant, m.id),
        );
      }
      stmts.push(
        db
          .prepare(
            `INSERT INTO vector_epochs (tenant, deletes) SELECT ?1, 1 FROM memory_vectors WHERE tenant = ?1 AND memory_id = ?2
             ON CONFLICT (tenant) DO UPDATE SET deletes = deletes + 1`,
          )
          .bind(m.tenant, m.id),
      );
      stmts.push(db.prepare("DELETE FROM memory_vectors WHERE tenant = ? AND memory_id = ?").bind(m.tenant, m.id));
      return stmts;
    }
  }
}

/** Reads of `memory_vectors` and the Vectorize outbox. */
export class VectorRepo {
  constructor(private readonly dbs: TenantDb) {}

  /**
   * The cache's freshness check, two index lookups: the highest vseq of a tenant's vectors of one
   * model (new or rewritten rows lie past it) and the tenant's vector-deletion counter.
   */
  async stats(tenant: string, model: string): Promise<{ maxVseq: number; deletes: number }> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(
        `SELECT (SELECT ifnull(max(vseq), 0) FROM memory_vectors WHERE tenant = ?1 AND model = ?2) AS max_vseq,
                (SELECT ifnull(max(deletes), 0) FROM vector_epochs WHERE tenant = ?1) AS deletes`,
      )
      .bind(tenant, model)
      .first<{ max_vseq: number; deletes: number }>();
    return { maxVseq: row?.max_vseq ?? 0, deletes: row?.deletes ?? 0 };
  }

  /**
   * A tenant's rows of one model past `vseq`, oldest first: at most `limit`, so that a big tenant
   * is read in pages (D1 returns at most 50 MB per query, and the rows must fit the isolate).
   */
  async rowsSince(tenant: string, model: string, vseq: number, limit: number): Promise<VectorRow[]> {
    const db = await this.dbs.of(tenant);
    const { results } = await db
      .prepare(
        `SELECT ${ROW_COLUMNS} FROM memory_vectors WHERE tenant = ? AND model = ? AND vseq > ? ORDER BY vseq LIMIT ?`,
      )
      .bind(tenant, model, vseq, limit)
      .all<Record<string, unknown>>();
    return results.map(fromRow);
  }

  /** A tenant's memory ids with vectors of one model, and the highest vseq among them (the snapshot's point). */
  async memoryIds(tenant: string, model: string): Promise<{ ids: string[]; asOf: number }> {
    const db = await this.dbs.of(tenant);
    const { results } = await db
      .prepare("SELECT memory_id, vseq FROM memory_vectors WHERE tenant = ? AND model = ?")
      .bind(tenant, model)
      .all<{ memory_id: string; vseq: number }>();
    return { ids: results.map((r) => r.memory_id), asOf: results.reduce((max, r) => Math.max(max, r.vseq), 0) };
  }

  /** Rows a remote index may not serve yet (pending or sent, not confirmed). */
  async unconfirmed(tenant: string, model: string): Promise<VectorRow[]> {
    const db = await this.dbs.of(tenant);
    const { results } = await db
      // The partial index of unconfirmed rows, not (tenant, model): the planner (no statistics)
      // picks the two-column equality and reads every vector of the tenant (10,001 rows at 10k).
      .prepare(
        `SELECT ${ROW_COLUMNS} FROM memory_vectors INDEXED BY memory_vectors_unconfirmed WHERE tenant = ? AND model = ? AND state != 'indexed'`,
      )
      .bind(tenant, model)
      .all<Record<string, unknown>>();
    return results.map(fromRow);
  }

  async countUnconfirmed(tenant: string): Promise<number> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(
        "SELECT count(*) AS n FROM memory_vectors INDEXED BY memory_vectors_unconfirmed WHERE tenant = ? AND state != 'indexed'",
      )
      .bind(tenant)
      .first<{ n: number }>();
    return row?.n ?? 0;
  }

  /** Rows of any tenant still to be sent (pending), or sent so long ago that they may have been lost. */
  async toSend(olderThan: number, limit: number): Promise<(VectorRow & { tenant: string })[]> {
    const db = this.dbs.sweep();
    const { results } = await db
      .prepare(
        `SELECT tenant, ${ROW_COLUMNS} FROM memory_vectors WHERE state = 'pending' AND written_at <= ? AND ${unfenced()} ORDER BY written_at LIMIT ?`,
      )
      .bind(olderThan, limit)
      .all<Record<string, unknown>>();
    return results.map((r) => ({ ...fromRow(r), tenant: String(r.tenant) }));
  }

  async rowsFor(tenant: string, memoryIds: string[]): Promise<VectorRow[]> {
    const db = await this.dbs.of(tenant);
    const { results } = await db
      .prepare(
        `SELECT ${ROW_COLUMNS} FROM memory_vectors WHERE tenant = ? AND memory_id IN (SELECT value FROM json_each(?))`,
      )
      .bind(tenant, JSON.stringify(memoryIds))
      .all<Record<string, unknown>>();
    return results.map(fromRow);
  }

  /** Maps Vectorize ids back to memory ids (dropping ids whose memory is gone). */
  async memoryIdsForVectorIds(tenant: string, vectorIds: string[]): Promise<Map<string, string>> {
    const db = await this.dbs.of(tenant);
    if (!vectorIds.length) return new Map();
    const { results } = await db
      .prepare(
        // `+tenant`: looked up by the unique vector_id index, not by scanning the tenant's rows.
        "SELECT vector_id, memory_id FROM memory_vectors WHERE +tenant = ? AND vector_id IN (SELECT value FROM json_each(?))",
      )
      .bind(tenant, JSON.stringify(vectorIds))
      .all<{ vector_id: string; memory_id: string }>();
    return new Map(results.map((r) => [r.vector_id, r.memory_id]));
  }

  /** Marks rows as acknowledged by the remote index — only if they were not rewritten meanwhile. */
  async markSent(tenant: string, rows: { vseq: number }[], at: number, mutationId: string | null): Promise<void> {
    const db = await this.dbs.of(tenant);
    if (!rows.length) return;
    await db
      .prepare(
        `UPDATE memory_vectors SET state = 'sent', sent_at = ?, mutation_id = ?
         WHERE +tenant = ? AND state = 'pending' AND vseq IN (SELECT value FROM json_each(?))`,
      )
      .bind(at, mutationId, tenant, JSON.stringify(rows.map((r) => r.vseq)))
      .run();
  }

  /**
   * Confirms rows the remote index has processed: those of the named mutation, and every row
   * acknowledged before `processedBefore` (the index processes mutations in order).
   */
  async confirm(mutationId: string | null, processedBefore: number, tenant?: string): Promise<number> {
    const db = await tenantOrSweep(this.dbs, tenant);
    const res = await db
      // `state != 'indexed'` lets the partial index of unconfirmed rows serve it (not a table scan).
      .prepare(
        `UPDATE memory_vectors SET state = 'indexed' WHERE state = 'sent' AND state != 'indexed' AND (mutation_id = ? OR sent_at <= ?) AND ${unfenced()}`,
      )
      .bind(mutationId, processedBefore)
      .run();
    return res.meta.changes ?? 0;
  }

  /** Queued Vectorize deletions, oldest first (of one tenant, or all). */
  async pendingDeletes(limit: number, tenant?: string): Promise<{ vector_id: string; tenant: string }[]> {
    const db = await tenantOrSweep(this.dbs, tenant);
    const { results } = await db
      .prepare(
        `SELECT vector_id, tenant FROM vector_deletes WHERE ${tenant ? "tenant = ?" : unfenced()} ORDER BY created_at LIMIT ?`,
      )
      .bind(...(tenant ? [tenant, limit] : [limit]))
      .all<{ vector_id: string; tenant: string }>();
    return results;
  }

  async clearDeletes(vectorIds: string[], tenant?: string): Promise<void> {
    if (!vectorIds.length) return;
    const db = await tenantOrSweep(this.dbs, tenant);
    await db
      .prepare("DELETE FROM vector_deletes WHERE vector_id IN (SELECT value FROM json_each(?))")
      .bind(JSON.stringify(vectorIds))
      .run();
  }
}

/** A vector as stored: base64 of its little-endian float32 bytes. */
export function encodeVector(v: Float32Array): string {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function decodeVector(stored: unknown): Float32Array {
  if (typeof stored !== "string") throw new Error("vector column is not base64 text");
  const binary = atob(stored);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

function fromRow(r: Record<string, unknown>): VectorRow {
  return {
    vseq: Number(r.vseq),
    memory_id: String(r.memory_id),
    vector_id: String(r.vector_id),
    model: String(r.model),
    vector: decodeVector(r.vector),
    namespace: (r.namespace as string | null) ?? null,
    user_id: (r.user_id as string | null) ?? null,
    session_id: (r.session_id as string | null) ?? null,
    memory_type: String(r.memory_type),
    state: r.state as VectorRow["state"],
    sent_at: r.sent_at === null ? null : Number(r.sent_at),
  };
}
