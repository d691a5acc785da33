#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests.
# Installs what the tests need on a fresh Debian machine first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Python packages for the browser-free client checks and the conformance suite
need=()
python3 -c 'import pytest' 2>/dev/null || need+=(pytest pytest-timeout)
python3 -c 'import aiohttp' 2>/dev/null || need+=(aiohttp)
python3 -c 'import gripcontrol' 2>/dev/null || need+=(gripcontrol)
python3 -c 'import websocket' 2>/dev/null || need+=(websocket-client)
python3 -c 'import sseclient' 2>/dev/null || need+=(sseclient-py)
python3 -c 'import requests' 2>/dev/null || need+=(requests)
python3 -c 'import jwt' 2>/dev/null || need+=(PyJWT)
if [ "${#need[@]}" -gt 0 ]; then
    python3 -m pip install -q "${need[@]}"
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
cargo test --locked --doc
