-- Inbound provider webhooks: stored raw before anything else, processed asynchronously by
-- workers that claim them through the database.
CREATE TABLE webhook_events (
    id                 BLOB PRIMARY KEY,
    store_id           BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    provider           text NOT NULL,
    provider_event_id  text NOT NULL,
    event_type         text NOT NULL,
    signature_valid    integer NOT NULL CHECK (signature_valid IN (0, 1)),
    payload            text NOT NULL,
    status             text NOT NULL CHECK (status IN ('pending', 'processing', 'processed', 'dead', 'rejected')),
    attempt_count      integer NOT NULL,
    next_attempt_at    TEXT,
    locked_until       TEXT,
    last_error         text,
    received_at        TEXT NOT NULL,
    processed_at       TEXT
);
-- One event per provider event id and store; forged (unverified) deliveries do not take the slot.
CREATE UNIQUE INDEX webhook_events_provider_event ON webhook_events (store_id, provider, provider_event_id)
    WHERE signature_valid;
-- Work queue: what is due, and claims whose worker died.
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_events_leased ON webhook_events (locked_until) WHERE status = 'processing';
-- The console list: per store, by status, newest first.
CREATE INDEX webhook_events_store ON webhook_events (store_id, id);
CREATE INDEX webhook_events_store_status ON webhook_events (store_id, status, id);

-- The sandbox PSP's side: where each account wants its webhooks, and the events it owes.
CREATE TABLE sandbox_psp_endpoints (
    account     text PRIMARY KEY,
    url         text NOT NULL,
    secret      text NOT NULL,
    updated_at  TEXT NOT NULL
);
ALTER TABLE sandbox_psp_payments ADD COLUMN reference text;
-- Webhooks that name only the provider's payment id find the intent by it.
CREATE INDEX payment_intents_provider_payment ON payment_intents (store_id, provider_payment_id);
