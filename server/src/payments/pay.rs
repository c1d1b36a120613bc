//! `POST /api/v1/me/orders/{id}/pay`: the compatibility flow that quotes, authorizes and
//! captures in one idempotent call, built on the single-operation flows of `service.rs`.

use super::{
    AuthorizeRequest, Operation, PayRequest, TransactionStatus,
    authorize::{authorize_with, find_by_key, payment_method},
    caller::Caller,
    error::Error,
    keys::LedgerKey,
    phases::resume,
    repo::{FailureKind, Outcome},
    service::{Captures, OperationRequest, Target, find_txn, operate},
};
use crate::{
    auth::principal::CustomerScope,
    checkout::{self, QuoteRequest},
    orders::OrderScope,
    state::AppState,
    types::OrderId,
};

/// How many times one `pay` key may retry a capture the provider was unavailable for.
const PAY_CAPTURE_ATTEMPTS: usize = 5;

/// `POST /api/v1/me/orders/{id}/pay`: quote, authorize and capture in one idempotent call.
/// The inner steps use keys derived from the request's, so a retry resumes where it stopped;
/// a capture the provider was unavailable for is tried again by a retry with the same key.
pub async fn pay(
    state: &AppState,
    scope: CustomerScope,
    order_id: OrderId,
    request: PayRequest,
    key: &str,
    caller: &Caller,
) -> Result<Outcome, Error> {
    let order_scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    crate::orders::find(state, order_scope, order_id)
        .await
        .map_err(Error::Orders)?;
    payment_method(request.payment_method.as_deref())?;
    let pay_key = LedgerKey::new(
        caller,
        key,
        &[
            "pay",
            request.payment_method.as_deref().unwrap_or_default(),
            request.shipping_service.as_deref().unwrap_or_default(),
        ],
    );
    let authorize_key = pay_key.step("authorize");
    let (intent, txn) = match find_by_key(state, scope, order_id, &authorize_key).await? {
        Some(found) => resume(state, caller, found, None).await?,
        None => {
            let snapshot = checkout::quote(
                state,
                scope,
                QuoteRequest {
                    order_id,
                    shipping_service: request.shipping_service.clone(),
                    shipping_rate_id: None,
                },
                None,
            )
            .await
            .map_err(Error::Checkout)?;
            let request = AuthorizeRequest {
                snapshot_id: Some(snapshot.snapshot_id),
                payment_method: request.payment_method.clone(),
                amount: None,
                return_url: None,
            };
            authorize_with(
                state,
                scope,
                order_id,
                request,
                &authorize_key,
                caller,
                None,
            )
            .await?
        }
    };
    if txn.status != TransactionStatus::Succeeded {
        return Ok((intent, txn));
    }
    let target = Target {
        store: scope.store_id,
        env: scope.environment,
        order_id,
        intent_id: intent.id,
        key,
        caller,
        reply: None,
    };
    let capture = OperationRequest {
        operation: Operation::Capture,
        amount: None,
        reason: None,
        // Everything at once: nothing is left for another capture.
        captures: Captures::Concurrent,
    };
    // Each capture the provider was unavailable for is final under its own step key; the next
    // attempt of this pay key takes the next step key.
    for attempt in 1..=PAY_CAPTURE_ATTEMPTS {
        let step = match attempt {
            1 => pay_key.step("capture"),
            n => pay_key.step(&format!("capture#{n}")),
        };
        let earlier = find_txn(state, intent.id, Operation::Capture, &step)
            .await?
            .is_some();
        let captured = match operate(state, &target, capture.clone(), &step, None).await {
            Ok(outcome) => outcome,
            // Authorized, not captured: say so (never "nothing charged"); the key resumes.
            Err(Error::ProviderUnavailable | Error::ProviderUnavailableFinal) => {
                return Err(Error::CaptureUnavailable(intent.id));
            }
            Err(err) => return Err(err),
        };
        let unavailable = captured.1.status == TransactionStatus::Failed
            && captured.1.failure_kind == Some(FailureKind::Unavailable);
        if !unavailable {
            return Ok(captured);
        }
        // This request's own capture failed: say so; a retry with the key takes the next step.
        if !earlier {
            return Err(Error::CaptureUnavailable(intent.id));
        }
    }
    // Still authorized and voidable; the answer is not kept, so the key can be retried.
    Err(Error::CaptureUnavailable(intent.id))
}
