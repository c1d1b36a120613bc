//! Cassa server library: configuration, storage, the HTTP edge and the console host.
//!
//! [`startup::Application`] builds the whole server on any listener (port 0 in tests); the
//! `cassa` binary in `main.rs` is a thin wrapper over [`cli::main`].

pub mod address;
pub mod auth;
pub mod cache;
pub mod catalog;
pub mod checkout;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod credentials;
pub mod csv;
pub mod db;
pub mod demo;
pub mod egress;
pub mod failpoints;
pub mod fulfilment;
pub mod fx;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod jobs;
pub mod keyring;
pub mod limits;
pub mod money;
pub mod orders;
pub mod outbound;
pub mod pagination;
pub mod passwords;
pub mod payments;
pub mod pg_url;
pub mod providers;
pub mod reconciliation;
pub mod retention;
pub mod secret;
pub mod sessions;
pub mod shipments;
pub mod startup;
pub mod state;
pub mod tax;
pub mod telemetry;
pub mod tenancy;
pub mod types;
pub mod webhook_inbox;
pub mod webhooks;
