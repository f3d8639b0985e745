//! The checked-in CRD manifests are exactly what `portcullis crds` generates from the Rust
//! types. `PORTCULLIS_UPDATE_CRDS=1 cargo test --test it cluster_crds` rewrites them.

use crate::fixtures::repo_path;
use std::process::Command;

#[test]
fn checked_in_crds_equal_the_generated_ones() {
    let manifests = portcullis::cluster::crd::manifests().expect("CRDs render");
    let update = std::env::var_os("PORTCULLIS_UPDATE_CRDS").is_some();
    for (name, generated) in &manifests {
        let path = repo_path("deploy/base/crds").join(name);
        if update {
            std::fs::create_dir_all(path.parent().expect("crds dir")).expect("create crds dir");
            std::fs::write(&path, generated).expect("write CRD");
        }
        let checked_in = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert!(
            checked_in == *generated,
            "{} differs from `portcullis crds`; rerun with PORTCULLIS_UPDATE_CRDS=1",
            path.display()
        );
    }
}

#[test]
fn the_crds_command_prints_both_manifests() {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("crds")
        .output()
        .expect("run portcullis crds");
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).expect("UTF-8");
    let expected: Vec<String> = portcullis::cluster::crd::manifests()
        .expect("CRDs render")
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    assert_eq!(printed, expected.join("---\n"));
    assert!(printed.contains("name: clusterpolicies.portcullis.dev"));
    assert!(printed.contains("name: policies.portcullis.dev"));
}
