//! The simulation's stand-in services run in this process, each on a loopback port of its own
//! and a thread of its own, as long as the process lives.

use axum::Router;

/// Serves `router` on a free loopback port; returns `127.0.0.1:PORT`.
pub fn serve(router: Router) -> String {
    let (listener, address) = bind();
    serve_on(listener, router);
    address
}

/// A free loopback port, bound, and its `127.0.0.1:PORT`: for a service whose answers name
/// its own address, known before its router is built.
pub fn bind() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking socket");
    let address = listener.local_addr().expect("a bound socket").to_string();
    (listener, address)
}

/// Serves `router` on `listener` on a thread of its own.
pub fn serve_on(listener: std::net::TcpListener, router: Router) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio socket");
            axum::serve(listener, router)
                .await
                .expect("the stand-in serves");
        });
    });
}
