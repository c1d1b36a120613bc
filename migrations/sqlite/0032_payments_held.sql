-- Payments that still need their provider's account, found without reading a store's whole
-- history: authorizations whose uncaptured rest is held on the card (credentials are not
-- deleted or switched to another account while any remain, and the resolver finds the rests
-- a provider released with a capture but the ledger still holds) ...
CREATE INDEX payment_intents_held ON payment_intents (provider, store_id, environment)
    WHERE authorized_amount > captured_amount + released_amount;
-- ... and transactions whose outcome is still open, per store and environment.
CREATE INDEX payment_transactions_open_store ON payment_transactions (store_id, environment)
    WHERE status IN ('pending', 'unknown');
