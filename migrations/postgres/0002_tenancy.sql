-- Tenancy and access: stores, console users and their roles, API keys, customers and their tokens,
-- bearer tokens for scripting, console sessions. Secrets are stored only as SHA-256 hashes
-- (tokens carry at least 128 bits of randomness) or argon2id hashes (passwords).

CREATE TABLE stores (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency    text NOT NULL CHECK (length(currency) = 3),
    created_at  timestamptz NOT NULL
);

CREATE TABLE users (
    id                 uuid PRIMARY KEY,
    email              text NOT NULL UNIQUE,
    password_hash      text NOT NULL,
    is_platform_admin  boolean NOT NULL DEFAULT FALSE,
    failed_logins      integer NOT NULL DEFAULT 0,
    locked_until       timestamptz,
    created_at         timestamptz NOT NULL
);

CREATE TABLE store_memberships (
    store_id    uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'staff')),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (store_id, user_id)
);
CREATE INDEX store_memberships_user ON store_memberships (user_id);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    store_id      uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment   text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    name          text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    display_hint  text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_store ON api_keys (store_id, environment, id);

CREATE TABLE customers (
    id           uuid PRIMARY KEY,
    store_id     uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    email        text,
    name         text,
    created_at   timestamptz NOT NULL
);
CREATE INDEX customers_store ON customers (store_id, environment, id);

CREATE TABLE customer_tokens (
    token_hash   bytea PRIMARY KEY,
    store_id     uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX customer_tokens_expiry ON customer_tokens (expires_at);

CREATE TABLE user_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX user_tokens_expiry ON user_tokens (expires_at);

CREATE TABLE console_sessions (
    id          text PRIMARY KEY,
    data        bytea NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
