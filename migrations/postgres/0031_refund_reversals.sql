-- A refund the provider reports failed after it had succeeded (the card was closed, the bank
-- returned the money) is `reversed`: it no longer counts in the intent's refunded amount, which
-- stays the sum of the succeeded refunds; `failure_code` keeps the provider's reason.
ALTER TABLE payment_transactions DROP CONSTRAINT payment_transactions_status_check;
ALTER TABLE payment_transactions ADD CONSTRAINT payment_transactions_status_check
    CHECK (status IN ('pending', 'unknown', 'succeeded', 'failed', 'reversed'));
-- Only a refund is ever reversed.
ALTER TABLE payment_transactions ADD CONSTRAINT payment_transactions_reversed_refund
    CHECK (status <> 'reversed' OR operation = 'refund');
