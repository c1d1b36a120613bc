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
        amt.prop_map(|a| Event::RefundFailed { amount: m(a) }),
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
                prop_assert!(!l.status.is_final() || next.status == l.status);
                l = next;
            }
            prop_assert!(l.captured.0 + l.capture_reserved.0 + l.released.0 <= l.authorized.0);
            prop_assert!(l.released.0 >= 0);
            prop_assert!(l.refunded.0 + l.refund_reserved.0 <= l.captured.0);
            prop_assert!(l.capture_reserved.0 >= 0 && l.refund_reserved.0 >= 0);
            if l.status == IntentStatus::Voided {
                prop_assert_eq!(l.captured.0, 0);
            }
        }
    }
}
