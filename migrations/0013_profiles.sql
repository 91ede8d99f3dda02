-- Per-user profiles (docs/profile.md).
--
-- user_profiles: a cache of the LLM's summary of a user's rule-built profile, one row per user and
-- namespace ('' for a profile across namespaces). `fingerprint` hashes the memories (id, version,
-- updated_at) and graph facts the profile was built from: a read whose fingerprint differs (a
-- memory of the user written, changed or deleted) rebuilds it. Offline profiles are never stored.
-- A tenant table: it moves with the tenant (src/store/tenant-copy.ts) and takes the write fence.
CREATE TABLE user_profiles (
  tenant       TEXT    NOT NULL,
  user_id      TEXT    NOT NULL,
  namespace    TEXT    NOT NULL DEFAULT '',
  fingerprint  TEXT    NOT NULL,
  provider     TEXT    NOT NULL,
  profile      TEXT    NOT NULL,
  generated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, user_id, namespace)
) WITHOUT ROWID;

CREATE TRIGGER fence_user_profiles_insert BEFORE INSERT ON user_profiles
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_user_profiles_update BEFORE UPDATE ON user_profiles
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = new.tenant)
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;
CREATE TRIGGER fence_user_profiles_delete BEFORE DELETE ON user_profiles
WHEN EXISTS (SELECT 1 FROM tenant_fences f WHERE f.tenant = old.tenant AND f.state != 'purging')
BEGIN SELECT RAISE(ABORT, 'edgemem: tenant moving'); END;

-- A profile reads a user's newest memories, overall and of a few types, a bounded page each: these
-- make each page O(page) however many memories the user or the tenant has.
CREATE INDEX memories_user_updated ON memories (tenant, user_id, updated_at);
CREATE INDEX memories_user_type_updated ON memories (tenant, user_id, memory_type, updated_at);
