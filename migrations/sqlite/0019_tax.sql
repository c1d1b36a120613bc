-- Tax a merchant can file: jurisdiction rates that stack by level and apply for a period,
-- where each store collects (nexus), customers' exemption certificates, and the tax of every
-- snapshot line per jurisdiction.

-- A rate names the most local level it belongs to; counties and districts list the postal
-- codes they cover (space-separated; `900*` is a prefix). `valid_to` is exclusive.
ALTER TABLE tax_rates ADD COLUMN county text;
ALTER TABLE tax_rates ADD COLUMN city text;
ALTER TABLE tax_rates ADD COLUMN district text;
ALTER TABLE tax_rates ADD COLUMN postal_codes text NOT NULL DEFAULT '';
ALTER TABLE tax_rates ADD COLUMN shipping_taxable INTEGER NOT NULL DEFAULT 0 CHECK (shipping_taxable IN (0, 1));
ALTER TABLE tax_rates ADD COLUMN valid_from TEXT;
ALTER TABLE tax_rates ADD COLUMN valid_to TEXT;

-- Where a store collects ('' subdivision: the whole country), from which day.
CREATE TABLE tax_nexus (
    store_id     BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment  text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    country      text NOT NULL,
    subdivision  text NOT NULL,
    since        TEXT NOT NULL,
    PRIMARY KEY (store_id, environment, country, subdivision)
);

-- Stores that already tax keep collecting where they have rates: without nexus a rate no
-- longer applies.
INSERT INTO tax_nexus (store_id, environment, country, subdivision, since)
SELECT DISTINCT store_id, environment, country, subdivision, '2000-01-01' FROM tax_rates;

-- A customer's exemption certificate: the jurisdictions it covers (space-separated `US` or
-- `US-CA`) and the last day it is valid.
CREATE TABLE tax_exemptions (
    id              BLOB PRIMARY KEY,
    store_id        BLOB NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    environment     text NOT NULL CHECK (environment IN ('sandbox', 'production')),
    customer_id     BLOB NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    certificate_id  text NOT NULL,
    jurisdictions   text NOT NULL,
    expires_on      TEXT,
    created_at      TEXT NOT NULL,
    UNIQUE (store_id, environment, customer_id, certificate_id)
);
CREATE INDEX tax_exemptions_customer ON tax_exemptions (store_id, environment, customer_id, id);

-- The day a snapshot was taxed on, and the tax on its shipping (part of `tax`).
ALTER TABLE order_checkout_snapshots ADD COLUMN tax_date TEXT;
ALTER TABLE order_checkout_snapshots ADD COLUMN shipping_tax INTEGER NOT NULL DEFAULT 0;

-- Each snapshot line's tax per jurisdiction (line 0: shipping); a line's parts sum to its tax.
CREATE TABLE order_tax_lines (
    snapshot_id     BLOB NOT NULL REFERENCES order_checkout_snapshots (id) ON DELETE CASCADE,
    line_no         integer NOT NULL,
    position        integer NOT NULL,
    jurisdiction    text NOT NULL,
    level           text NOT NULL,
    tax_code        text NOT NULL,
    rate            text NOT NULL,
    taxable         INTEGER NOT NULL,
    exempt          INTEGER NOT NULL,
    tax             INTEGER NOT NULL,
    reason          text,
    certificate_id  text,
    rounding        text NOT NULL,
    engine          text NOT NULL,
    engine_version  text NOT NULL,
    PRIMARY KEY (snapshot_id, line_no, position)
);
