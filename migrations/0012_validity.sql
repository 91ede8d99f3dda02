-- Bi-temporal memories (docs/temporal.md): beside system time (created_at, updated_at, history),
-- each memory says when it was true. valid_from: when it became true (NULL on rows written before
-- this migration: read as coalesce(event_date, created_at), so no backfill has to touch every row
-- of every tenant, nor trip a moving tenant's fence). valid_to: when it stopped (NULL = current).
-- A memory closed by a newer one that contradicts it names it (superseded_by), and the newer one
-- names it back (supersedes); invalid_reason says why it was closed.
ALTER TABLE memories ADD COLUMN valid_from INTEGER;
ALTER TABLE memories ADD COLUMN valid_to INTEGER;
ALTER TABLE memories ADD COLUMN superseded_by TEXT;
ALTER TABLE memories ADD COLUMN supersedes TEXT;
ALTER TABLE memories ADD COLUMN invalid_reason TEXT;
