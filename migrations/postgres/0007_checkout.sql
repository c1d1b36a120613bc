-- Built-in providers' configuration (table-rate shipping, rules tax) and checkout snapshots:
-- the server-computed, immutable pricing of an order that payments are checked against.
CREATE TABLE shipping_rates (
    id                uuid PRIMARY KEY,
    store_id          uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment       text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    service           text NOT NULL,
    country           text NOT NULL,
    max_weight_grams  integer NOT NULL CHECK (max_weight_grams >= 0),
    amount            bigint NOT NULL CHECK (amount >= 0),
    currency          text NOT NULL CHECK (length(currency) = 3)
);
CREATE INDEX shipping_rates_store ON shipping_rates (store_id, environment, country);

CREATE TABLE tax_rates (
    id           uuid PRIMARY KEY,
    store_id     uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    country      text NOT NULL,
    subdivision  text NOT NULL,
    tax_code     text NOT NULL,
    rate         text NOT NULL
);
CREATE INDEX tax_rates_store ON tax_rates (store_id, environment, country);

CREATE TABLE order_checkout_snapshots (
    id                 uuid PRIMARY KEY,
    order_id           uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    store_id           uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment        text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    customer_id        uuid NOT NULL,
    order_revision     integer NOT NULL,
    currency           text NOT NULL,
    subtotal           bigint NOT NULL,
    shipping           bigint NOT NULL,
    tax                bigint NOT NULL,
    total              bigint NOT NULL,
    shipping_service   text NOT NULL,
    shipping_provider  text NOT NULL,
    tax_provider       text NOT NULL,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL
);
CREATE INDEX order_checkout_snapshots_order ON order_checkout_snapshots (order_id, id);

CREATE TABLE order_checkout_snapshot_items (
    snapshot_id  uuid NOT NULL REFERENCES order_checkout_snapshots (id) ON DELETE CASCADE,
    line_no      integer NOT NULL,
    product_id   uuid NOT NULL,
    quantity     integer NOT NULL,
    unit_amount  bigint NOT NULL,
    amount       bigint NOT NULL,
    net          bigint NOT NULL,
    tax          bigint NOT NULL,
    tax_rate     text NOT NULL,
    PRIMARY KEY (snapshot_id, line_no)
);
