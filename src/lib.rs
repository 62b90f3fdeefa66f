//! assay: GitOps-native progressive delivery for Argo CD. One binary renders a
//! compact `assay.yaml` into an experiment (the config-management plugin),
//! judges it, and commits the verdict to Git (the PostSync hook).

pub mod argocd;
mod base64;
pub mod cluster;
pub mod cmp;
pub mod crd;
pub mod demo;
pub mod generate;
pub mod gitops;
pub mod judge;
pub mod log;
pub mod promote;
pub mod render;
pub mod runtime;
pub mod secret;
pub mod source;
pub mod spec;
pub mod status;
pub mod tls;
pub mod yaml;
