#!/usr/bin/env bash
# The differential test against Kyverno's CLI: builds kubectl-kyverno (tests/oracle/kyverno.sh,
# cached after the first build), generates a seeded sample of Kyverno test cases, runs them
# through `kubectl-kyverno test` and `portcullis test`, and fails on any expectation where the
# two report different results, printing a minimised reproduction.
#
#   tests/oracle/run.sh [--cases N] [--seed S] [--from I] [--keep DIR]
#
# Defaults: 300 cases numbered from 0, seed 1 (what .ci/run runs). A case depends only on the
# seed and its number, so `--seed 3 --from 128 --cases 1` regenerates case-00128 of seed 3 alone.
# --keep writes the cases into DIR and leaves them there, for running either tool by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."

cases=300
seed=1
from=0
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cases) cases="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --from) from="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    *) echo "usage: $0 [--cases N] [--seed S] [--from I] [--keep DIR]" >&2; exit 2 ;;
  esac
done

kyverno="$(tests/oracle/kyverno.sh)"
export PORTCULLIS_KYVERNO="$kyverno"
export PORTCULLIS_ORACLE_CASES="$cases"
export PORTCULLIS_ORACLE_SEED="$seed"
export PORTCULLIS_ORACLE_FROM="$from"
if [ -n "$keep" ]; then
  export PORTCULLIS_ORACLE_KEEP="$keep"
fi
cargo test --locked --test oracle -- --ignored --nocapture
