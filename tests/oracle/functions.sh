#!/usr/bin/env bash
# The JMESPath and condition-operator tables against Kyverno's CLI: builds kubectl-kyverno
# (tests/oracle/kyverno.sh, cached after the first build) and runs every table row through it
# (tests/oracle/functions.rs), failing on any row where Kyverno answers otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

PORTCULLIS_KYVERNO="$(tests/oracle/kyverno.sh)"
export PORTCULLIS_KYVERNO
cargo test --locked --test oracle-functions -- --ignored --nocapture "$@"
