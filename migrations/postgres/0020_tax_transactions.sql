-- Tax committed when a payment is captured and reversed when it is refunded, per snapshot tax
-- line: what a merchant files (the snapshot is the payment's, so it is never purged before it). One transaction per capture or refund (`source`), so a
-- repeated or concurrent settlement records it once.
CREATE TABLE tax_transactions (
    id           uuid PRIMARY KEY,
    store_id     uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    order_id     uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    payment_intent_id uuid NOT NULL REFERENCES payment_intents (id) ON DELETE CASCADE,
    snapshot_id  uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('commit', 'reversal')),
    source       text NOT NULL,
    currency     text NOT NULL CHECK (length(currency) = 3),
    taxable      bigint NOT NULL,
    exempt       bigint NOT NULL,
    tax          bigint NOT NULL CHECK (tax >= 0),
    created_at   timestamptz NOT NULL,
    UNIQUE (order_id, source, kind)
);
CREATE INDEX tax_transactions_period ON tax_transactions (store_id, environment, created_at, id);
CREATE INDEX tax_transactions_intent ON tax_transactions (payment_intent_id, kind);

-- Each transaction's share of every snapshot tax line (amounts are positive; a reversal's
-- amounts are what it takes back).
CREATE TABLE tax_transaction_lines (
    transaction_id  uuid NOT NULL REFERENCES tax_transactions (id) ON DELETE CASCADE,
    line_no         integer NOT NULL,
    position        integer NOT NULL,
    jurisdiction    text NOT NULL,
    taxable         bigint NOT NULL,
    exempt          bigint NOT NULL,
    tax             bigint NOT NULL CHECK (tax >= 0),
    PRIMARY KEY (transaction_id, line_no, position)
);

-- Every export of the tax report: who asked, for which period and shape, and what was sent
-- (rows and SHA-256 once it finished). A download again re-reads the same transactions
-- (created before `as_of`) and sends the same bytes.
CREATE TABLE tax_exports (
    id           uuid PRIMARY KEY,
    store_id     uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    actor        text NOT NULL,
    period_from  date NOT NULL,
    period_to    date NOT NULL,
    format       text NOT NULL CHECK (format IN ('csv', 'json')),
    group_by     text NOT NULL CHECK (group_by IN ('jurisdiction', 'transaction')),
    as_of        timestamptz NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'completed')),
    row_count    bigint,
    sha256       text,
    created_at   timestamptz NOT NULL,
    completed_at timestamptz
);
CREATE INDEX tax_exports_store ON tax_exports (store_id, environment, id);
