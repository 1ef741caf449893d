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
    let version = xtask::release::workspace::operator_version();
    let manifests = rendered(&[]);
    assert_eq!(
        xtask::release::chart::rendered_images(&manifests),
        [format!("ghcr.io/alto9/kube9-operator:{version}")]
    );
    assert!(manifests.contains("imagePullPolicy: IfNotPresent"));
}

#[test]
fn a_digest_pins_the_image() {
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let manifests = rendered(&["image.tag=1.2.3", &format!("image.digest={digest}")]);
    assert_eq!(
        xtask::release::chart::rendered_images(&manifests),
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
        "kind: ClusterRole",
        "kind: ClusterRoleBinding",
        "kind: Role\n",
        "kind: RoleBinding",
        "kind: Service\n",
        "memory: 64Mi",
    ] {
        assert!(manifests.contains(expected), "missing {expected:?}");
    }
    // The cluster-wide role only reads.
    let cluster_role = manifests
        .split("---")
        .find(|d| d.contains("kind: ClusterRole\n"))
        .unwrap();
    for verb in ["create", "update", "patch", "delete"] {
        assert!(!cluster_role.contains(verb), "ClusterRole grants {verb}");
    }
}
