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
/// it panics: "no process-level CryptoProvider available"), trusting the system's roots as
/// read once by `system_roots`.
pub fn http_builder() -> reqwest::ClientBuilder {
    install_tls();
    let builder = reqwest::Client::builder();
    match system_roots() {
        [] => builder,
        roots => builder.tls_certs_only(
            roots
                .iter()
                .filter_map(|der| reqwest::Certificate::from_der(der).ok()),
        ),
    }
}

/// The system's trusted roots (the CA bundle and directory, or `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`), read once a process. Left to itself, every reqwest client (one per registry
/// handle, one per request a test's proxy forwards) reads and decodes them again through the
/// platform verifier, which on Linux then checks against exactly these roots: that reading
/// was most of the CPU of the test proxies and a share of each release tool run
/// (docs/benchmarks.md). Empty when none can be read: the clients then make their own
/// verifier, which fails as it always did ("No CA certificates were loaded from the system").
pub fn system_roots() -> &'static [Vec<u8>] {
    static ROOTS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        rustls_native_certs::load_native_certs()
            .certs
            .into_iter()
            .map(|der| der.to_vec())
            .collect()
    })
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
