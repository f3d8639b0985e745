//! The one integration-test binary, so the suite links once.

mod check_cli;
mod engine;
mod fixtures;
mod kyverno_suites;
mod policy_load;
mod serve_tls;
mod transport;
mod webhook;
