//! Command-line arguments. Each subcommand maps to one library call in
//! `main.rs`; Argo CD reaches the same settings through `ARGOCD_ENV_*`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// GitOps-native progressive delivery for Argo CD.
#[derive(Debug, Parser)]
#[command(name = "assay", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render assay.yaml in DIR into manifests (the Argo CD plugin's generate command).
    Generate {
        /// The app directory (default: the working directory, as Argo CD runs it).
        dir: Option<PathBuf>,
    },
    /// Print the plugin's parameter announcement for the Argo CD UI (JSON).
    Parameters {
        /// The app directory (default: the working directory).
        dir: Option<PathBuf>,
    },
    /// Check an assay.yaml (and the template it names) without rendering.
    Validate {
        /// The spec file (default: ./assay.yaml).
        file: Option<PathBuf>,
    },
    /// Print the Experiment CustomResourceDefinition (YAML).
    Crd,
    /// Print the JSON Schema of assay.yaml, for editors.
    Schema,
}
