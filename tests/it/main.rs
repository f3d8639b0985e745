//! The one integration-test binary, so the suite links once.

mod check_cli;
mod check_exit;
mod check_golden;
mod check_locations;
mod check_support;
mod fixtures;
mod policy_load;
mod serve_tls;
mod transport;
mod webhook;
