//! `migrations/sqlite` and `migrations/postgres` describe one schema: after migrating a fresh
//! database of each kind, every table has the same columns, with the same nullability and the
//! same type family.
//!
//! Families, not type names: the two engines spell the same value differently, and what
//! matters is that sqlx stores a Rust value the same way on both. On SQLite sqlx stores a UUID
//! as a 16-byte BLOB, a timestamp as RFC 3339 TEXT and a bool as an INTEGER, so a declared
//! SQLite type stands for the families whose values it holds; a PostgreSQL type stands for
//! exactly one family.

use std::collections::{BTreeMap, BTreeSet};

use cassa::{db::Db, on_db};
use cassa_tests::{Backend, spawn_app};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Text,
    Integer,
    Boolean,
    Timestamp,
    Uuid,
    Blob,
    Numeric,
    Json,
}

use Family::*;

/// A column as one engine declares it.
#[derive(Debug, Clone)]
struct Column {
    /// The declared type, for messages.
    declared: String,
    /// The families a value of this column may belong to.
    families: BTreeSet<Family>,
    not_null: bool,
}

type Schema = BTreeMap<(String, String), Column>;

/// SQLite's declared type → the families sqlx stores in it (SQLite's affinity rules decide the
/// storage class: a name containing INT is an integer, CHAR/CLOB/TEXT text, BLOB or no type a
/// blob, REAL/FLOA/DOUB a real, anything else numeric).
fn sqlite_families(declared: &str) -> BTreeSet<Family> {
    let t = declared.to_ascii_uppercase();
    let families: &[Family] = if t.contains("INT") {
        &[Integer, Boolean]
    } else if t.contains("BOOL") {
        &[Boolean]
    } else if t.contains("UUID") {
        &[Uuid]
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        &[Text, Timestamp, Json]
    } else if t.contains("TIMESTAMP") || t.contains("DATETIME") {
        &[Timestamp]
    } else if t.contains("JSON") {
        &[Json]
    } else if t.is_empty() || t.contains("BLOB") {
        &[Blob, Uuid]
    } else {
        &[Numeric]
    };
    families.iter().copied().collect()
}

/// PostgreSQL's `information_schema.columns.data_type` → its family (`None`: a type this test
/// does not know, reported as a mismatch so the mapping gets extended deliberately).
fn postgres_family(data_type: &str) -> Option<Family> {
    Some(match data_type {
        "text" | "character varying" | "character" => Text,
        "smallint" | "integer" | "bigint" => Integer,
        "boolean" => Boolean,
        "timestamp with time zone" | "timestamp without time zone" | "date" => Timestamp,
        "uuid" => Uuid,
        "bytea" => Blob,
        "numeric" | "real" | "double precision" => Numeric,
        "json" | "jsonb" => Json,
        _ => return None,
    })
}

async fn sqlite_schema(db: &Db) -> Schema {
    let Db::Sqlite(pool) = db else {
        panic!("expected a SQLite database")
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_sqlx%' ESCAPE '\\' \
         ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .expect("list SQLite tables");
    let mut schema = Schema::new();
    for table in tables {
        let columns: Vec<(String, String, bool, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .expect("read SQLite columns");
        for (name, declared, not_null, pk) in columns {
            // SQLite's documented legacy lets a PRIMARY KEY column that is not an INTEGER
            // PRIMARY KEY hold NULL unless it is also declared NOT NULL; PostgreSQL's primary
            // keys are always NOT NULL. Every key here is written by the application and never
            // NULL, so a key column counts as NOT NULL: rebuilding every table on SQLite to
            // spell it out would risk data for no behaviour change.
            let not_null = not_null || pk > 0;
            schema.insert(
                (table.clone(), name),
                Column {
                    families: sqlite_families(&declared),
                    declared,
                    not_null,
                },
            );
        }
    }
    schema
}

async fn postgres_schema(db: &Db) -> Schema {
    let rows: Vec<(String, String, String, String)> = on_db!(db, pool => {
        sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%' \
             ORDER BY table_name, ordinal_position",
        )
        .fetch_all(pool)
        .await
    })
    .expect("read PostgreSQL columns");
    rows.into_iter()
        .map(|(table, name, data_type, nullable)| {
            (
                (table, name),
                Column {
                    families: postgres_family(&data_type).into_iter().collect(),
                    declared: data_type,
                    not_null: nullable == "NO",
                },
            )
        })
        .collect()
}

/// Every difference between the two schemas, one line each.
fn mismatches(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    let keys: BTreeSet<&(String, String)> = sqlite.keys().chain(postgres.keys()).collect();
    for key @ (table, column) in keys {
        let at = format!("{table}.{column}");
        match (sqlite.get(key), postgres.get(key)) {
            (Some(_), None) => found.push(format!("{at}: only on SQLite")),
            (None, Some(_)) => found.push(format!("{at}: only on PostgreSQL")),
            (Some(lite), Some(pg)) => {
                match pg.families.iter().next() {
                    None => found.push(format!(
                        "{at}: PostgreSQL type {:?} has no family in this test",
                        pg.declared
                    )),
                    Some(family) if !lite.families.contains(family) => found.push(format!(
                        "{at}: SQLite {:?} cannot hold PostgreSQL {:?} ({family:?})",
                        lite.declared, pg.declared
                    )),
                    Some(_) => {}
                }
                if lite.not_null != pg.not_null {
                    let spell = |not_null: bool| if not_null { "NOT NULL" } else { "nullable" };
                    found.push(format!(
                        "{at}: {} on SQLite, {} on PostgreSQL",
                        spell(lite.not_null),
                        spell(pg.not_null)
                    ));
                }
            }
            (None, None) => {}
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_folders_build_the_same_schema() {
    let sqlite_app = spawn_app(Backend::Sqlite).await;
    let sqlite = sqlite_schema(&sqlite_app.db).await;
    assert!(
        sqlite.keys().any(|(table, _)| table == "payment_intents"),
        "the SQLite schema was not read"
    );
    let Some(backend) = Backend::postgres() else {
        eprintln!(
            "schema parity: compared nothing, PostgreSQL is needed for the other half \
             (set TEST_DATABASE_URL)"
        );
        return;
    };
    let postgres_app = spawn_app(backend).await;
    let postgres = postgres_schema(&postgres_app.db).await;
    let found = mismatches(&sqlite, &postgres);
    assert!(
        found.is_empty(),
        "migrations/sqlite and migrations/postgres disagree ({} columns on SQLite, {} on \
         PostgreSQL); fix the wrong side with a new migration in both folders:\n{}",
        sqlite.len(),
        postgres.len(),
        found.join("\n")
    );
}

#[test]
fn families_follow_how_sqlx_stores_values() {
    let column = |families: BTreeSet<Family>, not_null| Column {
        declared: String::new(),
        families,
        not_null,
    };
    let key = |c: &str| ("t".to_owned(), c.to_owned());
    let sqlite: Schema = [
        (key("id"), column(sqlite_families("BLOB"), true)),
        (key("at"), column(sqlite_families("TEXT"), true)),
        (key("flag"), column(sqlite_families("INTEGER"), false)),
        (key("amount"), column(sqlite_families("INTEGER"), true)),
        (key("lite_only"), column([Text].into(), true)),
    ]
    .into();
    let pg = |data_type: &str, not_null| {
        column(postgres_family(data_type).into_iter().collect(), not_null)
    };
    let postgres: Schema = [
        (key("id"), pg("uuid", true)),
        (key("at"), pg("timestamp with time zone", true)),
        (key("flag"), pg("boolean", true)),
        (key("amount"), pg("text", true)),
        (key("pg_only"), pg("bigint", false)),
    ]
    .into();
    let found = mismatches(&sqlite, &postgres);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found.iter().any(|m| m.starts_with("t.amount: SQLite")));
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("t.flag: nullable on SQLite"))
    );
    assert!(found.iter().any(|m| m == "t.lite_only: only on SQLite"));
    assert!(found.iter().any(|m| m == "t.pg_only: only on PostgreSQL"));
}
