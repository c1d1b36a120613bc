//! Working a run, batch by batch. Three phases:
//!
//! 1. `provider`: page through each payment provider's list of the period (its settlement
//!    report) and each carrier's list of the labels it billed (`labels.rs`), and stage the
//!    records in the database;
//! 2. `ours`: page through the store's payments of the period, compare each with its record
//!    (asking the provider per payment when its list has none: a provider without a list, or a
//!    payment created at the edge of the period), and flag second provider payments made for
//!    one of our operations; then the same for each shipment's label (`labels.rs`) and each
//!    tax transaction filed with a tax service (`filings.rs`);
//! 3. `orphans`: what a provider or carrier listed that nothing of the period claimed: a
//!    payment or label of another period, or one Cassa never made.
//!
//! Every batch commits its items, its counts and the run's cursor together, under the run's
//! lease: a runner that crashed mid-batch left nothing of it, and a runner whose lease was
//! taken over commits nothing more.

mod filings;
mod labels;

use std::{collections::HashMap, time::Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{
    Error, ItemKind,
    compare::{Ours, Theirs, compare},
    repo::{self, Advance, IntentRow, ItemRow, RecordRow, RunRow},
};
use crate::{
    credentials::{self, CredentialError},
    payments::IntentStatus,
    providers::payment::{PaymentProvider, ProviderError},
    state::AppState,
};

/// How long a claim holds a run; each batch renews it.
const LEASE_SECS: i64 = 120;
/// Attempts before a run that keeps failing is given up.
const MAX_ATTEMPTS: i32 = 5;

fn lease(state: &AppState) -> DateTime<Utc> {
    state.clock.now() + chrono::Duration::seconds(LEASE_SECS)
}

/// Renews the run's lease once half of it is spent (before a call that may take the provider
/// timeout); `LeaseLost` when another runner took the run.
async fn keep_lease(state: &AppState, run: &RunRow, held: &mut DateTime<Utc>) -> Result<(), Error> {
    if *held - state.clock.now() < chrono::Duration::seconds(LEASE_SECS / 2) {
        let renewed = lease(state);
        if !repo::renew(&state.db, run.id, *held, renewed).await? {
            return Err(Error::LeaseLost);
        }
        *held = renewed;
    }
    Ok(())
}

/// Claims one due run and works it to its end. Returns whether a run was claimed.
pub async fn run_due(state: &AppState) -> Result<bool, Error> {
    run_claimed(state, None).await
}

/// Claims one due run and works at most `batches` batches of it, then stops as a crashed
/// runner would (the claim stays until its lease expires). For tests of resumption.
pub async fn run_some(state: &AppState, batches: usize) -> Result<bool, Error> {
    run_claimed(state, Some(batches)).await
}

async fn run_claimed(state: &AppState, batches: Option<usize>) -> Result<bool, Error> {
    let now = state.clock.now();
    let Some(run) = repo::claim(&state.db, now, lease(state)).await? else {
        return Ok(false);
    };
    let Some(held) = run.locked_until else {
        return Ok(true);
    };
    if run.attempts > MAX_ATTEMPTS {
        let error = format!("given up after {MAX_ATTEMPTS} attempts");
        let ending = repo::Ending {
            status: "failed",
            summary: None,
            error: Some(&error),
            at: now,
            duration_ms: 0,
        };
        repo::finish(&state.db, run.id, held, &ending).await?;
        return Ok(true);
    }
    let started = Instant::now();
    match work(state, &run, held, batches).await {
        Ok(None) => {}
        Ok(Some(held)) => {
            let summary = summary(state, &run).await?;
            let duration = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            let ending = repo::Ending {
                status: "completed",
                summary: Some(&summary),
                error: None,
                at: state.clock.now(),
                duration_ms: duration,
            };
            repo::finish(&state.db, run.id, held, &ending).await?;
            tracing::info!(run = %run.id, store = %run.store_id, "reconciliation run completed");
        }
        Err(Error::LeaseLost) => {
            tracing::warn!(run = %run.id, "reconciliation run taken over by another runner");
        }
        Err(err) => {
            // Left running: its lease expires and a runner resumes it from its cursor.
            tracing::warn!(run = %run.id, error = %err, "reconciliation batch failed");
            repo::note_error(&state.db, run.id, &err.to_string()).await?;
        }
    }
    Ok(true)
}

/// The run's exceptions per kind and currency, and its matches, as stored on the run.
async fn summary(state: &AppState, run: &RunRow) -> Result<String, Error> {
    let current = repo::run(&state.db, None, run.id)
        .await?
        .ok_or(Error::NotFound)?;
    let kinds: Vec<serde_json::Value> = repo::summary(&state.db, run.id)
        .await?
        .into_iter()
        .map(|(kind, currency, count, difference)| {
            json!({"kind": kind, "currency": currency, "count": count, "difference": difference})
        })
        .collect();
    Ok(
        json!({"examined": current.examined, "matched": current.matched, "exceptions": kinds})
            .to_string(),
    )
}

/// The payment providers and carriers a run lists, by name (cursors resume by name order).
fn listed_names(state: &AppState) -> Vec<&'static str> {
    let payments = state.payment_providers.adapters().map(|a| a.name());
    let carriers = state.carriers.adapters().map(|a| a.name());
    let mut names: Vec<&'static str> = payments.chain(carriers).collect();
    names.sort_unstable();
    names.dedup();
    names
}

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

/// Works the run from its cursor to the end (the lease it ends holding), or for `batches`
/// batches (`None`: it stopped before the end).
async fn work(
    state: &AppState,
    run: &RunRow,
    mut held: DateTime<Utc>,
    mut batches: Option<usize>,
) -> Result<Option<DateTime<Utc>>, Error> {
    let mut phase = run.phase.clone();
    let mut cursor = run.cursor.clone();
    loop {
        match &mut batches {
            Some(0) => return Ok(None),
            Some(n) => *n -= 1,
            None => {}
        }
        let page = state.config.reconciliation_batch;
        let next = match phase.as_str() {
            "provider" => provider_batch(state, run, cursor.as_deref()).await?,
            // Payments first, then shipments, then tax filings (their cursor says so).
            "ours" => {
                let c = cursor.as_deref();
                match (
                    c.and_then(labels::shipments_cursor),
                    c.and_then(filings::filings_cursor),
                ) {
                    (Some(after), _) => {
                        labels::shipments_batch(state, run, after, page, &mut held).await?
                    }
                    (None, Some(after)) => filings::filings_batch(state, run, after, page).await?,
                    (None, None) => ours_batch(state, run, c, page, &mut held).await?,
                }
            }
            "orphans" => orphans_batch(state, run, cursor.as_deref(), page).await?,
            _ => return Ok(Some(held)),
        };
        let renewed = lease(state);
        let mut tx = state.db.begin_write().await?;
        let added = if next.items.is_empty() {
            0
        } else {
            repo::insert_items(&mut tx, &next.items).await?
        };
        if !next.seen.is_empty() {
            repo::mark_seen(&mut tx, run.id, &next.seen).await?;
        }
        if !next.staged.is_empty() {
            repo::stage(&mut tx, run.id, &next.staged).await?;
        }
        let advance = Advance {
            phase: next.phase,
            cursor: next.cursor.clone(),
            examined: next.examined,
            matched: next.matched,
            exceptions: added,
            lease: renewed,
        };
        if !repo::advance(&mut tx, run.id, held, &advance).await? {
            return Err(Error::LeaseLost);
        }
        tx.commit().await?;
        held = renewed;
        if phase == "provider" && next.phase != "provider" {
            // Everything is staged: plan the lookups of the comparison with its real size (best
            // effort: without it the run is slower, not wrong).
            if let Err(err) = repo::analyze_staging(&state.db).await {
                tracing::warn!(run = %run.id, error = %err, "staging statistics not refreshed");
            }
        }
        phase = next.phase.to_owned();
        cursor = next.cursor;
    }
}

/// What one batch found and where the run goes next.
#[derive(Default)]
struct Batch {
    phase: &'static str,
    cursor: Option<String>,
    staged: Vec<RecordRow>,
    items: Vec<ItemRow>,
    seen: Vec<(String, String)>,
    examined: i64,
    matched: i64,
}

/// Stages one page of one provider's list. Cursor: `<provider>:<last id>` (a name, so a
/// provider registered between a crash and the resume shifts nothing; `~` is past them all).
async fn provider_batch(
    state: &AppState,
    run: &RunRow,
    cursor: Option<&str>,
) -> Result<Batch, Error> {
    let names = listed_names(state);
    let (mut index, mut after) = resume(&names, cursor);
    while let Some(name) = names.get(index) {
        let page = if state.carriers.get(name).is_some() {
            labels::label_page(state, run, name, after.as_deref()).await?
        } else {
            payment_page(state, run, name, after.as_deref()).await?
        };
        let Some(page) = page else {
            // No credentials, or no list (the `ours` phase then asks per payment).
            index += 1;
            after = None;
            continue;
        };
        let last = page.records.last().map(|r| r.provider_payment_id.clone());
        return Ok(Batch {
            phase: "provider",
            cursor: Some(next_cursor(&names, index, page.has_more, last)),
            staged: page.records,
            ..Batch::default()
        });
    }
    Ok(Batch {
        phase: "ours",
        ..Batch::default()
    })
}

/// A page of a provider's or carrier's list, as staged.
struct Page {
    records: Vec<RecordRow>,
    has_more: bool,
}

/// One page of a payment provider's list (`None`: no credentials, or no list).
async fn payment_page(
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
    Ok(page.map(|page| Page {
        has_more: page.has_more,
        records: page
            .payments
            .into_iter()
            .map(|p| RecordRow {
                provider: name.to_owned(),
                provider_payment_id: p.id,
                reference: p.reference,
                status: p.status,
                currency: p.currency.to_uppercase(),
                amount: p.amount.0,
                captured: p.captured.0,
                refunded: p.refunded.0,
            })
            .collect(),
    }))
}

/// Where a listing phase resumes: the index of the provider (or carrier) in `names` and the
/// last id staged of it. Names are in order, so a name registered or removed between a crash
/// and the resume shifts nothing.
fn resume(names: &[&str], cursor: Option<&str>) -> (usize, Option<String>) {
    match cursor.and_then(|c| c.split_once(':')) {
        Some((name, a)) => (
            names.iter().position(|n| *n >= name).unwrap_or(names.len()),
            Some(a.to_owned()).filter(|a| !a.is_empty() && names.contains(&name)),
        ),
        None => (0, None),
    }
}

/// The cursor after a page of `names[index]`'s list: `<name>:<last id>`, the next name, or
/// `~:` (a name past every other) once the last one is done.
fn next_cursor(names: &[&str], index: usize, has_more: bool, last: Option<String>) -> String {
    match (has_more, last, names.get(index), names.get(index + 1)) {
        (true, Some(last), Some(name), _) => format!("{name}:{last}"),
        (_, _, _, Some(next)) => format!("{next}:"),
        (_, _, _, None) => "~:".to_owned(),
    }
}

/// The position `<created_at RFC 3339>|<id>` of a page by creation (payments, shipments, tax
/// transactions); `None`: the period's start.
fn creation_cursor(cursor: Option<&str>) -> Option<(DateTime<Utc>, Uuid)> {
    let (at, id) = cursor?.split_once('|')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

fn theirs_of(record: &RecordRow) -> Theirs {
    Theirs {
        id: record.provider_payment_id.clone(),
        reference: record.reference.clone(),
        status: record.status.clone(),
        currency: record.currency.clone(),
        amount: record.amount,
        captured: record.captured,
        refunded: record.refunded,
    }
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
async fn ours_batch(
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
            cursor: Some(labels::SHIPMENTS.to_owned()),
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
                        match client.get_transaction(&correlation, id).await {
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

/// Looks at one page of records nothing of the period claimed (labels: `labels::orphans`). Cursor:
/// `<provider>\t<provider payment id>`.
async fn orphans_batch(
    state: &AppState,
    run: &RunRow,
    cursor: Option<&str>,
    page: i64,
) -> Result<Batch, Error> {
    let after = cursor
        .and_then(|c| c.split_once('\t'))
        .map(|(p, id)| (p.to_owned(), id.to_owned()));
    let records = repo::unseen(&state.db, run.id, after, page).await?;
    let Some(last) = records.last() else {
        return Ok(Batch {
            phase: "done",
            ..Batch::default()
        });
    };
    let cursor = format!("{}\t{}", last.provider, last.provider_payment_id);
    let now = state.clock.now();
    let (labels, records): (Vec<RecordRow>, Vec<RecordRow>) = records
        .into_iter()
        .partition(|r| state.carriers.get(&r.provider).is_some());
    let mut batch = Batch {
        phase: "orphans",
        cursor: Some(cursor),
        examined: (labels.len() + records.len()) as i64,
        items: labels::orphans(state, run, &labels, now).await?,
        ..Batch::default()
    };
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
    for record in &records {
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
        batch.items.push(row);
    }
    Ok(batch)
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
