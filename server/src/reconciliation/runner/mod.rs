//! Working a run, batch by batch. Three phases:
//!
//! 1. `provider`: page through each payment provider's list of the period (its settlement
//!    report, `payments.rs`) and each carrier's list of the labels it billed (`labels.rs`), and stage the
//!    records in the database;
//! 2. `ours`: page through the store's payments of the period (`payments.rs`), compare each with its record
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
mod payments;

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{
    Error,
    compare::Theirs,
    notify,
    repo::{self, Advance, ItemRow, RecordRow, RunRow},
};
use crate::{outbound, state::AppState};

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
    // The run is claimed (its lease and attempt committed); no batch has run.
    crate::crash_point!("reconciliation.run.after_claim");
    if run.attempts > MAX_ATTEMPTS {
        let error = format!("given up after {MAX_ATTEMPTS} attempts");
        let ending = repo::Ending {
            status: "failed",
            summary: None,
            error: Some(&error),
            at: now,
            duration_ms: 0,
        };
        end(state, &run, held, &ending).await?;
        return Ok(true);
    }
    let started = Instant::now();
    match work(state, &run, held, batches).await {
        Ok(None) => {}
        Ok(Some(held)) => {
            // Every batch is committed; the run is not ended.
            crate::crash_point!("reconciliation.run.before_end");
            let summary = summary(state, &run).await?;
            let duration = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            let ending = repo::Ending {
                status: "completed",
                summary: Some(&summary),
                error: None,
                at: state.clock.now(),
                duration_ms: duration,
            };
            end(state, &run, held, &ending).await?;
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

/// Ends the run while `held` is its lease; a completed run is reported with its end.
async fn end(
    state: &AppState,
    run: &RunRow,
    held: DateTime<Utc>,
    ending: &repo::Ending<'_>,
) -> Result<(), Error> {
    let mut tx = state.db.begin_write().await?;
    let mut emitted = false;
    if let Some(ended) = repo::finish(&mut tx, run.id, held, ending).await? {
        emitted = notify::run_ended(&mut tx, &ended, ending.at).await?;
    }
    tx.commit().await?;
    if emitted {
        outbound::wake(state);
    }
    Ok(())
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
                    (None, None) => payments::ours_batch(state, run, c, page, &mut held).await?,
                }
            }
            "orphans" => orphans_batch(state, run, cursor.as_deref(), page).await?,
            _ => return Ok(Some(held)),
        };
        let renewed = lease(state);
        let mut tx = state.db.begin_write().await?;
        let added = if next.items.is_empty() {
            Vec::new()
        } else {
            repo::insert_items(&mut tx, &next.items).await?
        };
        notify::exceptions_opened(&mut tx, &next.items, &added, state.clock.now()).await?;
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
            exceptions: added.len() as i64,
            lease: renewed,
        };
        if !repo::advance(&mut tx, run.id, held, &advance).await? {
            return Err(Error::LeaseLost);
        }
        tx.commit().await?;
        // A batch is committed; the next one has not started.
        crate::crash_point!("reconciliation.run.after_batch");
        if !added.is_empty() {
            outbound::wake(state);
        }
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
            payments::payment_page(state, run, name, after.as_deref()).await?
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
    batch
        .items
        .extend(payments::orphans(state, run, &records, now).await?);
    Ok(batch)
}
