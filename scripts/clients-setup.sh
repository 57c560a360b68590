#!/usr/bin/env bash
# Installs the toolchains the real-client scripts in sidecar/test/clients/ need. Idempotent: each part is skipped
# while the files it was built from are unchanged (a stamp holds their hash), so a re-run takes about a second.
#
#   scripts/clients-setup.sh [--force] [python] [go] [java] [rust] [psql]     (no part named: all of them)
#
#   python  .venv with psycopg[binary], psycopg2-binary, asyncpg and pg8000, pinned in sidecar/test/clients/python/requirements.txt
#   go      the Go clients: go mod download + go build -> sidecar/test/clients/go/pgxclient (pgx) and
#           sidecar/test/clients/go/pqclient (database/sql with lib/pq, from go/pq)
#   java    the JDBC client: mvn compile + copy pgjdbc into sidecar/test/clients/java/target/lib; the same for the
#           reactive drivers (Vert.x pg client, r2dbc-postgresql) in sidecar/test/clients/java-reactive, and for
#           the embedded Tomcat upstream (with Spring's HiddenHttpMethodFilter) in sidecar/test/http/tomcat-upstream
#   rust    the tokio-postgres and sqlx clients: cargo build --release --locked of sidecar/test/clients/rust into
#           build/clients-rust (release/tokio-postgres-client, release/sqlx-client); about 2 minutes cold on two
#           cores, downloads included (tokio-postgres alone took 30 to 45 s)
#   psql    Debian's postgresql-client, if psql is missing
#
# Needs python3, go, mvn, java (17+) and cargo on PATH; as root it apt-get installs python3-venv and
# postgresql-client when they are missing. Reaches only PyPI, the Go module proxy, Maven Central, crates.io and
# Debian's archive.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLIENTS="$ROOT/sidecar/test/clients"
# Stamps live in git-ignored places: .venv/ for Python, build/ for the rest.
STAMPS="$ROOT/build/clients-setup"
PYTHON="${PYTHON:-python3}"
FORCE=0
parts=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    python | go | java | rust | psql) parts+=("$arg") ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "clients-setup: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
((${#parts[@]})) || parts=(python go java rust psql)

log() { printf 'clients-setup: %s\n' "$*" >&2; }

# Hash of the named files' contents (and names), plus any extra words (tool versions).
fingerprint() {
  local extra=$1
  shift
  { printf '%s\n' "$extra"; for f in "$@"; do printf '%s\n' "$f"; cat "$f"; done; } | sha256sum | cut -d' ' -f1
}

# up_to_date STAMP FINGERPRINT OUTPUT...: the stamp matches and every output exists.
up_to_date() {
  local stamp=$1 fp=$2
  shift 2
  ((FORCE == 0)) || return 1
  [[ -f "$stamp" && "$(cat "$stamp")" == "$fp" ]] || return 1
  for out in "$@"; do [[ -e "$out" ]] || return 1; done
}

apt_updated=0
apt_install() {
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    log "need Debian package(s) $* but cannot apt-get install here (not root or no apt-get)"
    return 1
  fi
  if ((apt_updated == 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

timed() {
  local name=$1 started=$SECONDS
  shift
  "$@"
  log "$name ready ($((SECONDS - started)) s)"
}

setup_python() {
  local venv="$ROOT/.venv" req="$CLIENTS/python/requirements.txt"
  command -v "$PYTHON" >/dev/null || { log "$PYTHON not found"; return 1; }
  local fp
  fp=$(fingerprint "$("$PYTHON" --version 2>&1)" "$req")
  if up_to_date "$venv/.regate-clients-stamp" "$fp" "$venv/bin/python"; then
    log "python: up to date"
    return 0
  fi
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! "$PYTHON" -m venv "$venv" >/dev/null 2>&1; then
      # Debian's python3 ships venv without ensurepip until python3-venv is installed.
      rm -rf "$venv"
      log "python: '$PYTHON -m venv' failed; installing python3-venv"
      apt_install python3-venv
      "$PYTHON" -m venv "$venv"
    fi
  fi
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q -r "$req"
  "$venv/bin/python" -c 'import psycopg, psycopg2, asyncpg, pg8000; print("python: psycopg", psycopg.__version__, "psycopg2", psycopg2.__version__, "asyncpg", asyncpg.__version__, "pg8000", pg8000.__version__)' >&2
  printf '%s' "$fp" >"$venv/.regate-clients-stamp"
}

setup_go() {
  local dir="$CLIENTS/go"
  command -v go >/dev/null || { log "go not found"; return 1; }
  local fp
  fp=$(fingerprint "$(go version)" "$dir/go.mod" "$dir/go.sum" "$dir"/*.go "$dir"/pq/*.go)
  if up_to_date "$STAMPS/go.stamp" "$fp" "$dir/pgxclient" "$dir/pqclient"; then
    log "go: up to date"
    return 0
  fi
  (cd "$dir" && go mod download && go build -trimpath -o pgxclient . && go build -trimpath -o pqclient ./pq)
  mkdir -p "$STAMPS"
  printf '%s' "$fp" >"$STAMPS/go.stamp"
}

setup_java() {
  command -v mvn >/dev/null || { log "mvn not found"; return 1; }
  command -v java >/dev/null || { log "java not found"; return 1; }
  maven_module java JdbcClient postgresql-
  maven_module java-reactive ReactiveDrivers vertx-pg-client-
  maven_module tomcat-upstream regate/upstream/TomcatUpstream tomcat-embed-core- sidecar/test/http/tomcat-upstream
}

# maven_module DIR CLASS JAR [PATH]: compiles sidecar/test/clients/DIR (or PATH, from the repo root; DIR then
# only names its stamp) and copies its dependencies into target/lib; up to date while its pom and sources are
# unchanged and regate/clients/CLASS.class (CLASS.class when CLASS has a package path) and a JAR*.jar are there.
maven_module() {
  local dir="$CLIENTS/$1" class=$2 jar=$3
  [[ -z "${4:-}" ]] || dir="$ROOT/$4"
  [[ "$class" == */* ]] || class="regate/clients/$class"
  local fp sources
  mapfile -t sources < <(find "$dir/src" -type f -name '*.java' | sort)
  local java_version; java_version=$(java -version 2>&1)  # read whole: head would SIGPIPE java under pipefail
  fp=$(fingerprint "${java_version%%$'\n'*}" "$dir/pom.xml" "${sources[@]}")
  if up_to_date "$STAMPS/$1.stamp" "$fp" "$dir/target/classes/$class.class"; then
    log "$1: up to date"
    return 0
  fi
  # Maven 3.8 prints colour codes even with -q: keep its output for when it fails.
  local out
  out=$(mktemp)
  if ! (cd "$dir" && mvn -q -B -Dstyle.color=never compile dependency:copy-dependencies) >"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    return 1
  fi
  rm -f "$out"
  ls "$dir"/target/lib/"$jar"*.jar >/dev/null
  mkdir -p "$STAMPS"
  printf '%s' "$fp" >"$STAMPS/$1.stamp"
}

setup_rust() {
  local dir="$CLIENTS/rust" target="$ROOT/build/clients-rust"
  # rustup installs into ~/.cargo/bin, which a non-login shell (CI's) may not have on PATH.
  command -v cargo >/dev/null || PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
  command -v cargo >/dev/null || { log "cargo not found"; return 1; }
  local fp
  fp=$(fingerprint "$(cargo --version) $(rustc --version)" "$dir/Cargo.toml" "$dir/Cargo.lock" "$dir"/src/*.rs "$dir"/src/bin/*.rs)
  if up_to_date "$STAMPS/rust.stamp" "$fp" "$target/release/tokio-postgres-client" "$target/release/sqlx-client"; then
    log "rust: up to date"
    return 0
  fi
  # --locked: Cargo.lock is the pin; a build that would change it fails instead of updating it.
  cargo build --release --locked --quiet --manifest-path "$dir/Cargo.toml" --target-dir "$target"
  mkdir -p "$STAMPS"
  printf '%s' "$fp" >"$STAMPS/rust.stamp"
}

setup_psql() {
  if command -v psql >/dev/null; then
    log "psql: $(psql --version)"
    return 0
  fi
  apt_install postgresql-client
  log "psql: $(psql --version)"
}

for part in "${parts[@]}"; do
  timed "$part" "setup_$part"
done
