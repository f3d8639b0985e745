#!/usr/bin/env bash
# Builds Kyverno's CLI, kubectl-kyverno, at the release the differential test compares against,
# into the end-to-end tool cache, and prints the binary's path on stdout. A second run finds the
# binary there and builds nothing.
#
# The module proxy must serve github.com/kyverno/kyverno v1.19.0 and its dependencies; the build
# pins them with tests/oracle/kyverno/go.mod and go.sum. Kyverno v1.19.0 names go 1.26.5, which
# the installed Go (1.26) satisfies.
set -euo pipefail

version=v1.19.0
here="$(cd "$(dirname "$0")" && pwd)"
cache="${PORTCULLIS_E2E_CACHE:-$HOME/.cache/portcullis-e2e}/kyverno-$version"
binary="$cache/kubectl-kyverno"

if [ ! -x "$binary" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "error: building kubectl-kyverno needs Go 1.26.5 or newer on PATH" >&2
    exit 1
  fi
  mkdir -p "$cache"
  echo "building kubectl-kyverno $version into $cache (several minutes on a fresh machine)" >&2
  start=$SECONDS
  # Into a temporary name first, so that an interrupted build never leaves a binary that looks
  # finished. Cgo off and the version variable set, as Kyverno's Makefile builds its CLI, so that
  # `kubectl-kyverno version` names the release.
  (
    cd "$here/kyverno"
    CGO_ENABLED=0 go build -mod=readonly -trimpath \
      -ldflags "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$version" \
      -o "$binary.partial" github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno
  )
  mv "$binary.partial" "$binary"
  echo "built kubectl-kyverno $version in $((SECONDS - start)) s" >&2
fi

echo "$binary"
