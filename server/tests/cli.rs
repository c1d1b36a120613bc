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

/// Starts `cassa serve` on a fresh port with JSON logs and returns the process, its listen
/// address and the log lines printed until it was listening.
fn start_serving(
    data_dir: &std::path::Path,
) -> (std::process::Child, String, Vec<serde_json::Value>) {
    use std::io::{BufRead, BufReader};
    let mut child = cassa()
        .args(["serve", "--listen-addr", "127.0.0.1:0"])
        .env("CASSA_DATA_DIR", data_dir)
        .env("CASSA_LOG_FORMAT", "json")
        .env_remove("CASSA_ADMIN_EMAIL")
        .env_remove("CASSA_ADMIN_PASSWORD")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let listening = line["message"] == "listening";
        let addr = line["local_addr"].as_str().map(str::to_owned);
        lines.push(line);
        if listening {
            return (child, addr.unwrap(), lines);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server never started listening: {lines:?}");
}

fn request_token(addr: &str, email: &str, password: &str) -> String {
    use std::io::{Read, Write};
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn first_run_generates_an_admin_whose_password_is_logged_once() {
    let dir = std::env::temp_dir().join(format!("cassa-first-run-{}", std::process::id()));
    let (mut child, addr, lines) = start_serving(&dir);
    let generated: Vec<_> = lines.iter().filter(|l| l["password"].is_string()).collect();
    assert_eq!(generated.len(), 1, "{lines:?}");
    let email = generated[0]["email"].as_str().unwrap().to_owned();
    let password = generated[0]["password"].as_str().unwrap().to_owned();
    assert_eq!(email, "admin@cassa.local");
    let response = request_token(&addr, &email, &password);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    child.kill().unwrap();
    child.wait().unwrap();

    // The admin exists now: a second start prints no password.
    let (mut child, _, lines) = start_serving(&dir);
    assert!(
        lines.iter().all(|l| !l["password"].is_string()),
        "{lines:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn production_mode_refuses_to_start_without_master_keys() {
    let dir = std::env::temp_dir().join(format!("cassa-prod-{}", std::process::id()));
    let output = cassa()
        .args(["serve", "--listen-addr", "127.0.0.1:0"])
        .env("CASSA_ENV", "production")
        .env("CASSA_DATA_DIR", &dir)
        .env_remove("CASSA_MASTER_KEYS")
        .env_remove("CASSA_MASTER_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CASSA_MASTER_KEYS"), "{stderr}");
    assert!(
        !dir.join("master.keys").exists(),
        "no development key in production"
    );
    let _ = std::fs::remove_dir_all(dir);
}
