-- Webhook events belong to one environment: the one whose signing secret verified them. They
-- settle only that environment's transactions and are listed only to its callers. Deliveries
-- that verified with no secret (rejected) have none.
ALTER TABLE webhook_events ADD COLUMN environment text
    CHECK (environment IN ('sandbox', 'production'));
CREATE INDEX webhook_events_store_env ON webhook_events (store_id, environment, id);
