-- When a store's daily reconciliation is queued: each day, once the scheduler finds the UTC
-- time past `daily_at` (minutes after midnight), it queues the previous UTC day's run for the
-- store and environment (if it had payments and has no run yet). No row: at midnight, enabled.
CREATE TABLE reconciliation_schedules (
    store_id     BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    daily_at     integer NOT NULL CHECK (daily_at >= 0 AND daily_at < 1440),
    enabled      INTEGER NOT NULL,
    updated_by   text NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (store_id, environment)
);
-- The scheduler's question, "has this store a run of that day", by index.
CREATE INDEX reconciliation_runs_period ON reconciliation_runs (store_id, environment, period_from, period_to);
