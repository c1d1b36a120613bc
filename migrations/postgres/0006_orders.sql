-- Customers' orders. Items copy the catalogue's price, currency, tax code and weight at order
-- time, so later catalogue edits never change an order. `revision` grows with every change to
-- the order; checkout snapshots record the revision they priced.
CREATE TABLE orders (
    id                uuid PRIMARY KEY,
    store_id          uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment       text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    customer_id       uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    status            text NOT NULL CHECK (status IN ('open', 'paid', 'cancelled')),
    currency          text NOT NULL CHECK (length(currency) = 3),
    shipping_address  text NOT NULL,
    revision          integer NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX orders_store ON orders (store_id, environment, id);
CREATE INDEX orders_customer ON orders (customer_id, id);

CREATE TABLE order_items (
    order_id            uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no             integer NOT NULL,
    product_id          uuid NOT NULL REFERENCES products (id),
    sku                 text NOT NULL,
    name                text NOT NULL,
    quantity            integer NOT NULL CHECK (quantity > 0),
    unit_amount         bigint NOT NULL CHECK (unit_amount >= 0),
    tax_code            text NOT NULL,
    weight_grams        integer NOT NULL,
    price_includes_tax  boolean NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
