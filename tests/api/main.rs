//! Black-box API tests. Each test body takes a `Backend` and runs on SQLite and PostgreSQL
//! through `both_backends!`.

mod availability;
mod catalog;
mod checkout;
mod console;
mod credentials;
mod fx;
mod hardening_access;
mod hardening_edge;
mod hardening_limits;
mod hardening_money;
mod health;
mod idempotency;
mod isolation;
mod openapi;
mod orders;
mod payment_keys;
mod payments;
mod problems;
mod provider_client;
mod provider_connection;
mod reconciliation;
mod request_id;
mod sandbox_carrier;
mod sandbox_psp;
mod schema_parity;
mod second_provider;
mod sessions;
mod shared;
mod shipments;
mod shutdown;
mod stripe;
mod support;
mod tax;
mod tenancy;
mod webhooks;
