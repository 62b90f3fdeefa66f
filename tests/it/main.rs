//! The one integration-test binary: every module below runs the real `assay`
//! binary (or real servers) and asserts on what a user or Argo CD would see.

mod support;

mod adopt;
mod adopt_errors;
mod argocd;
mod candidate;
mod cli;
mod cmp;
mod fake_kube_harness;
mod forge;
mod forge_status;
mod fuzz;
mod git_servers;
mod install;
mod invalid;
mod judge;
mod log_format;
mod next;
mod prometheus_auth;
mod prometheus_harness;
mod promote;
mod props;
mod reject_push;
mod render;
mod status;
mod validation;
mod writeback;
mod writeback_faults;
mod writeback_hostile;
