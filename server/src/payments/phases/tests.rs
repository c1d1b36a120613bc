//! Unit tests of the outcome classification and planning of phases 2 and 3.
use super::*;
use crate::types::PaymentIntentId;

fn err(e: ProviderError) -> Result<ProviderTransaction, ProviderError> {
    Err(e)
}

fn is_unknown(o: &ProviderOutcome) -> bool {
    matches!(o, ProviderOutcome::Unknown)
}

fn failed_kind(o: &ProviderOutcome) -> Option<FailureKind> {
    match o {
        ProviderOutcome::Failed { kind, .. } => Some(*kind),
        _ => None,
    }
}

#[test]
fn only_a_first_call_reads_nothing_happened_as_failed() {
    let retryable = || err(ProviderError::Retryable("503".into()));
    let refused = |status| {
        err(ProviderError::Refused {
            status,
            code: "x".into(),
        })
    };
    for op in [Operation::Authorize, Operation::Capture, Operation::Refund] {
        assert_eq!(
            failed_kind(&classify(op, Attempt::First, retryable())),
            Some(FailureKind::Unavailable)
        );
        assert!(is_unknown(&classify(op, Attempt::Again, retryable())));
        for status in [401, 403, 404, 429] {
            assert!(is_unknown(&classify(op, Attempt::Again, refused(status))));
            assert!(failed_kind(&classify(op, Attempt::First, refused(status))).is_some());
        }
        // Answers about the operation itself are final on any attempt.
        let declined = err(ProviderError::Declined { code: "d".into() });
        assert_eq!(
            failed_kind(&classify(op, Attempt::Again, declined)),
            Some(FailureKind::Declined)
        );
    }
}

fn txn(operation: Operation, provider_txn_id: Option<&str>) -> TxnRow {
    let now = chrono::Utc::now();
    TxnRow {
        id: TransactionId::new(),
        payment_intent_id: PaymentIntentId::new(),
        operation,
        idempotency_key: "k".into(),
        amount: 100,
        currency: "USD".into(),
        status: TransactionStatus::Pending,
        provider_txn_id: provider_txn_id.map(str::to_owned),
        failure_kind: None,
        failure_code: None,
        reason: None,
        raw_response_redacted: None,
        correlation_id: "c".into(),
        actor: "a".into(),
        request_hash: None,
        attempts: 0,
        next_attempt_at: None,
        created_at: now,
        updated_at: now,
        settlement_amount: Some(100),
        settlement_currency: Some("USD".into()),
    }
}

#[test]
fn a_pending_authorization_the_provider_does_not_answer_about_stays_pending() {
    let accepted = txn(Operation::Authorize, Some("psp_1"));
    assert_eq!(
        plan(Operation::Authorize, &accepted, &ProviderOutcome::Unknown),
        (TransactionStatus::Pending, None)
    );
    let sent = txn(Operation::Authorize, None);
    assert_eq!(
        plan(Operation::Authorize, &sent, &ProviderOutcome::Unknown),
        (TransactionStatus::Unknown, Some(Event::AuthorizeUnknown))
    );
}

#[test]
fn a_resend_refused_by_the_egress_guard_is_unknown_not_failed() {
    // The transports name the reason after the code: the earlier call may still have acted.
    for op in [Operation::Capture, Operation::Refund, Operation::Void] {
        let refused = err(ProviderError::Rejected {
            code: "egress_refused: internal address 10.0.0.1".into(),
        });
        assert!(is_unknown(&classify(op, Attempt::Again, refused)));
    }
}

#[test]
fn an_operation_the_provider_accepted_but_has_not_done_stays_open() {
    let pending = ProviderTransaction {
        id: "re_1".into(),
        status: "pending".into(),
        amount: MinorUnits(100),
        captured: MinorUnits(0),
        refunded: MinorUnits(100),
        next_action: None,
        multicapture: false,
    };
    let outcome = classify(Operation::Refund, Attempt::First, Ok(pending));
    assert!(matches!(outcome, ProviderOutcome::Pending { .. }));
    let refund = txn(Operation::Refund, None);
    assert_eq!(
        plan(Operation::Refund, &refund, &outcome),
        (TransactionStatus::Pending, None)
    );
    // Not answered about later: still pending, never unknown (the provider has it).
    let accepted = txn(Operation::Refund, Some("re_1"));
    assert_eq!(
        plan(Operation::Refund, &accepted, &ProviderOutcome::Unknown),
        (TransactionStatus::Pending, None)
    );
    // A request that could not be built was never sent: unknown only on a resend.
    let unbuilt = || {
        err(ProviderError::Rejected {
            code: "request_not_sent: builder error".into(),
        })
    };
    assert!(failed_kind(&classify(Operation::Refund, Attempt::First, unbuilt())).is_some());
    assert!(is_unknown(&classify(
        Operation::Refund,
        Attempt::Again,
        unbuilt()
    )));
}
