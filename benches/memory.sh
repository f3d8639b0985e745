#!/usr/bin/env bash
# Memory of `portcullis serve` under hostile load, on loopback: RSS idle, with 1,000 keep-alive
# connections open (each having sent one review), and the peak after three concurrent 8 MiB
# bodies of `[0,0,…]` (the densest JSON: 2 bytes a value), which must be refused with 413.
#
# Usage: bash benches/memory.sh          (needs python3 and curl)
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/common.sh
TARGET=${CARGO_TARGET_DIR:-target}
PORT=18543 METRICS_PORT=19190
cargo build --release --quiet --bin portcullis
work=$(mktemp -d)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
"$TARGET/release/portcullis" certs --dir "$work/certs" >/dev/null
"$TARGET/release/portcullis" serve --listen 127.0.0.1:$PORT --metrics-listen 127.0.0.1:$METRICS_PORT \
  --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" --shutdown-delay 0s 2>"$work/serve.log" &
pid=$!
wait_port $PORT
sleep 1
echo "# $(date -u +%FT%TZ), default policies, --max-connections 1000, --body-memory-mib 32"
echo "idle RSS MiB: $(rss "$pid" VmRSS)"
ulimit -n 4096
python3 - "$pid" "$PORT" <<'PY'
import socket, ssl, sys, time
pid, port = sys.argv[1], int(sys.argv[2])
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
body = open("benches/fixtures/pod-review.json", "rb").read()
request = b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
connections = []
for _ in range(1000):
    connection = context.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    connection.sendall(request)
    connection.recv(65536)
    connections.append(connection)
time.sleep(0.5)
rss = next(line.split()[1] for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS:"))
print(f"RSS MiB with 1000 keep-alive connections open: {int(rss) / 1024:.1f}")
PY
python3 - "$work/zeros.json" <<'PY'
import json, sys
review = json.load(open("benches/fixtures/pod-review.json"))
review["request"]["object"]["spec"]["containers"] = [0] * ((8 * 1024 * 1024 - 8192) // 2)
json.dump(review, open(sys.argv[1], "w"), separators=(",", ":"))
PY
echo "8 MiB body of 0s: $(wc -c <"$work/zeros.json") B"
curls=()
for _ in 1 2 3; do
  curl -sk --max-time 60 "https://127.0.0.1:$PORT/validate" -H 'content-type: application/json' \
    --data-binary @"$work/zeros.json" -o /dev/null -w '%{http_code} ' &
  curls+=($!)
done
wait "${curls[@]}"
echo "(statuses of the three)"
echo "peak RSS MiB (VmHWM): $(rss "$pid" VmHWM)"
curl -sk "https://127.0.0.1:$PORT/validate" -H 'content-type: application/json' \
  --data-binary @benches/fixtures/pod-review.json -o /dev/null -w 'an ordinary review afterwards: %{http_code}\n'
