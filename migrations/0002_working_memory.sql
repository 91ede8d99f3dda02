-- Working memory: one row per conversation session (AMS working memory).
-- A session id is unique within a tenant; namespace and user_id are attributes used as filters,
-- so a GET finds the session whatever combination of them the PUT gave (AMS issue #235).
CREATE TABLE working_memory (
  tenant TEXT NOT NULL,
  session_id TEXT NOT NULL,
  namespace TEXT,
  user_id TEXT,
  messages TEXT NOT NULL,                -- JSON array of {id, role, content, created_at}
  memories TEXT NOT NULL,                -- JSON array of memory records awaiting/after promotion
  context TEXT,                          -- summary of the messages summarized away
  data TEXT,                             -- JSON object or NULL
  long_term_memory_strategy TEXT NOT NULL,
  tokens INTEGER NOT NULL DEFAULT 0,
  ttl_seconds INTEGER,
  expires_at INTEGER,                    -- epoch ms; NULL = never
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_accessed INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (tenant, session_id)
) WITHOUT ROWID;

CREATE INDEX working_memory_recent ON working_memory (tenant, updated_at DESC, session_id);
CREATE INDEX working_memory_expiry ON working_memory (expires_at) WHERE expires_at IS NOT NULL;
