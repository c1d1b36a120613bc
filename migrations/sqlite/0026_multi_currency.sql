-- Multi-currency: exchange rates imported by platform admins, each store's FX policy, explicit
-- prices per currency, and the rate an order was priced with, locked into the order, its
-- checkout snapshots and its payments (every transaction keeps both amounts).

-- `rate`: units of `quote` per one unit of `base` (major units), a decimal string as published.
CREATE TABLE fx_rates (
    id           BLOB PRIMARY KEY,
    source       text NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
    base         text NOT NULL CHECK (length(base) = 3),
    quote        text NOT NULL CHECK (length(quote) = 3 AND quote <> base),
    rate         text NOT NULL,
    as_of        TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    imported_by  text NOT NULL,
    UNIQUE (source, base, quote, as_of)
);
-- A pair's latest rate (direct, inverse or through a common base) and the history list.
CREATE INDEX fx_rates_quote ON fx_rates (quote, as_of);
CREATE INDEX fx_rates_base ON fx_rates (base, as_of);
CREATE INDEX fx_rates_history ON fx_rates (as_of, id);

-- No row: the store sells only in its products' currency.
CREATE TABLE store_fx_policies (
    store_id                BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment             text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    settlement_currency     text NOT NULL CHECK (length(settlement_currency) = 3),
    -- Comma-separated ISO codes.
    presentment_currencies  text NOT NULL,
    markup_bps              integer NOT NULL CHECK (markup_bps BETWEEN 0 AND 5000),
    max_rate_age_secs       bigint NOT NULL CHECK (max_rate_age_secs > 0),
    rounding                text NOT NULL,
    updated_by              text NOT NULL,
    updated_at              TEXT NOT NULL,
    PRIMARY KEY (store_id, environment)
);

-- Explicit prices: they win over conversion.
CREATE TABLE product_prices (
    product_id   BLOB NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    currency     text NOT NULL CHECK (length(currency) = 3),
    unit_amount  bigint NOT NULL CHECK (unit_amount >= 0),
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (product_id, currency)
);

-- The lock: NULL when the order is in its products' currency (nothing converted).
ALTER TABLE orders ADD COLUMN settlement_currency text;
ALTER TABLE orders ADD COLUMN fx_rate text;
ALTER TABLE orders ADD COLUMN fx_source text;
ALTER TABLE orders ADD COLUMN fx_as_of TEXT;
ALTER TABLE orders ADD COLUMN fx_markup_bps integer;
ALTER TABLE orders ADD COLUMN fx_rounding text;
-- Where a line's price came from: `catalogue`, `price_list` or `converted`.
ALTER TABLE order_items ADD COLUMN price_source text NOT NULL DEFAULT 'catalogue';

ALTER TABLE order_checkout_snapshots ADD COLUMN settlement_currency text;
ALTER TABLE order_checkout_snapshots ADD COLUMN fx_rate text;
ALTER TABLE order_checkout_snapshots ADD COLUMN fx_source text;
ALTER TABLE order_checkout_snapshots ADD COLUMN fx_as_of TEXT;
ALTER TABLE order_checkout_snapshots ADD COLUMN fx_markup_bps integer;
ALTER TABLE order_checkout_snapshots ADD COLUMN settlement_subtotal bigint;
ALTER TABLE order_checkout_snapshots ADD COLUMN settlement_shipping bigint;
ALTER TABLE order_checkout_snapshots ADD COLUMN settlement_tax bigint;
ALTER TABLE order_checkout_snapshots ADD COLUMN settlement_total bigint;

ALTER TABLE payment_intents ADD COLUMN settlement_currency text;
ALTER TABLE payment_intents ADD COLUMN fx_rate text;
ALTER TABLE payment_transactions ADD COLUMN settlement_amount bigint;
ALTER TABLE payment_transactions ADD COLUMN settlement_currency text;
