-- Tenant moves between shards (`npm run tenant:move`, src/service/tenant-move.ts; docs/deploy.md
-- "Moving a tenant").
--
-- tenant_moves: one row per tenant, its latest move. Read only in the `DB` database (like
-- tenant_shards). A driver (the admin REST operation, called in a loop by the script) advances the
-- move a bounded step at a time and saves the phase here, so a crashed driver resumes where the
-- last one stopped. `lease_id`/`lease_until` let one driver at a time work on a move; `state` is
-- the JSON of the phase's progress (domain/tenant-move.ts: table, verify cursors, checksums).
CREATE TABLE tenant_moves (
  tenant      TEXT    PRIMARY KEY,
  from_shard  TEXT    NOT NULL,
  to_shard    TEXT    NOT NULL,
  phase       TEXT    NOT NULL,
  state       TEXT    NOT NULL DEFAULT '{}',
  drain_ms    INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  switched_at INTEGER,
  finished_at INTEGER,
  error       TEXT,
  lease_id    TEXT,
  lease_until INTEGER
) WITHOUT ROWID;

-- The copy's progress, in the shard the tenant moves TO: each page of a table is inserted in the
-- same transaction (D1 batch) that advances its row here, so a driver that crashed between a page
-- and saving the move resumes after the last page that really landed, never copying one twice.
-- `after` is the JSON of the source cursor (the order columns of the page's last row).
CREATE TABLE tenant_move_progress (
  tenant TEXT    NOT NULL,
  tbl    TEXT    NOT NULL,
  after  TEXT    NOT NULL,
  rows   INTEGER NOT NULL,
  PRIMARY KEY (tenant, tbl)
) WITHOUT ROWID;
