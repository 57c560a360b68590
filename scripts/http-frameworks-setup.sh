#!/usr/bin/env bash
# Installs the pinned Python web frameworks of the HTTP red-team suites (sidecar/test/http/requirements.txt) into
# build/frameworks-venv (scripts/pinned-venv.sh).
#
#   scripts/http-frameworks-setup.sh [--force]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/scripts/pinned-venv.sh" "$ROOT/sidecar/test/http/requirements.txt" frameworks-venv \
  'import starlette, uvicorn, sys; print("http-frameworks-setup: starlette", starlette.__version__, "uvicorn", uvicorn.__version__, file=sys.stderr)' "$@"
