-- An endpoint's subscribed event types are read by the outbox's fan-out inside the transaction
-- of every change that emits an event (a payment's settlement among them): a value that is not
-- a JSON array would fail that transaction, so no such value can be stored (text that is not
-- JSON fails the cast, anything else the check).

ALTER TABLE webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_event_types_array
    CHECK (jsonb_typeof(event_types::jsonb) = 'array');
