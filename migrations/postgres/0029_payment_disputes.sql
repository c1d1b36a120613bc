-- Disputes (chargebacks) a payment provider reports on a payment intent, as its signed events
-- describe them. A dispute is not a refund: it never moves the intent's ledger amounts.
-- `amount` is in ISO 4217 minor units (converted from the provider's units).
CREATE TABLE payment_disputes (
    id                   uuid PRIMARY KEY,
    store_id             uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment          text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    payment_intent_id    uuid NOT NULL REFERENCES payment_intents (id) ON DELETE CASCADE,
    provider             text NOT NULL CHECK (length(provider) BETWEEN 1 AND 64),
    provider_dispute_id  text NOT NULL CHECK (length(provider_dispute_id) BETWEEN 1 AND 255),
    amount               bigint NOT NULL CHECK (amount >= 0),
    currency             text NOT NULL CHECK (length(currency) = 3),
    reason               text NOT NULL CHECK (length(reason) BETWEEN 1 AND 64),
    status               text NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won',
                             'lost', 'closed')),
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    -- One row per provider dispute: a repeated or late event updates it.
    UNIQUE (store_id, provider, provider_dispute_id)
);
-- The order page: the disputes of an order's intents in one query.
CREATE INDEX payment_disputes_intent ON payment_disputes (payment_intent_id, id);
-- The store's list, newest first, with or without a status filter.
CREATE INDEX payment_disputes_store ON payment_disputes (store_id, environment, id);
CREATE INDEX payment_disputes_store_status ON payment_disputes (store_id, environment, status, id);

-- A dispute's changes go on the order's history as their own subject.
ALTER TABLE order_status_history DROP CONSTRAINT order_status_history_subject_check;
ALTER TABLE order_status_history ADD CONSTRAINT order_status_history_subject_check
    CHECK (subject IN ('order', 'payment', 'dispute'));
