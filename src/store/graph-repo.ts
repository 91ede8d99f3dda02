import type { TenantDb } from "./databases.ts";
import type { EntityType } from "../domain/extract.ts";
import { nameKey, type Entity, type GraphScope, type Relation } from "../domain/graph.ts";
import type { GraphCounts } from "../domain/stats.ts";
import type { FactProbe, StatedFact } from "../domain/temporal.ts";
import type { GraphIntent } from "../domain/writes.ts";
import { parseStoredJson } from "../domain/stored-values.ts";
import { bindChecked, IN_JSON, jsonList } from "./d1-limits.ts";
import { intentStatements } from "./intents.ts";
import { compileFilter, LIVE } from "./sql-filter.ts";

type Row = Record<string, unknown>;

/** Sources read per fact when a write checks what it contradicts (the newest; generated ids are ULIDs). */
const STATED_BY = 50;

/** D1 repository for the knowledge graph: entities (with their names) and relations (with history). */
export class GraphRepo {
  constructor(private readonly dbs: TenantDb) {}

  /** Records `intents` (entities, relations) in one batch: one transaction. */
  async apply(tenant: string, intents: GraphIntent[], now: number): Promise<void> {
    const db = await this.dbs.of(tenant);
    const stmts = intentStatements(db, tenant, intents, now);
    if (stmts.length) await db.batch(stmts);
  }

  /** Entities known by any of the names (or aliases). */
  async findByNames(tenant: string, names: string[]): Promise<Entity[]> {
    const db = await this.dbs.of(tenant);
    if (!names.length) return [];
    const { results } = await db
      .prepare(
        `SELECT DISTINCT e.* FROM entity_names n JOIN entities e ON e.tenant = n.tenant AND e.id = n.entity_id
         WHERE n.tenant = ? AND n.name_key IN (SELECT value FROM json_each(?))`,
      )
      .bind(tenant, JSON.stringify([...new Set(names.map(nameKey))]))
      .all<Row>();
    return results.map(entityFromRow);
  }

  async getEntities(tenant: string, ids: string[]): Promise<Entity[]> {
    const db = await this.dbs.of(tenant);
    if (!ids.length) return [];
    const { results } = await db
      .prepare("SELECT * FROM entities WHERE tenant = ? AND id IN (SELECT value FROM json_each(?))")
      .bind(tenant, JSON.stringify(ids))
      .all<Row>();
    return results.map(entityFromRow);
  }

  /**
   * Relations touching any of the entities (closed ones only when `history` is asked for) that
   * are visible in `scope`: at least one memory that stated the relation is live, still has the
   * relation's owner, and passes the filter. A relation's `source_memory_id` is such a memory, so a
   * fact never points at one the caller cannot see: the greatest id (generated ids are ULIDs, so
   * the newest), read backwards along the sources' primary key until one is visible. Ordering by
   * `updated_at` instead sorted every source of a fact on each read: thousands for a fact many
   * memories state, which doubled think's latency at 10,000 memories.
   */
  async relationsOf(tenant: string, entityIds: string[], history: boolean, scope: GraphScope): Promise<Relation[]> {
    const db = await this.dbs.of(tenant);
    if (!entityIds.length) return [];
    const ids = jsonList(entityIds);
    const f = compileFilter(scope.filter);
    const { results } = await bindChecked(
      db,
      `SELECT * FROM (
         SELECT r.*, (
           SELECT s.memory_id FROM relation_sources s JOIN memories m ON m.tenant = s.tenant AND m.id = s.memory_id
           WHERE s.tenant = r.tenant AND s.relation_id = r.id AND m.namespace IS r.namespace AND m.user_id IS r.user_id
             AND ${LIVE} AND ${f.sql}
           ORDER BY s.memory_id DESC LIMIT 1) AS visible_source
         FROM relations r
         WHERE r.tenant = ? AND (r.subject_id IN ${IN_JSON} OR r.object_id IN ${IN_JSON}) ${history ? "" : "AND r.valid_to IS NULL"})
       WHERE visible_source IS NOT NULL ORDER BY valid_from DESC LIMIT 500`,
      [scope.now, ...f.params, tenant, ids, ids],
    ).all<Row>();
    return results.map((r) => ({ ...relationFromRow(r), source_memory_id: String(r.visible_source) }));
  }

  /**
   * Which of the entities a memory visible in `scope` (live, passing the filter) names among its
   * `entities`, by name or alias, case-insensitively.
   */
  async namedInScope(tenant: string, entities: Entity[], scope: GraphScope): Promise<string[]> {
    const db = await this.dbs.of(tenant);
    if (!entities.length) return [];
    const names = JSON.stringify(entities.flatMap((e) => [e.name, ...e.aliases].map((n) => [e.id, n])));
    const f = compileFilter(scope.filter);
    const { results } = await bindChecked(
      db,
      `SELECT DISTINCT n.value ->> 0 AS id FROM json_each(?) n
       WHERE EXISTS (
         SELECT 1 FROM memories m WHERE m.tenant = ? AND ${LIVE} AND ${f.sql}
           AND EXISTS (SELECT 1 FROM json_each(m.entities) e WHERE lower(e.value) = lower(n.value ->> 1)))`,
      [names, tenant, scope.now, ...f.params],
    ).all<Row>();
    return results.map((r) => String(r.id));
  }

  /**
   * Current single-valued facts a write's claims may contradict, with a memory stating each: by
   * subject (`by: "s"`) or by value (`by: "o"`, for "switched from X"), of the probe's owner and
   * property. One statement for the whole write: the probes are one JSON parameter, each half of
   * the UNION ALL walks its own relations index.
   */
  async statedFacts(tenant: string, probes: FactProbe[]): Promise<StatedFact[]> {
    if (!probes.length) return [];
    const db = await this.dbs.of(tenant);
    // Per fact, its newest STATED_BY sources: a fact many memories state cannot crowd out the others.
    // CROSS JOIN keeps the probes the outer loop: joined freely, SQLite walked every relation of
    // the tenant and, for each, every entity name (364,206 rows read at 300 facts).
    const half = (by: "s" | "o", col: "subject_id" | "object_id") =>
      `SELECT se.name AS subject, r.predicate AS predicate, oe.name AS object, s.memory_id AS memory_id,
         row_number() OVER (PARTITION BY r.id ORDER BY s.memory_id DESC) AS nth
       FROM json_each(?2) q
       CROSS JOIN entity_names n ON n.tenant = ?1 AND n.name_key = q.value ->> '$.k'
       CROSS JOIN relations r ON r.tenant = ?1 AND r.${col} = n.entity_id AND r.predicate = q.value ->> '$.p'
         AND r.valid_to IS NULL AND r.namespace IS q.value ->> '$.ns' AND r.user_id IS q.value ->> '$.u'
       CROSS JOIN entities se ON se.tenant = ?1 AND se.id = r.subject_id
       CROSS JOIN entities oe ON oe.tenant = ?1 AND oe.id = r.object_id
       CROSS JOIN relation_sources s ON s.tenant = ?1 AND s.relation_id = r.id
       WHERE q.value ->> '$.by' = '${by}'`;
    const rows = JSON.stringify(
      probes.map((p) => ({ ns: p.namespace, u: p.user_id, p: p.predicate, k: nameKey(p.name), by: p.by })),
    );
    const { results } = await db
      .prepare(
        `SELECT subject, predicate, object, memory_id FROM (${half("s", "subject_id")} UNION ALL ${half("o", "object_id")}) WHERE nth <= ?3`,
      )
      .bind(tenant, rows, STATED_BY)
      .all<Row>();
    return results.map((r) => ({
      subject: String(r.subject),
      predicate: String(r.predicate),
      object: String(r.object),
      memory_id: String(r.memory_id),
    }));
  }

  async counts(tenant: string): Promise<GraphCounts> {
    const db = await this.dbs.of(tenant);
    const row = await db
      .prepare(
        `SELECT (SELECT count(*) FROM entities WHERE tenant = ?1) AS entities,
                (SELECT count(*) FROM relations WHERE tenant = ?1) AS relations,
                (SELECT count(*) FROM relations WHERE tenant = ?1 AND valid_to IS NULL) AS current_relations`,
      )
      .bind(tenant)
      .first<Row>();
    return {
      entities: Number(row?.entities ?? 0),
      relations: Number(row?.relations ?? 0),
      current_relations: Number(row?.current_relations ?? 0),
    };
  }
}

export function entityFromRow(r: Row): Entity {
  return {
    id: String(r.id),
    name: String(r.name),
    type: r.type as EntityType,
    aliases: parseStoredJson<string[]>(r.aliases, [], "entities.aliases"),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
}

export function relationFromRow(r: Row): Relation {
  return {
    id: String(r.id),
    subject_id: String(r.subject_id),
    predicate: String(r.predicate),
    object_id: String(r.object_id),
    source_memory_id: (r.source_memory_id as string | null) ?? null,
    confidence: Number(r.confidence),
    valid_from: Number(r.valid_from),
    valid_to: r.valid_to === null ? null : Number(r.valid_to),
  };
}
