import type { EntityType } from "../domain/extract.ts";
import { newId } from "../domain/ids.ts";
import { parseStoredJson } from "../domain/stored-values.ts";

export interface Entity {
  id: string;
  name: string;
  type: EntityType;
  aliases: string[];
  created_at: number;
  updated_at: number;
}

export interface Relation {
  id: string;
  subject_id: string;
  predicate: string;
  object_id: string;
  source_memory_id: string | null;
  confidence: number;
  valid_from: number;
  valid_to: number | null;
}

type Row = Record<string, unknown>;

export const nameKey = (name: string) => name.trim().replace(/\s+/g, " ").toLowerCase();

/** D1 repository for the knowledge graph: entities (with their names) and relations (with history). */
export class GraphRepo {
  constructor(private readonly db: D1Database) {}

  /**
   * Two statements (whatever the number of entities) that make sure entities exist: one per
   * name in a tenant; a known name or alias resolves to its entity. Run them in the caller's batch.
   */
  ensureEntities(tenant: string, entities: { name: string; type: EntityType }[], now: number): D1PreparedStatement[] {
    if (!entities.length) return [];
    const rows = JSON.stringify(entities.map((e) => ({ id: newId(now), name: e.name.trim(), key: nameKey(e.name), type: e.type })));
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
   * same batch). A single-valued predicate closes the subject's current relation to any other
   * object (valid_to = now); the same fact again is not duplicated.
   */
  relate(
    tenant: string,
    r: { subject: string; predicate: string; object: string; source_memory_id: string | null; confidence: number },
    singleValued: boolean,
    now: number,
  ): D1PreparedStatement[] {
    const entityOf = "(SELECT entity_id FROM entity_names WHERE tenant = ? AND name_key = ?)";
    const s = nameKey(r.subject);
    const o = nameKey(r.object);
    const stmts: D1PreparedStatement[] = [];
    if (singleValued) {
      stmts.push(
        this.db
          .prepare(
            `UPDATE relations SET valid_to = ? WHERE tenant = ? AND subject_id = ${entityOf} AND predicate = ?
             AND valid_to IS NULL AND object_id != ${entityOf}`,
          )
          .bind(now, tenant, tenant, s, r.predicate, tenant, o),
      );
    }
    stmts.push(
      this.db
        .prepare(
          `INSERT INTO relations (tenant, id, subject_id, predicate, object_id, source_memory_id, confidence, valid_from, valid_to, created_at)
           SELECT ?, ?, ${entityOf}, ?, ${entityOf}, ?, ?, ?, NULL, ?
           WHERE NOT EXISTS (SELECT 1 FROM relations WHERE tenant = ? AND subject_id = ${entityOf} AND predicate = ?
                             AND object_id = ${entityOf} AND valid_to IS NULL)`,
        )
        .bind(tenant, newId(now), tenant, s, r.predicate, tenant, o, r.source_memory_id, r.confidence, now, now, tenant, tenant, s, r.predicate, tenant, o),
    );
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

  /** Relations touching any of the entities; closed ones only when `history` is asked for. */
  async relationsOf(tenant: string, entityIds: string[], history: boolean): Promise<Relation[]> {
    if (!entityIds.length) return [];
    const ids = JSON.stringify(entityIds);
    const { results } = await this.db
      .prepare(
        `SELECT * FROM relations WHERE tenant = ? AND (subject_id IN (SELECT value FROM json_each(?)) OR object_id IN (SELECT value FROM json_each(?)))
         ${history ? "" : "AND valid_to IS NULL"} ORDER BY valid_from DESC LIMIT 500`,
      )
      .bind(tenant, ids, ids)
      .all<Row>();
    return results.map(relationFromRow);
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
    return { entities: Number(row?.entities ?? 0), relations: Number(row?.relations ?? 0), current_relations: Number(row?.current_relations ?? 0) };
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
