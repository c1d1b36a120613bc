//! Who asks for a change, and where from: recorded in every history row and provider call.

use crate::{
    identity::Actor,
    types::{CustomerId, TextValue},
};

/// Where a change comes from (recorded in the status history).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An API or console request.
    Api,
    /// A provider webhook.
    Webhook,
    /// A background job.
    Job,
    /// A person applying what a reconciliation found.
    Reconciliation,
}

impl Source {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Webhook => "webhook",
            Source::Job => "job",
            Source::Reconciliation => "reconciliation",
        }
    }
}

impl TextValue for Source {
    fn as_text(&self) -> &'static str {
        self.as_str()
    }
    fn from_text(text: &str) -> Option<Self> {
        [
            Source::Api,
            Source::Webhook,
            Source::Job,
            Source::Reconciliation,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}
crate::text_value_sql!(Source);

/// Who asks, and the request id every row and provider call carries.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Where from.
    pub source: Source,
    /// `api_key:<id>`, `user:<id>`, `customer:<id>`, `job:<name>`.
    pub actor: String,
    /// Request id.
    pub correlation_id: String,
}

impl Caller {
    /// A store's own request (a secret key or a console user), carrying the request's id, or a
    /// fresh one when it has none (every history row and provider call needs one).
    pub fn of_store(actor: Actor, request_id: Option<&str>) -> Caller {
        Caller::api(actor.audit_name(), request_id)
    }

    /// A customer's request through a storefront.
    pub fn of_customer(customer: CustomerId, request_id: Option<&str>) -> Caller {
        Caller::api(format!("customer:{customer}"), request_id)
    }

    fn api(actor: String, request_id: Option<&str>) -> Caller {
        Caller {
            source: Source::Api,
            actor,
            correlation_id: request_id
                .map(str::to_owned)
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        }
    }
}
