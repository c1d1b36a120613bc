//! Writes of one transaction that nothing in it reads back before the commit, sent as one
//! statement on PostgreSQL.
//!
//! A flow's last writes (the ledger rows, their history, events, audit, the idempotency answer)
//! each cost a round trip when sent one by one, and the database's time per payment is mostly
//! those round trips. On PostgreSQL the parts are held and sent together at [`Writes::run`] as
//! data-modifying CTEs of one statement: each runs once, to completion, on the transaction's
//! snapshot, and the statement returns every part's row count. A part therefore never sees
//! another part's rows (a foreign key to a row of an earlier part is checked at the statement's
//! end, so that holds), and two parts must not change the same row. On SQLite each part runs
//! at once, in order: it has no round trips to save.

use sqlx::{Arguments, Encode, Postgres, Type, postgres::PgArguments};

use super::{DbError, Tx};

/// One part's place in its [`Writes`]: its row count once they ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(usize);

/// The writes of one transaction, held (PostgreSQL) or already run (SQLite). Held writes are
/// sent only by [`Writes::run`]: one dropped unrun on PostgreSQL wrote nothing (right only when
/// the transaction is abandoned too).
#[derive(Default)]
#[must_use = "held writes are sent only by `Writes::run`"]
pub struct Writes {
    parts: Vec<String>,
    args: PgArguments,
    binds: usize,
    /// Some part is of a rare shape (a large order): the statement is not kept prepared.
    rare: bool,
    /// Row counts of the parts run at once (SQLite), by slot.
    done: Vec<u64>,
    /// The first bind that could not be encoded: reported by [`Writes::run`].
    failed: Option<sqlx::error::BoxDynError>,
}

impl std::fmt::Debug for Writes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writes")
            .field("parts", &self.parts)
            .field("binds", &self.binds)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The row counts of every part of one [`Writes`].
#[derive(Debug)]
pub struct Counts(Vec<u64>);

impl Counts {
    /// The rows the part at `slot` wrote (or returned).
    pub fn rows(&self, slot: Slot) -> u64 {
        // A slot of other writes is a bug, not a lost compare-and-set.
        debug_assert!(
            slot.0 < self.0.len(),
            "slot {} of {} parts",
            slot.0,
            self.0.len()
        );
        self.0.get(slot.0).copied().unwrap_or(0)
    }
}

/// A PostgreSQL part being bound: numbered from `$1` as if alone.
#[must_use = "a part is added by `Part::end`"]
pub struct Part<'w> {
    writes: &'w mut Writes,
    sql: String,
    binds: usize,
}

impl<'w> Part<'w> {
    /// Binds the next parameter.
    pub fn bind<'t, T: Encode<'t, Postgres> + Type<Postgres> + 't>(mut self, value: T) -> Self {
        if let Err(e) = self.writes.args.add(value) {
            self.writes.failed.get_or_insert(e);
        }
        self.binds += 1;
        self
    }

    /// Whether the part's shape is a usual one, worth keeping prepared (see [`Writes::run`]).
    pub fn kept(self, keep: bool) -> Self {
        self.writes.rare |= !keep;
        self
    }

    /// Ends the part (see [`Writes::part`]).
    pub fn end(self) -> Slot {
        // Binds short of (or beyond) the part's placeholders would shift every later part's
        // values: refused here, where the part is known.
        let wanted = highest_placeholder(&self.sql);
        if wanted != self.binds {
            let error = format!("a part has {} binds for {wanted} placeholders", self.binds);
            self.writes.failed.get_or_insert(error.into());
        }
        let slot = Slot(self.writes.parts.len());
        let sql = super::shift_placeholders(&self.sql, self.writes.binds);
        self.writes.parts.push(sql);
        self.writes.binds += self.binds;
        slot
    }
}

impl Writes {
    /// No writes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a PostgreSQL part: `sql` is an `INSERT`, `UPDATE` or `DELETE` ending in its
    /// `RETURNING` list (`RETURNING 1` when nothing reads its rows), numbered from `$1`, with
    /// no `WITH` of its own (PostgreSQL refuses a nested data-modifying `WITH`) and no `$`
    /// followed by digits inside a literal (it would be renumbered). Bind every parameter in
    /// order, then [`Part::end`] it.
    pub fn part(&mut self, sql: impl Into<String>) -> Part<'_> {
        Part {
            writes: self,
            sql: sql.into(),
            binds: 0,
        }
    }

    /// The name a later part uses to read the rows `slot`'s part returned.
    pub fn name(slot: Slot) -> String {
        format!("w{}", slot.0)
    }

    /// The name the next part will have (see [`Writes::name`]).
    pub fn next_name(&self) -> String {
        Self::name(Slot(self.parts.len()))
    }

    /// Records a part run at once (SQLite) that wrote `rows` rows.
    pub fn done(&mut self, rows: u64) -> Slot {
        // Slots of both kinds share one numbering so [`Counts::rows`] reads either.
        self.parts.push(String::new());
        self.done.push(rows);
        Slot(self.parts.len() - 1)
    }

    /// Runs the held parts as one statement (PostgreSQL) and returns every part's row count.
    pub async fn run(self, tx: &mut Tx) -> Result<Counts, DbError> {
        if let Some(error) = self.failed {
            return Err(DbError::Query(sqlx::Error::Encode(error)));
        }
        match tx {
            Tx::Sqlite(_) => Ok(Counts(self.done)),
            Tx::Postgres(conn) => {
                if self.parts.is_empty() {
                    return Ok(Counts(Vec::new()));
                }
                let sql = combined(&self.parts);
                // A flow's few shapes are prepared once per connection; a rare large one is not
                // kept.
                let keep = !self.rare && self.binds <= 256;
                let row = sqlx::query_with(&sql, self.args)
                    .persistent(keep)
                    .fetch_one(&mut **conn)
                    .await?;
                let mut counts = Vec::with_capacity(self.parts.len());
                for i in 0..self.parts.len() {
                    let n: i64 = sqlx::Row::try_get(&row, i)?;
                    counts.push(u64::try_from(n).unwrap_or(0));
                }
                Ok(Counts(counts))
            }
        }
    }
}

/// The highest `$n` in `sql`.
fn highest_placeholder(sql: &str) -> usize {
    let mut highest = 0;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Ok(n) = rest[..digits].parse::<usize>() {
            highest = highest.max(n);
        }
        rest = &rest[digits..];
    }
    highest
}

/// `WITH w0 AS (…), w1 AS (…) SELECT (SELECT count(*) FROM w0), …`.
fn combined(parts: &[String]) -> String {
    let ctes: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, sql)| format!("w{i} AS ({sql})"))
        .collect();
    let counts: Vec<String> = (0..parts.len())
        .map(|i| format!("(SELECT count(*) FROM w{i})"))
        .collect();
    format!("WITH {} SELECT {}", ctes.join(", "), counts.join(", "))
}

/// Adds one write to `$writes`: run at once on SQLite, held on PostgreSQL. `$q` is the query
/// (SQLite) or the part (PostgreSQL) to bind in `$bind`, the same expression for both; the
/// PostgreSQL text is `$sql` with `$returning` after it. With `keep:`, whether SQLite keeps the
/// statement prepared (a rare large shape should not push the usual ones out of its cache).
/// Evaluates to `Result<Slot, DbError>`.
#[macro_export]
macro_rules! write_part {
    ($tx:expr, $writes:expr, $sql:expr, $returning:expr, $q:ident => $bind:expr) => {
        $crate::write_part!($tx, $writes, $sql, $returning, keep: true, $q => $bind)
    };
    ($tx:expr, $writes:expr, $sql:expr, $returning:expr, keep: $keep:expr, $q:ident => $bind:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
                let $q = sqlx::query($sql).persistent($keep);
                match $bind.execute(&mut **tx).await {
                    Ok(done) => Ok($writes.done(done.rows_affected())),
                    Err(e) => Err($crate::db::DbError::from(e)),
                }
            }
            $crate::db::Tx::Postgres(_) => {
                let $q = $writes.part(format!("{} {}", $sql, $returning)).kept($keep);
                Ok::<_, $crate::db::DbError>($bind.end())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_named_in_order_and_counted() {
        let sql = combined(&["INSERT INTO a VALUES ($1) RETURNING 1".into(), "B".into()]);
        assert_eq!(
            sql,
            "WITH w0 AS (INSERT INTO a VALUES ($1) RETURNING 1), w1 AS (B) \
             SELECT (SELECT count(*) FROM w0), (SELECT count(*) FROM w1)"
        );
    }

    #[test]
    fn a_later_part_is_numbered_after_the_binds_before_it() {
        let mut w = Writes::new();
        let a = w
            .part("UPDATE a SET x = $2 WHERE id = $1 RETURNING 1")
            .bind(1_i64)
            .bind(2_i64)
            .end();
        let b = w
            .part("INSERT INTO b VALUES ($1) RETURNING 1")
            .bind("x")
            .end();
        assert_eq!((a, b), (Slot(0), Slot(1)));
        assert_eq!(w.parts[1], "INSERT INTO b VALUES ($3) RETURNING 1");
        assert_eq!(w.binds, 3);
        assert_eq!(Writes::name(b), "w1");
        assert_eq!(w.next_name(), "w2");
    }

    #[test]
    fn a_part_bound_short_of_its_placeholders_fails_the_writes() {
        let mut w = Writes::new();
        w.part("UPDATE a SET x = $2 WHERE id = $1 RETURNING 1")
            .bind(1_i64)
            .end();
        assert!(w.failed.is_some());
        let mut w = Writes::new();
        w.part("UPDATE a SET x = $2, y = $2 WHERE id = $1 RETURNING 1")
            .bind(1_i64)
            .bind(2_i64)
            .end();
        assert!(w.failed.is_none());
    }

    #[test]
    fn the_highest_placeholder_is_found() {
        assert_eq!(highest_placeholder("VALUES ($1, $12, $3) RETURNING 1"), 12);
        assert_eq!(highest_placeholder("SELECT '$' || x"), 0);
    }
}
