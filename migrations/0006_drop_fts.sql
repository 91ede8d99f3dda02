-- Keyword search reads the per-tenant index of 0004 (memory_terms, keyword_stats); nothing reads
-- the FTS5 index any more (its bm25() and vocabulary counted every tenant's documents). Keeping it
-- in step cost every write of a memory an FTS5 update: drop it.
DROP TRIGGER memories_fts_insert;
DROP TRIGGER memories_fts_delete;
DROP TRIGGER memories_fts_update;
DROP TABLE memories_fts_vocab;
DROP TABLE memories_fts;
