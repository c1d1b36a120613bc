-- Baseline of the Cassa schema on SQLite. Capability tables arrive in later migrations with the
-- same version numbers as migrations/postgres.
--
-- Conventions (both backends): ids are UUIDv7 (BLOB here, uuid on PostgreSQL); money is BIGINT
-- minor units plus a TEXT ISO 4217 currency; enums are TEXT with a CHECK; timestamps come from the
-- application's clock; every tenant table carries store_id.
SELECT 1;
