//! The xtask's one async boundary: every network call (registries, GitHub's API) runs on one
//! runtime, entered only through `block_on`; everything else is synchronous.

use std::future::Future;
use std::sync::OnceLock;

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
