#!/usr/bin/env bash
# Load test of `portcullis serve` against the bare axum+rustls baseline (examples/bare_server/),
# in one run on loopback: HTTPS/1.1 keep-alive with 25 connections (the kube-apiserver's idle
# connection limit per host), then a fixed 1,000 req/s, then new connections only (a full TLS
# handshake per request). Reports req/s, p50/p99/p99.9 latency, idle and peak RSS (VmHWM).
# The keep-alive runs alternate between the servers RUNS times: on a shared, noisy machine a
# single pair of runs can be off by a fifth either way, so the ratio reported is the median of
# the pairs'.
#
# Each keep-alive pair runs twice: with the generator scheduled as usual, and with it in
# SCHED_BATCH (`chrt -b 0`). The generator stands in for the kube-apiserver, which never shares
# the webhook's cores; here it must, and each response it is woken by lets its thread preempt
# the server's worker in the middle of the next request, a cost that grows with the server's
# time per request. SCHED_BATCH keeps the generator's share of the CPU (same weight, same cores)
# and only stops those wake-up preemptions. Both ratios are reported.
#
# Usage: bash benches/load.sh            (needs `oha`: cargo install oha)
# Env:   DURATION=10s  POLICIES=10 (0 is allowed)  RUNS=3  RUST_LOG=info (portcullis' log,
#        written to a file)
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/common.sh
DURATION=${DURATION:-10s}
POLICIES=${POLICIES:-10}
RUNS=${RUNS:-3}
OHA=${OHA:-oha}
TARGET=${CARGO_TARGET_DIR:-target}
SERVE_PORT=18443 METRICS_PORT=19090 BARE_PORT=18444

cargo build --release --quiet --bin portcullis --example bare_server
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$TARGET/release/portcullis" certs --dir "$work/certs" >/dev/null
# $POLICIES policies: the two defaults in turn, renamed so every name is unique.
mkdir "$work/policies"
for ((i = 0; i < POLICIES; i++)); do
  if ((i % 2 == 0)); then name=disallow-latest-tag; else name=require-image-digest; fi
  sed "0,/name: $name/s//name: $name-$i/" "policies/$name.yaml" >"$work/policies/$name-$i.yaml"
done
body=benches/fixtures/pod-review.json

# CPU seconds (user + system) the process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }


RUST_LOG=${RUST_LOG:-info} "$TARGET/release/portcullis" serve \
  --listen 127.0.0.1:$SERVE_PORT --metrics-listen 127.0.0.1:$METRICS_PORT \
  --policies "$work/policies" --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" \
  --shutdown-delay 0s 2>"$work/serve.log" &
pids+=($!)
serve_pid=$!
"$TARGET/release/examples/bare_server" 127.0.0.1:$BARE_PORT "$work/certs/tls.crt" "$work/certs/tls.key" 2>/dev/null &
pids+=($!)
bare_pid=$!
wait_port $SERVE_PORT
wait_port $BARE_PORT
sleep 1

# One run of oha; prints "req/s p50 p99 p99.9 ok errors cpu_us_per_request oha_cpu_us_per_request"
# (latencies in ms; errors exclude requests cut off by the end of the run). The generator shares
# the cores, so its own CPU per request is part of what sets the throughput.
load() {
  local port=$1 pid=$2
  shift 2
  local before
  before=$(cpu "$pid")
  local TIMEFORMAT='%U %S'
  { time ${GENERATOR:-} "$OHA" --no-tui --output-format json -z "$DURATION" --insecure -m POST \
    -T application/json -D "$body" "$@" "https://127.0.0.1:$port/validate" \
    >"$work/oha.json" 2>"$work/oha.err"; } 2>"$work/oha.time"
  python3 - "$work/oha.json" "$before" "$(cpu "$pid")" "$work/oha.time" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["latencyPercentiles"]
ok = r["statusCodeDistribution"].get("200", 0)
errors = sum(v for k, v in r.get("errorDistribution", {}).items() if "deadline" not in k) + sum(
    v for k, v in r["statusCodeDistribution"].items() if k != "200")
cpu_us = (float(sys.argv[3]) - float(sys.argv[2])) * 1e6 / max(ok, 1)
oha_us = sum(map(float, open(sys.argv[4]).read().split())) * 1e6 / max(ok, 1)
print(f'{r["summary"]["requestsPerSec"]:.0f} {p["p50"]*1e3:.3f} {p["p99"]*1e3:.3f} {p["p99.9"]*1e3:.3f} {ok} {errors} {cpu_us:.1f} {oha_us:.1f}')
PY
}

echo "# $(date -u +%FT%TZ), $(nproc) cores, $POLICIES policies, $DURATION per run, body $(wc -c <$body) B"
echo "idle RSS MiB: serve $(rss $serve_pid VmRSS) bare $(rss $bare_pid VmRSS)"
# A first run of either server is slower (allocator arenas, TLS sessions, page faults), and
# whichever ran first would pay it alone.
DURATION=2s load $SERVE_PORT $serve_pid -c 25 >/dev/null
DURATION=2s load $BARE_PORT $bare_pid -c 25 >/dev/null
row() { printf '%-14s %-6s %7s %8s %8s %9s %7s %6s %10s %10s\n' "$@"; }
row run server req/s p50_ms p99_ms p99.9_ms ok errors cpu_us/req oha_us/req
median() { printf '%s\n' "$@" | sort -n | awk '{ r[NR] = $1 } END { print r[int((NR + 1) / 2)] }'; }
ratio() { awk -v s="${1%% *}" -v b="${2%% *}" 'BEGIN { printf "%.2f", s / b }'; }
ratios=() batch_ratios=()
for ((i = 1; i <= RUNS; i++)); do
  serve_row=$(load $SERVE_PORT $serve_pid -c 25)
  bare_row=$(load $BARE_PORT $bare_pid -c 25)
  row keepalive-25 serve $serve_row
  row keepalive-25 bare $bare_row
  ratios+=("$(ratio "$serve_row" "$bare_row")")
  serve_row=$(GENERATOR="chrt -b 0" load $SERVE_PORT $serve_pid -c 25)
  bare_row=$(GENERATOR="chrt -b 0" load $BARE_PORT $bare_pid -c 25)
  row keepalive-25-b serve $serve_row
  row keepalive-25-b bare $bare_row
  batch_ratios+=("$(ratio "$serve_row" "$bare_row")")
done
echo "keep-alive throughput ratio serve/bare: ${ratios[*]}; median $(median "${ratios[@]}")"
echo "the same, generator in SCHED_BATCH (keepalive-25-b): ${batch_ratios[*]}; median $(median "${batch_ratios[@]}")"
for run in rate-1000 new-conn-25; do
  case $run in
    rate-1000) args=(-c 25 -q 1000) ;;
    new-conn-25) args=(-c 25 --disable-keepalive) ;;
  esac
  row "$run" serve $(load $SERVE_PORT $serve_pid "${args[@]}")
  row "$run" bare $(load $BARE_PORT $bare_pid "${args[@]}")
done
echo "peak RSS MiB (VmHWM): serve $(rss $serve_pid VmHWM) bare $(rss $bare_pid VmHWM)"
echo "serve log lines: $(wc -l <"$work/serve.log")"
