-- Reconciliation: a run compares, for a period, every payment of a store and environment with
-- its provider's records. Claimed like the other jobs (a lease, `SKIP LOCKED`); it advances
-- batch by batch, each batch's items, counts and cursor committed together, so a run resumed
-- after a crash never counts a payment twice. One active run per store, environment and
-- period.
CREATE TABLE reconciliation_runs (
    id            BLOB PRIMARY KEY,
    store_id      BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment   text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    period_from   TEXT NOT NULL,
    period_to     TEXT NOT NULL,
    as_of         TEXT NOT NULL,
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    phase         text NOT NULL CHECK (phase IN ('provider', 'ours', 'orphans', 'done')),
    cursor        text,
    locked_until  TEXT,
    attempts      integer NOT NULL DEFAULT 0,
    examined      INTEGER NOT NULL DEFAULT 0,
    matched       INTEGER NOT NULL DEFAULT 0,
    exceptions    INTEGER NOT NULL DEFAULT 0,
    summary       text,
    last_error    text,
    requested_by  text NOT NULL,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    completed_at  TEXT,
    duration_ms   INTEGER
);
CREATE UNIQUE INDEX reconciliation_runs_active ON reconciliation_runs
    (store_id, environment, period_from, period_to) WHERE status IN ('queued', 'running');
CREATE INDEX reconciliation_runs_store ON reconciliation_runs (store_id, environment, id);
CREATE INDEX reconciliation_runs_due ON reconciliation_runs (status, locked_until);

-- The provider's records of a run's period, as listed (staged in the database, not in memory).
CREATE TABLE reconciliation_provider_records (
    run_id               BLOB NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
    provider             text NOT NULL,
    provider_payment_id  text NOT NULL,
    reference            text,
    status               text NOT NULL,
    currency             text NOT NULL,
    amount               INTEGER NOT NULL,
    captured             INTEGER NOT NULL,
    refunded             INTEGER NOT NULL,
    seen                 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, provider, provider_payment_id)
);
CREATE INDEX reconciliation_provider_records_reference ON reconciliation_provider_records
    (run_id, reference);

-- What a run found that needs a person: every kind but `matched` (counted on the run).
CREATE TABLE reconciliation_items (
    id                   BLOB PRIMARY KEY,
    run_id               BLOB NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
    store_id             BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment          text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    item_key             text NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('amount_mismatch', 'currency_mismatch',
                             'status_mismatch', 'missing_at_provider', 'missing_in_cassa',
                             'duplicate_at_provider', 'stale_unknown')),
    payment_intent_id    BLOB,
    order_id             BLOB,
    provider             text NOT NULL,
    provider_payment_id  text,
    currency             text NOT NULL,
    difference           INTEGER NOT NULL,
    ours                 text,
    theirs               text,
    resolution           text NOT NULL CHECK (resolution IN ('open', 'acknowledged', 'resolved')),
    note                 text,
    resolved_by          text,
    resolved_at          TEXT,
    created_at           TEXT NOT NULL,
    UNIQUE (run_id, item_key)
);
CREATE INDEX reconciliation_items_run ON reconciliation_items (run_id, kind, id);
CREATE INDEX reconciliation_items_open ON reconciliation_items (store_id, environment, resolution, id);

-- A run reads a store's payments of a period in creation order; the scheduler finds the stores
-- with payments in a period.
CREATE INDEX payment_intents_store_created ON payment_intents (store_id, environment, created_at, id);
CREATE INDEX payment_intents_created ON payment_intents (created_at);
