//! The status ConfigMap: what kube9's tooling reads to learn that the operator runs and how.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use tokio::sync::watch;

use crate::state::State;

pub const CONFIGMAP_NAME: &str = "kube9-operator-status";
pub const FIELD_MANAGER: &str = "kube9-operator";

/// The JSON stored under the key `status`; field names are the contract with kube9's tooling.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub mode: &'static str,
    pub version: String,
    pub health: &'static str,
    pub last_update: String,
    pub error: Option<String>,
    pub namespace: String,
}

impl Status {
    pub fn new(namespace: &str, previous_error: Option<String>, now: jiff::Timestamp) -> Self {
        Status {
            mode: "operated",
            version: crate::build_info::VERSION.to_string(),
            health: if previous_error.is_some() {
                "degraded"
            } else {
                "healthy"
            },
            last_update: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            error: previous_error,
            namespace: namespace.to_string(),
        }
    }

    /// The fields the operator owns: the `status` key, nothing else. The chart creates the
    /// ConfigMap with its labels (so `helm uninstall` removes it); labels applied here too would
    /// be shared with helm, and differing values would make a Helm 4 (server-side) upgrade
    /// conflict.
    pub fn to_configmap(&self) -> ConfigMap {
        ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some(CONFIGMAP_NAME.to_string()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                "status".to_string(),
                serde_json::to_string(self).expect("status serialises"),
            )])),
            ..Default::default()
        }
    }
}

/// Writes the status once with server-side apply: one request updates the ConfigMap the chart
/// created. The Role grants no `create`, so a missing ConfigMap is refused, not re-created
/// without an owner (it would outlive `helm uninstall`).
pub async fn write(api: &Api<ConfigMap>, status: &Status) -> Result<(), kube::Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut cm = status.to_configmap();
    cm.metadata.namespace = Some(status.namespace.clone());
    let body = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": cm.metadata,
        "data": cm.data,
    });
    api.patch(CONFIGMAP_NAME, &params, &Patch::Apply(body))
        .await?;
    Ok(())
}

/// How long to wait after a failed write: doubling from 1 s, never longer than the interval.
pub fn retry_delay(consecutive_failures: u32, interval: Duration) -> Duration {
    let exp = Duration::from_secs(1u64 << consecutive_failures.min(10));
    exp.min(interval)
}

/// Writes the status every `interval` until `shutdown` fires; failures are recorded and retried.
pub async fn run(
    api: Api<ConfigMap>,
    namespace: String,
    interval: Duration,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    loop {
        let status = Status::new(&namespace, state.last_error(), jiff::Timestamp::now());
        let wait = match write(&api, &status).await {
            Ok(()) => {
                failures = 0;
                state.record_success();
                tracing::info!(namespace = %namespace, health = status.health, "status written");
                interval
            }
            Err(err) => {
                failures += 1;
                let message = describe(&err);
                tracing::error!(error = %message, attempt = failures, "status write failed");
                state.record_failure(message);
                retry_delay(failures, interval)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// A short, actionable description: a 403 means the service account lacks the Role, or (when
/// it may not `create`) that the chart's ConfigMap is gone.
pub fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if status.code == 403 && status.message.contains("cannot create") => format!(
            "forbidden: configmap {CONFIGMAP_NAME} does not exist and the operator may not create it; \
             the chart creates it: `helm upgrade` the release to restore it ({})",
            status.message
        ),
        kube::Error::Api(status) if status.code == 403 => format!(
            "forbidden: the service account may not write configmap {CONFIGMAP_NAME} ({})",
            status.message
        ),
        other => other.to_string(),
    }
}
