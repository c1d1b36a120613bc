-- Catalogue: a store's products per environment. Prices are integer minor units in the
-- product's ISO 4217 currency; orders copy them, clients never send prices.
CREATE TABLE products (
    id                  uuid PRIMARY KEY,
    store_id            uuid NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment         text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    sku                 text NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    unit_amount         bigint NOT NULL CHECK (unit_amount >= 0),
    currency            text NOT NULL CHECK (length(currency) = 3),
    tax_code            text NOT NULL,
    weight_grams        integer NOT NULL CHECK (weight_grams >= 0),
    price_includes_tax  boolean NOT NULL,
    created_at          timestamptz NOT NULL,
    UNIQUE (store_id, environment, sku)
);
CREATE INDEX products_store ON products (store_id, environment, id);
