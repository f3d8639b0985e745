//! The JMESPath and condition-operator tables, checked against Kyverno's own CLI: every row of
//! `src/jmespath/tests/tables.rs` goes through `kubectl-kyverno jp query`, every condition row
//! of `src/expr/conditions/tests/tables.rs` through a `kubectl-kyverno test` suite, and each
//! answer must be the row's expectation. The unit tests hold this implementation to the same
//! expectations, so together they hold it to Kyverno.
//!
//! It needs the Kyverno binary, so it is ignored by a plain `cargo test`;
//! `tests/oracle/functions.sh` builds the binary and runs it. Asked for without the binary, it
//! fails rather than skips. Environment: `PORTCULLIS_KYVERNO` (path of kubectl-kyverno).

#[path = "../../src/jmespath/tests/tables.rs"]
#[allow(dead_code)]
mod jmespath_tables;

#[path = "../../src/expr/conditions/tests/tables.rs"]
mod condition_tables;

#[path = "functions/jmespath.rs"]
mod jmespath;

#[path = "functions/operators.rs"]
mod operators;

use std::path::{Path, PathBuf};

fn kyverno() -> PathBuf {
    let kyverno = PathBuf::from(std::env::var("PORTCULLIS_KYVERNO").unwrap_or_else(|_| {
        panic!(
            "PORTCULLIS_KYVERNO is not set: run tests/oracle/functions.sh, which builds Kyverno's CLI"
        )
    }));
    assert!(
        kyverno.is_file(),
        "PORTCULLIS_KYVERNO={} is not a file",
        kyverno.display()
    );
    kyverno
}

#[test]
#[ignore = "needs kubectl-kyverno; run tests/oracle/functions.sh"]
fn jmespath_tables_agree_with_kyverno_jp_query() {
    jmespath::check(&kyverno());
}

#[test]
#[ignore = "needs kubectl-kyverno; run tests/oracle/functions.sh"]
fn x509_fixtures_agree_with_kyverno_jp_query() {
    jmespath::check_x509_fixtures(&kyverno());
}

#[test]
#[ignore = "needs kubectl-kyverno; run tests/oracle/functions.sh"]
fn condition_tables_agree_with_kyverno_test() {
    operators::check(&kyverno(), Path::new(env!("CARGO_BIN_EXE_portcullis")));
}
