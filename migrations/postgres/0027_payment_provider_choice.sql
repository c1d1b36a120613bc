-- The registered payment provider a store's new payments use in an environment (no row: the
-- server's default). An intent keeps the provider that authorized it.
CREATE TABLE store_payment_providers (
    store_id     uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    provider     text NOT NULL CHECK (length(provider) BETWEEN 1 AND 64),
    updated_by   text NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (store_id, environment)
);
