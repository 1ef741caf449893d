//! The xtask's one async boundary: every network call (registries, GitHub's API) runs on one
//! runtime, entered only through `block_on`; everything else is synchronous.

use std::future::Future;
use std::sync::{Once, OnceLock};

/// Makes ring this process's TLS provider, once; every HTTP client here needs one. reqwest is
/// built without a provider of its own (its default, aws-lc, is a C library that would be
/// compiled for this alone, where the operator's kube client uses ring already).
pub fn install_tls() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // An error means a provider is installed already, which is all this wants.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Every HTTP client of the release is made here, after `install_tls` (a client made before
/// it panics: "no process-level CryptoProvider available").
pub fn http_builder() -> reqwest::ClientBuilder {
    install_tls();
    reqwest::Client::builder()
}

pub fn http_client() -> reqwest::Client {
    http_builder().build().expect("an HTTP client builds")
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime starts")
        })
        .block_on(future)
}

#[cfg(test)]
mod tests {
    /// Nothing in the workspace makes an HTTP client but `http_builder`, so none is made
    /// without the TLS provider.
    #[test]
    fn every_http_client_is_made_with_the_tls_provider() {
        let root = crate::workspace::root();
        let mut found = Vec::new();
        for dir in ["xtask", "operator"] {
            for entry in walkdir::WalkDir::new(root.join(dir)).into_iter().flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "rs")
                    || path.ends_with("release/src/net.rs")
                {
                    continue;
                }
                let text = std::fs::read_to_string(path).unwrap();
                for needle in ["reqwest::Client::new(", "reqwest::Client::builder("] {
                    if text.contains(needle) {
                        found.push(format!("{}: {needle}", path.display()));
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "use kube9_release::net::http_client: {found:?}"
        );
    }
}
