import type { Db } from "./databases.ts";
import type { EntityType } from "../domain/extract.ts";
import type { FeedbackRecord } from "../domain/feedback.ts";
import { nameKey } from "../domain/graph.ts";
import { newId } from "../domain/ids.ts";
import type { RelationRecord, WriteIntent } from "../domain/writes.ts";

/** The statements that record write intents, in order, for the caller's batch. */
export function intentStatements(db: Db, tenant: string, intents: WriteIntent[], now: number): D1PreparedStatement[] {
  return intents.flatMap((i) => {
    switch (i.kind) {
      case "entities":
        return entityStatements(db, tenant, i.entities, now);
      case "relation":
        return relationStatements(db, tenant, i.relation, i.singleValued, now);
      case "feedback":
        return [feedbackStatement(db, tenant, i.feedback)];
    }
  });
}

/**
 * Two statements (whatever the number of entities) that make sure entities exist: one per
 * name in a tenant; a known name or alias resolves to its entity. Run them in the caller's batch.
 */
function entityStatements(
  db: Db,
  tenant: string,
  entities: { name: string; type: EntityType }[],
  now: number,
): D1PreparedStatement[] {
  if (!entities.length) return [];
  const rows = JSON.stringify(
    entities.map((e) => ({ id: newId(now), name: e.name.trim(), key: nameKey(e.name), type: e.type })),
  );
  return [
    db
      .prepare(
        `INSERT INTO entities (tenant, id, name, name_key, type, aliases, created_at, updated_at)
         SELECT ?1, value ->> '$.id', value ->> '$.name', value ->> '$.key', value ->> '$.type', '[]', ?2, ?2 FROM json_each(?3)
         WHERE NOT EXISTS (SELECT 1 FROM entity_names n WHERE n.tenant = ?1 AND n.name_key = value ->> '$.key')
         ON CONFLICT DO NOTHING`,
      )
      .bind(tenant, now, rows),
    db
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
function relationStatements(
  db: Db,
  tenant: string,
  r: RelationRecord,
  singleValued: boolean,
  now: number,
): D1PreparedStatement[] {
  const s = nameKey(r.subject);
  const o = nameKey(r.object);
  // ?1 tenant, ?2 namespace, ?3 user_id, ?4 predicate, ?5 subject key, ?6 object key.
  const owner = [tenant, r.namespace, r.user_id, r.predicate, s, o];
  const entity = (n: 5 | 6) => `(SELECT entity_id FROM entity_names WHERE tenant = ?1 AND name_key = ?${n})`;
  const current = `tenant = ?1 AND namespace IS ?2 AND user_id IS ?3 AND predicate = ?4 AND subject_id = ${entity(5)} AND valid_to IS NULL`;
  // Valid time: when the fact became true (default: now), and, for a past fact, when it stopped.
  const from = r.valid_from ?? now;
  const id = newId(now);
  if (r.valid_to !== undefined && r.valid_to !== null) {
    // Recorded closed: it never closes the current fact, and is recorded once.
    const same = `tenant = ?1 AND namespace IS ?2 AND user_id IS ?3 AND predicate = ?4 AND subject_id = ${entity(5)} AND object_id = ${entity(6)} AND valid_from = ?10`;
    return [
      db
        .prepare(
          `INSERT INTO relations (tenant, id, subject_id, predicate, object_id, source_memory_id, confidence, valid_from, valid_to, created_at, namespace, user_id)
           SELECT ?1, ?7, ${entity(5)}, ?4, ${entity(6)}, ?8, ?9, ?10, ?11, ?12, ?2, ?3
           WHERE NOT EXISTS (SELECT 1 FROM relations WHERE ${same})`,
        )
        .bind(...owner, id, r.source_memory_id, r.confidence, from, r.valid_to, now),
      ...(r.source_memory_id !== null
        ? [
            db
              .prepare(
                `INSERT INTO relation_sources (tenant, relation_id, memory_id)
                 SELECT tenant, id, ?7 FROM relations WHERE ${same.replace("?10", "?8")} ON CONFLICT DO NOTHING`,
              )
              .bind(...owner, r.source_memory_id, from),
          ]
        : []),
    ];
  }
  const stmts: D1PreparedStatement[] = [];
  if (singleValued) {
    stmts.push(
      db
        .prepare(`UPDATE relations SET valid_to = max(?7, valid_from) WHERE ${current} AND object_id != ${entity(6)}`)
        .bind(...owner, from),
    );
  }
  stmts.push(
    db
      .prepare(
        `INSERT INTO relations (tenant, id, subject_id, predicate, object_id, source_memory_id, confidence, valid_from, valid_to, created_at, namespace, user_id)
         SELECT ?1, ?7, ${entity(5)}, ?4, ${entity(6)}, ?8, ?9, ?10, NULL, ?11, ?2, ?3
         WHERE NOT EXISTS (SELECT 1 FROM relations WHERE ${current} AND object_id = ${entity(6)})`,
      )
      .bind(...owner, id, r.source_memory_id, r.confidence, from, now),
  );
  if (r.source_memory_id !== null) {
    stmts.push(
      db
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

/** The statement recording one feedback (run in the same batch as the memory change). */
function feedbackStatement(db: Db, tenant: string, f: FeedbackRecord): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO feedback (tenant, id, memory_id, rating, comment, actor, at, confidence_before, confidence_after)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(tenant, f.id, f.memory_id, f.rating, f.comment, f.actor, f.at, f.confidence_before, f.confidence_after);
}
