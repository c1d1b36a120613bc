//! The tax report a merchant files from: per jurisdiction or per transaction line, as CSV or
//! JSON, streamed page by page (constant memory for millions of lines). Every export is
//! recorded with who asked, the period and, once sent, its row count and SHA-256; downloading
//! it again re-reads the same transactions (those created before the export's `as_of`) and
//! sends the same bytes.

use std::pin::Pin;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::csv::field as csv_field;

use super::{Error, export_repo};
use crate::{
    db::Db,
    state::AppState,
    types::{Environment, InvalidValue, StoreId},
};

/// Tax transactions read per query while streaming (with their lines, a few per transaction).
const PAGE: i64 = 500;
/// Most exports listed per page.
const LIST_LIMIT: i64 = 100;

/// File format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// Comma-separated values with a header row (RFC 4180).
    Csv,
    /// A JSON array of objects.
    Json,
}

/// What one row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One row per jurisdiction and currency with the period's totals.
    Jurisdiction,
    /// One row per transaction line (a commit or reversal in one jurisdiction).
    Transaction,
}

impl ExportFormat {
    fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }

    /// The response's content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
        }
    }
}

impl GroupBy {
    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Jurisdiction => "jurisdiction",
            GroupBy::Transaction => "transaction",
        }
    }
}

/// Query of `GET /admin/tax/reports/export`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// First day (UTC), inclusive.
    pub from: NaiveDate,
    /// Last day (UTC), inclusive.
    pub to: NaiveDate,
    /// `csv` (default) or `json`.
    pub format: Option<ExportFormat>,
    /// `jurisdiction` (default) or `transaction`.
    pub group_by: Option<GroupBy>,
}

/// A recorded export.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaxExport {
    /// Id.
    pub id: Uuid,
    /// Who asked (`api_key:<id>`, `user:<id>`).
    pub actor: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Format.
    pub format: ExportFormat,
    /// Row shape.
    pub group_by: GroupBy,
    /// Transactions created before this are in it (the export's time less
    /// `CASSA_TAX_EXPORT_SETTLE_SECS`).
    pub as_of: DateTime<Utc>,
    /// `running` until the first download finished, then `completed`.
    pub status: String,
    /// Data rows sent (header excluded).
    pub rows: Option<i64>,
    /// SHA-256 of the file, hex.
    pub sha256: Option<String>,
    /// Asked at.
    pub created_at: DateTime<Utc>,
    /// First download finished at.
    pub completed_at: Option<DateTime<Utc>>,
    /// How far the first download is, for an export by transaction line.
    pub progress: Option<ExportProgress>,
}

/// How far a running export by transaction line is (updated about once a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct ExportProgress {
    /// Transactions written.
    pub done: i64,
    /// Transactions in the window.
    pub total: i64,
    /// `done / total`, whole percent (100 for an empty window).
    pub percent: i64,
}

impl ExportProgress {
    fn of(done: i64, total: i64) -> Self {
        let percent = if total <= 0 {
            100
        } else {
            (done.clamp(0, total) * 100) / total
        };
        Self {
            done,
            total,
            percent,
        }
    }
}

fn view(row: &export_repo::ExportRow) -> Result<TaxExport, Error> {
    let unknown = || {
        Error::Db(crate::db::DbError::Query(sqlx::Error::Decode(
            format!("unknown export shape {}/{}", row.format, row.group_by).into(),
        )))
    };
    Ok(TaxExport {
        id: row.id,
        actor: row.actor.clone(),
        from: row.period_from,
        to: row.period_to,
        format: match row.format.as_str() {
            "csv" => ExportFormat::Csv,
            "json" => ExportFormat::Json,
            _ => return Err(unknown()),
        },
        group_by: match row.group_by.as_str() {
            "jurisdiction" => GroupBy::Jurisdiction,
            "transaction" => GroupBy::Transaction,
            _ => return Err(unknown()),
        },
        as_of: row.as_of,
        status: row.status.clone(),
        rows: row.row_count,
        sha256: row.sha256.clone(),
        created_at: row.created_at,
        completed_at: row.completed_at,
        progress: row
            .transactions_total
            .map(|total| ExportProgress::of(row.transactions_done.unwrap_or(0), total)),
    })
}

/// A streamed file body.
pub type ExportStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, std::io::Error>> + Send>>;

/// Starts an export: records it, then streams it (the record completes when the last byte
/// was produced).
pub async fn start_export(
    state: &AppState,
    store: StoreId,
    env: Environment,
    actor: &str,
    query: &ExportQuery,
) -> Result<(TaxExport, ExportStream), Error> {
    if query.to < query.from {
        return Err(InvalidValue::new("to", "must be on or after from").into());
    }
    let now = state.clock.now();
    // A settlement stamps its tax transaction just before it commits: the settle window keeps
    // those still committing out, so a download again finds exactly the same transactions.
    let as_of = now - state.config.tax_export_settle;
    let row = export_repo::ExportRow {
        id: Uuid::now_v7(),
        store_id: store,
        environment: env,
        actor: actor.to_owned(),
        period_from: query.from,
        period_to: query.to,
        format: query
            .format
            .unwrap_or(ExportFormat::Csv)
            .as_str()
            .to_owned(),
        group_by: query
            .group_by
            .unwrap_or(GroupBy::Jurisdiction)
            .as_str()
            .to_owned(),
        as_of,
        status: "running".to_owned(),
        row_count: None,
        sha256: None,
        created_at: now,
        completed_at: None,
        transactions_total: None,
        transactions_done: None,
    };
    export_repo::insert_export(&state.db, &row).await?;
    let export = view(&row)?;
    Ok((export.clone(), stream(state, store, env, export, true)))
}

/// Streams a recorded export again, byte for byte.
pub async fn download_export(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: Uuid,
) -> Result<(TaxExport, ExportStream), Error> {
    let row = export_repo::find_export(&state.db, store, env, id)
        .await?
        .ok_or(Error::NotFound)?;
    let export = view(&row)?;
    let first = export.status != "completed";
    Ok((export.clone(), stream(state, store, env, export, first)))
}

/// A store's exports, newest first.
pub async fn list_exports(
    state: &AppState,
    store: StoreId,
    env: Environment,
    before: Option<Uuid>,
) -> Result<Vec<TaxExport>, Error> {
    export_repo::list_exports(&state.db, store, env, before, LIST_LIMIT)
        .await?
        .iter()
        .map(view)
        .collect()
}

/// A jurisdiction's line of the report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JurisdictionReport {
    /// Jurisdiction key.
    pub jurisdiction: String,
    /// Currency.
    pub currency: String,
    /// Taxable, net of reversals, minor units.
    pub taxable: i64,
    /// Exempt, net of reversals, minor units.
    pub exempt: i64,
    /// Tax committed.
    pub collected: i64,
    /// Tax reversed.
    pub reversed: i64,
    /// Collected − reversed.
    pub net: i64,
    /// Commit transactions.
    pub commits: i64,
    /// Reversal transactions.
    pub reversals: i64,
}

/// The period's totals per jurisdiction and currency as of now (what an export by
/// jurisdiction would hold, without recording one).
pub async fn report(
    state: &AppState,
    store: StoreId,
    env: Environment,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<JurisdictionReport>, Error> {
    if to < from {
        return Err(InvalidValue::new("to", "must be on or after from").into());
    }
    let window = export_repo::Window {
        store,
        env,
        from: day_start(from),
        to: day_start(to) + Duration::days(1),
        as_of: state.clock.now() + Duration::seconds(1),
    };
    Ok(export_repo::jurisdiction_totals(&state.db, window)
        .await?
        .into_iter()
        .map(|t| JurisdictionReport {
            taxable: t.taxable_committed - t.taxable_reversed,
            exempt: t.exempt_committed - t.exempt_reversed,
            net: t.collected - t.reversed,
            jurisdiction: t.jurisdiction,
            currency: t.currency,
            collected: t.collected,
            reversed: t.reversed,
            commits: t.commits,
            reversals: t.reversals,
        })
        .collect())
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

const JURISDICTION_COLUMNS: &str = "period_from,period_to,jurisdiction,currency,taxable,exempt,\
tax_collected,tax_reversed,net,commits,reversals";
const TRANSACTION_COLUMNS: &str = "created_at,transaction_id,order_id,kind,source,line_no,\
jurisdiction,currency,taxable,exempt,tax";

fn jurisdiction_row(
    format: ExportFormat,
    export: &TaxExport,
    t: &export_repo::JurisdictionTotal,
) -> String {
    let taxable = t.taxable_committed - t.taxable_reversed;
    let exempt = t.exempt_committed - t.exempt_reversed;
    let net = t.collected - t.reversed;
    match format {
        ExportFormat::Csv => format!(
            "{},{},{},{},{taxable},{exempt},{},{},{net},{},{}\r\n",
            export.from,
            export.to,
            csv_field(&t.jurisdiction),
            csv_field(&t.currency),
            t.collected,
            t.reversed,
            t.commits,
            t.reversals
        ),
        ExportFormat::Json => serde_json::json!({
            "period_from": export.from, "period_to": export.to,
            "jurisdiction": t.jurisdiction, "currency": t.currency,
            "taxable": taxable, "exempt": exempt, "tax_collected": t.collected,
            "tax_reversed": t.reversed, "net": net, "commits": t.commits,
            "reversals": t.reversals,
        })
        .to_string(),
    }
}

fn movement_row(format: ExportFormat, m: &export_repo::MovementRow) -> String {
    let at = m
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    match format {
        ExportFormat::Csv => format!(
            "{at},{},{},{},{},{},{},{},{},{},{}\r\n",
            m.transaction_id,
            m.order_id,
            m.kind,
            csv_field(&m.source),
            m.line_no,
            csv_field(&m.jurisdiction),
            csv_field(&m.currency),
            m.taxable,
            m.exempt,
            m.tax
        ),
        ExportFormat::Json => serde_json::json!({
            "created_at": at, "transaction_id": m.transaction_id, "order_id": m.order_id,
            "kind": m.kind, "source": m.source, "line_no": m.line_no,
            "jurisdiction": m.jurisdiction, "currency": m.currency, "taxable": m.taxable,
            "exempt": m.exempt, "tax": m.tax,
        })
        .to_string(),
    }
}

/// Where the producer stands.
enum Step {
    Header,
    Totals,
    Movements(Option<export_repo::MovementCursor>),
    Footer,
    Done,
}

struct Producer {
    db: Db,
    window: export_repo::Window,
    export: TaxExport,
    record: bool,
    step: Step,
    rows: i64,
    hash: Sha256,
    clock: crate::clock::SharedClock,
    progress: Option<Progress>,
}

/// A first export by transaction line reports how far it is.
struct Progress {
    total: i64,
    done: i64,
    reported: std::time::Instant,
}

/// How often a running export writes its progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Producer {
    /// Adds a data row, JSON rows separated by commas.
    fn row(&mut self, out: &mut String, row: String) {
        if self.export.format == ExportFormat::Json && self.rows > 0 {
            out.push_str(",\n");
        }
        out.push_str(&row);
        self.rows += 1;
    }

    /// Records how far the export is. Best effort: a busy database never costs the file.
    async fn report_progress(&self, done: i64, total: i64) {
        if let Err(err) = export_repo::export_progress(&self.db, self.export.id, done, total).await
        {
            tracing::warn!(export = %self.export.id, error = %err, "could not record export progress");
        }
    }

    /// The next piece of the file (`None` once it ended).
    async fn next(&mut self) -> Result<Option<String>, Error> {
        let format = self.export.format;
        let mut out = String::new();
        match std::mem::replace(&mut self.step, Step::Done) {
            Step::Header => {
                out.push_str(match (format, self.export.group_by) {
                    (ExportFormat::Json, _) => "[\n",
                    (ExportFormat::Csv, GroupBy::Jurisdiction) => JURISDICTION_COLUMNS,
                    (ExportFormat::Csv, GroupBy::Transaction) => TRANSACTION_COLUMNS,
                });
                if format == ExportFormat::Csv {
                    out.push_str("\r\n");
                }
                self.step = match self.export.group_by {
                    GroupBy::Jurisdiction => Step::Totals,
                    GroupBy::Transaction => Step::Movements(None),
                };
            }
            Step::Totals => {
                for total in export_repo::jurisdiction_totals(&self.db, self.window).await? {
                    let row = jurisdiction_row(format, &self.export, &total);
                    self.row(&mut out, row);
                }
                self.step = Step::Footer;
            }
            Step::Movements(after) => {
                if after.is_none() && self.record {
                    let total = export_repo::count_transactions(&self.db, self.window).await?;
                    self.report_progress(0, total).await;
                    self.progress = Some(Progress {
                        total,
                        done: 0,
                        reported: std::time::Instant::now(),
                    });
                }
                let page = export_repo::movements(&self.db, self.window, after, PAGE).await?;
                let last = page.last().map(|m| (m.created_at, m.transaction_id));
                let mut previous = None;
                for m in &page {
                    self.row(&mut out, movement_row(format, m));
                    if let Some(progress) = &mut self.progress
                        && previous != Some(m.transaction_id)
                    {
                        progress.done += 1;
                        previous = Some(m.transaction_id);
                    }
                }
                if let Some(progress) = &mut self.progress
                    && progress.reported.elapsed() >= PROGRESS_EVERY
                {
                    progress.reported = std::time::Instant::now();
                    let (done, total) = (progress.done, progress.total);
                    self.report_progress(done, total).await;
                }
                // A transaction always has lines, so an empty page is the end.
                self.step = match last {
                    Some(cursor) => Step::Movements(Some(cursor)),
                    None => Step::Footer,
                };
            }
            Step::Footer => {
                if format == ExportFormat::Json {
                    out.push_str("\n]\n");
                }
                self.hash.update(out.as_bytes());
                let sha256 = format!("{:x}", self.hash.clone().finalize());
                if self.record {
                    export_repo::complete_export(
                        &self.db,
                        self.export.id,
                        self.rows,
                        &sha256,
                        self.clock.now(),
                    )
                    .await?;
                } else if self.export.sha256.as_deref().is_some_and(|s| s != sha256) {
                    // Only a transaction committed while the first export ran (created before
                    // its `as_of`, committed after) can make a download differ.
                    tracing::warn!(export = %self.export.id, "a tax export downloaded again differs from the first");
                }
                return Ok(Some(out));
            }
            Step::Done => return Ok(None),
        }
        self.hash.update(out.as_bytes());
        Ok(Some(out))
    }
}

fn stream(
    state: &AppState,
    store: StoreId,
    env: Environment,
    export: TaxExport,
    record: bool,
) -> ExportStream {
    let producer = Producer {
        db: state.db.clone(),
        window: export_repo::Window {
            store,
            env,
            from: day_start(export.from),
            to: day_start(export.to) + Duration::days(1),
            as_of: export.as_of,
        },
        record,
        step: Step::Header,
        rows: 0,
        hash: Sha256::new(),
        clock: state.clock.clone(),
        progress: None,
        export,
    };
    Box::pin(futures::stream::unfold(
        producer,
        |mut producer| async move {
            match producer.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk.into_bytes()), producer)),
                Ok(None) => None,
                Err(err) => {
                    tracing::error!(error = %err, "tax export failed while streaming");
                    producer.step = Step::Done;
                    Some((Err(std::io::Error::other("the export failed")), producer))
                }
            }
        },
    ))
}
