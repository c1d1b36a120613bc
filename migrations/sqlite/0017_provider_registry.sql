-- Payment providers come from the server's registry: the database no longer lists them (a
-- provider the server does not register is refused by the API before anything is stored).
CREATE TABLE provider_credentials_new (
    id           BLOB PRIMARY KEY,
    store_id     BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    provider     text NOT NULL CHECK (length(provider) BETWEEN 1 AND 64),
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
INSERT INTO provider_credentials_new (id, store_id, provider, environment, key_version, nonce,
    ciphertext, masked, revision, created_at, updated_at)
SELECT id, store_id, provider, environment, key_version, nonce, ciphertext, masked, revision,
    created_at, updated_at FROM provider_credentials;
DROP TABLE provider_credentials;
ALTER TABLE provider_credentials_new RENAME TO provider_credentials;
CREATE INDEX provider_credentials_key_version ON provider_credentials (key_version, id);
