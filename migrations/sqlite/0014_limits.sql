-- Limits and retention: the per-account sign-in backoff, leases that keep two processes from
-- running the same job at once, and indexes for sampling rejected webhooks and purging by age.

-- Keyed by the SHA-256 of the normalized email, so an unknown email backs off exactly like an
-- account (no enumeration) without storing addresses nobody registered.
CREATE TABLE sign_in_backoff (
    account_key      text PRIMARY KEY,
    failures         integer NOT NULL CHECK (failures >= 0),
    next_attempt_at  TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX sign_in_backoff_updated ON sign_in_backoff (updated_at);

CREATE TABLE job_leases (
    name          text PRIMARY KEY,
    holder        text NOT NULL,
    leased_until  TEXT NOT NULL
);

CREATE INDEX webhook_events_rejected ON webhook_events (store_id, provider, received_at)
    WHERE status = 'rejected';
CREATE INDEX webhook_events_received ON webhook_events (received_at)
    WHERE status IN ('processed', 'dead', 'rejected');
CREATE INDEX provider_call_audit_created ON provider_call_audit (created_at);
CREATE INDEX order_checkout_snapshots_expires ON order_checkout_snapshots (expires_at);
CREATE INDEX payment_intents_snapshot ON payment_intents (snapshot_id);
CREATE INDEX sandbox_psp_requests_created ON sandbox_psp_requests (created_at);
CREATE INDEX sandbox_psp_payments_updated ON sandbox_psp_payments (updated_at);
CREATE INDEX payment_intents_provider_payment_only ON payment_intents (provider_payment_id);
