# Shared set-up steps for scripts/serve, scripts/test and .ci/run. Each step installs what is
# missing and skips what is already there, so a second run starts at once.
# shellcheck shell=bash

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10"
TOOLS_DIR="${CASSA_TOOLS_DIR:-$HOME/.cache/cassa-tools}"
export PATH="$HOME/.cargo/bin:$TOOLS_DIR/node_modules/.bin:$PATH"

# Every step's line carries the minutes since the first script started (exported, so nested
# scripts count from the same start): a CI log then shows where its time went.
CASSA_LOG_T0="${CASSA_LOG_T0:-$(date +%s)}"
export CASSA_LOG_T0
log() {
  local t=$(( $(date +%s) - CASSA_LOG_T0 ))
  printf '\033[1;34m==>\033[0m [%dm%02ds] %s\n' $(( t / 60 )) $(( t % 60 )) "$*" >&2
}
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a build command ("$@") quietly, printing how far it got and the time left, estimated
# from the crates compiled so far against about how many it compiles in all ($1, counted on a
# cold build); $2 names it. On failure its last lines are printed.
with_progress() {
  local total="$1" label="$2" out rc
  shift 2
  out="$(mktemp)"
  set +e
  "$@" 2>&1 | tee "$out" | awk -v total="$total" -v label="$label" -v start="$(date +%s)" '
    function now(  t, cmd) { cmd = "date +%s"; cmd | getline t; close(cmd); return t }
    /^ *Compiling / {
      n++
      # The first crates are the small ones: no estimate until enough have been seen.
      if (n % 40 == 0) {
        el = now() - start
        left = (n < total) ? el / n * (total - n) : 0
        printf "\033[1;34m==>\033[0m %s: %d of about %d crates, %dm%02ds so far, about %d min left\n", \
          label, n, total, el / 60, el % 60, int((left + 59) / 60) > "/dev/stderr"
        fflush("/dev/stderr")
      }
    }'
  rc="${PIPESTATUS[0]}"
  set -e
  # The first error can sit under later "Compiling" lines of a parallel build: leave those out.
  if [ "$rc" -ne 0 ]; then grep -v '^ *Compiling ' "$out" | tail -n 80 >&2; fi
  rm -f "$out"
  return "$rc"
}

# Runs a command as root (directly, or through sudo when available).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $*"
  fi
}

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_cargo_leptos() {
  if cargo leptos --version 2>/dev/null | grep -q " ${CARGO_LEPTOS_VERSION}$"; then return; fi
  # 0.3.11 needs a newer Rust than 1.95. A debug build: it only drives cargo and copies files,
  # so optimizing it bought nothing at run time and cost most of a first run's wait.
  log "installing cargo-leptos ${CARGO_LEPTOS_VERSION} (a debug build, ~5 min on 2 cores)"
  with_progress 550 "cargo-leptos" \
    cargo install cargo-leptos --locked --debug --version "${CARGO_LEPTOS_VERSION}"
}

# cargo-deny checks the dependency graph's licenses, bans and sources (deny.toml) in CI.
CARGO_DENY_VERSION=0.20.2
ensure_cargo_deny() {
  if cargo deny --version 2>/dev/null | grep -q " ${CARGO_DENY_VERSION}$"; then return; fi
  log "installing cargo-deny ${CARGO_DENY_VERSION} (a debug build, ~6 min on 2 cores)"
  with_progress 330 "cargo-deny" \
    cargo install cargo-deny --locked --debug --version "${CARGO_DENY_VERSION}"
}

# Schemathesis (the API fuzzer of scripts/fuzz-api) in its own virtualenv, pinned; PyPI only.
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS="${XDG_CACHE_HOME:-$HOME/.cache}/cassa/schemathesis-${SCHEMATHESIS_VERSION}/bin/st"
ensure_schemathesis() {
  if [ -x "$SCHEMATHESIS" ]; then return; fi
  local venv
  venv=$(dirname "$(dirname "$SCHEMATHESIS")")
  log "installing Schemathesis ${SCHEMATHESIS_VERSION} into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$REPO_ROOT/scripts/fuzz/requirements.txt"
}

# wasm-bindgen-cli must be exactly the wasm-bindgen version in Cargo.lock.
ensure_wasm_bindgen() {
  local want
  want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$REPO_ROOT/Cargo.lock")"
  [ -n "$want" ] || die "wasm-bindgen is not in Cargo.lock"
  if wasm-bindgen --version 2>/dev/null | grep -q " ${want}$"; then return; fi
  log "installing wasm-bindgen-cli ${want} (~2 min on 2 cores)"
  # Not --locked: its own lockfile pins a crate version the registry mirror lacks.
  with_progress 160 "wasm-bindgen-cli" cargo install wasm-bindgen-cli --version "${want}" --force
}

# wasm-opt for release builds, from npm's binaryen (Debian's is too old and breaks hydration).
ensure_wasm_opt() {
  if [ -x "$TOOLS_DIR/node_modules/.bin/wasm-opt" ]; then return; fi
  log "installing binaryen (wasm-opt) from npm into $TOOLS_DIR"
  mkdir -p "$TOOLS_DIR"
  npm install --prefix "$TOOLS_DIR" --no-audit --no-fund binaryen@132.0.0 >/dev/null
}

ensure_build_tools() {
  ensure_wasm_target
  ensure_cargo_leptos
  ensure_wasm_bindgen
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  log "installing Debian's chromium for the browser tests"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null \
    || { as_root apt-get update >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
}

ensure_e2e_packages() {
  local dir="$REPO_ROOT/end2end"
  local stamp="$dir/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ]; then return; fi
  log "installing the end-to-end test packages"
  # Browsers come from Debian; Playwright's own download cannot work here.
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
}

# Exports TEST_DATABASE_URL for the PostgreSQL variants of the API tests, starting the local
# server when it is down. An explicit TEST_DATABASE_URL is used as given.
ensure_test_postgres() {
  if [ -n "${TEST_DATABASE_URL:-}" ]; then return; fi
  local url="postgres://postgres@127.0.0.1:5432/postgres"
  if ! command -v pg_isready >/dev/null 2>&1; then
    [ -z "${CI:-}" ] || die "PostgreSQL client tools are missing; CI must test PostgreSQL"
    log "PostgreSQL not found: the PostgreSQL variants of the tests will be skipped"
    return
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      log "starting the local PostgreSQL server"
      as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    export TEST_DATABASE_URL="$url"
  elif [ -n "${CI:-}" ]; then
    die "PostgreSQL is not reachable on 127.0.0.1:5432"
  else
    log "PostgreSQL is not reachable: the PostgreSQL variants of the tests will be skipped"
  fi
}

# Builds the server and the test harnesses (simulate, crash, failover, loadtest) into
# target/debug exactly as scripts/test builds the suite. The same command selects the same
# features, so after the tests this costs nothing, where a narrower one (`-p cassa`,
# `--bin simulate`) resolves other features for a score of dependencies and recompiles them
# (about 3 minutes each on 2 cores).
build_test_binaries() {
  log "building the server and the test harnesses (as the test suite does)"
  cargo test --workspace --locked --no-run -q
}

# Where cargo and cargo-leptos put their output.
target_dir() { echo "${CARGO_TARGET_DIR:-$REPO_ROOT/target}"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
