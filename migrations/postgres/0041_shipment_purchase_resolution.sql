-- The request a label was bought for (`<actor> <Idempotency-Key>`): that request, retried after
-- its answer was lost, hears the shipment it bought instead of `shipment_exists`. NULL on
-- shipments bought before this column existed.
ALTER TABLE shipments ADD COLUMN purchase_key text;
-- The resolver's queue of purchases a dead or timed-out request left `purchasing`: attempts so
-- far (compare-and-set, so two instances drive one purchase once) and when to try again.
ALTER TABLE shipments ADD COLUMN resolve_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE shipments ADD COLUMN next_resolve_at timestamptz;
CREATE INDEX shipments_purchasing ON shipments (updated_at) WHERE status = 'purchasing';
-- A label bought for a store that captures on shipment, whose capture has not been made yet:
-- set in the transaction that records the label, cleared once the capture was made (or found
-- impossible), so a process that dies in between leaves it for the resolver.
ALTER TABLE shipments ADD COLUMN capture_due boolean NOT NULL DEFAULT false;
CREATE INDEX shipments_capture_due ON shipments (updated_at) WHERE capture_due;
