-- pgbench script: the database writes, and the commits, of one payment through the API
-- (quote + authorize + capture), on Cassa's own schema and indexes. One pgbench transaction
-- = one payment; its tps is the database's limit for our write pattern. Each statement outside
-- BEGIN/COMMIT is its own commit, exactly as in the server: 7 commits per payment. The order row is written inside the
-- quote's transaction (the API places orders before paying), which makes pgbench do slightly
-- more than we do per payment.
SELECT id AS store_id FROM stores WHERE name = 'Bench' LIMIT 1 \gset
SELECT id AS customer_id FROM customers WHERE store_id = :store_id LIMIT 1 \gset
SELECT gen_random_uuid() AS order_id, gen_random_uuid() AS snapshot_id, gen_random_uuid() AS intent_id, gen_random_uuid() AS auth_txn, gen_random_uuid() AS cap_txn, 'psp_' || md5(random()::text) AS psp_id, md5(random()::text) AS k \gset

-- quote: the completed idempotency record, snapshot (+ line) in one transaction
BEGIN;
INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, status, locked_at, created_at, expires_at, response_code, response_type, response_body) VALUES ('bench', :k || 'q', '\x00', 'completed', now(), now(), now() + interval '1 day', 201, 'application/json', '\x7b7d') ON CONFLICT (scope, idempotency_key) DO NOTHING;
INSERT INTO orders (id, store_id, environment, customer_id, status, currency, shipping_address, revision, created_at, updated_at) VALUES (:order_id, :store_id, 'sandbox', :customer_id, 'open', 'USD', '{}', 1, now(), now());
INSERT INTO order_checkout_snapshots (id, order_id, store_id, environment, customer_id, order_revision, currency, subtotal, shipping, tax, total, shipping_service, shipping_provider, tax_provider, created_at, expires_at) VALUES (:snapshot_id, :order_id, :store_id, 'sandbox', :customer_id, 1, 'USD', 2500, 500, 206, 3206, 'standard', 'table_rate', 'rules', now(), now() + interval '15 minutes');
INSERT INTO order_checkout_snapshot_items (snapshot_id, line_no, product_id, quantity, unit_amount, amount, net, tax, tax_rate) VALUES (:snapshot_id, 1, gen_random_uuid(), 1, 2500, 2500, 2500, 206, '0.0825');
COMMIT;

-- authorize: phase 1 (claim + intent + pending row + history); PSP (claim + payment + answer);
-- phase 3 (outcome + intent + history + order + its lines + the outbox's events and their
-- deliveries to subscribed endpoints + audit + idempotent answer)
BEGIN;
INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, status, locked_at, created_at, expires_at) VALUES ('bench', :k || 'a', '\x00', 'in_flight', now(), now(), now() + interval '1 day') ON CONFLICT (scope, idempotency_key) DO NOTHING;
INSERT INTO payment_intents (id, store_id, environment, order_id, snapshot_id, customer_id, provider, payment_method, status, amount, authorized_amount, captured_amount, refunded_amount, capture_reserved, refund_reserved, void_pending, currency, version, created_at, updated_at) VALUES (:intent_id, :store_id, 'sandbox', :order_id, :snapshot_id, :customer_id, 'sandbox', 'pm_card_visa', 'requires_authorization', 3206, 0, 0, 0, 0, 0, false, 'USD', 1, now(), now());
INSERT INTO payment_transactions (id, payment_intent_id, store_id, environment, operation, idempotency_key, amount, currency, status, correlation_id, actor, created_at, updated_at) VALUES (:auth_txn, :intent_id, :store_id, 'sandbox', 'authorize', :k || 'a', 3206, 'USD', 'pending', 'bench', 'bench', now(), now());
INSERT INTO order_status_history (id, order_id, payment_intent_id, subject, from_status, to_status, reason, source, actor, correlation_id, created_at) VALUES (gen_random_uuid(), :order_id, :intent_id, 'payment', NULL, 'requires_authorization', 'payment started', 'api', 'bench', 'bench', now());
COMMIT;
BEGIN;
INSERT INTO sandbox_psp_requests (account, idempotency_key, request_hash, response_status, response_body, created_at) VALUES ('bench', :k || 'pa', 'h', 0, '', now()) ON CONFLICT (account, idempotency_key) DO NOTHING;
INSERT INTO sandbox_psp_payments (id, account, amount, currency, payment_method, status, failure_code, created_at, updated_at, reference) VALUES (:psp_id, 'bench', 3206, 'USD', 'pm_card_visa', 'authorized', NULL, now(), now(), :auth_txn) RETURNING id;
UPDATE sandbox_psp_requests SET response_status = 201, response_body = '{}' WHERE account = 'bench' AND idempotency_key = :k || 'pa';
COMMIT;
BEGIN;
SELECT id FROM payment_transactions WHERE id = :auth_txn FOR UPDATE;
SELECT id FROM payment_intents WHERE id = :intent_id FOR UPDATE;
UPDATE payment_transactions SET status = 'succeeded', provider_txn_id = :psp_id, updated_at = now() WHERE id = :auth_txn AND status = 'pending';
UPDATE payment_intents SET status = 'authorized', authorized_amount = 3206, provider_payment_id = :psp_id, version = version + 1, updated_at = now() WHERE id = :intent_id AND version = 1;
INSERT INTO order_status_history (id, order_id, payment_intent_id, subject, from_status, to_status, reason, source, actor, correlation_id, created_at) VALUES (gen_random_uuid(), :order_id, :intent_id, 'payment', 'requires_authorization', 'authorized', 'authorization succeeded', 'api', 'bench', 'bench', now());
UPDATE orders SET status = 'paid', updated_at = now() WHERE id = :order_id AND status = 'open' RETURNING id, customer_id, status, currency, shipping_address, revision, created_at, settlement_currency, fx_rate, fx_source, fx_as_of, fx_markup_bps, fx_rounding;
INSERT INTO order_status_history (id, order_id, payment_intent_id, subject, from_status, to_status, reason, source, actor, correlation_id, created_at) VALUES (gen_random_uuid(), :order_id, NULL, 'order', 'open', 'paid', 'payment authorized', 'api', 'bench', 'bench', now());
SELECT line_no, product_id, sku, name, quantity, unit_amount, tax_code, weight_grams, price_includes_tax, price_source FROM order_items WHERE order_id = :order_id ORDER BY line_no;
WITH ev AS (INSERT INTO outbound_events (id, store_id, environment, event_type, api_version, payload, created_at) VALUES (gen_random_uuid(), :store_id, 'sandbox', 'payment_intent.authorized', '2026-12-01', repeat('x', 1500), now()), (gen_random_uuid(), :store_id, 'sandbox', 'order.paid', '2026-12-01', repeat('x', 1500), now()) RETURNING id, store_id, environment, event_type, created_at) INSERT INTO webhook_deliveries (id, event_id, endpoint_id, store_id, status, attempt_count, next_attempt_at, created_at) SELECT gen_random_uuid(), ev.id, e.id, e.store_id, 'pending', 0, ev.created_at, ev.created_at FROM ev JOIN webhook_endpoints e ON e.store_id = ev.store_id AND e.environment = ev.environment WHERE e.enabled AND e.event_types::jsonb ?| ARRAY[ev.event_type, '*'];
INSERT INTO provider_call_audit (id, store_id, provider, operation, status_code, outcome, latency_ms, correlation_id, request_body, response_body, created_at) VALUES (gen_random_uuid(), :store_id, 'sandbox', 'authorize', 201, 'ok', 1, 'bench', '{}', '{}', now());
UPDATE idempotency_keys SET status = 'completed', response_code = 201, response_type = 'application/json', response_body = '\x7b7d' WHERE scope = 'bench' AND idempotency_key = :k || 'a';
COMMIT;

-- capture: phase 1 (claim + reservation + pending row); PSP (claim + update + answer);
-- phase 3 (outcome + intent + history + the outbox's event + audit + idempotent answer)
BEGIN;
INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, status, locked_at, created_at, expires_at) VALUES ('bench', :k || 'c', '\x00', 'in_flight', now(), now(), now() + interval '1 day') ON CONFLICT (scope, idempotency_key) DO NOTHING;
SELECT id FROM payment_intents WHERE id = :intent_id FOR UPDATE;
INSERT INTO payment_transactions (id, payment_intent_id, store_id, environment, operation, idempotency_key, amount, currency, status, correlation_id, actor, created_at, updated_at) VALUES (:cap_txn, :intent_id, :store_id, 'sandbox', 'capture', :k || 'c', 3206, 'USD', 'pending', 'bench', 'bench', now(), now());
UPDATE payment_intents SET capture_reserved = 3206, version = version + 1, updated_at = now() WHERE id = :intent_id AND version = 2;
COMMIT;
BEGIN;
INSERT INTO sandbox_psp_requests (account, idempotency_key, request_hash, response_status, response_body, created_at) VALUES ('bench', :k || 'pc', 'h', 0, '', now()) ON CONFLICT (account, idempotency_key) DO NOTHING;
UPDATE sandbox_psp_payments SET captured = captured + 3206, status = 'captured', updated_at = now() WHERE id = :psp_id AND account = 'bench' AND status IN ('authorized', 'captured') AND captured + 3206 <= amount RETURNING id;
UPDATE sandbox_psp_requests SET response_status = 200, response_body = '{}' WHERE account = 'bench' AND idempotency_key = :k || 'pc';
COMMIT;
BEGIN;
SELECT id FROM payment_transactions WHERE id = :cap_txn FOR UPDATE;
SELECT id FROM payment_intents WHERE id = :intent_id FOR UPDATE;
UPDATE payment_transactions SET status = 'succeeded', provider_txn_id = :psp_id, updated_at = now() WHERE id = :cap_txn AND status = 'pending';
UPDATE payment_intents SET status = 'captured', captured_amount = 3206, capture_reserved = 0, version = version + 1, updated_at = now() WHERE id = :intent_id AND version = 3;
INSERT INTO order_status_history (id, order_id, payment_intent_id, subject, from_status, to_status, reason, source, actor, correlation_id, created_at) VALUES (gen_random_uuid(), :order_id, :intent_id, 'payment', 'authorized', 'captured', 'capture succeeded', 'api', 'bench', 'bench', now());
WITH ev AS (INSERT INTO outbound_events (id, store_id, environment, event_type, api_version, payload, created_at) VALUES (gen_random_uuid(), :store_id, 'sandbox', 'payment_intent.captured', '2026-12-01', repeat('x', 1500), now()) RETURNING id, store_id, environment, event_type, created_at) INSERT INTO webhook_deliveries (id, event_id, endpoint_id, store_id, status, attempt_count, next_attempt_at, created_at) SELECT gen_random_uuid(), ev.id, e.id, e.store_id, 'pending', 0, ev.created_at, ev.created_at FROM ev JOIN webhook_endpoints e ON e.store_id = ev.store_id AND e.environment = ev.environment WHERE e.enabled AND e.event_types::jsonb ?| ARRAY[ev.event_type, '*'];
INSERT INTO provider_call_audit (id, store_id, provider, operation, status_code, outcome, latency_ms, correlation_id, request_body, response_body, created_at) VALUES (gen_random_uuid(), :store_id, 'sandbox', 'capture', 200, 'ok', 1, 'bench', '{}', '{}', now());
UPDATE idempotency_keys SET status = 'completed', response_code = 200, response_type = 'application/json', response_body = '\x7b7d' WHERE scope = 'bench' AND idempotency_key = :k || 'c';
COMMIT;
