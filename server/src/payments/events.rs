//! Finding the transaction a provider event is about.

use super::Operation;
use crate::{
    db::{Db, DbError},
    on_db,
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
) -> Result<Option<TransactionId>, DbError> {
    if let Some(reference) = reference {
        const BY_REFERENCE: &str = "SELECT id FROM payment_transactions WHERE id = $1 \
            AND store_id = $2 AND operation = $3 AND environment = $4";
        let found: Option<TransactionId> = on_db!(db, pool => {
            sqlx::query_scalar(BY_REFERENCE).bind(reference).bind(store)
                .bind(operation.as_str()).bind(environment)
                .fetch_optional(pool).await
        })?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if provider_payment_id.is_empty() {
        return Ok(None);
    }
    const BY_PAYMENT: &str = "SELECT t.id FROM payment_transactions t JOIN payment_intents i \
        ON i.id = t.payment_intent_id WHERE i.store_id = $1 AND i.provider_payment_id = $2 \
        AND t.operation = $3 AND i.environment = $4 \
        ORDER BY CASE WHEN t.status IN ('pending', 'unknown') THEN 0 ELSE 1 END, t.id DESC LIMIT 1";
    Ok(on_db!(db, pool => {
        sqlx::query_scalar(BY_PAYMENT).bind(store).bind(provider_payment_id)
            .bind(operation.as_str()).bind(environment)
            .fetch_optional(pool).await
    })?)
}
