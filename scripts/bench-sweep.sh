#!/usr/bin/env bash
# Fixed-rate fan-out at several subscriber counts against one server, to see
# how delivery latency and server CPU per delivery scale. Each count is one
# run of ppbench's run-target.sh (MODES=fanout_rate, fresh server instance)
# and writes one result file, labelled <PREFIX>-sweep-s<N>, into RESULTS_DIR.
# Draw the figure and table with scripts/plot_scaling.py.
#
#   scripts/bench-sweep.sh                  # our release binary
#   DEBIAN=1 scripts/bench-sweep.sh         # Debian's pushpin (+ zurl) via run-debian.sh
#
# Environment (defaults in brackets):
#   TARGET_BIN   server binary [target/release/pushpin]; ignored with DEBIAN=1
#   DEBIAN=1     benchmark Debian's pushpin through $BENCH_DIR/run-debian.sh
#   SUBS         subscriber counts ["1000 2000 5000 10000 15000"]
#   RATE         publish rate, msg/s [5]        MSGS  messages per run [50]
#   LABEL        server name, the prefix of each label [ours; debian-<major.minor>]
#   RESULTS_DIR  [bench/results/sweep]
#   BENCH_DIR    ppbench's folder [../shared/bench, beside the repo]
#   MODE_TIMEOUT hard limit per run in s [300]  WAIT_QUIET  idle wait in s [120]
# Any other run-target.sh knob (PPBENCH_TARGET_DIR, LOG_LEVEL, ...) passes through.
# A run that lost deliveries still exits 0 (see "complete" in plot_scaling.py).
# Run it on an otherwise idle machine: the tool and the server share the CPUs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
SUBS=${SUBS:-"1000 2000 5000 10000 15000"}
RATE=${RATE:-5}
MSGS=${MSGS:-50}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results/sweep}
if [ "${DEBIAN:-0}" = 1 ]; then
    RUNNER=$BENCH_DIR/run-debian.sh
    ver=$(pushpin --version 2>/dev/null | awk '{print $2}')
    LABEL=${LABEL:-debian-${ver%.*}}
else
    RUNNER=$BENCH_DIR/run-target.sh
    export TARGET_BIN=${TARGET_BIN:-$ROOT/target/release/pushpin}
    LABEL=${LABEL:-ours}
fi
[ -x "$RUNNER" ] || { echo "bench-sweep: $RUNNER not found (set BENCH_DIR)" >&2; exit 1; }
# run-target.sh quietly writes to ./bench-results when RESULTS_DIR does not
# exist and its own folder is read-only, so create it and make it absolute.
mkdir -p "$RESULTS_DIR"
RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)

export MODES=fanout_rate FANOUT_RATE=$RATE FANOUT_RATE_MSGS=$MSGS RESULTS_DIR
export MODE_TIMEOUT=${MODE_TIMEOUT:-300} WAIT_QUIET=${WAIT_QUIET:-120}
failed=""
for s in $SUBS; do
    echo "bench-sweep: $LABEL, $s subscribers x $MSGS messages at $RATE msg/s" >&2
    FANOUT_RATE_SUBS=$s LABEL=$LABEL-sweep-s$s "$RUNNER" || failed="$failed $s"
done
echo "bench-sweep: results in $RESULTS_DIR" >&2
[ -z "$failed" ] || { echo "bench-sweep: run-target.sh failed for:$failed" >&2; exit 1; }
