use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use k8s_openapi::api::core::v1::ConfigMap;
use kube9_operator::{build_info, http, state::State, status};
use tokio::sync::watch;

#[derive(Parser)]
#[command(name = "kube9-operator", disable_version_flag = true)]
struct Args {
    /// Print the release version and the commit this binary was built from.
    #[arg(long, short = 'V')]
    version: bool,
    /// Address of the health, readiness and metrics endpoints.
    #[arg(long, env = "LISTEN_ADDRESS", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Namespace of the status ConfigMap.
    #[arg(long, env = "POD_NAMESPACE", default_value = "kube9-system")]
    namespace: String,
    /// Seconds between status writes.
    #[arg(long, env = "STATUS_INTERVAL_SECONDS", default_value_t = 60)]
    status_interval: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.version {
        println!("kube9-operator {}", build_info::version_line());
        return Ok(());
    }
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    tracing::info!(
        version = build_info::VERSION,
        commit = build_info::COMMIT,
        "starting"
    );
    kube9_operator::install_tls_provider();

    let state = Arc::new(State::default());
    let (stop_tx, stop_rx) = watch::channel(false);

    let client = kube::Client::try_default().await.context(
        "no Kubernetes configuration: run in a pod with a service account, or set KUBECONFIG",
    )?;
    let api: kube::Api<ConfigMap> = kube::Api::namespaced(client, &args.namespace);
    let writer = tokio::spawn(status::run(
        api,
        args.namespace.clone(),
        Duration::from_secs(args.status_interval.max(1)),
        state.clone(),
        stop_rx.clone(),
    ));

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %args.listen, "serving /healthz, /readyz, /metrics");
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let mut on_stop = stop_rx;
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(async move {
            let _ = on_stop.changed().await;
        })
        .await?;
    writer.await.ok();
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM is how the kubelet asks a pod to stop; Ctrl-C is for a local run.
async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
