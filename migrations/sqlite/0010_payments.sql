-- Payment intents, their provider transactions (the ledger) and the order status history.
--
-- Invariants held by constraints (and, for the sums, by the single transition function that
-- writes these rows): captured <= authorized <= amount, refunded <= captured, reserved amounts
-- (in-flight captures/refunds) fit in what is left, one active intent per order.
CREATE TABLE payment_intents (
    id                   BLOB PRIMARY KEY,
    store_id             BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment          text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    order_id             BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    snapshot_id          BLOB NOT NULL REFERENCES order_checkout_snapshots (id),
    customer_id          BLOB NOT NULL,
    provider             text NOT NULL,
    provider_payment_id  text,
    payment_method       text NOT NULL,
    status               text NOT NULL CHECK (status IN ('requires_authorization', 'pending',
                             'unknown', 'authorized', 'partially_captured', 'captured',
                             'partially_refunded', 'refunded', 'voided', 'failed')),
    amount               bigint NOT NULL CHECK (amount > 0),
    authorized_amount    bigint NOT NULL CHECK (authorized_amount >= 0 AND authorized_amount <= amount),
    captured_amount      bigint NOT NULL CHECK (captured_amount >= 0 AND captured_amount <= authorized_amount),
    refunded_amount      bigint NOT NULL CHECK (refunded_amount >= 0 AND refunded_amount <= captured_amount),
    capture_reserved     bigint NOT NULL CHECK (capture_reserved >= 0 AND captured_amount + capture_reserved <= authorized_amount),
    refund_reserved      bigint NOT NULL CHECK (refund_reserved >= 0 AND refunded_amount + refund_reserved <= captured_amount),
    void_pending         integer NOT NULL CHECK (void_pending IN (0, 1)),
    currency             text NOT NULL CHECK (length(currency) = 3),
    version              integer NOT NULL,
    failure_code         text,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
-- One active intent per order: a declined or voided intent frees the order for another try.
CREATE UNIQUE INDEX payment_intents_active_order ON payment_intents (order_id)
    WHERE status NOT IN ('failed', 'voided');
CREATE INDEX payment_intents_order ON payment_intents (order_id, id);
-- The ledger list: newest first, optionally by status.
CREATE INDEX payment_intents_store ON payment_intents (store_id, environment, id);
CREATE INDEX payment_intents_store_status ON payment_intents (store_id, environment, status, id);

CREATE TABLE payment_transactions (
    id                     BLOB PRIMARY KEY,
    payment_intent_id      BLOB NOT NULL REFERENCES payment_intents (id) ON DELETE CASCADE,
    store_id               BLOB NOT NULL,
    environment            text NOT NULL,
    operation              text NOT NULL CHECK (operation IN ('authorize', 'capture', 'void', 'refund')),
    idempotency_key        text NOT NULL,
    amount                 bigint NOT NULL CHECK (amount >= 0),
    currency               text NOT NULL,
    status                 text NOT NULL CHECK (status IN ('pending', 'unknown', 'succeeded', 'failed')),
    provider_txn_id        text,
    failure_kind           text CHECK (failure_kind IN ('declined', 'rejected', 'unavailable')),
    failure_code           text,
    reason                 text,
    raw_response_redacted  text,
    correlation_id         text NOT NULL,
    actor                  text NOT NULL,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    UNIQUE (payment_intent_id, operation, idempotency_key)
);
-- Transactions whose outcome is still open, for the resolver.
CREATE INDEX payment_transactions_open ON payment_transactions (status, updated_at)
    WHERE status IN ('pending', 'unknown');
-- Daily volume per store.
CREATE INDEX payment_transactions_store_day ON payment_transactions (store_id, environment, created_at);

CREATE TABLE order_status_history (
    id                 BLOB PRIMARY KEY,
    order_id           BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    payment_intent_id  BLOB,
    subject            text NOT NULL CHECK (subject IN ('order', 'payment')),
    from_status        text,
    to_status          text NOT NULL,
    reason             text NOT NULL,
    source             text NOT NULL CHECK (source IN ('api', 'webhook', 'job')),
    actor              text NOT NULL,
    correlation_id     text NOT NULL,
    created_at         TEXT NOT NULL
);
CREATE INDEX order_status_history_order ON order_status_history (order_id, id);
