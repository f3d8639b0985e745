#!/usr/bin/env bash
# The end-to-end suite against a real control plane: builds kube-apiserver and etcd from their Go
# modules when the cache lacks them, starts both on loopback with certificates made here, waits
# for /readyz, runs `cargo test --test e2e`, and stops everything it started. Exits non-zero on
# any failure, printing the tails of the control plane's logs.
#
#   tests/e2e/run.sh [-- <libtest arguments, e.g. a test name filter>]
#   tests/e2e/run.sh --build-only     # only build and download what the suite needs
#
# PORTCULLIS_E2E_CACHE (default ~/.cache/portcullis-e2e) holds the built binaries, outside the
# checkout; each name carries its version and a digest of the wrapper module and build flags.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
controlplane=$root/tests/e2e/controlplane
cache=${PORTCULLIS_E2E_CACHE:-$HOME/.cache/portcullis-e2e}
# The webhook calls and the clients all stay on loopback, whatever proxy the machine names.
export NO_PROXY=127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}
export no_proxy=$NO_PROXY
build_only=false
case "${1:-}" in
  --build-only) build_only=true; shift ;;
  --) shift ;;
esac

for tool in go openssl curl python3 kubectl cargo; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 1; }
done

# The release a wrapper module pins, read from its go.mod so the version lives in one place.
required_version() { awk -v module="$2" '$1 == module { print $2; exit } $1 == "require" && $2 == module { print $3; exit }' "$1"; }
k8s_version=$(required_version "$controlplane/apiserver/go.mod" k8s.io/kubernetes)
etcd_version=$(required_version "$controlplane/etcd/go.mod" go.etcd.io/etcd/server/v3)

# build <variable> <name> <version> <wrapper dir> <package> <ldflags>: sets the variable to the
# binary's path in the cache, building it first when it is not there. The output goes to a
# temporary name first, so an interrupted build never leaves a binary behind.
shopt -s nullglob
build() {
  local variable=$1 name=$2 version=$3 dir=$4 package=$5 ldflags=$6 started=$SECONDS recipe out
  recipe=$({ cat "$dir"/go.mod "$dir"/go.sum "$dir"/*.go; printf '%s\n' "$package" "$ldflags"; } | sha256sum | cut -c1-12)
  out=$cache/$name-$version-$recipe
  printf -v "$variable" '%s' "$out"
  [ -x "$out" ] && return
  mkdir -p "$cache"
  echo "== building $name $version (first run on a machine: many minutes)"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out.partial" "$package")
  mv "$out.partial" "$out"
  echo "   built in $((SECONDS - started)) s"
}
minor=${k8s_version#v1.}; minor=${minor%%.*}
build apiserver kube-apiserver "$k8s_version" "$controlplane/apiserver" k8s.io/kubernetes/cmd/kube-apiserver \
  "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version"
build etcd etcd "$etcd_version" "$controlplane/etcd" . "-s -w"

# Third-party CRDs as their projects' release modules ship them: what deploy/ renders for
# cert-manager and the Prometheus Operator, Kyverno's policies for --watch-kyverno-policies and
# its PolicyExceptions for --watch-policy-exceptions.
module_dir() {
  go mod download -json "$1" | python3 -c '
import json, sys
module = json.load(sys.stdin)
if "Error" in module:
    sys.exit("run.sh: go mod download " + sys.argv[1] + ": " + module["Error"])
print(module["Dir"])' "$1"
}
kyverno=$(module_dir github.com/kyverno/kyverno@v1.19.0)
cert_manager=$(module_dir github.com/cert-manager/cert-manager@v1.21.2)
prometheus_operator=$(module_dir github.com/prometheus-operator/prometheus-operator@v0.85.0)
crds=$kyverno/config/crds/kyverno/kyverno.io_clusterpolicies.yaml
crds+=:$kyverno/config/crds/kyverno/kyverno.io_policies.yaml
crds+=:$kyverno/config/crds/kyverno/kyverno.io_policyexceptions.yaml
crds+=:$cert_manager/deploy/crds/cert-manager.io_certificates.yaml
crds+=:$cert_manager/deploy/crds/cert-manager.io_issuers.yaml
crds+=:$prometheus_operator/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
crds+=:$prometheus_operator/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml

$build_only && exit 0

echo "== cargo test --test e2e --no-run"
cargo test --locked --test e2e --no-run

work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-e2e.XXXXXX")
pids=()
stop() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
stop_all() {
  local status=$?
  # Last started, first stopped: the apiserver before the etcd it needs for a clean shutdown.
  local index
  for ((index = ${#pids[@]} - 1; index >= 0; index--)); do stop "${pids[index]}"; done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/etcd.log "$work"/apiserver.log; do
      [ -f "$log" ] && { echo "== last lines of $log"; tail -n 40 "$log"; }
    done
    echo "run.sh: failed (exit $status); logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== certificates in $work/pki"
pki=$work/pki
mkdir -p "$pki"
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
new_ca() {
  ec_key "$pki/$1.key"
  openssl req -x509 -new -key "$pki/$1.key" -subj "/CN=$2" -days 2 -out "$pki/$1.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
# signed <name> <ca> <subject> <extensions>
signed() {
  ec_key "$pki/$1.key"
  openssl req -new -key "$pki/$1.key" -subj "$3" -out "$pki/$1.csr"
  printf '%s\n' "$4" > "$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.crt" -CAkey "$pki/$2.key" -CAcreateserial \
    -days 2 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}
new_ca serving-ca "portcullis-e2e serving CA"
new_ca client-ca "portcullis-e2e client CA"
signed apiserver serving-ca /CN=kube-apiserver \
  "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature"
# system:masters is the apiserver's built-in administrators' group: the suite's own client.
signed admin client-ca "/O=system:masters/CN=portcullis-e2e-admin" \
  "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
ec_key "$pki/service-account.key"
openssl pkey -in "$pki/service-account.key" -pubout -out "$pki/service-account.pub"

echo "== etcd $etcd_version"
etcd_port=$(free_port)
"$etcd" --data-dir "$work/etcd" --client-url "http://127.0.0.1:$etcd_port" \
  --peer-url "http://127.0.0.1:$(free_port)" > "$work/etcd.log" 2>&1 &
pids+=($!)

echo "== kube-apiserver $k8s_version"
api_port=$(free_port)
# No controller manager runs, so nothing would create the `default` ServiceAccount that the
# ServiceAccount admission plugin requires of every Pod: the plugin is off. Pods stay Pending,
# which is all admission needs.
"$apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --secure-port "$api_port" \
  --cert-dir "$work/apiserver-certs" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/client-ca.crt" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/service-account.pub" \
  --service-account-signing-key-file "$pki/service-account.key" \
  --authorization-mode RBAC \
  --service-cluster-ip-range 10.96.0.0/16 \
  --disable-admission-plugins ServiceAccount \
  --profiling=false \
  > "$work/apiserver.log" 2>&1 &
apiserver_pid=$!
pids+=("$apiserver_pid")

started=$SECONDS
until curl -sf --noproxy '*' --cacert "$pki/serving-ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$api_port/readyz" > /dev/null; do
  kill -0 "$apiserver_pid" 2>/dev/null || { echo "kube-apiserver exited" >&2; exit 1; }
  if [ $((SECONDS - started)) -gt 180 ]; then
    echo "kube-apiserver was not ready within 180 s" >&2
    exit 1
  fi
  sleep 1
done
echo "   ready after $((SECONDS - started)) s on https://127.0.0.1:$api_port"

cat > "$work/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $pki/serving-ca.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: e2e
  context:
    cluster: e2e
    user: admin
current-context: e2e
EOF

echo "== cargo test --test e2e"
suite_started=$SECONDS
export PORTCULLIS_E2E_KUBECONFIG=$work/admin.kubeconfig
export PORTCULLIS_E2E_WORK=$work
export PORTCULLIS_E2E_CRDS=$crds
# The suite must never run against another cluster by accident.
unset KUBECONFIG
cargo test --locked --test e2e -- "$@" 2>&1 | tee "$work/suite.log"
# A filter that matched nothing is not a pass.
grep -Eq '^test result: ok\. [1-9][0-9]* passed; 0 failed; 0 ignored' "$work/suite.log" \
  || { echo "run.sh: no end-to-end test ran" >&2; exit 1; }
echo "== end-to-end suite passed in $((SECONDS - suite_started)) s"
