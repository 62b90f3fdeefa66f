//! The one TLS crypto provider of the process: ring, shared by reqwest
//! (Prometheus, the forges) and kube. reqwest's `rustls-no-provider` panics
//! without a process default, so every client calls [`init`] before it is
//! built; the first install wins and later ones are no-ops. The generate
//! path never calls it.

/// Installs ring as the process default provider, if none is yet.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
