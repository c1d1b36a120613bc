//! The carrier on its own, without any host: pricing, labels, idempotency, voids, tracking,
//! webhooks, documents and sealing, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

mod support;

mod access;
mod documents;
mod labels;
mod rates;
mod tracking;
mod webhooks;
