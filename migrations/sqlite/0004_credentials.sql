-- Encrypted provider credentials and the master-key bookkeeping. Key material never lives in the
-- database: master_keys only records which configured version is primary, active or retired.

CREATE TABLE master_keys (
    version     integer PRIMARY KEY CHECK (version > 0),
    status      text NOT NULL CHECK (status IN ('primary', 'active', 'retired')),
    updated_at  TEXT NOT NULL
);
-- At most one primary.
CREATE UNIQUE INDEX master_keys_one_primary ON master_keys (status) WHERE status = 'primary';

CREATE TABLE provider_credentials (
    id           BLOB PRIMARY KEY,
    store_id     BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    provider     text NOT NULL CHECK (provider IN ('sandbox', 'stripe')),
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    key_version  integer NOT NULL,
    nonce        BLOB NOT NULL,
    ciphertext   BLOB NOT NULL,
    masked       text NOT NULL,
    revision     integer NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (store_id, provider, environment)
);
CREATE INDEX provider_credentials_key_version ON provider_credentials (key_version, id);

CREATE TABLE key_rotations (
    id              BLOB PRIMARY KEY,
    target_version  integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'completed')),
    total           INTEGER NOT NULL,
    done            INTEGER NOT NULL,
    lease_until     TEXT,
    started_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX key_rotations_status ON key_rotations (status, id);
