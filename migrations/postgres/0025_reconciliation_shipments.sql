-- Label charges are reconciled like payments: a run also stages the carriers' billing records
-- of its period and compares each shipment's label with its record. An item about a label
-- names its shipment, and every item says what it is about (a tax filing's item names its
-- order and payment, and the filed document by our tax transaction's id).
ALTER TABLE reconciliation_items ADD COLUMN shipment_id uuid;
ALTER TABLE reconciliation_items ADD COLUMN subject text NOT NULL DEFAULT 'payment'
    CHECK (subject IN ('payment', 'label', 'tax'));
-- The shipments of a run's period, by creation (keyset).
CREATE INDEX shipments_store_created ON shipments (store_id, environment, created_at, id);
-- Which stores had shipments on a day (the scheduler and platform runs).
CREATE INDEX shipments_created ON shipments (created_at);
-- A run's staged lists are dropped when it ends; drop those of runs that ended before.
DELETE FROM reconciliation_provider_records WHERE run_id IN
    (SELECT id FROM reconciliation_runs WHERE status IN ('completed', 'failed'));
