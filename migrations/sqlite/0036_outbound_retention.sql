-- Retention of the delivery log and the outbox (`CASSA_RETENTION_OUTBOUND_WEBHOOKS_DAYS`): the
-- sweep takes finished deliveries oldest first, then events older than the period that no
-- delivery needs. Without these indexes each batch would scan the whole table.
-- (The delivery queue's index covers only unfinished deliveries, the log's starts with the
-- endpoint and the events' with the store.)

-- Finished deliveries by their event's time: the sweep repeats this condition term for term.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at, id)
    WHERE status IN ('succeeded', 'failed');
-- Events by time, for every store at once.
CREATE INDEX outbound_events_created ON outbound_events (created_at);
