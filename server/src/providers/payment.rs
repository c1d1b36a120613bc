//! The payment provider interface: typed requests and results, and errors classified by what
//! the caller may do next (a decline is final, a retryable error may be retried with the same
//! idempotency key, an unknown outcome must be resolved with `get_transaction`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::account::{AccountAdapter, ClientContext, ClientError, Credentials};
use crate::{money::MinorUnits, types::Currency};

pub use super::account::BoxFuture;

/// A provider-side transaction as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderTransaction {
    /// The provider's id.
    pub id: String,
    /// `pending`, `authorized`, `captured`, `voided` or `failed`.
    pub status: String,
    /// Authorized amount.
    pub amount: MinorUnits,
    /// Captured so far.
    pub captured: MinorUnits,
    /// Refunded so far.
    pub refunded: MinorUnits,
    /// What the customer must do before a pending authorization can complete (3-D Secure:
    /// the provider's own description, passed to the storefront as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_action: Option<Value>,
    /// The authorization may be captured more than once (Stripe's multicapture, available for
    /// this card): each capture then keeps the rest capturable until it is released.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multicapture: bool,
}

/// A payment as the provider's list (its settlement report) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPayment {
    /// The provider's id.
    pub id: String,
    /// Our reference of the operation that created it (the authorization's transaction id).
    pub reference: Option<String>,
    /// `pending`, `authorized`, `captured`, `voided` or `failed`.
    pub status: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Authorized amount.
    pub amount: MinorUnits,
    /// Captured so far.
    pub captured: MinorUnits,
    /// Refunded so far.
    pub refunded: MinorUnits,
}

/// One page of the provider's payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPage {
    /// The payments, by the provider's id.
    pub payments: Vec<ListedPayment>,
    /// Whether another page follows (after the last id of this one).
    pub has_more: bool,
}

/// How a provider call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused (card declined, insufficient funds): final.
    #[error("declined: {code}")]
    Declined {
        /// Provider's reason code.
        code: String,
    },
    /// The request was refused for its content or the object's state: final for this request.
    #[error("rejected: {code}")]
    Rejected {
        /// Provider's reason code.
        code: String,
    },
    /// The provider would not look at the request (401, 403, 404, 429): nothing happened for
    /// *this* request, but it says nothing about an earlier request with the same key.
    #[error("refused with {status}: {code}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Provider's reason code.
        code: String,
    },
    /// Nothing happened at the provider (5xx, connection refused): retry with the same key.
    #[error("retryable: {0}")]
    Retryable(String),
    /// The request may or may not have been applied (timeout): resolve, never guess.
    #[error("outcome unknown: {0}")]
    UnknownOutcome(String),
}

/// How a provider writes the amounts of one currency: ISO 4217's minor units, or its own
/// number of decimals where it differs (a provider that takes ISK with two decimals, or HUF
/// with none). An amount the provider's units cannot hold is refused, never rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    iso: u16,
    provider: u16,
}

/// An amount a provider's units cannot hold exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{amount} minor units of {currency} cannot be sent in the provider's units")]
pub struct NotRepresentable {
    /// The amount, in ISO minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl Units {
    /// The units `provider` uses for `currency` (ISO's for a code it does not know).
    pub fn of(provider: &dyn PaymentProvider, currency: &str) -> Self {
        let iso = Currency::parse(currency).map_or(2, Currency::exponent);
        let provider = provider
            .minor_unit_exceptions()
            .iter()
            .find(|(code, _)| *code == currency)
            .map_or(iso, |(_, exponent)| *exponent);
        Units { iso, provider }
    }

    fn scale(from: u16, to: u16, amount: i64) -> Option<i64> {
        let factor = 10i64.checked_pow(u32::from(from.abs_diff(to)))?;
        if to >= from {
            amount.checked_mul(factor)
        } else {
            (amount % factor == 0).then_some(amount / factor)
        }
    }

    /// `amount` (ISO minor units) in the provider's units.
    pub fn to_provider(
        self,
        amount: MinorUnits,
        currency: &str,
    ) -> Result<MinorUnits, NotRepresentable> {
        Self::scale(self.iso, self.provider, amount.0)
            .map(MinorUnits)
            .ok_or_else(|| NotRepresentable {
                amount: amount.0,
                currency: currency.to_owned(),
            })
    }

    /// A provider's amount in ISO minor units.
    pub fn from_provider(self, amount: MinorUnits) -> Option<MinorUnits> {
        Self::scale(self.provider, self.iso, amount.0).map(MinorUnits)
    }

    /// A provider's transaction with its amounts in ISO minor units (`None`: an amount finer
    /// than the currency has, which no answer about our request can hold).
    pub fn read(self, ptx: ProviderTransaction) -> Option<ProviderTransaction> {
        Some(ProviderTransaction {
            amount: self.from_provider(ptx.amount)?,
            captured: self.from_provider(ptx.captured)?,
            refunded: self.from_provider(ptx.refunded)?,
            ..ptx
        })
    }
}

#[cfg(test)]
mod units_tests {
    use super::*;

    fn units(iso: u16, provider: u16) -> Units {
        Units { iso, provider }
    }

    #[test]
    fn amounts_follow_the_providers_decimals() {
        // ISK: no decimals in ISO 4217, two at a provider that writes krónur as "cents".
        let isk = units(0, 2);
        assert_eq!(
            isk.to_provider(MinorUnits(1500), "ISK"),
            Ok(MinorUnits(150_000))
        );
        assert_eq!(
            isk.from_provider(MinorUnits(150_000)),
            Some(MinorUnits(1500))
        );
        // A fraction of a króna cannot be ours.
        assert_eq!(isk.from_provider(MinorUnits(150_050)), None);
        // HUF: two decimals in ISO 4217, none at a provider that takes whole forints.
        let huf = units(2, 0);
        assert_eq!(
            huf.to_provider(MinorUnits(123_400), "HUF"),
            Ok(MinorUnits(1234))
        );
        assert_eq!(
            huf.to_provider(MinorUnits(123_456), "HUF"),
            Err(NotRepresentable {
                amount: 123_456,
                currency: "HUF".into()
            })
        );
        assert_eq!(
            huf.from_provider(MinorUnits(1234)),
            Some(MinorUnits(123_400))
        );
        let usd = units(2, 2);
        assert_eq!(
            usd.to_provider(MinorUnits(1099), "USD"),
            Ok(MinorUnits(1099))
        );
        assert!(
            units(0, 2)
                .to_provider(MinorUnits(i64::MAX), "ISK")
                .is_err()
        );
    }
}

/// Context every call carries.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Deterministic idempotency key derived from our ids.
    pub idempotency_key: String,
    /// Request id of the API call (or job) that caused this call.
    pub correlation_id: String,
    /// Our id of the operation (the ledger transaction), echoed by the provider in its
    /// webhooks so they can be matched even when the call's answer was lost.
    pub reference: Option<String>,
    /// Where the call's audit rows wait for the transaction that records its outcome; `None`
    /// writes each row at once.
    pub audit: Option<super::audit::AuditLog>,
}

/// A payment provider's client for one store's credentials in one environment.
pub trait PaymentProvider: Send + Sync {
    /// Name recorded in the audit and ledger.
    fn name(&self) -> &'static str;
    /// Currencies whose amounts the provider writes with another number of decimals than ISO
    /// 4217 gives them (`(code, decimals)`); amounts are converted by [`Units`].
    fn minor_unit_exceptions(&self) -> &'static [(&'static str, u16)] {
        &[]
    }
    /// Authorizes `amount` on `payment_method`; a customer challenge (3-D Secure) sends the
    /// customer back to `return_url`, when the storefront gave one.
    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        amount: MinorUnits,
        currency: &'a str,
        payment_method: &'a str,
        return_url: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
    /// Captures `amount` (all that is left when `None`). With `keep_rest` (an authorization the
    /// provider said captures more than once) the uncaptured rest stays capturable.
    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: Option<MinorUnits>,
        keep_rest: bool,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
    /// Voids an uncaptured authorization.
    fn void<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
    /// Refunds `amount` of what was captured.
    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: MinorUnits,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
    /// The provider's current truth about a transaction.
    fn get_transaction<'a>(
        &'a self,
        correlation_id: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
    /// What an earlier call for an operation did, read from the provider's state, before the
    /// operation is sent again: `Some` when it happened (its transaction as the call would have
    /// answered), `None` when it did not and a resend with the same key is safe. A provider
    /// whose idempotency layer replays errors or forgets keys (Stripe keeps a `500` for a key
    /// and forgets keys after a day) must read here: a resend alone could act twice or never
    /// settle. The default resends (keys that never expire and never keep a failure).
    fn look_up<'a>(
        &'a self,
        _correlation_id: &'a str,
        _lookup: Lookup<'a>,
    ) -> BoxFuture<'a, Result<Option<ProviderTransaction>, ProviderError>> {
        Box::pin(async { Ok(None) })
    }
    /// Where one of our refunds (`reference`, of the provider's payment `payment_id`) stands at
    /// the provider now. Asked when the provider reports a change to a refund the ledger
    /// recorded as succeeded: a provider may fail a refund after it succeeded (Stripe: the card
    /// was closed, the bank returned the money), and only its own state, never an event's
    /// payload, says so. The default is for providers whose refunds never fail once they
    /// succeeded (the sandbox PSP): what succeeded stays succeeded.
    fn refund_standing<'a>(
        &'a self,
        _correlation_id: &'a str,
        _payment_id: &'a str,
        _reference: &'a str,
    ) -> BoxFuture<'a, Result<RefundStanding, ProviderError>> {
        Box::pin(async { Ok(RefundStanding::Succeeded) })
    }
    /// A page of the payments created in `[from, to)`, after the provider id `after`; `None`
    /// when the provider has no such list (reconciliation then asks per payment).
    fn list_payments<'a>(
        &'a self,
        _correlation_id: &'a str,
        _from: chrono::DateTime<chrono::Utc>,
        _to: chrono::DateTime<chrono::Utc>,
        _after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<PaymentPage>, ProviderError>> {
        Box::pin(async { Ok(None) })
    }
}

/// Where a refund stands at the provider, as [`PaymentProvider::refund_standing`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundStanding {
    /// Done: the customer has the money.
    Succeeded,
    /// Still on its way (a bank transfer, an action the provider awaits).
    Pending,
    /// Failed or cancelled at the provider, with its reason code: the money is (back) in the
    /// merchant's balance. For a refund the ledger recorded as succeeded, a reversal.
    Failed {
        /// The provider's reason (`expired_or_canceled_card`, `lost_or_stolen_card`, …).
        reason: String,
    },
    /// The provider has no refund with our reference on that payment.
    NotFound,
}

/// An operation whose earlier call's outcome is not known, as [`PaymentProvider::look_up`]
/// searches for it.
#[derive(Clone, Copy, Debug)]
pub struct Lookup<'a> {
    /// Which operation.
    pub operation: EventOperation,
    /// The provider's payment (none for an authorization whose answer was lost).
    pub payment_id: Option<&'a str>,
    /// Our id of the operation, as the call sent it ([`CallContext::reference`]).
    pub reference: &'a str,
    /// The operation's amount in the provider's units.
    pub amount: MinorUnits,
    /// What the ledger had captured before this operation, in the provider's units: a capture
    /// of an authorization captured more than once is found by the total it leaves.
    pub captured_before: MinorUnits,
    /// When the operation's first call was made: whether the provider still remembers its key.
    pub first_sent: chrono::DateTime<chrono::Utc>,
    /// Now, by the platform's clock.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// The payment operation a provider event reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOperation {
    /// An authorization succeeded or failed.
    Authorize,
    /// A capture.
    Capture,
    /// A void (release of the authorization).
    Void,
    /// A refund.
    Refund,
}

/// What a verified provider event says, typed. It is a hint: the transaction it names is then
/// settled by asking the provider, never by trusting the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderEvent {
    /// An event about a payment operation.
    Payment {
        /// Which operation.
        operation: EventOperation,
        /// The provider's payment id.
        provider_payment_id: Option<String>,
        /// Our transaction id, when the provider echoes it.
        reference: Option<String>,
    },
    /// A dispute (chargeback) on a payment, as the provider reports it now. Recorded as it
    /// says (the signature vouches for it); it never moves the payment's ledger amounts.
    Dispute(ProviderDispute),
    /// Informational: nothing to settle.
    Ignored,
}

/// Where a dispute stands, in the platform's words (each provider maps its own statuses).
/// `won`, `lost` and `closed` are final: nothing moves a dispute out of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// Opened: the merchant may answer with evidence.
    NeedsResponse,
    /// Evidence submitted (or none expected); the issuer is deciding.
    UnderReview,
    /// Decided for the merchant: the disputed funds come back.
    Won,
    /// Decided for the cardholder: the disputed funds stay withdrawn.
    Lost,
    /// Ended without a decision (an inquiry that never became a chargeback, a prevented one).
    Closed,
}

impl DisputeStatus {
    /// Every status, in the order a dispute moves through them.
    pub const ALL: [DisputeStatus; 5] = [
        DisputeStatus::NeedsResponse,
        DisputeStatus::UnderReview,
        DisputeStatus::Won,
        DisputeStatus::Lost,
        DisputeStatus::Closed,
    ];

    /// Whether the dispute is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DisputeStatus::Won | DisputeStatus::Lost | DisputeStatus::Closed
        )
    }

    /// How far along the dispute is: events may arrive late or twice, and a status never
    /// replaces one further along (a final one is never replaced).
    pub fn rank(self) -> u8 {
        match self {
            DisputeStatus::NeedsResponse => 0,
            DisputeStatus::UnderReview => 1,
            DisputeStatus::Won | DisputeStatus::Lost | DisputeStatus::Closed => 2,
        }
    }
}

impl crate::types::TextValue for DisputeStatus {
    fn as_text(&self) -> &'static str {
        match self {
            DisputeStatus::NeedsResponse => "needs_response",
            DisputeStatus::UnderReview => "under_review",
            DisputeStatus::Won => "won",
            DisputeStatus::Lost => "lost",
            DisputeStatus::Closed => "closed",
        }
    }
    fn from_text(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_text() == text)
    }
}
crate::text_value_sql!(DisputeStatus);

/// A dispute as a provider's event describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderDispute {
    /// The provider's payment the dispute is about.
    pub provider_payment_id: String,
    /// The provider's dispute id.
    pub dispute_id: String,
    /// The disputed amount, in the provider's units for `currency` (see [`Units`]).
    pub amount: MinorUnits,
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// The provider's reason code (`fraudulent`, `product_not_received`, …).
    pub reason: String,
    /// Where it stands.
    pub status: DisputeStatus,
}

/// A payment provider as the platform knows it: its account (credentials, webhook signatures;
/// [`AccountAdapter`]), how its client is built and what its webhooks mean. Registered once at
/// start-up in the [`super::registry::PaymentRegistry`]; nothing in payments, webhooks or
/// credentials names a provider.
pub trait PaymentAdapter: AccountAdapter {
    /// The client for a store's credentials.
    fn client(
        &self,
        ctx: &ClientContext,
        credentials: &Credentials,
    ) -> Result<Box<dyn PaymentProvider>, ClientError>;
    /// Whether a capture ends the authorization at the provider (the uncaptured rest is
    /// released with it, as Stripe does without multicapture): then every capture is final,
    /// unless the authorization itself said it captures more than once
    /// ([`ProviderTransaction::multicapture`]).
    fn captures_once(&self) -> bool {
        false
    }

    /// The typed meaning of a verified event.
    fn parse_event(&self, payload: &Value) -> ProviderEvent;
}
