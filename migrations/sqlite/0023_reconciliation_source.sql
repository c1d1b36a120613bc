-- A ledger change a person applies from a reconciliation item is recorded as such. SQLite
-- cannot alter a CHECK: the table is rebuilt with the same columns and rows.
CREATE TABLE order_status_history_next (
    id                 BLOB PRIMARY KEY,
    order_id           BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    payment_intent_id  BLOB,
    subject            text NOT NULL CHECK (subject IN ('order', 'payment')),
    from_status        text,
    to_status          text NOT NULL,
    reason             text NOT NULL,
    source             text NOT NULL CHECK (source IN ('api', 'webhook', 'job', 'reconciliation')),
    actor              text NOT NULL,
    correlation_id     text NOT NULL,
    created_at         TEXT NOT NULL
);
INSERT INTO order_status_history_next (id, order_id, payment_intent_id, subject, from_status,
    to_status, reason, source, actor, correlation_id, created_at)
SELECT id, order_id, payment_intent_id, subject, from_status, to_status, reason, source, actor,
    correlation_id, created_at FROM order_status_history;
DROP TABLE order_status_history;
ALTER TABLE order_status_history_next RENAME TO order_status_history;
CREATE INDEX order_status_history_order ON order_status_history (order_id, id);
