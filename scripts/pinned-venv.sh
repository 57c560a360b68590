#!/usr/bin/env bash
# Installs a pinned requirements file into a venv under build/. Idempotent: skipped while the requirements file
# is unchanged (a stamp holds its hash). Reaches only PyPI. Test files run in parallel workers and may each call
# this: one installs, the others wait on the lock and then find it done.
#
#   scripts/pinned-venv.sh REQUIREMENTS VENV_NAME 'python check' [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$1"
VENV="$ROOT/build/$2"
CHECK="$3"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

mkdir -p "$ROOT/build"
exec 9>"$ROOT/build/$2.lock"
flock 9

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ "${4:-}" != "--force" && -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
# Every package is pinned in the file, dependencies included: --no-deps keeps pip from resolving anything else.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQ"
"$VENV/bin/python" -c "$CHECK"
echo "$want" > "$STAMP"
