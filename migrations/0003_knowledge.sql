-- Semantic memory: a knowledge graph per tenant, feedback, and per-tenant maintenance state.

CREATE TABLE entities (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  name_key TEXT NOT NULL,               -- lower-cased name: one entity per name in a tenant
  type TEXT NOT NULL,                   -- person, organization, technology, product, place, date, topic, concept
  aliases TEXT NOT NULL DEFAULT '[]',   -- JSON array of names
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX entities_name ON entities (tenant, name_key);

-- Every name (and alias) an entity is known by, for lookups.
CREATE TABLE entity_names (
  tenant TEXT NOT NULL,
  name_key TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  PRIMARY KEY (tenant, name_key)
) WITHOUT ROWID;

-- Relations keep their history: a newer contradicting fact closes the older one (valid_to).
CREATE TABLE relations (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  predicate TEXT NOT NULL,
  object_id TEXT NOT NULL,
  source_memory_id TEXT,
  confidence REAL NOT NULL DEFAULT 0.8,
  valid_from INTEGER NOT NULL,
  valid_to INTEGER,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE INDEX relations_subject ON relations (tenant, subject_id, predicate);
CREATE INDEX relations_object ON relations (tenant, object_id);

CREATE TABLE feedback (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  memory_id TEXT NOT NULL,
  rating TEXT NOT NULL CHECK (rating IN ('positive', 'negative')),
  comment TEXT,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL,
  confidence_before REAL NOT NULL,
  confidence_after REAL NOT NULL,
  PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE INDEX feedback_memory ON feedback (tenant, memory_id);

CREATE TABLE maintenance (
  tenant TEXT PRIMARY KEY,
  consolidation_cursor INTEGER NOT NULL DEFAULT 0,   -- (updated_at ms, memory id) up to which memories
  consolidation_cursor_id TEXT NOT NULL DEFAULT '',  -- were checked: ties on updated_at need the id
  last_consolidation INTEGER,
  last_result TEXT
) WITHOUT ROWID;
