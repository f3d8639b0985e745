#!/usr/bin/env bash
# Peak memory (max RSS, from GNU time) and wall time of `portcullis check` on N generated
# Deployments in one multi-document file (one in ten with a `:latest` image), against the
# repository's policies/, in each report format, and in text from standard input.
#
# Usage: bash benches/check-memory.sh [N]     (default 100000; needs python3 and GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
resources=${1:-100000}
cargo build --release --quiet --bin portcullis
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$resources" > "$work/manifests.yaml" <<'PY'
import sys
for index in range(int(sys.argv[1])):
    tag = "latest" if index % 10 == 0 else "1.4.2"
    team = index % 17
    print(f"""---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{index}
  namespace: team-{team}
  labels:
    app.kubernetes.io/name: app-{index}
    team: team-{team}
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: app-{index}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-{index}
    spec:
      containers:
      - name: app
        image: registry.example.com/team-{team}/app-{index}:{tag}
        resources:
          limits:
            memory: 256Mi""")
PY
echo "# $(date -u +%FT%TZ), $resources Deployments, $(du -m "$work/manifests.yaml" | cut -f1) MiB, policies/"
for format in text json junit sarif; do
  /usr/bin/time -f "%M %e" -o "$work/time" "$TARGET/release/portcullis" check --policies policies \
    --output "$format" "$work/manifests.yaml" > /dev/null 2>"$work/stderr" || true
  read -r kib seconds < <(tail -n 1 "$work/time")
  printf '%-6s peak RSS %6.1f MiB, %5.2f s\n' "$format" "$(echo "$kib / 1024" | bc -l)" "$seconds"
done
# Standard input is spooled to a temporary file and read like one.
/usr/bin/time -f "%M %e" -o "$work/time" "$TARGET/release/portcullis" check --policies policies - \
  < "$work/manifests.yaml" > /dev/null 2>"$work/stderr" || true
read -r kib seconds < <(tail -n 1 "$work/time")
printf '%-6s peak RSS %6.1f MiB, %5.2f s\n' "stdin" "$(echo "$kib / 1024" | bc -l)" "$seconds"
