-- Outbound webhooks: a store's endpoints, their signing secrets, the events Cassa emits (the
-- outbox, written in the same transaction as the change they report), one delivery per event
-- and subscribed endpoint, and every attempt to deliver it.

CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY,
    store_id         uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment      text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    url              text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description      text CHECK (description IS NULL OR length(description) <= 500),
    -- The subscribed event types as a JSON array of strings; ["*"] is every type.
    event_types      text NOT NULL CHECK (length(event_types) BETWEEN 2 AND 8192),
    enabled          boolean NOT NULL,
    -- Deliver this endpoint's events one at a time in the order they were emitted.
    ordered          boolean NOT NULL DEFAULT false,
    -- Why it is disabled: by a person, or by Cassa after sustained failure.
    disabled_reason  text CHECK (disabled_reason IS NULL OR disabled_reason IN ('manual', 'failing')),
    -- Since when every delivery to it has failed (NULL while it succeeds).
    failing_since    timestamptz,
    version          integer NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_store ON webhook_endpoints (store_id, environment, id);

-- Signing secrets (`whsec_…`), sealed with the master key ring like provider credentials. An
-- endpoint signs with every secret not yet expired: after a rotation the old one keeps signing
-- until `expires_at` (Standard Webhooks allows several signatures).
CREATE TABLE webhook_endpoint_secrets (
    id           uuid PRIMARY KEY,
    endpoint_id  uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    key_version  integer NOT NULL,
    nonce        bytea NOT NULL,
    ciphertext   bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz
);
CREATE INDEX webhook_endpoint_secrets_endpoint ON webhook_endpoint_secrets (endpoint_id, created_at);
CREATE INDEX webhook_endpoint_secrets_key_version ON webhook_endpoint_secrets (key_version, id);

-- The outbox: one row per event, written in the transaction of the change it reports.
CREATE TABLE outbound_events (
    id           uuid PRIMARY KEY,
    store_id     uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    event_type   text NOT NULL CHECK (length(event_type) BETWEEN 1 AND 64),
    api_version  text NOT NULL CHECK (length(api_version) BETWEEN 1 AND 32),
    -- The event as sent: {id, type, created, api_version, store_id, environment, data: {object}}.
    payload      text NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX outbound_events_store ON outbound_events (store_id, environment, created_at, id);

-- One delivery per event and endpoint subscribed when it was emitted.
CREATE TABLE webhook_deliveries (
    id                uuid PRIMARY KEY,
    event_id          uuid NOT NULL REFERENCES outbound_events (id) ON DELETE CASCADE,
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    store_id          uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    status            text NOT NULL CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed')),
    attempt_count     integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    -- A worker's claim: another may take the delivery over only after it.
    locked_until      timestamptz,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL,
    delivered_at      timestamptz,
    UNIQUE (event_id, endpoint_id)
);
-- The workers' claim: due deliveries, oldest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE status IN ('pending', 'delivering');
-- An endpoint's delivery log, newest first, and its ordered queue.
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Every attempt: status, latency, response code and the first KiB of the response body.
CREATE TABLE webhook_delivery_attempts (
    id             uuid PRIMARY KEY,
    delivery_id    uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id    uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    attempted_at   timestamptz NOT NULL,
    status_code    integer,
    latency_ms     integer NOT NULL CHECK (latency_ms >= 0),
    error          text,
    response_body  text CHECK (response_body IS NULL OR length(response_body) <= 1024)
);
CREATE INDEX webhook_delivery_attempts_delivery ON webhook_delivery_attempts (delivery_id, attempted_at);
CREATE INDEX webhook_delivery_attempts_endpoint ON webhook_delivery_attempts (endpoint_id, attempted_at);
