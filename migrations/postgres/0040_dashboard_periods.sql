-- The dashboard counts a store's intents created in a period and the one before it (issue #21).
CREATE INDEX payment_intents_store_created ON payment_intents (store_id, environment, created_at);
