//! The end-to-end suite: `portcullis` against a real kube-apiserver and etcd, built from their Go
//! modules and started by `tests/e2e/run.sh`, which runs this target with the control plane's
//! kubeconfig in the environment. Not part of `cargo test`: without the control plane every test
//! here fails, saying to run the script.

mod admission;
mod cluster;
mod deploy;
mod lockout;
mod lookups;
mod registration;
#[path = "../shared/fixtures.rs"]
mod shared;
mod support;
