//! Portcullis: a Kubernetes admission policy gate that accepts Kyverno validate policies verbatim.
//!
//! One engine ([`eval`]) judges resources against compiled policies; the TLS webhook
//! ([`webhook`], [`server`]) and the offline `check` command are thin adapters over it, so the
//! cluster and the CI pipeline can never disagree about a verdict.

pub mod autogen;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod coerce;
pub mod defaults;
pub mod eval;
pub mod expr;
pub mod file_environment;
pub mod image;
pub mod jmespath;
pub mod json_path;
pub mod kyverno_test;
pub mod log_output;
pub mod matching;
pub mod metrics;
pub mod pattern;
pub mod policy;
pub mod printable;
pub mod projection;
pub mod registration;
pub mod reload;
pub mod server;
pub mod small_map;
pub mod tls;
pub mod walk;
pub mod webhook;
pub mod webhook_config;
pub mod yaml;
