//! Portcullis: a Kubernetes admission policy gate that accepts Kyverno validate policies verbatim.
//!
//! One engine ([`eval`]) judges resources against compiled policies; the TLS webhook
//! ([`webhook`], [`server`]) and the offline `check` command are thin adapters over it, so the
//! cluster and the CI pipeline can never disagree about a verdict.

pub mod json_path;
pub mod pattern;
pub mod reload;
pub mod server;
pub mod tls;
pub mod yaml;
