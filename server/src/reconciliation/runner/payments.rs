//! Payments in a run: each payment provider's list staged page by page (`provider` phase),
//! the store's payments of the period compared with their records (`ours` phase, asking the
//! provider per payment when its list has none), and listed payments nothing claimed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Batch, Page, creation_cursor, keep_lease, theirs_of};
use crate::{
    credentials::{self, CredentialError},
    money::MinorUnits,
    payments::IntentStatus,
    providers::payment::{PaymentProvider, ProviderError, Units},
    reconciliation::{
        Error, ItemKind,
        compare::{Ours, Theirs, compare},
        repo::{self, IntentRow, ItemRow, RecordRow, RunRow},
    },
    state::AppState,
};

async fn client(
    state: &AppState,
    run: &RunRow,
    provider: &str,
) -> Result<Option<Box<dyn PaymentProvider>>, Error> {
    match credentials::payment_client(state, run.store_id, Some(provider), run.environment).await {
        Ok(client) => Ok(Some(client)),
        Err(CredentialError::Missing { .. }) => Ok(None),
        Err(err) => Err(Error::Provider(err.to_string())),
    }
}

/// One page of a payment provider's list (`None`: no credentials, or no list).
pub(super) async fn payment_page(
    state: &AppState,
    run: &RunRow,
    name: &str,
    after: Option<&str>,
) -> Result<Option<Page>, Error> {
    let Some(client) = client(state, run, name).await? else {
        return Ok(None);
    };
    let correlation = format!("reconciliation:{}", run.id);
    let page = client
        .list_payments(&correlation, run.period_from, run.period_to, after)
        .await
        .map_err(|e| Error::Provider(e.to_string()))?;
    let Some(page) = page else { return Ok(None) };
    let records = page
        .payments
        .into_iter()
        .map(|p| {
            let currency = p.currency.to_uppercase();
            // The provider's units for the currency (see `Units`), read back into ISO's.
            let units = Units::of(client.as_ref(), &currency);
            let read = |amount: MinorUnits| {
                units.from_provider(amount).map(|m| m.0).ok_or_else(|| {
                    Error::Provider(format!(
                        "payment {}: {} {currency} is finer than the currency has",
                        p.id, amount.0
                    ))
                })
            };
            Ok(RecordRow {
                provider: name.to_owned(),
                amount: read(p.amount)?,
                captured: read(p.captured)?,
                refunded: read(p.refunded)?,
                provider_payment_id: p.id,
                reference: p.reference,
                status: p.status,
                currency,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Some(Page {
        has_more: page.has_more,
        records,
    }))
}

fn ours_of(intent: &IntentRow) -> Result<Ours, Error> {
    Ok(Ours {
        status: IntentStatus::parse(&intent.status)
            .ok_or_else(|| Error::Corrupt(format!("intent status {:?}", intent.status)))?,
        provider_payment_id: intent.provider_payment_id.clone(),
        currency: intent.currency.clone(),
        authorized: intent.authorized_amount,
        captured: intent.captured_amount,
        refunded: intent.refunded_amount,
        in_flight: intent.capture_reserved > 0 || intent.refund_reserved > 0 || intent.void_pending,
        updated_at: intent.updated_at,
    })
}

/// Compares one page of our payments. Cursor: `<created_at RFC 3339>|<intent id>`.
pub(super) async fn ours_batch(
    state: &AppState,
    run: &RunRow,
    cursor: Option<&str>,
    page: i64,
    held: &mut DateTime<Utc>,
) -> Result<Batch, Error> {
    let after = creation_cursor(cursor);
    let intents = repo::intents(&state.db, run, after, page).await?;
    let Some(last) = intents.last() else {
        return Ok(Batch {
            phase: "ours",
            cursor: Some(super::labels::SHIPMENTS.to_owned()),
            ..Batch::default()
        });
    };
    let cursor = format!("{}|{}", last.created_at.to_rfc3339(), last.id);
    // The provider's records of these payments: by their ids, and by the references our
    // operations gave (a record of ours whose id we never learned, or a second one).
    let mut staged: HashMap<(String, String), RecordRow> = HashMap::new();
    let mut by_provider: HashMap<&str, Vec<String>> = HashMap::new();
    for i in &intents {
        if let Some(id) = &i.provider_payment_id {
            by_provider
                .entry(i.provider.as_str())
                .or_default()
                .push(id.clone());
        }
    }
    for (provider, ids) in &by_provider {
        for r in repo::records_by_id(&state.db, run.id, provider, ids).await? {
            staged.insert((r.provider.clone(), r.provider_payment_id.clone()), r);
        }
    }
    let intent_ids: Vec<Uuid> = intents.iter().map(|i| i.id).collect();
    let operations = repo::transaction_ids(&state.db, &intent_ids).await?;
    let references: Vec<String> = operations.iter().map(|(t, _)| t.to_string()).collect();
    let mut referenced: HashMap<Uuid, Vec<RecordRow>> = HashMap::new();
    let intent_of: HashMap<String, Uuid> = operations
        .iter()
        .map(|(t, i)| (t.to_string(), *i))
        .collect();
    for r in repo::records_by_reference(&state.db, run.id, &references).await? {
        if let Some(intent) = r.reference.as_ref().and_then(|r| intent_of.get(r)) {
            referenced.entry(*intent).or_default().push(r);
        }
    }

    let now = state.clock.now();
    let stale_after = state.config.reconciliation_stale;
    let mut batch = Batch {
        phase: "ours",
        cursor: Some(cursor),
        examined: intents.len() as i64,
        ..Batch::default()
    };
    let mut clients: HashMap<String, Option<Box<dyn PaymentProvider>>> = HashMap::new();
    for intent in &intents {
        let ours = ours_of(intent)?;
        let mut own = match &intent.provider_payment_id {
            Some(id) => staged.get(&(intent.provider.clone(), id.clone())).cloned(),
            None => None,
        };
        let others = referenced.remove(&intent.id).unwrap_or_default();
        if own.is_none() && intent.provider_payment_id.is_none() {
            // Our operation's record whose id the provider's answer never gave us.
            own = others
                .iter()
                .find(|r| r.provider == intent.provider)
                .cloned();
        }
        let own_id = own.as_ref().map(|r| r.provider_payment_id.clone());
        for dup in others
            .iter()
            .filter(|r| Some(&r.provider_payment_id) != own_id.as_ref())
        {
            batch
                .seen
                .push((dup.provider.clone(), dup.provider_payment_id.clone()));
            batch.items.push(item(
                run,
                ItemKind::DuplicateAtProvider,
                Some(intent),
                Some(&ours),
                Some(&theirs_of(dup)),
                now,
            ));
        }
        // An open payment is judged by its age alone: nothing to ask the provider.
        let open = ours.in_flight
            || matches!(
                ours.status,
                IntentStatus::RequiresAuthorization | IntentStatus::Pending | IntentStatus::Unknown
            );
        let theirs = match (own, &intent.provider_payment_id) {
            (Some(record), _) => {
                batch
                    .seen
                    .push((record.provider.clone(), record.provider_payment_id.clone()));
                Some(theirs_of(&record))
            }
            (None, Some(_)) if open => None,
            // Not in the list (a provider without one, or created at the period's edge): ask.
            (None, Some(id)) => {
                // One call per payment can take the provider timeout: keep the claim alive.
                keep_lease(state, run, held).await?;
                if !clients.contains_key(&intent.provider) {
                    let c = client(state, run, &intent.provider).await?;
                    clients.insert(intent.provider.clone(), c);
                }
                match clients.get(&intent.provider).and_then(Option::as_ref) {
                    None => {
                        return Err(Error::Provider(format!(
                            "no {} credentials to ask about payment {id}",
                            intent.provider
                        )));
                    }
                    Some(client) => {
                        let correlation = format!("reconciliation:{}", run.id);
                        let units = Units::of(client.as_ref(), &intent.currency);
                        let answer = client
                            .get_transaction(&correlation, id)
                            .await
                            .and_then(|t| {
                                units.read(t).ok_or_else(|| {
                                    ProviderError::UnknownOutcome(format!(
                                        "payment {id}: an amount finer than the currency has"
                                    ))
                                })
                            });
                        match answer {
                            Ok(t) => Some(Theirs {
                                id: t.id,
                                reference: None,
                                status: t.status,
                                // The single-payment answer carries no currency: ours stands.
                                currency: intent.currency.clone(),
                                amount: t.amount.0,
                                captured: t.captured.0,
                                refunded: t.refunded.0,
                            }),
                            Err(ProviderError::Refused { status: 404, .. }) => None,
                            Err(err) => return Err(Error::Provider(err.to_string())),
                        }
                    }
                }
            }
            (None, None) => None,
        };
        match compare(&ours, theirs.as_ref(), now, stale_after) {
            None => {}
            Some(ItemKind::Matched) => batch.matched += 1,
            Some(kind) => batch.items.push(item(
                run,
                kind,
                Some(intent),
                Some(&ours),
                theirs.as_ref(),
                now,
            )),
        }
    }
    Ok(batch)
}

/// Judges staged payment records no payment of the period claimed: a payment of another
/// period (or another store's, on a shared provider account) is left alone; a second payment
/// made for one of our operations is a duplicate; a payment no intent knows is missing in
/// Cassa.
pub(super) async fn orphans(
    state: &AppState,
    run: &RunRow,
    records: &[RecordRow],
    now: DateTime<Utc>,
) -> Result<Vec<ItemRow>, Error> {
    let mut items = Vec::new();
    let ids: Vec<String> = records
        .iter()
        .map(|r| r.provider_payment_id.clone())
        .collect();
    let known: std::collections::HashSet<String> =
        repo::known_payment_ids(&state.db, run.environment, &ids)
            .await?
            .into_iter()
            .collect();
    let references: Vec<Uuid> = records
        .iter()
        .filter_map(|r| r.reference.as_deref().and_then(|r| r.parse().ok()))
        .collect();
    let owners: HashMap<Uuid, repo::Owner> =
        repo::owners_by_reference(&state.db, run.environment, &references)
            .await?
            .into_iter()
            .collect();
    for record in records {
        if known.contains(&record.provider_payment_id) {
            // Another period's payment (or another store's, on a shared provider account): its
            // own run compares it.
            continue;
        }
        let owner = record
            .reference
            .as_deref()
            .and_then(|r| r.parse::<Uuid>().ok())
            .and_then(|r| owners.get(&r));
        if owner.is_some_and(|o| o.store_id != run.store_id) {
            // Another store's operation on a shared account: not this store's to see.
            continue;
        }
        let kind = match owner {
            Some(owner) if owner.provider_payment_id.is_some() => ItemKind::DuplicateAtProvider,
            // Our operation of another period whose id we never learned: its run finds it.
            Some(_) => continue,
            None => ItemKind::MissingInCassa,
        };
        let mut row = item(run, kind, None, None, Some(&theirs_of(record)), now);
        if let Some(owner) = owner {
            row.payment_intent_id = Some(owner.intent_id);
            row.order_id = Some(owner.order_id);
        }
        row.provider = record.provider.clone();
        items.push(row);
    }
    Ok(items)
}

fn item(
    run: &RunRow,
    kind: ItemKind,
    intent: Option<&IntentRow>,
    ours: Option<&Ours>,
    theirs: Option<&Theirs>,
    now: DateTime<Utc>,
) -> ItemRow {
    let net = |captured: i64, refunded: i64| captured - refunded;
    // A duplicate is money taken on top of ours: all of it is the difference.
    let ours_net = match kind {
        ItemKind::DuplicateAtProvider => 0,
        _ => ours.map_or(0, |o| net(o.captured, o.refunded)),
    };
    let theirs_net = theirs.map_or(0, |t| net(t.captured, t.refunded));
    let key = match (kind, intent, theirs) {
        (ItemKind::DuplicateAtProvider | ItemKind::MissingInCassa, _, Some(t)) => {
            format!("{}:{}", kind.as_str(), t.id)
        }
        (_, Some(i), _) => format!("{}:{}", kind.as_str(), i.id),
        (_, None, Some(t)) => format!("{}:{}", kind.as_str(), t.id),
        (_, None, None) => format!("{}:{}", kind.as_str(), Uuid::now_v7()),
    };
    ItemRow {
        id: Uuid::now_v7(),
        run_id: run.id,
        store_id: run.store_id,
        environment: run.environment,
        item_key: key,
        kind: kind.as_str().to_owned(),
        payment_intent_id: intent.map(|i| i.id),
        order_id: intent.map(|i| i.order_id),
        provider: intent.map(|i| i.provider.clone()).unwrap_or_default(),
        provider_payment_id: theirs
            .map(|t| t.id.clone())
            .or_else(|| intent.and_then(|i| i.provider_payment_id.clone())),
        currency: ours
            .map(|o| o.currency.clone())
            .or_else(|| theirs.map(|t| t.currency.clone()))
            .unwrap_or_default(),
        difference: theirs_net - ours_net,
        shipment_id: None,
        subject: "payment".to_owned(),
        ours: ours.map(|o| {
            json!({"status": o.status.as_str(), "provider_payment_id": o.provider_payment_id,
                "currency": o.currency, "authorized": o.authorized, "captured": o.captured,
                "refunded": o.refunded})
            .to_string()
        }),
        theirs: theirs.map(|t| {
            json!({"id": t.id, "reference": t.reference, "status": t.status,
                "currency": t.currency, "amount": t.amount, "captured": t.captured,
                "refunded": t.refunded})
            .to_string()
        }),
        resolution: "open".to_owned(),
        note: None,
        resolved_by: None,
        resolved_at: None,
        created_at: now,
    }
}
