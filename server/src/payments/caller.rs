//! Who asks for a change, and where from: recorded in every history row and provider call.

/// Where a change comes from (recorded in the status history).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An API or console request.
    Api,
    /// A provider webhook.
    Webhook,
    /// A background job.
    Job,
}

impl Source {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Webhook => "webhook",
            Source::Job => "job",
        }
    }
}

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
