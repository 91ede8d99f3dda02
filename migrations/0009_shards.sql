-- Tenant shards (docs/capacity.md, README "Shards").
--
-- tenant_shards: the directory of where each tenant's records live. Read only in the `DB`
-- database (every shard gets the same schema; the table stays empty elsewhere). A tenant is
-- recorded on its first write, on the shard rendezvous hashing picks among the shards bound then,
-- so binding a new shard later moves nobody: only new tenants can land on it, and existing ones
-- move with `npm run tenant:move`. `pinned` marks a placement an operator chose.
CREATE TABLE tenant_shards (
  tenant    TEXT    PRIMARY KEY,
  shard     TEXT    NOT NULL,
  pinned    INTEGER NOT NULL DEFAULT 0,
  placed_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Every tenant written before shards existed lives in `DB`.
INSERT OR IGNORE INTO tenant_shards (tenant, shard, placed_at)
  SELECT tenant, 'DB', CAST(unixepoch('subsec') * 1000 AS INTEGER) FROM (
    SELECT tenant FROM memories UNION SELECT tenant FROM working_memory UNION SELECT tenant FROM entities
    UNION SELECT tenant FROM feedback UNION SELECT tenant FROM maintenance
  );

-- The write fence of a tenant move, in the shard the tenant leaves: while a row is here every
-- insert, update and delete of the tenant's rows aborts (the server answers 503 with Retry-After),
-- in the same transaction as the write, whatever path it came by (REST, WebSocket, MCP, cron).
-- state: 'moving' (copying, then draining), 'purging' (the mover deletes the copied rows; only
-- deletes pass), 'moved' (a tombstone: a writer with a stale placement can never write here again).
CREATE TABLE tenant_fences (
  tenant   TEXT    PRIMARY KEY,
  state    TEXT    NOT NULL CHECK (state IN ('moving', 'purging', 'moved')),
  to_shard TEXT    NOT NULL,
  at       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER fence_memories_insert BEFORE INSERT ON memories
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_memories_update BEFORE UPDATE ON memories
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_memories_delete BEFORE DELETE ON memories
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_memory_vectors_insert BEFORE INSERT ON memory_vectors
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_memory_vectors_update BEFORE UPDATE ON memory_vectors
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_memory_vectors_delete BEFORE DELETE ON memory_vectors
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_vector_epochs_insert BEFORE INSERT ON vector_epochs
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_vector_epochs_update BEFORE UPDATE ON vector_epochs
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_vector_epochs_delete BEFORE DELETE ON vector_epochs
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_vector_deletes_insert BEFORE INSERT ON vector_deletes
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_vector_deletes_update BEFORE UPDATE ON vector_deletes
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_vector_deletes_delete BEFORE DELETE ON vector_deletes
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_memory_history_insert BEFORE INSERT ON memory_history
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_memory_history_update BEFORE UPDATE ON memory_history
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_memory_history_delete BEFORE DELETE ON memory_history
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_working_memory_insert BEFORE INSERT ON working_memory
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_working_memory_update BEFORE UPDATE ON working_memory
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_working_memory_delete BEFORE DELETE ON working_memory
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_entities_insert BEFORE INSERT ON entities
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_entities_update BEFORE UPDATE ON entities
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_entities_delete BEFORE DELETE ON entities
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_entity_names_insert BEFORE INSERT ON entity_names
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_entity_names_update BEFORE UPDATE ON entity_names
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_entity_names_delete BEFORE DELETE ON entity_names
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_relations_insert BEFORE INSERT ON relations
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_relations_update BEFORE UPDATE ON relations
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_relations_delete BEFORE DELETE ON relations
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_relation_sources_insert BEFORE INSERT ON relation_sources
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_relation_sources_update BEFORE UPDATE ON relation_sources
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_relation_sources_delete BEFORE DELETE ON relation_sources
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_feedback_insert BEFORE INSERT ON feedback
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_feedback_update BEFORE UPDATE ON feedback
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_feedback_delete BEFORE DELETE ON feedback
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_maintenance_insert BEFORE INSERT ON maintenance
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_maintenance_update BEFORE UPDATE ON maintenance
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_maintenance_delete BEFORE DELETE ON maintenance
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
