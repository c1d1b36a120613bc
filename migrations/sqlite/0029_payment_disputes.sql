-- Disputes (chargebacks) a payment provider reports on a payment intent, as its signed events
-- describe them. A dispute is not a refund: it never moves the intent's ledger amounts.
-- `amount` is in ISO 4217 minor units (converted from the provider's units).
CREATE TABLE payment_disputes (
    id                   BLOB PRIMARY KEY,
    store_id             BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment          text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    payment_intent_id    BLOB NOT NULL REFERENCES payment_intents (id) ON DELETE CASCADE,
    provider             text NOT NULL CHECK (length(provider) BETWEEN 1 AND 64),
    provider_dispute_id  text NOT NULL CHECK (length(provider_dispute_id) BETWEEN 1 AND 255),
    amount               bigint NOT NULL CHECK (amount >= 0),
    currency             text NOT NULL CHECK (length(currency) = 3),
    reason               text NOT NULL CHECK (length(reason) BETWEEN 1 AND 64),
    status               text NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won',
                             'lost', 'closed')),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    -- One row per provider dispute: a repeated or late event updates it.
    UNIQUE (store_id, provider, provider_dispute_id)
);
-- The order page: the disputes of an order's intents in one query.
CREATE INDEX payment_disputes_intent ON payment_disputes (payment_intent_id, id);
-- The store's list, newest first, with or without a status filter.
CREATE INDEX payment_disputes_store ON payment_disputes (store_id, environment, id);
CREATE INDEX payment_disputes_store_status ON payment_disputes (store_id, environment, status, id);

-- A dispute's changes go on the order's history as their own subject. SQLite cannot alter a
-- CHECK: the table is rebuilt with the same columns and rows.
CREATE TABLE order_status_history_next (
    id                 BLOB PRIMARY KEY,
    order_id           BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    payment_intent_id  BLOB,
    subject            text NOT NULL CHECK (subject IN ('order', 'payment', 'dispute')),
    from_status        text,
    to_status          text NOT NULL,
    reason             text NOT NULL,
    source             text NOT NULL CHECK (source IN ('api', 'webhook', 'job', 'reconciliation')),
    actor              text NOT NULL,
    correlation_id     text NOT NULL,
    created_at         TEXT NOT NULL
);
INSERT INTO order_status_history_next (id, order_id, payment_intent_id, subject, from_status,
    to_status, reason, source, actor, correlation_id, created_at)
SELECT id, order_id, payment_intent_id, subject, from_status, to_status, reason, source, actor,
    correlation_id, created_at FROM order_status_history;
DROP TABLE order_status_history;
ALTER TABLE order_status_history_next RENAME TO order_status_history;
CREATE INDEX order_status_history_order ON order_status_history (order_id, id);
