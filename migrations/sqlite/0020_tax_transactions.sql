-- Tax committed when a payment is captured and reversed when it is refunded, per snapshot tax
-- line: what a merchant files. One transaction per capture or refund (`source`), so a
-- repeated or concurrent settlement records it once.
CREATE TABLE tax_transactions (
    id           BLOB PRIMARY KEY,
    store_id     BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    order_id     BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    snapshot_id  BLOB NOT NULL REFERENCES order_checkout_snapshots (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('commit', 'reversal')),
    source       text NOT NULL,
    currency     text NOT NULL CHECK (length(currency) = 3),
    taxable      INTEGER NOT NULL,
    exempt       INTEGER NOT NULL,
    tax          INTEGER NOT NULL CHECK (tax >= 0),
    created_at   TEXT NOT NULL,
    UNIQUE (order_id, source)
);
CREATE INDEX tax_transactions_period ON tax_transactions (store_id, environment, created_at, id);

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
