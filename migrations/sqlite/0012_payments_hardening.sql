-- Payments hardening (issue 13).
--
-- Ledger keys are scoped to the credential that sent them (`<actor> <key>`, like the HTTP
-- idempotency scope), and carry a fingerprint of the request so a reused key with another body
-- is refused even after the HTTP record is gone.
UPDATE payment_transactions SET idempotency_key = actor || ' ' || idempotency_key;
ALTER TABLE payment_transactions ADD COLUMN request_hash text;
-- The resolver takes the oldest due rows by a column every attempt moves forward (backoff), so
-- a row that keeps failing cannot starve the others.
ALTER TABLE payment_transactions ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE payment_transactions ADD COLUMN next_attempt_at TEXT;
UPDATE payment_transactions SET next_attempt_at = updated_at WHERE status IN ('pending', 'unknown');
DROP INDEX payment_transactions_open;
CREATE INDEX payment_transactions_due ON payment_transactions (next_attempt_at)
    WHERE status IN ('pending', 'unknown');
-- The uncaptured rest of an authorization released at the provider (a void after a partial
-- capture, or a final capture). SQLite cannot add a table constraint; the transition function
-- keeps captured + reserved + released <= authorized.
ALTER TABLE payment_intents ADD COLUMN released_amount bigint NOT NULL DEFAULT 0
    CHECK (released_amount >= 0);

-- The sandbox PSP releases the rest of an authorization the same way.
ALTER TABLE sandbox_psp_payments ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
