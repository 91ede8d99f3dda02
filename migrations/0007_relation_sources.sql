-- Graph facts respect owners: a relation belongs to the owner (namespace, user_id) of the
-- memories that state it, and lists every memory that stated it. A fact is shown only when one
-- of those memories is live, still has that owner, and passes the request's filter; a newer
-- contradicting fact closes only its own owner's relation.
ALTER TABLE relations ADD COLUMN namespace TEXT;
ALTER TABLE relations ADD COLUMN user_id TEXT;

CREATE TABLE relation_sources (
  tenant TEXT NOT NULL,
  relation_id TEXT NOT NULL,
  memory_id TEXT NOT NULL,
  PRIMARY KEY (tenant, relation_id, memory_id)
) WITHOUT ROWID;

-- Existing relations: the owner of the memory recorded as their source, and that memory as their
-- one source. A relation whose memory is gone (or was never recorded) gets no source, so it is
-- shown to no one until a memory states it again.
UPDATE relations SET
  namespace = (SELECT m.namespace FROM memories m WHERE m.tenant = relations.tenant AND m.id = relations.source_memory_id),
  user_id = (SELECT m.user_id FROM memories m WHERE m.tenant = relations.tenant AND m.id = relations.source_memory_id)
WHERE source_memory_id IS NOT NULL;

INSERT OR IGNORE INTO relation_sources (tenant, relation_id, memory_id)
  SELECT r.tenant, r.id, r.source_memory_id FROM relations r
  WHERE r.source_memory_id IS NOT NULL
    AND EXISTS (SELECT 1 FROM memories m WHERE m.tenant = r.tenant AND m.id = r.source_memory_id);
