//! Provider events on every provider: an authorization waiting for the customer is settled by
//! the provider's signed event once the customer completed it there; a duplicate changes
//! nothing; a bad signature is refused and changes nothing; and a signed event the provider does
//! not confirm moves nothing.

use cassa_tests::Backend;
use serde_json::{Value, json};

use super::{
    ProviderShop, Psp,
    events::{Claim, Signing},
    provider::provider_id,
};
use crate::{
    payments::shop::TOTAL,
    support::{assert_problem, json_of},
};

/// A new order paid with the provider's challenged card: (order id, its pending intent).
async fn waiting_for_the_customer(shop: &ProviderShop) -> (String, Value) {
    let (order, response) = shop.pay(shop.challenged()).await;
    let intent = json_of(response, 202).await;
    assert_eq!(intent["status"], "pending", "{intent}");
    assert_eq!(
        shop.provider_view(provider_id(&intent)).await.status,
        "pending"
    );
    (order, intent)
}

async fn intent_of(shop: &ProviderShop, order: &str) -> Value {
    shop.detail(order).await["intents"][0].clone()
}

async fn a_challenged_authorization_is_settled_by_the_providers_signed_event(
    backend: Backend,
    psp: Psp,
) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let (order, intent) = waiting_for_the_customer(&shop).await;
    // Nothing can be captured before the customer answered.
    assert_problem(
        shop.op(&order, &intent, "capture", json!({})).await,
        409,
        "invalid_state_transition",
    )
    .await;
    shop.complete_challenge(&intent).await;
    assert_eq!(
        shop.provider_view(provider_id(&intent)).await.status,
        "authorized"
    );
    // Until the provider's event arrives, the ledger still waits.
    assert_eq!(intent_of(&shop, &order).await["status"], "pending");

    let event = shop.event(&intent, Claim::Authorized);
    let received = json_of(shop.deliver(&event, Signing::Valid).await, 200).await;
    assert_eq!(received["duplicate"], false, "{received}");
    assert_eq!(shop.process_events().await, 1);
    let detail = shop.check_invariants(&order).await;
    let ours = &detail["intents"][0];
    assert_eq!(
        (ours["status"].as_str(), ours["authorized_amount"].as_i64()),
        (Some("authorized"), Some(TOTAL)),
        "{ours}"
    );
    assert_eq!(detail["order_status"], "paid");
    let last = detail["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|h| h["subject"] == "payment")
        .unwrap();
    assert_eq!(
        (last["source"].as_str(), last["actor"].as_str()),
        (
            Some("webhook"),
            Some(format!("webhook:{}", psp.name()).as_str())
        )
    );
    // The authorization is as good as any: it captures.
    json_of(shop.op(&order, &intent, "capture", json!({})).await, 200).await;
    shop.check_invariants(&order).await;
}

async fn the_same_event_delivered_twice_changes_nothing_the_second_time(
    backend: Backend,
    psp: Psp,
) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let (order, intent) = waiting_for_the_customer(&shop).await;
    shop.complete_challenge(&intent).await;
    let event = shop.event(&intent, Claim::Authorized);
    json_of(shop.deliver(&event, Signing::Valid).await, 200).await;
    assert_eq!(shop.process_events().await, 1);
    let settled = shop.check_invariants(&order).await;
    assert_eq!(settled["intents"][0]["status"], "authorized");

    // The same delivery again: acknowledged as a duplicate, never processed.
    let again = json_of(shop.deliver(&event, Signing::Valid).await, 200).await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(shop.process_events().await, 0);
    assert_eq!(shop.check_invariants(&order).await, settled);
    // The same news under another event id (the provider sending it again) is processed and
    // finds the authorization settled: nothing moves.
    let resent = event.resent();
    let received = json_of(shop.deliver(&resent, Signing::Valid).await, 200).await;
    assert_eq!(received["duplicate"], false, "{received}");
    assert_eq!(shop.process_events().await, 1);
    assert_eq!(shop.check_invariants(&order).await, settled);
    let events = shop.webhook_events().await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().all(|e| e["status"] == "processed"),
        "{events:?}"
    );
}

async fn a_bad_signature_is_401_and_changes_nothing(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let (order, intent) = waiting_for_the_customer(&shop).await;
    shop.complete_challenge(&intent).await;
    let event = shop.event(&intent, Claim::Authorized);
    for signing in [Signing::WrongSecret, Signing::OtherBody] {
        assert_problem(
            shop.deliver(&event, signing).await,
            401,
            "invalid_signature",
        )
        .await;
    }
    // Nothing refused is processed, and the refused deliveries did not take the event's id.
    assert_eq!(shop.process_events().await, 0);
    assert_eq!(intent_of(&shop, &order).await["status"], "pending");
    let events = shop.webhook_events().await;
    assert!(
        events.iter().all(|e| e["signature_valid"] == false),
        "{events:?}"
    );
    let received = json_of(shop.deliver(&event, Signing::Valid).await, 200).await;
    assert_eq!(received["duplicate"], false, "{received}");
    assert_eq!(shop.process_events().await, 1);
    assert_eq!(
        shop.check_invariants(&order).await["intents"][0]["status"],
        "authorized"
    );
}

async fn an_event_the_provider_does_not_confirm_moves_nothing(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    // An authorization the customer has not completed at the provider.
    let (order, intent) = waiting_for_the_customer(&shop).await;
    let claimed = shop.event(&intent, Claim::Authorized);
    json_of(shop.deliver(&claimed, Signing::Valid).await, 200).await;
    assert_eq!(shop.process_events().await, 1);
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["status"], "pending", "{detail}");
    assert_eq!(detail["order_status"], "open");
    let stored = shop.webhook_events().await;
    // Kept to be retried (the provider may confirm it yet), never applied on its word.
    assert_eq!(stored[0]["status"], "pending", "{stored:?}");
    assert!(
        stored[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("not confirmed"),
        "{stored:?}"
    );

    // A capture nobody asked for, claimed of an authorized payment.
    let (paid_order, paid) = shop.authorized().await;
    let captured = shop.event(&paid, Claim::Captured);
    json_of(shop.deliver(&captured, Signing::Valid).await, 200).await;
    assert_eq!(shop.process_events().await, 1);
    let detail = shop.check_invariants(&paid_order).await;
    let ours = &detail["intents"][0];
    assert_eq!(
        (ours["status"].as_str(), ours["captured_amount"].as_i64()),
        (Some("authorized"), Some(0)),
        "{ours}"
    );
    assert_eq!(shop.provider_calls("capture").await, 0);

    // Once the customer completes it at the provider, the retried event settles it.
    shop.complete_challenge(&intent).await;
    shop.app.clock.advance(chrono::Duration::minutes(5));
    assert!(shop.process_events().await >= 1);
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["status"], "authorized", "{detail}");
    let detail = shop.check_invariants(&paid_order).await;
    assert_eq!(detail["intents"][0]["captured_amount"], 0);
}

both_providers!(
    a_challenged_authorization_is_settled_by_the_providers_signed_event,
    the_same_event_delivered_twice_changes_nothing_the_second_time,
    a_bad_signature_is_401_and_changes_nothing,
    an_event_the_provider_does_not_confirm_moves_nothing,
);
