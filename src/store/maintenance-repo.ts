import { unfenced, type TenantDb } from "./databases.ts";
import type { ConsolidationCursor, ConsolidationResult } from "../domain/consolidation.ts";
import type { StoredCounts } from "../domain/stats.ts";
import { parseStoredJson } from "../domain/stored-values.ts";

type Row = Record<string, unknown>;

/**
 * D1 repository for negative-feedback counts (feedback rows are written as a `feedback` intent,
 * store/intents.ts), the per-tenant consolidation state, and statistics.
 */
export class MaintenanceRepo {
  constructor(private readonly dbs: TenantDb) {}

  async negativeFeedback(tenant: string, memoryId: string): Promise<number> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare("SELECT count(*) AS n FROM feedback WHERE tenant = ? AND memory_id = ? AND rating = 'negative'")
      .bind(tenant, memoryId)
      .first<{ n: number }>();
    return row?.n ?? 0;
  }

  async get(tenant: string): Promise<{ cursor: ConsolidationCursor; last: number | null }> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(
        "SELECT consolidation_cursor, consolidation_cursor_id, last_consolidation FROM maintenance WHERE tenant = ?",
      )
      .bind(tenant)
      .first<Row>();
    return {
      cursor: { at: Number(row?.consolidation_cursor ?? 0), id: String(row?.consolidation_cursor_id ?? "") },
      last: row?.last_consolidation == null ? null : Number(row.last_consolidation),
    };
  }

  /** Moves the consolidation cursor forward (never back). */
  async advance(tenant: string, c: ConsolidationCursor): Promise<void> {
    const db = await this.dbs.of(tenant);
    await db
      .prepare(
        `INSERT INTO maintenance (tenant, consolidation_cursor, consolidation_cursor_id) VALUES (?, ?, ?)
         ON CONFLICT (tenant) DO UPDATE SET consolidation_cursor = excluded.consolidation_cursor, consolidation_cursor_id = excluded.consolidation_cursor_id
         WHERE (excluded.consolidation_cursor, excluded.consolidation_cursor_id) > (consolidation_cursor, consolidation_cursor_id)`,
      )
      .bind(tenant, c.at, c.id)
      .run();
  }

  /** Records a consolidation pass: when it ran and what it did. */
  async finish(tenant: string, at: number, result: ConsolidationResult): Promise<void> {
    const db = await this.dbs.of(tenant);
    await db
      .prepare(
        `INSERT INTO maintenance (tenant, last_consolidation, last_result) VALUES (?, ?, ?)
         ON CONFLICT (tenant) DO UPDATE SET last_consolidation = excluded.last_consolidation, last_result = excluded.last_result`,
      )
      .bind(tenant, at, JSON.stringify(result))
      .run();
  }

  /** Tenants with memories written past their consolidation cursor, least recently consolidated first. */
  async tenantsToConsolidate(limit: number): Promise<string[]> {
    const db = this.dbs.sweep();
    const { results } = await db
      .prepare(
        `SELECT t.tenant FROM (SELECT tenant, max(updated_at) AS latest FROM memories WHERE ${unfenced()} GROUP BY tenant) t
         LEFT JOIN maintenance x ON x.tenant = t.tenant
         WHERE t.latest > ifnull(x.consolidation_cursor, -1)
            OR EXISTS (SELECT 1 FROM memories m WHERE m.tenant = t.tenant AND m.updated_at = x.consolidation_cursor AND m.id > x.consolidation_cursor_id)
         ORDER BY ifnull(x.last_consolidation, 0) LIMIT ?`,
      )
      .bind(limit)
      .all<Row>();
    return results.map((r) => String(r.tenant));
  }

  async stats(tenant: string, now: number): Promise<StoredCounts> {
    const db = await this.dbs.of(tenant);
    const [types, sessions, feedback, index, maintenance] = await db.batch<Row>([
      db
        .prepare(
          "SELECT memory_type, count(*) AS n FROM memories WHERE tenant = ? AND (expires_at IS NULL OR expires_at > ?) GROUP BY memory_type",
        )
        .bind(tenant, now),
      db
        .prepare("SELECT count(*) AS n FROM working_memory WHERE tenant = ? AND (expires_at IS NULL OR expires_at > ?)")
        .bind(tenant, now),
      db.prepare("SELECT count(*) AS n FROM feedback WHERE tenant = ?").bind(tenant),
      db.prepare("SELECT state, count(*) AS n FROM memory_vectors WHERE tenant = ? GROUP BY state").bind(tenant),
      db.prepare("SELECT last_consolidation, last_result FROM maintenance WHERE tenant = ?").bind(tenant),
    ]);
    const byType: Record<string, number> = {};
    let total = 0;
    for (const r of types!.results) {
      byType[String(r.memory_type)] = Number(r.n);
      total += Number(r.n);
    }
    const state = Object.fromEntries(index!.results.map((r) => [String(r.state), Number(r.n)]));
    const m = maintenance!.results[0];
    return {
      memories: { total, by_type: byType },
      sessions: Number(sessions!.results[0]?.n ?? 0),
      feedback: Number(feedback!.results[0]?.n ?? 0),
      index: { pending: state.pending ?? 0, sent: state.sent ?? 0, indexed: state.indexed ?? 0 },
      last_consolidation: m?.last_consolidation == null ? null : Number(m.last_consolidation),
      last_consolidation_result: m?.last_result
        ? parseStoredJson<Record<string, unknown> | null>(m.last_result, null, "maintenance.last_result")
        : null,
    };
  }
}
