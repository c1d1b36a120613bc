//! Labels in a run: each carrier's list of the labels it billed in the period is staged with
//! the providers' lists (`provider` phase), each shipment of the period is compared with its
//! label's record after the payments (`ours` phase), and labels nothing claimed are judged with
//! the other orphans.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Batch, Page, theirs_of};
use crate::{
    credentials::{self, CredentialError},
    providers::shipping::carrier::{Carrier, ListedLabel},
    reconciliation::{
        Error, ItemKind,
        compare::Theirs,
        compare_label::{OurLabel, compare_label, label_record},
        repo::{self, ItemRow, RecordRow, RunRow, ShipmentRow},
    },
    shipments::ShipmentStatus,
    state::AppState,
    types::TextValue,
};

/// The `ours` phase's cursor once the payments are done: the shipments follow, from the start.
pub(super) const SHIPMENTS: &str = "shipments|";

/// The shipments' position in an `ours` cursor (`None`: still on the payments).
pub(super) fn shipments_cursor(cursor: &str) -> Option<Option<&str>> {
    cursor
        .strip_prefix(SHIPMENTS)
        .map(|rest| Some(rest).filter(|r| !r.is_empty()))
}

/// The store's client of a carrier (`None`: no credentials in the environment any more).
async fn carrier(
    state: &AppState,
    run: &RunRow,
    name: &str,
) -> Result<Option<Box<dyn Carrier>>, Error> {
    match credentials::carrier_client(state, run.store_id, name, run.environment).await {
        Ok(client) => Ok(Some(client)),
        Err(CredentialError::Missing { .. } | CredentialError::NotFound) => Ok(None),
        Err(err) => Err(Error::Provider(err.to_string())),
    }
}

fn staged_label(name: &str, label: ListedLabel) -> RecordRow {
    let t = label_record(
        label.provider_label_id,
        label.reference,
        label.amount.0,
        label.currency,
        label.voided,
    );
    RecordRow {
        provider: name.to_owned(),
        provider_payment_id: t.id,
        reference: t.reference,
        status: t.status,
        currency: t.currency,
        amount: t.amount,
        captured: t.captured,
        refunded: t.refunded,
    }
}

/// One page of a carrier's label list (`None`: no credentials, or no list).
pub(super) async fn label_page(
    state: &AppState,
    run: &RunRow,
    name: &str,
    after: Option<&str>,
) -> Result<Option<Page>, Error> {
    let Some(client) = carrier(state, run, name).await? else {
        return Ok(None);
    };
    let page = client
        .list_labels(run.period_from, run.period_to, after)
        .await
        .map_err(|e| Error::Provider(e.to_string()))?;
    Ok(page.map(|page| Page {
        has_more: page.has_more,
        records: page
            .labels
            .into_iter()
            .map(|l| staged_label(name, l))
            .collect(),
    }))
}

fn our_label(shipment: &ShipmentRow) -> Result<OurLabel, Error> {
    Ok(OurLabel {
        status: ShipmentStatus::from_text(&shipment.status)
            .ok_or_else(|| Error::Corrupt(format!("shipment status {:?}", shipment.status)))?,
        provider_label_id: shipment.provider_label_id.clone(),
        currency: shipment.currency.clone(),
        amount: shipment.amount,
        updated_at: shipment.updated_at,
    })
}

/// Compares one page of the period's shipments with their labels' records. Cursor:
/// `shipments|<created_at RFC 3339>|<shipment id>`. A label missing from the lists (a carrier
/// without one, or a label bought after the period's end for a shipment created in it) is
/// asked about on its own, like a payment.
pub(super) async fn shipments_batch(
    state: &AppState,
    run: &RunRow,
    cursor: Option<&str>,
    page: i64,
    held: &mut DateTime<Utc>,
) -> Result<Batch, Error> {
    let after = super::creation_cursor(cursor);
    let shipments = repo::shipments(&state.db, run, after, page).await?;
    let Some(last) = shipments.last() else {
        return Ok(Batch {
            phase: "ours",
            cursor: Some(super::filings::FILINGS.to_owned()),
            ..Batch::default()
        });
    };
    let cursor = format!("{SHIPMENTS}{}|{}", last.created_at.to_rfc3339(), last.id);
    let mut by_carrier: HashMap<&str, Vec<String>> = HashMap::new();
    for s in &shipments {
        if let Some(id) = &s.provider_label_id {
            by_carrier
                .entry(s.provider.as_str())
                .or_default()
                .push(id.clone());
        }
    }
    let mut staged: HashMap<(String, String), RecordRow> = HashMap::new();
    for (name, ids) in &by_carrier {
        for r in repo::records_by_id(&state.db, run.id, name, ids).await? {
            staged.insert((r.provider.clone(), r.provider_payment_id.clone()), r);
        }
    }
    let now = state.clock.now();
    let mut batch = Batch {
        phase: "ours",
        cursor: Some(cursor),
        examined: shipments.len() as i64,
        ..Batch::default()
    };
    let mut clients: HashMap<String, Option<Box<dyn Carrier>>> = HashMap::new();
    for shipment in &shipments {
        let ours = our_label(shipment)?;
        let record = shipment
            .provider_label_id
            .as_ref()
            .and_then(|id| staged.get(&(shipment.provider.clone(), id.clone())));
        let theirs = match (record, &shipment.provider_label_id) {
            (Some(record), _) => {
                batch
                    .seen
                    .push((record.provider.clone(), record.provider_payment_id.clone()));
                Some(theirs_of(record))
            }
            // Still being bought (judged by its age alone), or refused (not compared).
            (None, Some(_))
                if matches!(
                    ours.status,
                    ShipmentStatus::Purchasing | ShipmentStatus::PurchaseFailed
                ) =>
            {
                None
            }
            (None, Some(id)) => {
                if !clients.contains_key(&shipment.provider) {
                    let client = carrier(state, run, &shipment.provider).await?;
                    clients.insert(shipment.provider.clone(), client);
                }
                let Some(client) = clients.get(&shipment.provider).and_then(Option::as_ref) else {
                    // No credentials for its carrier any more: nothing to judge it by.
                    continue;
                };
                super::keep_lease(state, run, held).await?;
                client
                    .get_label(id)
                    .await
                    .map_err(|e| Error::Provider(e.to_string()))?
                    .map(|l| theirs_of(&staged_label(&shipment.provider, l)))
            }
            (None, None) => None,
        };
        match compare_label(
            &ours,
            theirs.as_ref(),
            now,
            state.config.reconciliation_stale,
        ) {
            None => {}
            Some(ItemKind::Matched) => batch.matched += 1,
            Some(kind) => batch.items.push(label_item(
                run,
                kind,
                &shipment.provider,
                Some(shipment),
                Some(&ours),
                theirs.as_ref(),
                now,
            )),
        }
    }
    Ok(batch)
}

/// Judges staged labels no shipment of the period claimed: a label of another period's
/// shipment (or another store's, on a shared carrier account) is left alone; a second label
/// for one of our shipments is a duplicate; a label no shipment knows is missing in Cassa.
pub(super) async fn orphans(
    state: &AppState,
    run: &RunRow,
    records: &[RecordRow],
    now: DateTime<Utc>,
) -> Result<Vec<ItemRow>, Error> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let mut known: HashSet<(String, String)> = HashSet::new();
    let mut by_carrier: HashMap<&str, Vec<String>> = HashMap::new();
    for r in records {
        by_carrier
            .entry(r.provider.as_str())
            .or_default()
            .push(r.provider_payment_id.clone());
    }
    for (name, ids) in by_carrier {
        for id in repo::known_label_ids(&state.db, run.environment, name, &ids).await? {
            known.insert((name.to_owned(), id));
        }
    }
    let references: Vec<Uuid> = records
        .iter()
        .filter_map(|r| r.reference.as_deref().and_then(|r| r.parse().ok()))
        .collect();
    let owners: HashMap<Uuid, repo::LabelOwner> =
        repo::shipment_owners(&state.db, run.environment, &references)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
    let mut items = Vec::new();
    for record in records {
        if known.contains(&(record.provider.clone(), record.provider_payment_id.clone())) {
            continue;
        }
        let owner = record
            .reference
            .as_deref()
            .and_then(|r| r.parse::<Uuid>().ok())
            .and_then(|r| owners.get(&r));
        if owner.is_some_and(|o| o.store_id != run.store_id) {
            continue;
        }
        let kind = match owner {
            Some(o) if o.provider_label_id.is_some() => ItemKind::DuplicateAtProvider,
            // Its purchase is still open: its shipment's own comparison reports it once stale.
            Some(o) if o.status == ShipmentStatus::Purchasing.as_str() => continue,
            // Bought for a shipment whose purchase we recorded as refused: a charge the store
            // did not count.
            Some(_) | None => ItemKind::MissingInCassa,
        };
        let theirs = theirs_of(record);
        let mut row = label_item(run, kind, &record.provider, None, None, Some(&theirs), now);
        if let Some(owner) = owner {
            row.shipment_id = Some(owner.id);
            row.order_id = Some(owner.order_id);
        }
        items.push(row);
    }
    Ok(items)
}

/// An item about a label: the difference is what the carrier charges net of voids minus what
/// the shipment says the store owes.
fn label_item(
    run: &RunRow,
    kind: ItemKind,
    provider: &str,
    shipment: Option<&ShipmentRow>,
    ours: Option<&OurLabel>,
    theirs: Option<&Theirs>,
    now: DateTime<Utc>,
) -> ItemRow {
    let ours_net = match kind {
        ItemKind::DuplicateAtProvider => 0,
        _ => ours.map_or(0, OurLabel::charged),
    };
    let theirs_net = theirs.map_or(0, |t| t.captured - t.refunded);
    let key = match (shipment, theirs) {
        (Some(s), _) => format!("{}:shipment:{}", kind.as_str(), s.id),
        // Two carriers may use the same ids.
        (None, Some(t)) => format!("{}:label:{}:{}", kind.as_str(), provider, t.id),
        (None, None) => format!("{}:label:{}", kind.as_str(), Uuid::now_v7()),
    };
    ItemRow {
        id: Uuid::now_v7(),
        run_id: run.id,
        store_id: run.store_id,
        environment: run.environment,
        item_key: key,
        kind: kind.as_str().to_owned(),
        payment_intent_id: None,
        order_id: shipment.map(|s| s.order_id),
        shipment_id: shipment.map(|s| s.id),
        subject: "label".to_owned(),
        provider: provider.to_owned(),
        provider_payment_id: theirs
            .map(|t| t.id.clone())
            .or_else(|| shipment.and_then(|s| s.provider_label_id.clone())),
        currency: ours
            .map(|o| o.currency.clone())
            .or_else(|| theirs.map(|t| t.currency.clone()))
            .unwrap_or_default(),
        difference: theirs_net - ours_net,
        ours: ours.map(|o| {
            json!({"status": o.status.as_str(), "provider_label_id": o.provider_label_id,
                "currency": o.currency, "amount": o.amount, "charged": o.charged()})
            .to_string()
        }),
        theirs: theirs.map(|t| {
            json!({"id": t.id, "reference": t.reference, "status": t.status,
                "currency": t.currency, "amount": t.amount, "refunded": t.refunded})
            .to_string()
        }),
        resolution: "open".to_owned(),
        note: None,
        resolved_by: None,
        resolved_at: None,
        created_at: now,
    }
}
