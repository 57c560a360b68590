#!/usr/bin/env bash
# Installs the pinned Python web frameworks of the HTTP red-team suites (sidecar/test/http/requirements.txt) into
# build/frameworks-venv. Idempotent: skipped while the requirements file is unchanged (a stamp holds its hash).
# Reaches only PyPI.
#
#   scripts/http-frameworks-setup.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/sidecar/test/http/requirements.txt"
VENV="$ROOT/build/frameworks-venv"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

mkdir -p "$ROOT/build"
# Test files run in parallel workers: one installs, the others wait and then find it done.
exec 9>"$ROOT/build/frameworks-venv.lock"
flock 9

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ "${1:-}" != "--force" && -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
# --no-deps: the file pins every dependency, so pip resolves nothing else.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQ"
"$VENV/bin/python" -c 'import starlette, uvicorn, sys; print("http-frameworks-setup: starlette", starlette.__version__, "uvicorn", uvicorn.__version__, file=sys.stderr)'
echo "$want" > "$STAMP"
