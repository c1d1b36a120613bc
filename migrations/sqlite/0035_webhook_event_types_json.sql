-- An endpoint's subscribed event types are read by the outbox's fan-out inside the transaction
-- of every change that emits an event (a payment's settlement among them): a value that is not
-- a JSON array would fail that transaction, so no such value can be stored.

CREATE TRIGGER webhook_endpoints_event_types_insert BEFORE INSERT ON webhook_endpoints
WHEN CASE WHEN json_valid(NEW.event_types) THEN json_type(NEW.event_types) <> 'array' ELSE 1 END
BEGIN
    SELECT RAISE(ABORT, 'webhook_endpoints.event_types must be a JSON array');
END;

CREATE TRIGGER webhook_endpoints_event_types_update BEFORE UPDATE OF event_types ON webhook_endpoints
WHEN CASE WHEN json_valid(NEW.event_types) THEN json_type(NEW.event_types) <> 'array' ELSE 1 END
BEGIN
    SELECT RAISE(ABORT, 'webhook_endpoints.event_types must be a JSON array');
END;
