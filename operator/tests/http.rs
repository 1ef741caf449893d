//! The health, readiness and metrics endpoints, over a real socket.

use std::sync::Arc;

use kube9_operator::{http, state::State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve(state: Arc<State>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, http::router(state)).await.unwrap() });
    addr
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let code = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[tokio::test]
async fn healthz_answers_while_readyz_waits_for_the_first_status() {
    let state = Arc::new(State::default());
    let addr = serve(state.clone()).await;
    assert_eq!(get(addr, "/healthz").await, (200, "ok".to_string()));
    assert_eq!(get(addr, "/readyz").await.0, 503);
    state.record_success();
    assert_eq!(get(addr, "/readyz").await, (200, "ready".to_string()));
    assert_eq!(get(addr, "/nope").await.0, 404);
}

#[tokio::test]
async fn metrics_report_writes_and_failures_in_prometheus_text() {
    let state = Arc::new(State::default());
    let addr = serve(state.clone()).await;
    state.record_success();
    state.record_failure("forbidden".into());
    let (code, body) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        body.contains("kube9_operator_status_writes_total 1\n"),
        "{body}"
    );
    assert!(body.contains("kube9_operator_status_write_errors_total 1\n"));
    assert!(body.contains("kube9_operator_status_failing 1\n"));
    assert!(body.contains("# TYPE kube9_operator_status_writes_total counter"));
    assert!(body.contains(&format!(
        "version=\"{}\"",
        kube9_operator::build_info::VERSION
    )));
}
