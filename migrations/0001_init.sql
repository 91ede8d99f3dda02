-- edgemem initial schema. Migrations are append-only: never edit this file once applied.
-- Times are epoch milliseconds (INTEGER). JSON columns hold arrays/objects as TEXT.

-- Long-term memory records. One table serves both the Agent Memory Server API (text, namespace,
-- topics, entities, ...) and the memory CRUD API (agent_id, scope, key, value = text, tags in metadata).
CREATE TABLE memories (
  seq                       INTEGER PRIMARY KEY AUTOINCREMENT, -- stable rowid for the FTS5 external content
  tenant                    TEXT    NOT NULL,
  id                        TEXT    NOT NULL,                  -- client-supplied (<= 64 bytes) or generated
  namespace                 TEXT,
  user_id                   TEXT,
  session_id                TEXT,
  agent_id                  TEXT,
  scope                     TEXT    NOT NULL DEFAULT 'global' CHECK (scope IN ('session', 'agent', 'global')),
  key                       TEXT,
  text                      TEXT    NOT NULL,
  memory_type               TEXT    NOT NULL DEFAULT 'semantic',
  topics                    TEXT    NOT NULL DEFAULT '[]',
  entities                  TEXT    NOT NULL DEFAULT '[]',
  priority                  INTEGER NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
  confidence                REAL    NOT NULL DEFAULT 0.8 CHECK (confidence BETWEEN 0 AND 1),
  pinned                    INTEGER NOT NULL DEFAULT 0,
  metadata                  TEXT    NOT NULL DEFAULT '{}',
  memory_hash               TEXT    NOT NULL,
  created_at                INTEGER NOT NULL,
  updated_at                INTEGER NOT NULL,
  last_accessed             INTEGER NOT NULL,
  persisted_at              INTEGER,
  event_date                INTEGER,
  expires_at                INTEGER,
  extracted_from            TEXT    NOT NULL DEFAULT '[]',
  discrete_memory_extracted TEXT    NOT NULL DEFAULT 'f',
  extraction_strategy       TEXT    NOT NULL DEFAULT 'discrete',
  embedding_model           TEXT,                              -- model that produced the vector, NULL if none
  UNIQUE (tenant, id)
);
CREATE INDEX memories_tenant_created ON memories (tenant, created_at);
CREATE INDEX memories_tenant_updated ON memories (tenant, updated_at);
CREATE INDEX memories_tenant_namespace ON memories (tenant, namespace);
CREATE INDEX memories_tenant_user ON memories (tenant, user_id);
CREATE INDEX memories_tenant_session ON memories (tenant, session_id);
CREATE INDEX memories_expires ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX memories_tenant_hash ON memories (tenant, memory_hash);
-- The CRUD API upserts on (agent_id, scope, key); NULL agent ids compare equal here.
CREATE UNIQUE INDEX memories_agent_scope_key ON memories (tenant, ifnull(agent_id, ''), scope, key) WHERE key IS NOT NULL;

-- Keyword search: FTS5 over text and key, external content kept in step by triggers.
CREATE VIRTUAL TABLE memories_fts USING fts5 (
  text, key,
  content = 'memories', content_rowid = 'seq',
  tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
  INSERT INTO memories_fts (rowid, text, key) VALUES (new.seq, new.text, ifnull(new.key, ''));
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
  INSERT INTO memories_fts (memories_fts, rowid, text, key) VALUES ('delete', old.seq, old.text, ifnull(old.key, ''));
END;
-- Only a change of the indexed columns touches the index (last_accessed updates do not).
CREATE TRIGGER memories_fts_update AFTER UPDATE OF text, key ON memories BEGIN
  INSERT INTO memories_fts (memories_fts, rowid, text, key) VALUES ('delete', old.seq, old.text, ifnull(old.key, ''));
  INSERT INTO memories_fts (rowid, text, key) VALUES (new.seq, new.text, ifnull(new.key, ''));
END;

-- Document frequency of every indexed term: keyword search drops query terms so common that
-- BM25 gives them no weight but ranking them would read their whole posting list.
CREATE VIRTUAL TABLE memories_fts_vocab USING fts5vocab (memories_fts, 'row');

-- Vectors, the source of truth for both vector indexes. The D1 index searches these rows
-- directly; with Vectorize they back read-your-writes (rows not yet confirmed as queryable are
-- scored from here) and re-sync. Written in the same batch as the memory row.
-- A rewrite is DELETE + INSERT so vseq only grows: the in-isolate cache loads rows past the last vseq it saw.
-- state: 'pending' (not yet sent to Vectorize), 'sent' (accepted, maybe not queryable yet), 'indexed'.
CREATE TABLE memory_vectors (
  vseq        INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant      TEXT    NOT NULL,
  memory_id   TEXT    NOT NULL,
  vector_id   TEXT    NOT NULL,          -- id in Vectorize: hash of (tenant, memory id), <= 64 bytes
  model       TEXT    NOT NULL,
  dims        INTEGER NOT NULL,
  vector      TEXT    NOT NULL,          -- base64 of little-endian float32 (D1 returns a BLOB as an array of
                                         -- numbers: reading 10k vectors took 1,418 ms as BLOB, 112 ms as base64)
  namespace   TEXT,
  user_id     TEXT,
  session_id  TEXT,
  memory_type TEXT    NOT NULL,
  state       TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'indexed')),
  written_at  INTEGER NOT NULL,
  sent_at     INTEGER,                   -- when Vectorize acknowledged the upsert
  mutation_id TEXT,                      -- Vectorize's id for that upsert
  UNIQUE (tenant, memory_id)
);
CREATE INDEX memory_vectors_tenant_model ON memory_vectors (tenant, model, vseq);
CREATE INDEX memory_vectors_unconfirmed ON memory_vectors (tenant, state) WHERE state != 'indexed';
CREATE INDEX memory_vectors_state ON memory_vectors (state, written_at) WHERE state != 'indexed';
CREATE UNIQUE INDEX memory_vectors_vector_id ON memory_vectors (vector_id);

-- Per-tenant count of vector deletions: with max(vseq) (an index lookup) it tells the D1 index's
-- in-isolate cache whether it is current, without counting the tenant's rows on every search.
CREATE TABLE vector_epochs (
  tenant  TEXT    PRIMARY KEY,
  deletes INTEGER NOT NULL DEFAULT 0
);

-- Outbox of vector deletions still to be sent to Vectorize (written in the delete's batch).
CREATE TABLE vector_deletes (
  vector_id  TEXT    PRIMARY KEY,
  tenant     TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX vector_deletes_tenant ON vector_deletes (tenant, created_at);

-- Audit trail: every create/update/delete of a memory, with the acting principal.
CREATE TABLE memory_history (
  hid       INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant    TEXT    NOT NULL,
  memory_id TEXT    NOT NULL,
  op        TEXT    NOT NULL CHECK (op IN ('create', 'update', 'delete')),
  actor     TEXT    NOT NULL,
  at        INTEGER NOT NULL,
  reason    TEXT,
  before    TEXT,
  after     TEXT
);
CREATE INDEX memory_history_memory ON memory_history (tenant, memory_id, hid);
