-- Keyword search with per-tenant statistics. FTS5's bm25() and fts5vocab count every tenant's
-- documents, so one tenant's writes changed another's keyword scores (and revealed its word
-- counts). Each memory now carries its index terms, written by MemoryRepo from the text and key,
-- and triggers keep a per-tenant inverted index and per-tenant totals in step with the rows:
-- every statistic a search uses is an index lookup inside the tenant.

-- JSON [[term, weighted frequency], ...] (text words 1, key words 0.5) and length in words.
ALTER TABLE memories ADD COLUMN terms TEXT NOT NULL DEFAULT '[]';
ALTER TABLE memories ADD COLUMN doc_len INTEGER NOT NULL DEFAULT 0;

CREATE TABLE memory_terms (
  tenant  TEXT    NOT NULL,
  term    TEXT    NOT NULL,
  seq     INTEGER NOT NULL,             -- memories.seq
  tf      REAL    NOT NULL,
  doc_len INTEGER NOT NULL,             -- memories.doc_len: BM25 ranks from these rows alone
  PRIMARY KEY (tenant, term, seq)
) WITHOUT ROWID;

-- Per tenant: documents (expired ones too, until purged) and their total length, for BM25.
CREATE TABLE keyword_stats (
  tenant TEXT    PRIMARY KEY,
  docs   INTEGER NOT NULL DEFAULT 0,
  length INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Existing memories: their terms as FTS5 indexed them (weighted as bm25 weighted columns).
CREATE VIRTUAL TABLE memories_fts_instance USING fts5vocab (memories_fts, 'instance');
UPDATE memories SET terms = x.terms, doc_len = x.len FROM (
  SELECT doc, json_group_array(json_array(term, tf)) AS terms, sum(n) AS len FROM (
    SELECT doc, term, sum(CASE col WHEN 'key' THEN 0.5 ELSE 1.0 END) AS tf, count(*) AS n
    FROM memories_fts_instance GROUP BY doc, term
  ) GROUP BY doc
) AS x WHERE memories.seq = x.doc;
DROP TABLE memories_fts_instance;
INSERT INTO memory_terms (tenant, term, seq, tf, doc_len)
  SELECT m.tenant, j.value ->> 0, m.seq, j.value ->> 1, m.doc_len FROM memories m, json_each(m.terms) j;
INSERT INTO keyword_stats (tenant, docs, length) SELECT tenant, count(*), sum(doc_len) FROM memories GROUP BY tenant;

CREATE TRIGGER memories_terms_insert AFTER INSERT ON memories BEGIN
  INSERT INTO memory_terms (tenant, term, seq, tf, doc_len) SELECT new.tenant, value ->> 0, new.seq, value ->> 1, new.doc_len FROM json_each(new.terms);
  INSERT INTO keyword_stats (tenant, docs, length) VALUES (new.tenant, 1, new.doc_len)
    ON CONFLICT (tenant) DO UPDATE SET docs = docs + 1, length = length + excluded.length;
END;
CREATE TRIGGER memories_terms_delete AFTER DELETE ON memories BEGIN
  DELETE FROM memory_terms WHERE tenant = old.tenant AND seq = old.seq AND term IN (SELECT value ->> 0 FROM json_each(old.terms));
  UPDATE keyword_stats SET docs = docs - 1, length = length - old.doc_len WHERE tenant = old.tenant;
END;
-- An upsert sets every column: only a real change of the terms rewrites the index rows.
CREATE TRIGGER memories_terms_update AFTER UPDATE OF terms, doc_len ON memories
WHEN new.terms IS NOT old.terms OR new.doc_len IS NOT old.doc_len BEGIN
  DELETE FROM memory_terms WHERE tenant = old.tenant AND seq = old.seq AND term IN (SELECT value ->> 0 FROM json_each(old.terms));
  INSERT INTO memory_terms (tenant, term, seq, tf, doc_len) SELECT new.tenant, value ->> 0, new.seq, value ->> 1, new.doc_len FROM json_each(new.terms);
  UPDATE keyword_stats SET length = length + new.doc_len - old.doc_len WHERE tenant = new.tenant;
END;
