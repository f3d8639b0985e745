//! The one integration-test binary, so the suite links once.

mod check_cli;
mod fixtures;
mod policy_load;
mod serve_tls;
mod transport;
mod webhook;
mod webhook_hostile;
mod webhook_process;
mod webhook_semantics;
mod webhook_support;
