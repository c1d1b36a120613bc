//! The `cassa` binary itself: exit codes and messages of its subcommands.

use std::process::Command;

fn cassa() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cassa"));
    // Start from a clean environment so a developer's shell cannot change the outcome.
    for var in [
        "DATABASE_URL",
        "CASSA_DATA_DIR",
        "CASSA_LISTEN_ADDR",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn serve_with_an_unreachable_database_exits_with_a_clear_redacted_error() {
    let output = cassa()
        .args(["serve", "--listen-addr", "127.0.0.1:0"])
        .env("DATABASE_URL", "postgres://cassa:hunter2@127.0.0.1:1/cassa")
        .env("CASSA_DB_ACQUIRE_TIMEOUT_SECS", "2")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stderr.contains("cannot connect to the database at postgres://cassa:***@127.0.0.1:1/cassa"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"));
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn migrate_creates_the_default_sqlite_database_in_the_data_dir() {
    let dir = std::env::temp_dir().join(format!("cassa-cli-{}", std::process::id()));
    let output = cassa()
        .arg("migrate")
        .env("CASSA_DATA_DIR", &dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.join("cassa.db").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unsupported_database_scheme_is_rejected() {
    let output = cassa()
        .arg("migrate")
        .env("DATABASE_URL", "mysql://root:pw@localhost/db")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains(":pw@"), "{stderr}");
}

#[test]
fn openapi_prints_the_document() {
    let output = cassa().arg("openapi").output().unwrap();
    assert!(output.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["info"]["title"], "Cassa API");
}
