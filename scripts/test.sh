#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests, then the
# end-to-end client tests (tests/e2e: sseclient, gripcontrol, headless
# Chromium) against the debug binary.
# Installs what the tests need on a fresh Debian machine first.
# PUSHPIN_SKIP_BROWSER=1 skips the browser test (and installing Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

# Python packages for the client checks and the conformance suite
need=()
python3 -c 'import pytest' 2>/dev/null || need+=(pytest)
python3 -c 'import pytest_timeout' 2>/dev/null || need+=(pytest-timeout)
python3 -c 'import aiohttp' 2>/dev/null || need+=(aiohttp)
python3 -c 'import gripcontrol' 2>/dev/null || need+=(gripcontrol)
python3 -c 'import websocket' 2>/dev/null || need+=(websocket-client)
python3 -c 'import sseclient' 2>/dev/null || need+=(sseclient-py)
python3 -c 'import requests' 2>/dev/null || need+=(requests)
python3 -c 'import jwt' 2>/dev/null || need+=(PyJWT)
if [ "${#need[@]}" -gt 0 ]; then
    # Debian's own python3 refuses plain installs (PEP 668)
    python3 -m pip install -q "${need[@]}" 2>/dev/null ||
        python3 -m pip install -q --break-system-packages "${need[@]}"
fi

# Chromium for the browser test (Debian package; needs root)
if [ "${PUSHPIN_SKIP_BROWSER:-}" != 1 ] && ! command -v chromium >/dev/null 2>&1 &&
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the browser test"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
cargo test --locked --doc

# End-to-end client tests against the debug binary
cargo build --locked
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
PUSHPIN_BIN="$target_dir/debug/pushpin" python3 -m pytest tests/e2e -q
