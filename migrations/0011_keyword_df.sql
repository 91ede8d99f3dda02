-- Document frequencies of the per-tenant keyword index (0004), kept by triggers on its postings.
-- Every keyword search weighs its terms by their document frequency in the tenant; counting them
-- from memory_terms read each query term's whole posting list (2,300 rows for "what do we use for
-- caching" at 10,000 memories, before ranking read most of them again). Here it is one row per term.
-- Derived like memory_terms and keyword_stats: a tenant's rows follow its memories (a tenant move
-- copies memories, whose triggers rebuild all three on the target).
CREATE TABLE keyword_df (
  tenant TEXT    NOT NULL,
  term   TEXT    NOT NULL,
  df     INTEGER NOT NULL,              -- memories of the tenant whose index terms include `term`
  PRIMARY KEY (tenant, term)
) WITHOUT ROWID;

INSERT INTO keyword_df (tenant, term, df) SELECT tenant, term, count(*) FROM memory_terms GROUP BY tenant, term;

CREATE TRIGGER memory_terms_df_insert AFTER INSERT ON memory_terms BEGIN
  INSERT INTO keyword_df (tenant, term, df) VALUES (new.tenant, new.term, 1)
    ON CONFLICT (tenant, term) DO UPDATE SET df = df + 1;
END;
-- A term no memory has any more leaves no row behind.
CREATE TRIGGER memory_terms_df_delete AFTER DELETE ON memory_terms BEGIN
  UPDATE keyword_df SET df = df - 1 WHERE tenant = old.tenant AND term = old.term;
  DELETE FROM keyword_df WHERE tenant = old.tenant AND term = old.term AND df <= 0;
END;
