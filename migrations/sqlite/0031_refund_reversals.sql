-- A refund the provider reports failed after it had succeeded (the card was closed, the bank
-- returned the money) is `reversed`: it no longer counts in the intent's refunded amount, which
-- stays the sum of the succeeded refunds; `failure_code` keeps the provider's reason. SQLite
-- cannot alter a CHECK: the table is rebuilt with the same columns, rows and indexes.
CREATE TABLE payment_transactions_next (
    id                     BLOB PRIMARY KEY,
    payment_intent_id      BLOB NOT NULL REFERENCES payment_intents (id) ON DELETE CASCADE,
    store_id               BLOB NOT NULL,
    environment            text NOT NULL,
    operation              text NOT NULL CHECK (operation IN ('authorize', 'capture', 'void', 'refund')),
    idempotency_key        text NOT NULL,
    amount                 bigint NOT NULL CHECK (amount >= 0),
    currency               text NOT NULL,
    status                 text NOT NULL CHECK (status IN ('pending', 'unknown', 'succeeded',
                               'failed', 'reversed')),
    provider_txn_id        text,
    failure_kind           text CHECK (failure_kind IN ('declined', 'rejected', 'unavailable')),
    failure_code           text,
    reason                 text,
    raw_response_redacted  text,
    correlation_id         text NOT NULL,
    actor                  text NOT NULL,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    request_hash           text,
    attempts               integer NOT NULL DEFAULT 0,
    next_attempt_at        TEXT,
    settlement_amount      bigint,
    settlement_currency    text,
    -- Only a refund is ever reversed.
    CHECK (status <> 'reversed' OR operation = 'refund'),
    UNIQUE (payment_intent_id, operation, idempotency_key)
);
INSERT INTO payment_transactions_next (id, payment_intent_id, store_id, environment, operation,
    idempotency_key, amount, currency, status, provider_txn_id, failure_kind, failure_code,
    reason, raw_response_redacted, correlation_id, actor, created_at, updated_at, request_hash,
    attempts, next_attempt_at, settlement_amount, settlement_currency)
SELECT id, payment_intent_id, store_id, environment, operation, idempotency_key, amount,
    currency, status, provider_txn_id, failure_kind, failure_code, reason,
    raw_response_redacted, correlation_id, actor, created_at, updated_at, request_hash, attempts,
    next_attempt_at, settlement_amount, settlement_currency FROM payment_transactions;
DROP TABLE payment_transactions;
ALTER TABLE payment_transactions_next RENAME TO payment_transactions;
CREATE INDEX payment_transactions_due ON payment_transactions (next_attempt_at)
    WHERE status IN ('pending', 'unknown');
CREATE INDEX payment_transactions_store_day ON payment_transactions (store_id, environment, created_at);
