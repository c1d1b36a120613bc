-- The sandbox PSP's own ledger. It plays a remote payment provider: it keeps its own records,
-- partitioned by account (the SHA-256 of the API key it was called with), and honours its
-- callers' Idempotency-Key per account. Cassa's reconciliation compares against this truth.
CREATE TABLE sandbox_psp_payments (
    id              text PRIMARY KEY,
    account         text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    currency        text NOT NULL,
    payment_method  text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'authorized', 'captured', 'voided', 'failed')),
    failure_code    text,
    captured        bigint NOT NULL DEFAULT 0,
    refunded        bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX sandbox_psp_payments_account ON sandbox_psp_payments (account, id);

CREATE TABLE sandbox_psp_requests (
    account          text NOT NULL,
    idempotency_key  text NOT NULL,
    request_hash     text NOT NULL,
    response_status  integer NOT NULL,
    response_body    text NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (account, idempotency_key)
);
