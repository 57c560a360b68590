#!/usr/bin/env bash
# Installs the pinned OCSF validator (sidecar/test/export/requirements.txt) into build/ocsf-venv. Idempotent:
# skipped while the requirements file is unchanged (a stamp holds its hash). Reaches only PyPI.
#
#   scripts/ocsf-validator-setup.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/sidecar/test/export/requirements.txt"
VENV="$ROOT/build/ocsf-venv"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

mkdir -p "$ROOT/build"
# Test files run in parallel workers and each calls this: one installs, the others wait and then find it done.
exec 9>"$ROOT/build/ocsf-venv.lock"
flock 9

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ "${1:-}" != "--force" && -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
# Every package is pinned in the file, dependencies included: --no-deps keeps pip from resolving anything else.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQ"
"$VENV/bin/python" -c 'import ocsf_emitter, sys; print("ocsf-validator-setup: ocsf_emitter", ocsf_emitter.__version__ if hasattr(ocsf_emitter, "__version__") else "", file=sys.stderr)'
echo "$want" > "$STAMP"
