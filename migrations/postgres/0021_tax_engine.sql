-- Which engine taxes a store's quotes in an environment, and what a quote does when that
-- engine (a tax service) cannot answer: refuse (503 tax_unavailable) or tax with the store's
-- own rates, marked `fallback` on the lines. No row: the store's own rates (`rules`).
CREATE TABLE tax_settings (
    store_id     uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    engine       text NOT NULL,
    fallback     text NOT NULL CHECK (fallback IN ('refuse', 'rules')),
    updated_by   text NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (store_id, environment)
);

-- The outbox of filings with a tax service: written in the transaction that records the tax
-- transaction (no filing without its tax, no tax without its filing), sent by a worker that
-- claims due rows with a lease and files under the tax transaction's id as idempotency key.
-- An order's filings go in the order they were written (a refund never reaches the service
-- before the commit it reverses): `seq` numbers them per order in the settling transaction,
-- under the payment's lock, and a filing waits while an earlier one of its order is pending,
-- in flight or failed (a failed one is retried by hand first).
CREATE TABLE tax_engine_calls (
    id              uuid PRIMARY KEY REFERENCES tax_transactions (id) ON DELETE CASCADE,
    store_id        uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment     text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    order_id        uuid NOT NULL,
    seq             bigint NOT NULL,
    engine          text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('commit', 'refund', 'void')),
    document        text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'processing', 'sent', 'failed')),
    attempt_count   integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz
);
CREATE INDEX tax_engine_calls_due ON tax_engine_calls (status, next_attempt_at);
CREATE INDEX tax_engine_calls_order ON tax_engine_calls (order_id, seq);

-- How far a running export is: transactions in its window, and how many were written so far
-- (exports by transaction line; written about once a second while the file streams).
ALTER TABLE tax_exports ADD COLUMN transactions_total bigint;
ALTER TABLE tax_exports ADD COLUMN transactions_done bigint;
