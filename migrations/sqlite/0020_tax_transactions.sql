-- Tax committed when a payment is captured and reversed when it is refunded, per snapshot tax
-- line: what a merchant files (the snapshot is the payment's, so it is never purged before it). One transaction per capture or refund (`source`), so a
-- repeated or concurrent settlement records it once.
CREATE TABLE tax_transactions (
    id           BLOB PRIMARY KEY,
    store_id     BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    order_id     BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    payment_intent_id BLOB NOT NULL REFERENCES payment_intents (id) ON DELETE CASCADE,
    snapshot_id  BLOB NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('commit', 'reversal')),
    source       text NOT NULL,
    currency     text NOT NULL CHECK (length(currency) = 3),
    taxable      INTEGER NOT NULL,
    exempt       INTEGER NOT NULL,
    tax          INTEGER NOT NULL CHECK (tax >= 0),
    created_at   TEXT NOT NULL,
    UNIQUE (order_id, source, kind)
);
CREATE INDEX tax_transactions_period ON tax_transactions (store_id, environment, created_at, id);
CREATE INDEX tax_transactions_intent ON tax_transactions (payment_intent_id, kind);

-- Each transaction's share of every snapshot tax line (amounts are positive; a reversal's
-- amounts are what it takes back).
CREATE TABLE tax_transaction_lines (
    transaction_id  BLOB NOT NULL REFERENCES tax_transactions (id) ON DELETE CASCADE,
    line_no         integer NOT NULL,
    position        integer NOT NULL,
    jurisdiction    text NOT NULL,
    taxable         INTEGER NOT NULL,
    exempt          INTEGER NOT NULL,
    tax             INTEGER NOT NULL CHECK (tax >= 0),
    PRIMARY KEY (transaction_id, line_no, position)
);

-- Every export of the tax report: who asked, for which period and shape, and what was sent
-- (rows and SHA-256 once it finished). A download again re-reads the same transactions
-- (created before `as_of`) and sends the same bytes.
CREATE TABLE tax_exports (
    id           BLOB PRIMARY KEY,
    store_id     BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    actor        text NOT NULL,
    period_from  TEXT NOT NULL,
    period_to    TEXT NOT NULL,
    format       text NOT NULL CHECK (format IN ('csv', 'json')),
    group_by     text NOT NULL CHECK (group_by IN ('jurisdiction', 'transaction')),
    as_of        TEXT NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'completed')),
    row_count    INTEGER,
    sha256       text,
    created_at   TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX tax_exports_store ON tax_exports (store_id, environment, id);
