//! The one integration-test binary, so the suite links once.

mod check_cli;
mod check_contract;
mod check_exit;
mod check_golden;
mod check_locations;
mod check_policy_dirs;
mod check_pre_commit;
mod check_rendered;
mod check_support;
mod check_vacuous;
mod cluster_crds;
mod cluster_fake_api;
mod cluster_namespaces;
mod cluster_policies;
mod cluster_roles;
mod cluster_serve;
mod deploy_alerts;
mod deploy_render;
mod deploy_types;
mod deploy_webhook;
mod engine;
mod exceptions;
mod fixtures;
mod kyverno_suites;
mod policy_load;
mod projection;
mod serve_tls;
#[path = "../shared/fixtures.rs"]
mod shared;
mod tools;
mod transport;
mod webhook;
mod webhook_hostile;
mod webhook_process;
mod webhook_semantics;
mod webhook_support;
