-- The console's Orders list and its CSV export filter a store's orders by status, creation
-- time, customer, amount and customer email. Order lines never change after the order is
-- placed, so the amount and unit count are stored on the order when it is inserted: an amount
-- filter can then use an index instead of summing every order's lines.
ALTER TABLE orders ADD COLUMN items_amount bigint NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN item_count bigint NOT NULL DEFAULT 0;
UPDATE orders SET
    items_amount = COALESCE((SELECT SUM(i.unit_amount * i.quantity) FROM order_items i
                             WHERE i.order_id = orders.id), 0),
    item_count = COALESCE((SELECT SUM(i.quantity) FROM order_items i
                           WHERE i.order_id = orders.id), 0);

-- One index per filter, each led by the tenancy columns every query fixes and ending with the
-- id the keyset pages on.
CREATE INDEX orders_store_status ON orders (store_id, environment, status, id);
CREATE INDEX orders_store_created ON orders (store_id, environment, created_at, id);
CREATE INDEX orders_store_customer ON orders (store_id, environment, customer_id, id);
-- Amount ranges are in one currency (the store's): currency leads the range.
CREATE INDEX orders_store_amount ON orders (store_id, environment, currency, items_amount, id);
-- Search by email finds the customers first (emails are stored lower-cased).
CREATE INDEX customers_store_email ON customers (store_id, environment, email);
