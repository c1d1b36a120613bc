//! Stripe's PaymentIntents API as a `PaymentProvider`: manual capture (create + confirm is the
//! authorization), `…/capture`, `…/cancel` (void), `/v1/refunds`, and `GET` for the truth.
//! Form-encoded bodies, a pinned `Stripe-Version`, an `Idempotency-Key` on every POST (derived
//! from our transaction id by the caller), `Stripe-Account` for Connect accounts.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{
    STRIPE_VERSION,
    answer::{classify, read, redact, released},
};
use crate::{
    db::Db,
    egress::Egress,
    money::MinorUnits,
    providers::{
        payment::{
            BoxFuture, CallContext, Lookup, PaymentProvider, ProviderError, ProviderTransaction,
            RefundStanding,
        },
        transport::{Classify, Transport},
    },
    types::StoreId,
};

/// A client of Stripe for one store's secret key (and Connect account).
pub struct StripeClient {
    transport: Transport,
    base_url: String,
    secret_key: SecretString,
    account: Option<String>,
    /// The account may capture an authorization several times (Stripe's multicapture, an
    /// IC+ feature the store says it has): authorizations ask for it where the card allows.
    multicapture: bool,
}

impl StripeClient {
    /// A client of the API at `base_url` (`https://api.stripe.com`, or the local Stripe-shaped
    /// server of the tests: server configuration only, never a store's).
    pub fn new(
        http: Egress,
        base_url: &str,
        secret_key: SecretString,
        account: Option<String>,
        timeout: Duration,
        db: Db,
        store_id: StoreId,
    ) -> Self {
        Self {
            transport: Transport::new(http, timeout, db, Some(store_id), super::NAME)
                .redacting(redact),
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret_key,
            account,
            multicapture: false,
        }
    }

    /// Authorizations ask for multicapture (see [`StripeClient::multicapture`]).
    pub fn with_multicapture(mut self, multicapture: bool) -> Self {
        self.multicapture = multicapture;
        self
    }

    async fn call(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        path: &str,
        form: Vec<(&str, String)>,
        ctx: Option<&CallContext>,
        correlation_id: &str,
    ) -> Result<ProviderTransaction, ProviderError> {
        self.request(operation, method, path, form, ctx, correlation_id, classify)
            .await
    }

    /// A `GET` whose answer is read as it is (a list, a search result).
    pub(super) async fn get_json(
        &self,
        operation: &'static str,
        path: &str,
        correlation_id: &str,
    ) -> Result<Value, ProviderError> {
        let get = reqwest::Method::GET;
        self.request(operation, get, path, Vec::new(), None, correlation_id, read)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn request<T>(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        path: &str,
        form: Vec<(&str, String)>,
        ctx: Option<&CallContext>,
        correlation_id: &str,
        classify: Classify<T>,
    ) -> Result<T, ProviderError> {
        let url = format!("{}{path}", self.base_url);
        let audit = serde_json::Value::Object(
            form.iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect(),
        );
        self.transport
            .send(
                operation,
                || {
                    let mut request = self
                        .transport
                        .request(method.clone(), &url)?
                        .bearer_auth(self.secret_key.expose_secret())
                        .header("stripe-version", STRIPE_VERSION);
                    if let Some(account) = &self.account {
                        request = request.header("stripe-account", account);
                    }
                    if let Some(ctx) = ctx {
                        request = request.header("idempotency-key", &ctx.idempotency_key);
                    }
                    if method == reqwest::Method::POST {
                        request = request.form(&form);
                    }
                    Ok(request)
                },
                ctx,
                correlation_id,
                Some(&audit),
                classify,
            )
            .await
    }
}

impl PaymentProvider for StripeClient {
    fn name(&self) -> &'static str {
        super::NAME
    }

    fn minor_unit_exceptions(&self) -> &'static [(&'static str, u16)] {
        super::MINOR_UNITS
    }

    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        amount: MinorUnits,
        currency: &'a str,
        payment_method: &'a str,
        return_url: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            let mut form = vec![
                ("amount", amount.0.to_string()),
                ("currency", currency.to_ascii_lowercase()),
                ("payment_method", payment_method.to_owned()),
                ("payment_method_types[]", "card".to_owned()),
                ("capture_method", "manual".to_owned()),
                ("confirm", "true".to_owned()),
            ];
            if let Some(reference) = &ctx.reference {
                form.push(("metadata[cassa_reference]", reference.clone()));
            }
            // 3-D Secure then redirects (`next_action.redirect_to_url`), which a storefront
            // follows without the intent's client secret.
            if let Some(url) = return_url {
                form.push(("return_url", url.to_owned()));
            }
            // Whether the card allows it is said on the charge, read in the same answer.
            if self.multicapture {
                form.push((
                    "payment_method_options[card][request_multicapture]",
                    "if_available".to_owned(),
                ));
                form.push(("expand[]", "latest_charge".to_owned()));
            }
            self.call(
                "authorize",
                reqwest::Method::POST,
                "/v1/payment_intents",
                form,
                Some(ctx),
                &ctx.correlation_id,
            )
            .await
        })
    }

    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: Option<MinorUnits>,
        keep_rest: bool,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            let mut form = amount
                .map(|a| vec![("amount_to_capture", a.0.to_string())])
                .unwrap_or_default();
            // The rest is released by a cancel, as any void: one way for every intent.
            if keep_rest {
                form.push(("final_capture", "false".to_owned()));
            }
            self.call(
                "capture",
                reqwest::Method::POST,
                &format!("/v1/payment_intents/{id}/capture"),
                form,
                Some(ctx),
                &ctx.correlation_id,
            )
            .await
        })
    }

    fn void<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            let cancelled = self
                .call(
                    "void",
                    reqwest::Method::POST,
                    &format!("/v1/payment_intents/{id}/cancel"),
                    Vec::new(),
                    Some(ctx),
                    &ctx.correlation_id,
                )
                .await;
            match cancelled {
                // Already cancelled, or a partial capture already released the rest: the
                // release is done, as the intent confirms.
                Err(ProviderError::Rejected { code })
                    if code == "payment_intent_unexpected_state" =>
                {
                    let intent = self.get_transaction(&ctx.correlation_id, id).await?;
                    if released(&intent) {
                        Ok(intent)
                    } else {
                        Err(ProviderError::Rejected { code })
                    }
                }
                other => other,
            }
        })
    }

    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: MinorUnits,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            let mut form = vec![
                ("payment_intent", id.to_owned()),
                ("amount", amount.0.to_string()),
            ];
            if let Some(reference) = &ctx.reference {
                form.push(("metadata[cassa_reference]", reference.clone()));
            }
            self.call(
                "refund",
                reqwest::Method::POST,
                "/v1/refunds",
                form,
                Some(ctx),
                &ctx.correlation_id,
            )
            .await
        })
    }

    fn look_up<'a>(
        &'a self,
        correlation_id: &'a str,
        lookup: Lookup<'a>,
    ) -> BoxFuture<'a, Result<Option<ProviderTransaction>, ProviderError>> {
        Box::pin(self.find(correlation_id, lookup))
    }

    fn refund_standing<'a>(
        &'a self,
        correlation_id: &'a str,
        payment_id: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<RefundStanding, ProviderError>> {
        Box::pin(self.standing(correlation_id, payment_id, reference))
    }

    fn get_transaction<'a>(
        &'a self,
        correlation_id: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            self.call(
                "get_transaction",
                reqwest::Method::GET,
                &format!("/v1/payment_intents/{id}?expand[]=latest_charge"),
                Vec::new(),
                None,
                correlation_id,
            )
            .await
        })
    }
}
