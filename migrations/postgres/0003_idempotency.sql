-- Idempotency records for mutating requests under /api/v1/admin and /api/v1/me.
-- scope = store + environment + principal; the first request claims (scope, key) with an
-- in-flight row, and its final response is stored for byte-for-byte replay.
CREATE TABLE idempotency_keys (
    scope             text NOT NULL,
    idempotency_key   text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash      bytea NOT NULL,
    status            text NOT NULL CHECK (status IN ('in_flight', 'completed')),
    response_code     integer,
    response_type     text,
    response_body     bytea,
    locked_at         timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
