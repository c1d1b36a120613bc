-- A ledger change a person applies from a reconciliation item is recorded as such.
ALTER TABLE order_status_history DROP CONSTRAINT order_status_history_source_check;
ALTER TABLE order_status_history ADD CONSTRAINT order_status_history_source_check
    CHECK (source IN ('api', 'webhook', 'job', 'reconciliation'));
