#!/usr/bin/env bash
# Run the secretary on its embedded defaults: set-up, Asterisk, the ARI application.
# Then call it: any SIP phone on this machine, `sip:100@127.0.0.1:5060`.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec "${SECRETARY_STATE_DIR:-$HOME/.cache/ai-secretary}/venv/bin/secretary" run "$@"
