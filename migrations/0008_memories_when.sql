-- When a memory happened: its event_date, or its creation for a memory without one. Searches that
-- name a time ("in May 2024") read the memories of that period by it instead of scanning the tenant.
CREATE INDEX IF NOT EXISTS memories_when ON memories (tenant, coalesce(event_date, created_at));
