//! A stand-in for the Kubernetes API server (none can run on these machines): a local HTTP
//! server that records each request and answers as kube-apiserver does (server-side apply returns
//! the object; a denial is a 403 Status).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub uri: String,
    pub content_type: String,
    pub body: serde_json::Value,
}

#[derive(Clone, Default)]
pub struct ApiStandIn {
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    /// The status code answered next; 200 echoes the applied object back.
    pub answer: Arc<Mutex<u16>>,
}

async fn handle(
    Extract(api): Extract<ApiStandIn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    api.requests.lock().unwrap().push(Recorded {
        method,
        uri: uri.to_string(),
        content_type: headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default(),
        body: body.clone(),
    });
    let code = *api.answer.lock().unwrap();
    if code == 200 {
        (StatusCode::OK, axum::Json(body))
    } else {
        let status = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "configmaps \"kube9-operator-status\" is forbidden: User \"system:serviceaccount:kube9-system:kube9-operator\" cannot patch resource \"configmaps\"",
            "reason": "Forbidden", "code": code,
        });
        (StatusCode::from_u16(code).unwrap(), axum::Json(status))
    }
}

/// Starts the stand-in; returns it, its URL and a client for it.
pub async fn start() -> (ApiStandIn, String) {
    let api = ApiStandIn {
        answer: Arc::new(Mutex::new(200)),
        ..Default::default()
    };
    let app = axum::Router::new().fallback(handle).with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (api, url)
}

pub async fn stand_in() -> (ApiStandIn, kube::Client) {
    let (api, url) = start().await;
    (api, client(&url))
}

pub fn client(url: &str) -> kube::Client {
    kube9_operator::install_tls_provider();
    let mut config = kube::Config::new(url.parse().unwrap());
    config.connect_timeout = Some(Duration::from_millis(500));
    kube::Client::try_from(config).unwrap()
}
