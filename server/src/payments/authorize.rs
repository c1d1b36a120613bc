//! Authorizing a customer's order: phase 1 of an authorization (the intent, its pending
//! transaction and the history row in one database transaction), then `phases.rs` calls the
//! provider. A retry with the same Idempotency-Key resumes the transaction it started.

use super::{
    AuthorizeRequest, Operation,
    caller::Caller,
    error::Error,
    keys::{LedgerKey, amount_part},
    machine::IntentStatus,
    phases::{Attempt, drive, resume},
    provider::client_for,
    reply::Reply,
    repo::{self, IntentRow, NewHistory, Outcome, Subject, TxnRow},
    service::new_txn,
    write_repo,
};
use crate::{
    auth::principal::CustomerScope,
    checkout,
    idempotency::{KeyRecord, answer},
    orders::OrderScope,
    providers::payment::Units,
    state::AppState,
    types::{Environment, InvalidValue, OrderId, PaymentIntentId},
};

pub(super) fn payment_method(pm: Option<&str>) -> Result<String, Error> {
    match pm {
        Some(pm)
            if !pm.is_empty() && pm.len() <= 100 && pm.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(pm.to_owned())
        }
        _ => Err(
            InvalidValue::new("payment_method", "required: 1–100 visible ASCII characters").into(),
        ),
    }
}

/// A storefront's return URL, parsed: absolute, `https` (or `http` in the sandbox, for a
/// storefront on a developer's machine), without credentials, at most 2,048 characters. Only
/// the customer's browser ever goes there.
fn return_url(text: &str, env: Environment) -> Result<String, Error> {
    let invalid = || {
        InvalidValue::new(
            "return_url",
            "an absolute https URL of at most 2048 characters",
        )
    };
    if text.len() > 2048 {
        return Err(invalid().into());
    }
    let url = url::Url::parse(text).map_err(|_| invalid())?;
    let scheme_ok = matches!(
        (url.scheme(), env),
        ("https", _) | ("http", Environment::Sandbox)
    );
    if !scheme_ok || !url.has_host() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid().into());
    }
    Ok(url.to_string())
}

/// `POST /api/v1/me/orders/{id}/payments/authorize`: a new intent for the snapshot's total, or
/// the one this Idempotency-Key already started.
pub async fn authorize(
    state: &AppState,
    scope: CustomerScope,
    order_id: OrderId,
    request: AuthorizeRequest,
    key: &str,
    caller: &Caller,
    reply: Option<&Reply>,
) -> Result<Outcome, Error> {
    let snapshot = request
        .snapshot_id
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut parts = vec![
        "authorize",
        &snapshot,
        request.payment_method.as_deref().unwrap_or_default(),
    ];
    let amount = amount_part(request.amount);
    parts.push(&amount);
    // Only when given, so keys of requests without one keep their fingerprint.
    if let Some(url) = &request.return_url {
        parts.push(url);
    }
    let ledger_key = LedgerKey::new(caller, key, &parts);
    authorize_with(state, scope, order_id, request, &ledger_key, caller, reply).await
}

pub(super) async fn authorize_with(
    state: &AppState,
    scope: CustomerScope,
    order_id: OrderId,
    request: AuthorizeRequest,
    ledger_key: &LedgerKey,
    caller: &Caller,
    reply: Option<&Reply>,
) -> Result<Outcome, Error> {
    if let Some(found) = find_by_key(state, scope, order_id, ledger_key).await? {
        return resume(state, caller, found, reply).await;
    }
    let order_scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    let snapshot_id = match request.snapshot_id {
        Some(id) => id,
        None => {
            // Another customer's order is a 404 before any complaint about the body.
            crate::orders::find(state, order_scope, order_id)
                .await
                .map_err(Error::Orders)?;
            return Err(InvalidValue::new("snapshot_id", "required").into());
        }
    };
    let snapshot = checkout::payable_snapshot(state, order_scope, order_id, snapshot_id)
        .await
        .map_err(Error::Checkout)?;
    let method = payment_method(request.payment_method.as_deref())?;
    let return_url = request
        .return_url
        .as_deref()
        .map(|url| return_url(url, scope.environment))
        .transpose()?;
    if request
        .amount
        .is_some_and(|amount| amount != snapshot.total.0)
    {
        return Err(Error::SnapshotMismatch(snapshot.total.0));
    }
    if snapshot.total.0 <= 0 {
        return Err(Error::AmountInvalid(
            "the order's total is zero: there is nothing to authorize",
        ));
    }
    let client = client_for(state, scope.store_id, None, scope.environment).await?;
    Units::of(client.as_ref(), &snapshot.currency)
        .to_provider(snapshot.total, &snapshot.currency)?;
    let now = state.clock.now();
    let intent = IntentRow {
        id: PaymentIntentId::new(),
        store_id: scope.store_id,
        environment: scope.environment,
        order_id,
        snapshot_id: snapshot.snapshot_id,
        customer_id: scope.customer_id,
        provider: client.name().to_owned(),
        provider_payment_id: None,
        payment_method: method,
        status: IntentStatus::RequiresAuthorization,
        amount: snapshot.total.0,
        authorized_amount: 0,
        captured_amount: 0,
        refunded_amount: 0,
        capture_reserved: 0,
        refund_reserved: 0,
        released_amount: 0,
        void_pending: false,
        currency: snapshot.currency.clone(),
        version: 1,
        failure_code: None,
        created_at: now,
        updated_at: now,
        settlement_currency: snapshot
            .lock
            .as_ref()
            .map(|l| l.settlement_currency.code().to_owned()),
        fx_rate: snapshot
            .lock
            .as_ref()
            .map(|l| l.rate.normalize().to_string()),
        return_url,
        // Said by the provider when it authorizes.
        multicapture: false,
    };
    let txn = new_txn(
        &intent,
        Operation::Authorize,
        ledger_key,
        intent.amount,
        None,
        caller,
        now,
    );
    let claim = reply.map(|r| &r.record).filter(|r| r.needs_claim());
    match start_intent(state, &intent, &txn, caller, claim).await? {
        Started::Yes => {
            if let Some(record) = claim {
                record.claimed();
            }
        }
        Started::KeyInUse => return Err(Error::KeyInUse),
        Started::Conflict => {
            // The same key raced us (its transaction is the answer), or the order has another
            // active payment.
            if let Some(found) = find_by_key(state, scope, order_id, ledger_key).await? {
                return resume(state, caller, found, reply).await;
            }
            return Err(Error::PaymentAlreadyActive);
        }
    }
    drive(
        state,
        caller,
        client.as_ref(),
        (intent, txn),
        reply,
        Attempt::First,
    )
    .await
}

/// How phase 1 of an authorization ended.
enum Started {
    /// The intent and its pending transaction are committed.
    Yes,
    /// Another request holds the Idempotency-Key; nothing was written.
    KeyInUse,
    /// A unique index refused the intent or the transaction; nothing was written.
    Conflict,
}

/// Phase 1 of an authorization: the intent, its pending transaction and the history row in
/// one database transaction, after the request's key claim.
async fn start_intent(
    state: &AppState,
    intent: &IntentRow,
    txn: &TxnRow,
    caller: &Caller,
    claim: Option<&KeyRecord>,
) -> Result<Started, Error> {
    let mut tx = state.db.begin_write().await?;
    // First, so a concurrent request with the same key waits here and changes nothing.
    if let Some(record) = claim
        && !answer::claim(&mut tx, record, intent.created_at).await?
    {
        return Ok(Started::KeyInUse);
    }
    let history = NewHistory {
        order_id: intent.order_id,
        payment_intent_id: Some(intent.id),
        subject: Subject::Payment,
        from_status: None,
        to_status: intent.status.as_str(),
        reason: "payment started",
        caller,
        at: intent.created_at,
    };
    if !write_repo::insert_started(&mut tx, intent, txn, history).await? {
        return Ok(Started::Conflict);
    }
    tx.commit().await?;
    Ok(Started::Yes)
}

/// The authorize transaction this key started for the customer's order, with its intent. The
/// customer is part of the lookup: another customer's key never finds this one's intent.
pub(super) async fn find_by_key(
    state: &AppState,
    scope: CustomerScope,
    order_id: OrderId,
    key: &LedgerKey,
) -> Result<Option<Outcome>, Error> {
    let txn = repo::authorization_by_key(
        &state.db,
        scope.store_id,
        scope.environment,
        scope.customer_id,
        order_id,
        &key.key,
    )
    .await?;
    let Some(txn) = txn else { return Ok(None) };
    key.check(&txn)?;
    let intent = repo::intent(&state.db, txn.payment_intent_id).await?;
    Ok(Some((intent, txn)))
}
