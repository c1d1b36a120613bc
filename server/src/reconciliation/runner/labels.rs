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

/// Whether the store keeps credentials for the carrier in the run's environment (a carrier it
/// has none for was not listed: its shipments cannot be compared).
async fn has_credentials(state: &AppState, run: &RunRow, carrier: &str) -> Result<bool, Error> {
    match credentials::carrier_client(state, run.store_id, carrier, run.environment).await {
        Ok(_) => Ok(true),
        Err(CredentialError::Missing { .. } | CredentialError::NotFound) => Ok(false),
        Err(err) => Err(Error::Provider(err.to_string())),
    }
}

/// One page of a carrier's label list (`None`: no credentials, or no list).
pub(super) async fn label_page(
    state: &AppState,
    run: &RunRow,
    name: &str,
    after: Option<&str>,
) -> Result<Option<Page>, Error> {
    let client = match credentials::carrier_client(state, run.store_id, name, run.environment).await
    {
        Ok(client) => client,
        Err(CredentialError::Missing { .. } | CredentialError::NotFound) => return Ok(None),
        Err(err) => return Err(Error::Provider(err.to_string())),
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
            .map(|l| {
                let t = label_record(
                    l.provider_label_id,
                    l.reference,
                    l.amount.0,
                    l.currency,
                    l.voided,
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
            })
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
/// `shipments|<created_at RFC 3339>|<shipment id>`.
pub(super) async fn shipments_batch(
    state: &AppState,
    run: &RunRow,
    cursor: Option<&str>,
    page: i64,
) -> Result<Batch, Error> {
    let after = cursor
        .and_then(|c| c.split_once('|'))
        .and_then(|(at, id)| Some((at.parse::<DateTime<Utc>>().ok()?, id.parse::<Uuid>().ok()?)));
    let shipments = repo::shipments(&state.db, run, after, page).await?;
    let Some(last) = shipments.last() else {
        return Ok(Batch {
            phase: "orphans",
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
    let mut listed: HashSet<&str> = HashSet::new();
    for (carrier, ids) in &by_carrier {
        if has_credentials(state, run, carrier).await? {
            listed.insert(carrier);
        }
        for r in repo::records_by_id(&state.db, run.id, carrier, ids).await? {
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
    for shipment in &shipments {
        let ours = our_label(shipment)?;
        let record = shipment
            .provider_label_id
            .as_ref()
            .and_then(|id| staged.get(&(shipment.provider.clone(), id.clone())));
        if record.is_none()
            && shipment.provider_label_id.is_some()
            && !listed.contains(shipment.provider.as_str())
        {
            // The carrier's list was not read (no credentials any more): nothing to judge by.
            continue;
        }
        if let Some(record) = record {
            batch
                .seen
                .push((record.provider.clone(), record.provider_payment_id.clone()));
        }
        let theirs = record.map(theirs_of);
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
    let ids: Vec<String> = records
        .iter()
        .map(|r| r.provider_payment_id.clone())
        .collect();
    let known: HashSet<String> = repo::known_label_ids(&state.db, run.environment, &ids)
        .await?
        .into_iter()
        .collect();
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
        if known.contains(&record.provider_payment_id) {
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
            // Bought for a shipment whose purchase we recorded as refused or still open: a
            // charge the store did not count.
            Some(_) | None => ItemKind::MissingInCassa,
        };
        let mut row = label_item(run, kind, None, None, Some(&theirs_of(record)), now);
        if let Some(owner) = owner {
            row.shipment_id = Some(owner.id);
            row.order_id = Some(owner.order_id);
        }
        row.provider = record.provider.clone();
        items.push(row);
    }
    Ok(items)
}

/// An item about a label: the difference is what the carrier charges net of voids minus what
/// the shipment says the store owes.
fn label_item(
    run: &RunRow,
    kind: ItemKind,
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
        (None, Some(t)) => format!("{}:label:{}", kind.as_str(), t.id),
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
        provider: shipment.map(|s| s.provider.clone()).unwrap_or_default(),
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
