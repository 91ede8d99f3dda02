import type { EntityType } from "../domain/extract.ts";
import { newId } from "../domain/ids.ts";
import { nameKey, type Entity, type GraphScope, type Relation } from "../domain/graph.ts";
import { parseStoredJson } from "../domain/stored-values.ts";
import { bindChecked, IN_JSON, jsonList } from "./d1-limits.ts";
import { LIVE } from "./memory-repo.ts";
import { compileFilter } from "./sql-filter.ts";

type Row = Record<string, unknown>;

/** D1 repository for the knowledge graph: entities (with their names) and relations (with history). */
export class GraphRepo {
  constructor(private readonly db: D1Database) {}

  /**
   * Two statements (whatever the number of entities) that make sure entities exist: one per
   * name in a tenant; a known name or alias resolves to its entity. Run them in the caller's batch.
   */
  ensureEntities(tenant: string, entities: { name: string; type: EntityType }[], now: number): D1PreparedStatement[] {
    if (!entities.length) return [];
    const rows = JSON.stringify(
      entities.map((e) => ({ id: newId(now), name: e.name.trim(), key: nameKey(e.name), type: e.type })),
    );
    return [
      this.db
        .prepare(
          `INSERT INTO entities (tenant, id, name, name_key, type, aliases, created_at, updated_at)
           SELECT ?1, value ->> '$.id', value ->> '$.name', value ->> '$.key', value ->> '$.type', '[]', ?2, ?2 FROM json_each(?3)
           WHERE NOT EXISTS (SELECT 1 FROM entity_names n WHERE n.tenant = ?1 AND n.name_key = value ->> '$.key')
           ON CONFLICT DO NOTHING`,
        )
        .bind(tenant, now, rows),
      this.db
        .prepare(
          `INSERT INTO entity_names (tenant, name_key, entity_id)
           SELECT tenant, name_key, id FROM entities WHERE tenant = ?1 AND name_key IN (SELECT value ->> '$.key' FROM json_each(?2))
           ON CONFLICT DO NOTHING`,
        )
        .bind(tenant, rows),
    ];
  }

  /**
   * Statements that record a relation between two named entities (which must be ensured in the
   * same batch) for an owner (namespace, user_id), stated by `source_memory_id`. A single-valued
   * predicate closes the owner's current relation of the subject to any other object (valid_to =
   * now); the same fact again is not duplicated, but gains the memory as another source. Owners
   * never touch each other's relations.
   */
  relate(
    tenant: string,
    r: {
      subject: string;
      predicate: string;
      object: string;
      source_memory_id: string | null;
      confidence: number;
      namespace: string | null;
      user_id: string | null;
    },
    singleValued: boolean,
    now: number,
  ): D1PreparedStatement[] {
    const s = nameKey(r.subject);
    const o = nameKey(r.object);
    // ?1 tenant, ?2 namespace, ?3 user_id, ?4 predicate, ?5 subject key, ?6 object key.
    const owner = [tenant, r.namespace, r.user_id, r.predicate, s, o];
    const entity = (n: 5 | 6) => `(SELECT entity_id FROM entity_names WHERE tenant = ?1 AND name_key = ?${n})`;
    const current = `tenant = ?1 AND namespace IS ?2 AND user_id IS ?3 AND predicate = ?4 AND subject_id = ${entity(5)} AND valid_to IS NULL`;
    const stmts: D1PreparedStatement[] = [];
    if (singleValued) {
      stmts.push(
        this.db
          .prepare(`UPDATE relations SET valid_to = ?7 WHERE ${current} AND object_id != ${entity(6)}`)
          .bind(...owner, now),
      );
    }
    stmts.push(
      this.db
        .prepare(
          `INSERT INTO relations (tenant, id, subject_id, predicate, object_id, source_memory_id, confidence, valid_from, valid_to, created_at, namespace, user_id)
           SELECT ?1, ?7, ${entity(5)}, ?4, ${entity(6)}, ?8, ?9, ?10, NULL, ?10, ?2, ?3
           WHERE NOT EXISTS (SELECT 1 FROM relations WHERE ${current} AND object_id = ${entity(6)})`,
        )
        .bind(...owner, newId(now), r.source_memory_id, r.confidence, now),
    );
    if (r.source_memory_id !== null) {
      stmts.push(
        this.db
          .prepare(
            `INSERT INTO relation_sources (tenant, relation_id, memory_id)
             SELECT tenant, id, ?7 FROM relations WHERE ${current} AND object_id = ${entity(6)}
             ON CONFLICT DO NOTHING`,
          )
          .bind(...owner, r.source_memory_id),
      );
    }
    return stmts;
  }

  async run(stmts: D1PreparedStatement[]): Promise<void> {
    if (stmts.length) await this.db.batch(stmts);
  }

  /** Entities known by any of the names (or aliases). */
  async findByNames(tenant: string, names: string[]): Promise<Entity[]> {
    if (!names.length) return [];
    const { results } = await this.db
      .prepare(
        `SELECT DISTINCT e.* FROM entity_names n JOIN entities e ON e.tenant = n.tenant AND e.id = n.entity_id
         WHERE n.tenant = ? AND n.name_key IN (SELECT value FROM json_each(?))`,
      )
      .bind(tenant, JSON.stringify([...new Set(names.map(nameKey))]))
      .all<Row>();
    return results.map(entityFromRow);
  }

  async getEntities(tenant: string, ids: string[]): Promise<Entity[]> {
    if (!ids.length) return [];
    const { results } = await this.db
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
    if (!entityIds.length) return [];
    const ids = jsonList(entityIds);
    const f = compileFilter(scope.filter);
    const { results } = await bindChecked(
      this.db,
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
    if (!entities.length) return [];
    const names = JSON.stringify(entities.flatMap((e) => [e.name, ...e.aliases].map((n) => [e.id, n])));
    const f = compileFilter(scope.filter);
    const { results } = await bindChecked(
      this.db,
      `SELECT DISTINCT n.value ->> 0 AS id FROM json_each(?) n
       WHERE EXISTS (
         SELECT 1 FROM memories m WHERE m.tenant = ? AND ${LIVE} AND ${f.sql}
           AND EXISTS (SELECT 1 FROM json_each(m.entities) e WHERE lower(e.value) = lower(n.value ->> 1)))`,
      [names, tenant, scope.now, ...f.params],
    ).all<Row>();
    return results.map((r) => String(r.id));
  }

  async counts(tenant: string): Promise<{ entities: number; relations: number; current_relations: number }> {
    const row = await this.db
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

function entityFromRow(r: Row): Entity {
  return {
    id: String(r.id),
    name: String(r.name),
    type: r.type as EntityType,
    aliases: parseStoredJson<string[]>(r.aliases, [], "entities.aliases"),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
}

function relationFromRow(r: Row): Relation {
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
