//! The status writer against a recorded Kubernetes API exchange. No API server can run on these
//! machines, so a local HTTP server stands in for one: it records each request and answers the
//! way kube-apiserver does (server-side apply returns the object; a denial is a 403 Status).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use k8s_openapi::api::core::v1::ConfigMap;
use kube9_operator::state::State;
use kube9_operator::status::{self, Status};

#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    uri: String,
    content_type: String,
    body: serde_json::Value,
}

#[derive(Clone, Default)]
struct ApiStandIn {
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// The status code answered next; 200 echoes the applied object back.
    answer: Arc<Mutex<u16>>,
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

async fn stand_in() -> (ApiStandIn, kube::Client) {
    let api = ApiStandIn {
        answer: Arc::new(Mutex::new(200)),
        ..Default::default()
    };
    let app = axum::Router::new().fallback(handle).with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (api, client(&url))
}

fn client(url: &str) -> kube::Client {
    let mut config = kube::Config::new(url.parse().unwrap());
    config.connect_timeout = Some(Duration::from_millis(500));
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn writes_the_configmap_with_one_server_side_apply() {
    let (api, client) = stand_in().await;
    let configmaps: kube::Api<ConfigMap> = kube::Api::namespaced(client, "kube9-system");
    let now = "2026-01-02T03:04:05Z".parse().unwrap();
    status::write(&configmaps, &Status::new("kube9-system", None, now))
        .await
        .unwrap();

    let requests = api.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!(r.method, Method::PATCH);
    assert_eq!(
        r.uri,
        "/api/v1/namespaces/kube9-system/configmaps/kube9-operator-status?&force=true&fieldManager=kube9-operator"
    );
    assert_eq!(r.content_type, "application/apply-patch+yaml");
    assert_eq!(r.body["kind"], "ConfigMap");
    assert_eq!(r.body["metadata"]["name"], "kube9-operator-status");
    assert_eq!(r.body["metadata"]["namespace"], "kube9-system");
    let reported: serde_json::Value =
        serde_json::from_str(r.body["data"]["status"].as_str().unwrap()).unwrap();
    assert_eq!(
        reported,
        serde_json::json!({
            "mode": "operated",
            "version": kube9_operator::build_info::VERSION,
            "health": "healthy",
            "lastUpdate": "2026-01-02T03:04:05Z",
            "error": null,
            "namespace": "kube9-system",
        })
    );
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_403_is_reported_retried_and_then_recorded_in_the_status() {
    let (api, client) = stand_in().await;
    *api.answer.lock().unwrap() = 403;
    let state = Arc::new(State::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let configmaps: kube::Api<ConfigMap> = kube::Api::namespaced(client, "team-a");
    let task = tokio::spawn(status::run(
        configmaps,
        "team-a".into(),
        Duration::from_secs(1),
        state.clone(),
        stopped,
    ));

    wait_for("a retry after the 403", || {
        api.requests.lock().unwrap().len() >= 2
    })
    .await;
    assert!(!state.is_ready());
    let error = state.last_error().unwrap();
    assert!(
        error.contains("forbidden") && error.contains("cannot patch"),
        "{error}"
    );
    assert!(state.metrics().contains("kube9_operator_status_failing 1"));

    *api.answer.lock().unwrap() = 200;
    wait_for("a successful write", || state.is_ready()).await;
    let requests = api.requests.lock().unwrap().clone();
    let last = requests.last().unwrap();
    assert_eq!(
        last.uri.split('?').next().unwrap(),
        "/api/v1/namespaces/team-a/configmaps/kube9-operator-status"
    );
    let reported: serde_json::Value =
        serde_json::from_str(last.body["data"]["status"].as_str().unwrap()).unwrap();
    assert_eq!(
        reported["health"], "degraded",
        "the write after a failure reports it"
    );
    assert!(reported["error"].as_str().unwrap().contains("forbidden"));
    assert!(state.metrics().contains("kube9_operator_status_failing 0"));

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_api_is_recorded_and_the_loop_keeps_trying() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let configmaps: kube::Api<ConfigMap> =
        kube::Api::namespaced(client(&format!("http://127.0.0.1:{port}")), "kube9-system");
    let state = Arc::new(State::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(status::run(
        configmaps,
        "kube9-system".into(),
        Duration::from_secs(1),
        state.clone(),
        stopped,
    ));
    wait_for("two failed attempts", || {
        state
            .metrics()
            .contains("kube9_operator_status_write_errors_total 2")
    })
    .await;
    assert!(state.last_error().is_some());
    assert!(!state.is_ready());
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn retry_delay_doubles_up_to_the_interval() {
    let interval = Duration::from_secs(60);
    assert_eq!(status::retry_delay(1, interval), Duration::from_secs(2));
    assert_eq!(status::retry_delay(3, interval), Duration::from_secs(8));
    assert_eq!(status::retry_delay(20, interval), interval);
}
