-- Shipments: rates offered for an order, the labels bought for its packages, tracking from the
-- carriers' webhooks, and our own audit of each shipment.

-- Package dimensions per unit (0: unknown; packing then treats the item as 1 mm a side).
ALTER TABLE products ADD COLUMN length_mm integer NOT NULL DEFAULT 0 CHECK (length_mm >= 0);
ALTER TABLE products ADD COLUMN width_mm integer NOT NULL DEFAULT 0 CHECK (width_mm >= 0);
ALTER TABLE products ADD COLUMN height_mm integer NOT NULL DEFAULT 0 CHECK (height_mm >= 0);

-- The rate a snapshot froze (null: priced from the store's rate table by service).
ALTER TABLE order_checkout_snapshots ADD COLUMN shipping_rate_id BLOB;

-- Where a store ships from, in which boxes, and whether buying a label captures the payment.
CREATE TABLE shipping_settings (
    store_id             BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment          text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    ship_from            text NOT NULL,
    boxes                text NOT NULL,
    capture_on_shipment  INTEGER NOT NULL CHECK (capture_on_shipment IN (0, 1)),
    updated_at           TEXT NOT NULL,
    PRIMARY KEY (store_id, environment)
);

-- Every rate shown for an order: what a quote freezes and a label is bought with.
CREATE TABLE shipment_rates (
    id                BLOB PRIMARY KEY,
    store_id          BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment       text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    order_id          BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    order_revision    integer NOT NULL,
    provider          text NOT NULL,
    provider_rate_id  text,
    service           text NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount >= 0),
    currency          text NOT NULL CHECK (length(currency) = 3),
    estimated_days    integer,
    packages          text NOT NULL,
    expires_at        TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX shipment_rates_order ON shipment_rates (order_id, id);

CREATE TABLE shipments (
    id                 BLOB PRIMARY KEY,
    store_id           BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment        text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    order_id           BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    rate_id            BLOB NOT NULL REFERENCES shipment_rates (id),
    provider           text NOT NULL,
    service            text NOT NULL,
    status             text NOT NULL CHECK (status IN ('purchasing', 'purchase_failed',
                           'pre_transit', 'in_transit', 'out_for_delivery', 'delivered',
                           'failure', 'returned', 'cancelled')),
    amount             INTEGER NOT NULL CHECK (amount >= 0),
    currency           text NOT NULL CHECK (length(currency) = 3),
    provider_label_id  text,
    tracking_number    text,
    void_deadline      TEXT,
    failure_code       text,
    label_pdf          BLOB,
    label_zpl          text,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
-- One live shipment per order: a failed purchase or a voided label frees it for another.
CREATE UNIQUE INDEX shipments_active_order ON shipments (order_id)
    WHERE status NOT IN ('purchase_failed', 'cancelled');
-- A carrier's label ids are unique per account, and an account is a store's in one environment.
CREATE UNIQUE INDEX shipments_label ON shipments (store_id, environment, provider, provider_label_id);
CREATE INDEX shipments_order ON shipments (order_id, id);
-- The shipments list: newest first, optionally by status or carrier.
CREATE INDEX shipments_store ON shipments (store_id, environment, id);
CREATE INDEX shipments_store_status ON shipments (store_id, environment, status, id);
CREATE INDEX shipments_store_provider ON shipments (store_id, environment, provider, id);

CREATE TABLE shipment_packages (
    shipment_id   BLOB NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    package_no    integer NOT NULL,
    box_name      text NOT NULL,
    length_mm     integer NOT NULL,
    width_mm      integer NOT NULL,
    height_mm     integer NOT NULL,
    weight_grams  integer NOT NULL,
    items         text NOT NULL,
    PRIMARY KEY (shipment_id, package_no)
);

-- The carrier's timeline, one row per position: a duplicate delivery is a no-op.
CREATE TABLE tracking_events (
    shipment_id  BLOB NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    sequence     integer NOT NULL,
    status       text NOT NULL CHECK (status IN ('pre_transit', 'in_transit',
                     'out_for_delivery', 'delivered', 'failure', 'returned', 'cancelled',
                     'unknown')),
    raw_code     text NOT NULL,
    description  text NOT NULL,
    location     text,
    occurred_at  TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (shipment_id, sequence)
);

-- What we did and decided about a shipment, in order.
CREATE TABLE shipment_events (
    id           BLOB PRIMARY KEY,
    shipment_id  BLOB NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    actor        text NOT NULL,
    detail       text NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX shipment_events_shipment ON shipment_events (shipment_id, id);
