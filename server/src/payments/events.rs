//! Finding the transaction a provider event is about.

use super::{Operation, error::Error, repo};
use crate::{
    db::Db,
    types::{Environment, StoreId, TransactionId},
};

/// The transaction an event is about: by our reference when the provider echoes it, else the
/// latest transaction of that operation on the intent with this provider payment id (an open
/// one first). `None` when nothing in this store and environment matches.
pub async fn transaction_for_event(
    db: &Db,
    store: StoreId,
    environment: Environment,
    operation: Operation,
    reference: Option<TransactionId>,
    provider_payment_id: &str,
) -> Result<Option<TransactionId>, Error> {
    if let Some(reference) = reference
        && let Some(found) =
            repo::txn_by_reference(db, store, environment, operation, reference).await?
    {
        return Ok(Some(found));
    }
    if provider_payment_id.is_empty() {
        return Ok(None);
    }
    Ok(
        repo::txn_by_provider_payment(db, store, environment, operation, provider_payment_id)
            .await?,
    )
}
