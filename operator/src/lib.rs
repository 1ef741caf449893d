//! The kube9-operator: health endpoints and a status ConfigMap for kube9's tooling.

pub mod build_info;
pub mod http;
pub mod state;
pub mod status;

/// Chooses ring as the process's TLS provider (the one kube-rs is built with here). Without it,
/// rustls panics at the first connection when a build enables a second provider. Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
