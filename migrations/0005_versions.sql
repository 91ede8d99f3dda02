-- Compare-and-set for read-modify-write paths (no lost updates). Every write of a memory bumps
-- its version; an update or delete applies only if the row still has the version its read saw.
ALTER TABLE memories ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- The guard of a compare-and-set: a write whose conditional statement changed no row inserts
-- here, and the trigger aborts it. D1 runs a batch as one transaction, so the whole batch
-- (history, vectors, graph and feedback rows) rolls back and the service retries from a fresh read.
CREATE TABLE write_conflicts (n INTEGER);
CREATE TRIGGER write_conflicts_abort BEFORE INSERT ON write_conflicts BEGIN
  SELECT RAISE(ABORT, 'edgemem: write conflict');
END;
