#!/usr/bin/env bash
# Run the whole test suite (unit + real Asterisk + real SIP caller) after set-up.
# Extra arguments go to pytest, e.g. ./test.sh tests/unit -k rtp
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
venv="${SECRETARY_STATE_DIR:-$HOME/.cache/ai-secretary}/venv"
"$venv/bin/ruff" check .
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
