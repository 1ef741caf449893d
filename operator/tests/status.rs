//! The status writer against a recorded Kubernetes API exchange, with a local HTTP server
//! standing in for the API server (see `api_stand_in`).

mod api_stand_in;

use std::sync::Arc;
use std::time::Duration;

use api_stand_in::{client, stand_in};
use axum::http::Method;
use k8s_openapi::api::core::v1::ConfigMap;
use kube9_operator::state::State;
use kube9_operator::status::{self, Status};

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
    // Only the `status` key is the operator's: the chart creates the ConfigMap with its labels
    // (tests/helm_chart.rs), so `helm uninstall` removes it, and no label is shared with helm.
    assert_eq!(
        r.body["metadata"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["name", "namespace"],
        "{}",
        r.body
    );
    assert_eq!(
        r.body["data"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["status"]
    );
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

#[test]
fn a_missing_configmap_is_not_created_and_the_error_says_how_to_restore_it() {
    // kube-apiserver's answer when a server-side apply would create an object the service
    // account may only patch (the Role grants no `create`).
    let denied = kube::Error::Api(
        kube::core::Status::failure(
            "configmaps \"kube9-operator-status\" is forbidden: User \"system:serviceaccount:kube9-system:kube9-operator\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"kube9-system\"",
            "Forbidden",
        )
        .with_code(403)
        .boxed(),
    );
    let message = status::describe(&denied);
    assert!(
        message.contains("does not exist") && message.contains("`helm upgrade`"),
        "{message}"
    );
}
