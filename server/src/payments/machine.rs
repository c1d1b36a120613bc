//! The payment intent state machine: the one function every change of an intent goes through,
//! whether it comes from the API, a webhook or the resolver job.
//!
//! An intent's amounts are the sums of its succeeded transactions. Captures and refunds that
//! have been sent to the provider but whose outcome is not yet known hold a *reservation*, so
//! that concurrent requests can never together exceed what is capturable or refundable, even
//! while their provider calls run in parallel.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{money::MinorUnits, types::TextValue};

/// Where an intent is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// Created; the authorization has not been answered yet.
    RequiresAuthorization,
    /// The provider is settling the authorization asynchronously.
    Pending,
    /// The authorization's outcome is unknown (timeout); the resolver will find out.
    Unknown,
    /// Authorized, nothing captured.
    Authorized,
    /// Part of the authorization captured.
    PartiallyCaptured,
    /// All of the authorization captured.
    Captured,
    /// Part of the captured amount refunded.
    PartiallyRefunded,
    /// All of the captured amount refunded.
    Refunded,
    /// The authorization was released before any capture. (A release after a partial capture
    /// keeps the intent `captured`: everything that will be captured is, and
    /// `released_amount` says how much of the authorization was given back.)
    Voided,
    /// The authorization was declined or failed.
    Failed,
}

impl IntentStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [IntentStatus; 10] = [
        IntentStatus::RequiresAuthorization,
        IntentStatus::Pending,
        IntentStatus::Unknown,
        IntentStatus::Authorized,
        IntentStatus::PartiallyCaptured,
        IntentStatus::Captured,
        IntentStatus::PartiallyRefunded,
        IntentStatus::Refunded,
        IntentStatus::Voided,
        IntentStatus::Failed,
    ];

    /// Whether an intent in this status was authorized at some point, whatever happened after
    /// (captured, refunded, voided): what the dashboard's authorization rate counts.
    pub fn was_authorized(self) -> bool {
        match self {
            IntentStatus::Authorized
            | IntentStatus::PartiallyCaptured
            | IntentStatus::Captured
            | IntentStatus::PartiallyRefunded
            | IntentStatus::Refunded
            | IntentStatus::Voided => true,
            IntentStatus::RequiresAuthorization
            | IntentStatus::Pending
            | IntentStatus::Unknown
            | IntentStatus::Failed => false,
        }
    }

    /// Database and JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::RequiresAuthorization => "requires_authorization",
            IntentStatus::Pending => "pending",
            IntentStatus::Unknown => "unknown",
            IntentStatus::Authorized => "authorized",
            IntentStatus::PartiallyCaptured => "partially_captured",
            IntentStatus::Captured => "captured",
            IntentStatus::PartiallyRefunded => "partially_refunded",
            IntentStatus::Refunded => "refunded",
            IntentStatus::Voided => "voided",
            IntentStatus::Failed => "failed",
        }
    }

    /// Parses the database spelling.
    pub fn parse(s: &str) -> Option<IntentStatus> {
        IntentStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No request moves an intent out of a final state. The one exception is the provider's
    /// own report that a refund failed after it had succeeded ([`Event::RefundReversed`]): the
    /// money is back with the merchant, so a `refunded` intent is not refunded any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            IntentStatus::Refunded | IntentStatus::Voided | IntentStatus::Failed
        )
    }
}

impl TextValue for IntentStatus {
    fn as_text(&self) -> &'static str {
        self.as_str()
    }
    fn from_text(text: &str) -> Option<Self> {
        IntentStatus::parse(text)
    }
}
crate::text_value_sql!(IntentStatus);

/// The state the machine works on: status and amounts of one intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ledger {
    /// Status.
    pub status: IntentStatus,
    /// The snapshot's total: what may be authorized.
    pub amount: MinorUnits,
    /// Sum of succeeded authorizations.
    pub authorized: MinorUnits,
    /// Sum of succeeded captures.
    pub captured: MinorUnits,
    /// Sum of succeeded refunds.
    pub refunded: MinorUnits,
    /// Captures sent but not settled.
    pub capture_reserved: MinorUnits,
    /// Refunds sent but not settled.
    pub refund_reserved: MinorUnits,
    /// The uncaptured rest of the authorization given back at the provider (a void after a
    /// partial capture, a final capture, a full refund of a partial capture).
    pub released: MinorUnits,
    /// A void has been sent but not settled; no capture may start meanwhile.
    pub void_pending: bool,
}

impl Ledger {
    /// A new intent for `amount`, before its authorization is answered.
    pub fn new(amount: MinorUnits) -> Self {
        Ledger {
            status: IntentStatus::RequiresAuthorization,
            amount,
            authorized: MinorUnits(0),
            captured: MinorUnits(0),
            refunded: MinorUnits(0),
            capture_reserved: MinorUnits(0),
            refund_reserved: MinorUnits(0),
            released: MinorUnits(0),
            void_pending: false,
        }
    }

    /// What a new capture may still take.
    pub fn capturable(&self) -> MinorUnits {
        MinorUnits(self.authorized.0 - self.captured.0 - self.capture_reserved.0 - self.released.0)
    }

    /// The uncaptured rest of the authorization a void would release (in-flight captures
    /// excluded: a void waits for them).
    pub fn remainder(&self) -> MinorUnits {
        MinorUnits(self.authorized.0 - self.captured.0 - self.released.0)
    }

    /// What a new refund may still take.
    pub fn refundable(&self) -> MinorUnits {
        MinorUnits(self.captured.0 - self.refunded.0 - self.refund_reserved.0)
    }

    /// What a capture may take right now: the capturable amount when the transition function
    /// would accept a capture of it, else zero (the rule is the machine's, not re-stated).
    pub fn capturable_now(&self) -> MinorUnits {
        let amount = self.capturable();
        match apply(*self, Event::CaptureRequested { amount }) {
            Ok(_) => amount,
            Err(_) => MinorUnits(0),
        }
    }

    /// What a refund may take right now (zero when no refund is allowed).
    pub fn refundable_now(&self) -> MinorUnits {
        let amount = self.refundable();
        match apply(*self, Event::RefundRequested { amount }) {
            Ok(_) => amount,
            Err(_) => MinorUnits(0),
        }
    }

    /// Whether a void would be accepted now.
    pub fn voidable_now(&self) -> bool {
        apply(*self, Event::VoidRequested).is_ok()
    }

    /// The settled status the amounts describe (for intents past authorization).
    fn settled_status(&self) -> IntentStatus {
        if self.refunded.0 > 0 {
            // Refunded is final: only once nothing is left that could still be captured or
            // released, so no authorization is ever stranded at the provider.
            if self.refunded == self.captured
                && self.capture_reserved.0 == 0
                && self.remainder().0 == 0
            {
                IntentStatus::Refunded
            } else {
                IntentStatus::PartiallyRefunded
            }
        } else if self.captured.0 > 0 {
            if self.captured.0 + self.released.0 == self.authorized.0 {
                IntentStatus::Captured
            } else {
                IntentStatus::PartiallyCaptured
            }
        } else {
            IntentStatus::Authorized
        }
    }
}

/// Something that happened to an intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The provider authorized `amount`.
    AuthorizeSucceeded {
        /// Authorized amount.
        amount: MinorUnits,
    },
    /// The provider settles asynchronously.
    AuthorizePending,
    /// The authorization's outcome is unknown.
    AuthorizeUnknown,
    /// The provider declined, or the authorization failed.
    AuthorizeFailed,
    /// A capture of `amount` is about to be sent.
    CaptureRequested {
        /// Amount.
        amount: MinorUnits,
    },
    /// A capture succeeded.
    CaptureSucceeded {
        /// Amount.
        amount: MinorUnits,
    },
    /// A capture failed: its reservation is released.
    CaptureFailed {
        /// Amount.
        amount: MinorUnits,
    },
    /// A void is about to be sent.
    VoidRequested,
    /// The void succeeded.
    VoidSucceeded,
    /// The void failed.
    VoidFailed,
    /// A refund of `amount` is about to be sent.
    RefundRequested {
        /// Amount.
        amount: MinorUnits,
    },
    /// A refund succeeded.
    RefundSucceeded {
        /// Amount.
        amount: MinorUnits,
    },
    /// A refund failed: its reservation is released.
    RefundFailed {
        /// Amount.
        amount: MinorUnits,
    },
    /// A refund that had succeeded failed later at the provider (the card was closed, the
    /// bank returned it): the money is back in the merchant's balance, so it no longer counts
    /// as refunded.
    RefundReversed {
        /// The reversed refund's amount.
        amount: MinorUnits,
    },
}

impl Event {
    /// Name for errors and the status history.
    pub fn name(&self) -> &'static str {
        match self {
            Event::AuthorizeSucceeded { .. } => "authorize_succeeded",
            Event::AuthorizePending => "authorize_pending",
            Event::AuthorizeUnknown => "authorize_unknown",
            Event::AuthorizeFailed => "authorize_failed",
            Event::CaptureRequested { .. } => "capture",
            Event::CaptureSucceeded { .. } => "capture_succeeded",
            Event::CaptureFailed { .. } => "capture_failed",
            Event::VoidRequested => "void",
            Event::VoidSucceeded => "void_succeeded",
            Event::VoidFailed => "void_failed",
            Event::RefundRequested { .. } => "refund",
            Event::RefundSucceeded { .. } => "refund_succeeded",
            Event::RefundFailed { .. } => "refund_failed",
            Event::RefundReversed { .. } => "refund_reversed",
        }
    }
}

/// Why an event cannot be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The event is not allowed in the intent's status.
    #[error("cannot {event} a payment that is {from}", from = .from.as_str())]
    InvalidTransition {
        /// Current status.
        from: IntentStatus,
        /// The refused event.
        event: &'static str,
    },
    /// A capture larger than what is left of the authorization.
    #[error("the amount exceeds the capturable {available}")]
    ExceedsCapturable {
        /// What may still be captured.
        available: MinorUnits,
    },
    /// A refund larger than what is left of the captures.
    #[error("the amount exceeds the refundable {available}")]
    ExceedsRefundable {
        /// What may still be refunded.
        available: MinorUnits,
    },
    /// Amounts must be positive.
    #[error("the amount must be positive")]
    NonPositiveAmount,
    /// A settlement that does not match a reservation: a bug, never applied.
    #[error("the settlement does not match a reservation")]
    Inconsistent,
}

/// Applies `event` to `ledger`: the next state, or why not. Pure: the caller persists the
/// result with a compare-and-set on the intent's version.
pub fn apply(ledger: Ledger, event: Event) -> Result<Ledger, TransitionError> {
    use IntentStatus as S;
    let invalid = || TransitionError::InvalidTransition {
        from: ledger.status,
        event: event.name(),
    };
    let mut next = ledger;
    match event {
        Event::AuthorizeSucceeded { amount } => {
            if !matches!(
                ledger.status,
                S::RequiresAuthorization | S::Pending | S::Unknown
            ) {
                return Err(invalid());
            }
            if amount.0 <= 0 || amount > ledger.amount {
                return Err(TransitionError::Inconsistent);
            }
            next.authorized = amount;
            next.status = S::Authorized;
        }
        Event::AuthorizePending => match ledger.status {
            S::RequiresAuthorization | S::Unknown | S::Pending => next.status = S::Pending,
            _ => return Err(invalid()),
        },
        Event::AuthorizeUnknown => match ledger.status {
            S::RequiresAuthorization | S::Unknown => next.status = S::Unknown,
            _ => return Err(invalid()),
        },
        Event::AuthorizeFailed => match ledger.status {
            S::RequiresAuthorization | S::Pending | S::Unknown => next.status = S::Failed,
            _ => return Err(invalid()),
        },
        Event::CaptureRequested { amount } => {
            if !matches!(ledger.status, S::Authorized | S::PartiallyCaptured) || ledger.void_pending
            {
                return Err(invalid());
            }
            if amount.0 <= 0 {
                return Err(TransitionError::NonPositiveAmount);
            }
            if amount > ledger.capturable() {
                return Err(TransitionError::ExceedsCapturable {
                    available: ledger.capturable(),
                });
            }
            next.capture_reserved = MinorUnits(ledger.capture_reserved.0 + amount.0);
        }
        Event::CaptureSucceeded { amount } | Event::CaptureFailed { amount } => {
            if amount.0 <= 0 || amount > ledger.capture_reserved {
                return Err(TransitionError::Inconsistent);
            }
            next.capture_reserved = MinorUnits(ledger.capture_reserved.0 - amount.0);
            if matches!(event, Event::CaptureSucceeded { .. }) {
                next.captured = MinorUnits(ledger.captured.0 + amount.0);
            }
            next.status = next.settled_status();
        }
        // A void releases whatever of the authorization is not captured: all of it before any
        // capture (the intent is then `voided`), the rest after partial captures.
        Event::VoidRequested => {
            if !matches!(
                ledger.status,
                S::Authorized | S::PartiallyCaptured | S::PartiallyRefunded
            ) || ledger.void_pending
                || ledger.capture_reserved.0 > 0
                || ledger.remainder().0 <= 0
            {
                return Err(invalid());
            }
            next.void_pending = true;
        }
        Event::VoidSucceeded => {
            if !ledger.void_pending {
                return Err(TransitionError::Inconsistent);
            }
            next.void_pending = false;
            next.released = MinorUnits(ledger.released.0 + ledger.remainder().0);
            next.status = if ledger.captured.0 == 0 {
                S::Voided
            } else {
                next.settled_status()
            };
        }
        Event::VoidFailed => {
            if !ledger.void_pending {
                return Err(TransitionError::Inconsistent);
            }
            next.void_pending = false;
        }
        Event::RefundRequested { amount } => {
            if !matches!(
                ledger.status,
                S::PartiallyCaptured | S::Captured | S::PartiallyRefunded
            ) {
                return Err(invalid());
            }
            if amount.0 <= 0 {
                return Err(TransitionError::NonPositiveAmount);
            }
            if amount > ledger.refundable() {
                return Err(TransitionError::ExceedsRefundable {
                    available: ledger.refundable(),
                });
            }
            next.refund_reserved = MinorUnits(ledger.refund_reserved.0 + amount.0);
        }
        Event::RefundSucceeded { amount } | Event::RefundFailed { amount } => {
            if amount.0 <= 0 || amount > ledger.refund_reserved {
                return Err(TransitionError::Inconsistent);
            }
            next.refund_reserved = MinorUnits(ledger.refund_reserved.0 - amount.0);
            if matches!(event, Event::RefundSucceeded { .. }) {
                next.refunded = MinorUnits(ledger.refunded.0 + amount.0);
            }
            next.status = next.settled_status();
        }
        // Only money that counts as refunded can come back; the status follows the amounts
        // (a `refunded` intent becomes `captured` or `partially_refunded` again).
        Event::RefundReversed { amount } => {
            match ledger.status {
                S::PartiallyRefunded | S::Refunded => {}
                S::RequiresAuthorization
                | S::Pending
                | S::Unknown
                | S::Authorized
                | S::PartiallyCaptured
                | S::Captured
                | S::Voided
                | S::Failed => return Err(invalid()),
            }
            if amount.0 <= 0 || amount > ledger.refunded {
                return Err(TransitionError::Inconsistent);
            }
            next.refunded = MinorUnits(ledger.refunded.0 - amount.0);
            next.status = next.settled_status();
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests;
