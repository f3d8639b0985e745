//! The one integration-test binary, so the suite links once.

mod check_cli;
mod deploy_render;
mod deploy_types;
mod deploy_webhook;
mod fixtures;
mod policy_load;
mod serve_tls;
mod transport;
mod webhook;
