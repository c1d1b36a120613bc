-- Archiving a product instead of deleting it: orders keep copies of its lines, and a product
-- that is archived stays readable (by id, and in the list's archived filter) but cannot be put
-- in new orders. NULL: active.
ALTER TABLE products ADD COLUMN archived_at TEXT;

-- The catalogue list walks one store's products in id order (keyset pages), either the active
-- ones (the default) or the archived ones; each filter gets its own partial index so a page
-- never reads the other kind. "All" uses products_store (store_id, environment, id).
-- The name/SKU search is a substring match inside these walks: a B-tree cannot serve it, and
-- the walk stops after one page of matches.
CREATE INDEX products_active ON products (store_id, environment, id) WHERE archived_at IS NULL;
CREATE INDEX products_archived ON products (store_id, environment, id)
    WHERE archived_at IS NOT NULL;
