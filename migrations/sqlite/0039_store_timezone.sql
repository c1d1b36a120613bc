-- The IANA time zone the console shows a store's times in (issue #21).
ALTER TABLE stores ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
