#!/usr/bin/env bash
# Installs the tools the end-to-end tests of `check` drive, into one cache directory that
# survives between runs: pre-commit (to run the example hooks as pre-commit runs them) and helm
# (built from its Go module, to render charts). Prints the directory of their executables, which
# .ci/run hands to the tests as PORTCULLIS_E2E_TOOLS; a test that needs a tool fails when that
# variable is set and the tool is missing.
set -euo pipefail

cache="${PORTCULLIS_E2E_CACHE:-$HOME/.cache/portcullis-e2e}"
bin="$cache/bin"
mkdir -p "$bin"

PRE_COMMIT_VERSION=4.7.0
if [ "$("$bin/pre-commit" --version 2>/dev/null)" != "pre-commit $PRE_COMMIT_VERSION" ]; then
  python3 -m venv "$cache/pre-commit-venv" >&2
  "$cache/pre-commit-venv/bin/pip" install --quiet "pre-commit==$PRE_COMMIT_VERSION" >&2
  ln -sf "$cache/pre-commit-venv/bin/pre-commit" "$bin/pre-commit"
fi

# helm, built from its Go module (the Go toolchain is a test-harness tool here, never part of the
# product). GOFLAGS=-mod=mod: the module is built as released, outside any workspace.
HELM_MODULE=helm.sh/helm/v4
HELM_VERSION=v4.3.2
if ! "$bin/helm" version 2>/dev/null | grep -q "Version:\"${HELM_VERSION%.*}"; then
  GOBIN="$bin" GOFLAGS=-mod=mod go install "$HELM_MODULE/cmd/helm@$HELM_VERSION" >&2
fi

echo "$bin"
