//! One suite, every payment provider: the lifecycle, race and webhook tests are written once
//! against [`ProviderShop`] and run on the sandbox PSP and on the Stripe adapter (against the
//! Stripe-shaped server), each on SQLite and PostgreSQL (`both_providers!`). What differs
//! between providers lives in the shop: how it is spawned, the test cards (approved, declined,
//! challenged), whether a capture is final (`captures_once`), how the customer completes a
//! challenge at the provider, how the provider signs its events, and what the provider's own
//! state says about a payment.

/// Runs a test body `async fn name(backend: Backend, psp: Psp)` on both databases and both
/// providers, as `mod <name> { sqlite_sandbox, sqlite_stripe, postgres_sandbox,
/// postgres_stripe }` (the PostgreSQL variants as `both_backends!` runs them).
macro_rules! both_providers {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::shared::Psp;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_sandbox() {
                super::$name(cassa_tests::Backend::Sqlite, Psp::Sandbox).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_stripe() {
                super::$name(cassa_tests::Backend::Sqlite, Psp::Stripe).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_sandbox() {
                if let Some(backend) = cassa_tests::Backend::postgres() {
                    super::$name(backend, Psp::Sandbox).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_stripe() {
                if let Some(backend) = cassa_tests::Backend::postgres() {
                    super::$name(backend, Psp::Stripe).await;
                }
            }
        }
    )*};
}

mod events;
mod lifecycle;
mod provider;
mod races;
mod webhooks;

pub(crate) use provider::{ProviderShop, Psp};
