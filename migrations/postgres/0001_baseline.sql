-- Baseline of the Cassa schema on PostgreSQL. Capability tables arrive in later migrations with
-- the same version numbers as migrations/sqlite.
--
-- Conventions (both backends): ids are UUIDv7 (uuid here, BLOB on SQLite); money is BIGINT minor
-- units plus a TEXT ISO 4217 currency; enums are TEXT with a CHECK; timestamps come from the
-- application's clock (timestamptz); every tenant table carries store_id.
SELECT 1;
