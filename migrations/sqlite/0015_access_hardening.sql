-- Issue 13 (roles, secrets at rest): accounts with a generated password must choose their own
-- before anything else; console sessions name their user so a password change can end them;
-- idempotency answers that carry a secret are sealed with a master key version (NULL: plain).
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
    CHECK (must_change_password IN (0, 1));
ALTER TABLE console_sessions ADD COLUMN user_id BLOB;
CREATE INDEX console_sessions_user ON console_sessions (user_id);
ALTER TABLE idempotency_keys ADD COLUMN response_key_version integer;
CREATE INDEX idempotency_keys_sealed ON idempotency_keys (response_key_version)
    WHERE response_key_version IS NOT NULL;
