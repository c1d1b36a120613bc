//! The credentials page's provider side: which payment provider the store's new payments use,
//! and asking a provider who the stored credentials belong to. Plain data plus, on the server,
//! the part of the backend that answers it.

use serde::{Deserialize, Serialize};

use super::Stamp;

use super::FieldError;
#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult};

/// The payment provider of new payments in the environment the console shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentProviderView {
    /// `sandbox`, `stripe`, …
    pub provider: String,
    /// `false`: the server's default (the store chose none).
    pub chosen: bool,
    /// Who chose it (`user:…`, `api_key:…`).
    pub updated_by: Option<String>,
    /// When.
    pub updated_at: Option<Stamp>,
    /// The payment providers the store holds credentials for here: what it may choose.
    pub choices: Vec<String>,
}

/// The outcome of the choice form: a refused field is an answer for the form, not a failure of
/// the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderChoiceOutcome {
    /// Chosen; what new payments use now.
    Chosen(PaymentProviderView),
    /// A field was refused (`provider`).
    Refused(FieldError),
}

/// What the provider said about the stored credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    /// The provider asked.
    pub provider: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// The provider's account id.
    pub account_id: String,
    /// The account's business name.
    pub name: Option<String>,
    /// Its country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Its default currency.
    pub default_currency: Option<String>,
    /// Whether it may take payments now.
    pub charges_enabled: bool,
    /// When the provider answered.
    pub checked_at: Stamp,
}

/// The server's answers about providers; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
pub trait ProviderBackend: Send + Sync {
    /// The payment provider of new payments in the current store and environment.
    fn payment_provider<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<PaymentProviderView>>;

    /// Chooses the payment provider of new payments (one the store holds credentials for).
    fn choose_payment_provider<'a>(
        &'a self,
        req: &'a http::request::Parts,
        provider: String,
    ) -> BoxFuture<'a, ConsoleResult<ProviderChoiceOutcome>>;

    /// Asks `provider` who the current store's credentials in this environment belong to.
    fn check_connection<'a>(
        &'a self,
        req: &'a http::request::Parts,
        provider: String,
    ) -> BoxFuture<'a, ConsoleResult<ConnectionView>>;
}
