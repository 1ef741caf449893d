//! The chart, checked with the real `helm lint` and `helm template`.

mod support;

use std::path::PathBuf;

use support::*;

fn chart() -> PathBuf {
    project_root().join("charts/kube9-operator")
}

fn template(set: &[&str]) -> std::process::Output {
    let mut cmd = helm();
    cmd.args(["template", "kube9"])
        .arg(chart())
        .args(["--namespace", "kube9-system"]);
    for s in set {
        cmd.args(["--set", s]);
    }
    run(&mut cmd)
}

fn rendered(set: &[&str]) -> String {
    let out = template(set);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn lint_passes_strictly() {
    ok(helm().args(["lint", "--strict"]).arg(chart()));
}

#[test]
fn image_is_repo_and_app_version_by_default() {
    let version = kube9_release::workspace::operator_version();
    let manifests = rendered(&[]);
    assert_eq!(
        kube9_release::chart::rendered_images(&manifests),
        [format!("ghcr.io/alto9/kube9-operator:{version}")]
    );
    assert!(manifests.contains("imagePullPolicy: IfNotPresent"));
}

#[test]
fn a_digest_pins_the_image() {
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let manifests = rendered(&["image.tag=1.2.3", &format!("image.digest={digest}")]);
    assert_eq!(
        kube9_release::chart::rendered_images(&manifests),
        [format!("ghcr.io/alto9/kube9-operator:1.2.3@{digest}")]
    );
}

#[test]
fn pull_policy_follows_values() {
    assert!(rendered(&["image.pullPolicy=Always"]).contains("imagePullPolicy: Always"));
    assert!(rendered(&["image.pullPolicy=Never"]).contains("imagePullPolicy: Never"));
}

#[test]
fn schema_rejects_bad_values() {
    for bad in [
        "image.pullPolicy=Sometimes",
        "image.digest=sha256:xyz",
        "image.tag=a/b",
        "service.port=70000",
    ] {
        let out = template(&[bad]);
        assert!(!out.status.success(), "{bad} was accepted");
        assert!(
            text(&out).contains("values don't meet the specifications of the schema"),
            "{bad}: {}",
            text(&out)
        );
    }
}

#[test]
fn deployment_runs_locked_down_with_probes() {
    let manifests = rendered(&[]);
    for expected in [
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        "- ALL",
        "path: /healthz",
        "path: /readyz",
        "fieldPath: metadata.namespace",
        "kind: ServiceAccount",
        "kind: Role\n",
        "kind: RoleBinding",
        "kind: Service\n",
        "memory: 64Mi",
    ] {
        assert!(manifests.contains(expected), "missing {expected:?}");
    }
    assert!(!manifests.contains("ClusterRole"), "no cluster-wide role");
}

/// The documents of a rendering, parsed.
fn documents(manifests: &str) -> Vec<serde_json::Value> {
    manifests
        .split("\n---")
        .filter(|d| d.contains("kind:"))
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect()
}

#[test]
fn the_role_allows_only_what_the_operator_does() {
    let docs = documents(&rendered(&[]));
    let role = docs.iter().find(|d| d["kind"] == "Role").unwrap();
    assert_eq!(role["metadata"]["namespace"], "kube9-system");
    assert_eq!(
        role["rules"],
        serde_json::json!([
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["configmaps"],
             "resourceNames": ["kube9-operator-status"], "verbs": ["get", "patch"]}
        ])
    );
    // The name the operator writes is the one the role allows.
    assert_eq!(
        kube9_operator::status::CONFIGMAP_NAME,
        "kube9-operator-status"
    );
    let binding = docs.iter().find(|d| d["kind"] == "RoleBinding").unwrap();
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert!(docs
        .iter()
        .all(|d| !d["kind"].as_str().unwrap().starts_with("Cluster")));
}

#[test]
fn service_account_tokens_are_mounted_only_where_needed() {
    let docs = documents(&rendered(&[]));
    let account = docs.iter().find(|d| d["kind"] == "ServiceAccount").unwrap();
    assert_eq!(account["automountServiceAccountToken"], false);
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["automountServiceAccountToken"],
        true
    );
}

#[test]
fn the_longest_version_a_release_accepts_keeps_every_label_valid() {
    // 63 characters: the longest `ReleaseVersion` accepts (the app.kubernetes.io/version limit).
    let version = format!("1.0.0-{}", "a".repeat(57));
    assert!(kube9_release::version::ReleaseVersion::parse(&version).is_ok());
    let digest = format!("sha256:{}", "0".repeat(64));
    let data = kube9_release::chart::ChartData::release(
        &version,
        true,
        ("ghcr.io/alto9/kube9-operator", &version, &digest),
        &["linux/amd64".into(), "linux/arm64".into()],
        None,
    )
    .unwrap();
    let dest = temp_dir("long-version");
    let staged = kube9_release::chart::stage(&chart(), &dest, &data).unwrap();
    let out = run(helm().args(["template", "kube9"]).arg(&staged));
    assert!(out.status.success(), "{}", text(&out));
    let manifests = String::from_utf8(out.stdout).unwrap();
    for doc in documents(&manifests) {
        for (key, value) in doc["metadata"]["labels"].as_object().unwrap() {
            let value = value.as_str().unwrap();
            assert!(value.len() <= 63, "{key}: {value}");
            assert!(
                !value.ends_with('-') && !value.ends_with('.'),
                "{key}: {value}"
            );
        }
    }
}
