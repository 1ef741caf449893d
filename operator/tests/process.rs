//! The operator binary as a process: `--version`, JSON logs, a status write through a kubeconfig
//! to the API stand-in, and a graceful stop on SIGTERM.

mod api_stand_in;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kube9-operator");

#[test]
fn version_says_what_it_was_built_from() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!(
            "kube9-operator {}",
            kube9_operator::build_info::version_line()
        )
    );
    if kube9_operator::build_info::is_development() {
        assert!(text.contains("development build"), "{text}");
    }
    let native = if cfg!(target_arch = "x86_64") {
        "linux/amd64)"
    } else {
        "linux/arm64)"
    };
    assert!(text.trim().ends_with(native), "{text}");
}

#[tokio::test]
async fn runs_writes_its_status_and_stops_on_sigterm() {
    let (api, url) = api_stand_in::start().await;
    let dir = std::env::temp_dir().join(format!("kube9-operator-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: {url}\ncontexts:\n- name: stand-in\n  context:\n    cluster: stand-in\n    user: test\ncurrent-context: stand-in\nusers:\n- name: test\n  user: {{}}\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--status-interval",
            "60",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAMESPACE", "team-b")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let start = Instant::now();
    while api.requests.lock().unwrap().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "no status write");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let uri = api.requests.lock().unwrap()[0].uri.clone();
    assert!(
        uri.starts_with("/api/v1/namespaces/team-b/configmaps/kube9-operator-status?"),
        "{uri}"
    );

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let lines: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).expect("every log line is JSON"))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"starting") && messages.contains(&"status written"),
        "{messages:?}"
    );
    assert_eq!(messages.last(), Some(&"stopped"), "{messages:?}");
    std::fs::remove_dir_all(dir).unwrap();
}
