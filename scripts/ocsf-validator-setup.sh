#!/usr/bin/env bash
# Installs the pinned OCSF validator (sidecar/test/export/requirements.txt) into build/ocsf-venv
# (scripts/pinned-venv.sh).
#
#   scripts/ocsf-validator-setup.sh [--force]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/scripts/pinned-venv.sh" "$ROOT/sidecar/test/export/requirements.txt" ocsf-venv \
  'import ocsf_emitter, sys; print("ocsf-validator-setup: ocsf_emitter", getattr(ocsf_emitter, "__version__", ""), file=sys.stderr)' "$@"
