//! The transition function's rules, example by example, and its invariants under any
//! sequence of events (property-based).

use super::*;
use proptest::prelude::*;

fn m(v: i64) -> MinorUnits {
    MinorUnits(v)
}

fn authorized(amount: i64) -> Ledger {
    apply(
        Ledger::new(m(amount)),
        Event::AuthorizeSucceeded { amount: m(amount) },
    )
    .unwrap()
}

fn run(mut ledger: Ledger, events: &[Event]) -> Result<Ledger, TransitionError> {
    for e in events {
        ledger = apply(ledger, *e)?;
    }
    Ok(ledger)
}

#[test]
fn partial_captures_then_partial_refunds() {
    let l = run(
        authorized(1000),
        &[
            Event::CaptureRequested { amount: m(400) },
            Event::CaptureSucceeded { amount: m(400) },
        ],
    )
    .unwrap();
    assert_eq!(l.status, IntentStatus::PartiallyCaptured);
    let l = run(
        l,
        &[
            Event::CaptureRequested { amount: m(600) },
            Event::CaptureSucceeded { amount: m(600) },
        ],
    )
    .unwrap();
    assert_eq!(l.status, IntentStatus::Captured);
    let l = run(
        l,
        &[
            Event::RefundRequested { amount: m(300) },
            Event::RefundSucceeded { amount: m(300) },
        ],
    )
    .unwrap();
    assert_eq!(l.status, IntentStatus::PartiallyRefunded);
    assert_eq!(
        apply(l, Event::RefundRequested { amount: m(701) }),
        Err(TransitionError::ExceedsRefundable { available: m(700) })
    );
    let l = run(
        l,
        &[
            Event::RefundRequested { amount: m(700) },
            Event::RefundSucceeded { amount: m(700) },
        ],
    )
    .unwrap();
    assert_eq!(l.status, IntentStatus::Refunded);
    assert!(l.status.is_final());
}

#[test]
fn reservations_bound_concurrent_captures() {
    let l = run(
        authorized(1000),
        &[
            Event::CaptureRequested { amount: m(700) },
            Event::CaptureRequested { amount: m(300) },
        ],
    )
    .unwrap();
    assert_eq!(
        apply(l, Event::CaptureRequested { amount: m(1) }),
        Err(TransitionError::ExceedsCapturable { available: m(0) })
    );
    // A failed capture gives its reservation back.
    let l = apply(l, Event::CaptureFailed { amount: m(700) }).unwrap();
    assert_eq!(l.capturable(), m(700));
    assert_eq!(l.status, IntentStatus::Authorized);
}

#[test]
fn no_capture_after_or_during_a_void() {
    let l = apply(authorized(500), Event::VoidRequested).unwrap();
    assert!(matches!(
        apply(l, Event::CaptureRequested { amount: m(1) }),
        Err(TransitionError::InvalidTransition { .. })
    ));
    let voided = apply(l, Event::VoidSucceeded).unwrap();
    assert_eq!(voided.status, IntentStatus::Voided);
    assert!(matches!(
        apply(voided, Event::CaptureRequested { amount: m(1) }),
        Err(TransitionError::InvalidTransition { .. })
    ));
    // A void cannot start while a capture is in flight.
    let capturing = apply(authorized(500), Event::CaptureRequested { amount: m(1) }).unwrap();
    assert!(matches!(
        apply(capturing, Event::VoidRequested),
        Err(TransitionError::InvalidTransition { .. })
    ));
}

#[test]
fn a_void_after_a_partial_capture_releases_the_rest() {
    let l = run(
        authorized(1000),
        &[
            Event::CaptureRequested { amount: m(400) },
            Event::CaptureSucceeded { amount: m(400) },
        ],
    )
    .unwrap();
    assert!(l.voidable_now());
    let l = run(l, &[Event::VoidRequested, Event::VoidSucceeded]).unwrap();
    assert_eq!(
        (l.status, l.captured, l.released, l.capturable_now()),
        (IntentStatus::Captured, m(400), m(600), m(0))
    );
    assert!(!l.voidable_now());
    // The captured part can still be refunded in full, and that is final.
    let l = run(
        l,
        &[
            Event::RefundRequested { amount: m(400) },
            Event::RefundSucceeded { amount: m(400) },
        ],
    )
    .unwrap();
    assert_eq!(l.status, IntentStatus::Refunded);
}

#[test]
fn a_full_refund_of_a_partial_capture_is_not_final_while_a_rest_is_authorized() {
    let l = run(
        authorized(1000),
        &[
            Event::CaptureRequested { amount: m(400) },
            Event::CaptureSucceeded { amount: m(400) },
            Event::RefundRequested { amount: m(400) },
            Event::RefundSucceeded { amount: m(400) },
        ],
    )
    .unwrap();
    assert_eq!(l.status, IntentStatus::PartiallyRefunded);
    assert!(l.voidable_now());
    let l = run(l, &[Event::VoidRequested, Event::VoidSucceeded]).unwrap();
    assert_eq!((l.status, l.released), (IntentStatus::Refunded, m(600)));
}

#[test]
fn a_failed_void_releases_nothing() {
    let l = run(
        authorized(1000),
        &[
            Event::CaptureRequested { amount: m(400) },
            Event::CaptureSucceeded { amount: m(400) },
            Event::VoidRequested,
            Event::VoidFailed,
        ],
    )
    .unwrap();
    assert_eq!(
        (l.status, l.released, l.capturable_now()),
        (IntentStatus::PartiallyCaptured, m(0), m(600))
    );
}

#[test]
fn final_states_do_not_move_backwards() {
    let failed = apply(Ledger::new(m(100)), Event::AuthorizeFailed).unwrap();
    assert!(apply(failed, Event::AuthorizeSucceeded { amount: m(100) }).is_err());
    assert!(apply(failed, Event::AuthorizePending).is_err());
    let pending = apply(Ledger::new(m(100)), Event::AuthorizePending).unwrap();
    assert!(apply(pending, Event::AuthorizeUnknown).is_err());
    let settled = apply(pending, Event::AuthorizeSucceeded { amount: m(100) }).unwrap();
    assert_eq!(settled.status, IntentStatus::Authorized);
    assert!(apply(settled, Event::AuthorizeFailed).is_err());
}

fn refunded(l: Ledger, amount: i64) -> Ledger {
    run(
        l,
        &[
            Event::RefundRequested { amount: m(amount) },
            Event::RefundSucceeded { amount: m(amount) },
        ],
    )
    .unwrap()
}

fn captured(l: Ledger, amount: i64) -> Ledger {
    run(
        l,
        &[
            Event::CaptureRequested { amount: m(amount) },
            Event::CaptureSucceeded { amount: m(amount) },
        ],
    )
    .unwrap()
}

#[test]
fn a_reversed_refund_no_longer_counts_as_refunded() {
    let l = refunded(captured(authorized(1000), 1000), 1000);
    assert_eq!(l.status, IntentStatus::Refunded);
    let l = apply(l, Event::RefundReversed { amount: m(1000) }).unwrap();
    assert_eq!(
        (l.status, l.refunded, l.refundable_now()),
        (IntentStatus::Captured, m(0), m(1000))
    );
    // One of two refunds: the other still counts.
    let l = refunded(refunded(l, 300), 200);
    let l = apply(l, Event::RefundReversed { amount: m(200) }).unwrap();
    assert_eq!(
        (l.status, l.refunded, l.refundable_now()),
        (IntentStatus::PartiallyRefunded, m(300), m(700))
    );
}

#[test]
fn a_reversal_goes_back_to_what_the_captures_and_releases_say() {
    // The rest of the authorization still held: capturable again.
    let l = refunded(captured(authorized(1000), 400), 400);
    assert_eq!(l.status, IntentStatus::PartiallyRefunded);
    let l = apply(l, Event::RefundReversed { amount: m(400) }).unwrap();
    assert_eq!(
        (l.status, l.capturable_now(), l.refundable_now()),
        (IntentStatus::PartiallyCaptured, m(600), m(400))
    );
    // The rest released: everything that will be captured is.
    let l = run(
        captured(authorized(1000), 400),
        &[Event::VoidRequested, Event::VoidSucceeded],
    )
    .unwrap();
    let l = refunded(l, 400);
    assert_eq!(l.status, IntentStatus::Refunded);
    let l = apply(l, Event::RefundReversed { amount: m(400) }).unwrap();
    assert_eq!(
        (l.status, l.released, l.capturable_now()),
        (IntentStatus::Captured, m(600), m(0))
    );
}

#[test]
fn a_reversal_leaves_refunds_in_flight_reserved() {
    let l = refunded(captured(authorized(1000), 1000), 300);
    let l = apply(l, Event::RefundRequested { amount: m(500) }).unwrap();
    let l = apply(l, Event::RefundReversed { amount: m(300) }).unwrap();
    assert_eq!(
        (l.status, l.refunded, l.refund_reserved, l.refundable()),
        (IntentStatus::Captured, m(0), m(500), m(500))
    );
    let l = apply(l, Event::RefundSucceeded { amount: m(500) }).unwrap();
    assert_eq!(
        (l.status, l.refunded),
        (IntentStatus::PartiallyRefunded, m(500))
    );
}

#[test]
fn only_what_was_refunded_can_be_reversed() {
    let l = refunded(captured(authorized(1000), 1000), 300);
    assert_eq!(
        apply(l, Event::RefundReversed { amount: m(301) }),
        Err(TransitionError::Inconsistent)
    );
    assert_eq!(
        apply(l, Event::RefundReversed { amount: m(0) }),
        Err(TransitionError::Inconsistent)
    );
    for never_refunded in [
        captured(authorized(1000), 1000),
        authorized(1000),
        apply(authorized(10), Event::VoidRequested)
            .and_then(|l| apply(l, Event::VoidSucceeded))
            .unwrap(),
        apply(Ledger::new(m(10)), Event::AuthorizeFailed).unwrap(),
    ] {
        assert!(matches!(
            apply(never_refunded, Event::RefundReversed { amount: m(1) }),
            Err(TransitionError::InvalidTransition { .. })
        ));
    }
}

#[test]
fn what_can_be_done_now_follows_the_transition_function() {
    let l = authorized(1000);
    assert_eq!(
        (l.capturable_now(), l.refundable_now(), l.voidable_now()),
        (m(1000), m(0), true)
    );
    let l = apply(l, Event::CaptureRequested { amount: m(400) }).unwrap();
    assert_eq!((l.capturable_now(), l.voidable_now()), (m(600), false));
    let l = apply(l, Event::CaptureSucceeded { amount: m(400) }).unwrap();
    assert_eq!((l.capturable_now(), l.refundable_now()), (m(600), m(400)));
    let voiding = apply(authorized(10), Event::VoidRequested).unwrap();
    assert_eq!(voiding.capturable_now(), m(0));
    let failed = apply(Ledger::new(m(10)), Event::AuthorizeFailed).unwrap();
    assert_eq!(
        (
            failed.capturable_now(),
            failed.refundable_now(),
            failed.voidable_now()
        ),
        (m(0), m(0), false)
    );
}

#[test]
fn statuses_round_trip() {
    for s in IntentStatus::ALL {
        assert_eq!(IntentStatus::parse(s.as_str()), Some(s));
    }
}

fn event() -> impl Strategy<Value = Event> {
    let amt = 0i64..600;
    prop_oneof![
        amt.clone()
            .prop_map(|a| Event::CaptureRequested { amount: m(a) }),
        amt.clone()
            .prop_map(|a| Event::CaptureSucceeded { amount: m(a) }),
        amt.clone()
            .prop_map(|a| Event::CaptureFailed { amount: m(a) }),
        amt.clone()
            .prop_map(|a| Event::RefundRequested { amount: m(a) }),
        amt.clone()
            .prop_map(|a| Event::RefundSucceeded { amount: m(a) }),
        amt.clone()
            .prop_map(|a| Event::RefundFailed { amount: m(a) }),
        amt.prop_map(|a| Event::RefundReversed { amount: m(a) }),
        Just(Event::VoidRequested),
        Just(Event::VoidSucceeded),
        Just(Event::VoidFailed),
    ]
}

proptest! {
    /// Whatever sequence of events arrives, accepted or refused, the invariants hold.
    #[test]
    fn invariants_hold_for_any_event_sequence(events in proptest::collection::vec(event(), 0..40)) {
        let mut l = authorized(1000);
        for e in events {
            if let Ok(next) = apply(l, e) {
                // Only the provider's report of a failed refund moves a final state.
                let reversal = matches!(e, Event::RefundReversed { .. });
                prop_assert!(!l.status.is_final() || next.status == l.status || reversal);
                l = next;
            }
            prop_assert!(l.captured.0 + l.capture_reserved.0 + l.released.0 <= l.authorized.0);
            prop_assert!(l.released.0 >= 0);
            prop_assert!(l.refunded.0 + l.refund_reserved.0 <= l.captured.0);
            prop_assert!(l.capture_reserved.0 >= 0 && l.refund_reserved.0 >= 0);
            prop_assert!(l.refunded.0 >= 0);
            if l.status == IntentStatus::Voided {
                prop_assert_eq!(l.captured.0, 0);
            }
        }
    }
}
