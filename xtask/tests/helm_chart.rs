//! The chart, checked with the real `helm lint`, `helm template`, `helm show` and
//! `helm package`: with Helm 4 (`helm`, what the release runs) and with Helm 3.19 (`helm3`,
//! the newest Helm 3 to be had here), since admins install with both.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn chart() -> PathBuf {
    project_root().join("charts/kube9-operator")
}

/// A helm command: `helm` (Helm 4) or `helm3`.
type Helm = fn() -> Command;

/// Each helm the chart is tested with, by name.
fn helms() -> [(&'static str, Helm); 2] {
    [("helm 4", helm), ("helm 3", helm3)]
}

fn template_with(helm: Helm, set: &[&str]) -> std::process::Output {
    let mut cmd = helm();
    cmd.args(["template", "kube9"])
        .arg(chart())
        .args(["--namespace", "kube9-system"]);
    for s in set {
        cmd.args(["--set", s]);
    }
    run(&mut cmd)
}

fn rendered_with(helm: Helm, set: &[&str]) -> String {
    let out = template_with(helm, set);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn rendered(set: &[&str]) -> String {
    rendered_with(helm, set)
}

#[test]
fn the_helms_are_the_pinned_versions() {
    let version = |helm: Helm| ok(helm().args(["version", "--short"]));
    assert!(version(helm).starts_with("v4.1.4+"), "{}", version(helm));
    assert!(version(helm3).starts_with("v3.19.0+"), "{}", version(helm3));
}

#[test]
fn lint_passes_strictly() {
    for (name, helm) in helms() {
        let out = run(helm().args(["lint", "--strict"]).arg(chart()));
        assert!(out.status.success(), "{name}: {}", text(&out));
    }
}

#[test]
fn helm_4_and_helm_3_render_the_same_manifests() {
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    for set in [
        vec![],
        vec![
            "image.tag=1.2.3".to_string(),
            format!("image.digest={digest}"),
        ],
        vec![
            "rbac.create=false".to_string(),
            "nameOverride=k9".to_string(),
        ],
    ] {
        let set: Vec<&str> = set.iter().map(String::as_str).collect();
        let four = rendered_with(helm, &set);
        assert!(four.contains("kind: Deployment"), "{four}");
        assert_eq!(four, rendered_with(helm3, &set), "--set {set:?}");
    }
}

#[test]
fn helm_show_gives_the_charts_own_files() {
    let values = std::fs::read_to_string(chart().join("values.yaml")).unwrap();
    let chart_yaml: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart().join("Chart.yaml")).unwrap())
            .unwrap();
    for (name, helm) in helms() {
        let shown = ok(helm().args(["show", "values"]).arg(chart()));
        assert_eq!(shown.trim_end(), values.trim_end(), "{name}");
        let shown: serde_json::Value =
            serde_saphyr::from_str(&ok(helm().args(["show", "chart"]).arg(chart()))).unwrap();
        for key in ["apiVersion", "name", "version", "appVersion", "annotations"] {
            assert_eq!(shown[key], chart_yaml[key], "{name}: {key}");
        }
    }
}

/// The documents of a rendering, parsed.
fn documents(manifests: &str) -> Vec<serde_json::Value> {
    manifests
        .split("\n---")
        .filter(|d| d.contains("kind:"))
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect()
}

/// `helm uninstall` deletes what the release rendered; the status ConfigMap is among it, so it
/// goes with the release (there is no cluster here: what helm deletes is what it renders and
/// records, and the operator may not create the ConfigMap again, see the Role below).
#[test]
fn the_status_configmap_belongs_to_the_release_in_both_helms() {
    for (name, helm) in helms() {
        for set in [vec![], vec!["rbac.create=false"]] {
            let docs = documents(&rendered_with(helm, &set));
            let maps: Vec<_> = docs.iter().filter(|d| d["kind"] == "ConfigMap").collect();
            assert_eq!(maps.len(), 1, "{name} {set:?}: {docs:?}");
            let map = maps[0];
            assert_eq!(
                map["metadata"]["name"],
                kube9_operator::status::CONFIGMAP_NAME,
                "{name}"
            );
            assert_eq!(map["metadata"]["namespace"], "kube9-system", "{name}");
            assert_eq!(
                map["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm",
                "{name}"
            );
            // The operator owns the `status` key: a chart that set data would overwrite it on
            // every upgrade.
            assert!(map.get("data").is_none_or(|d| d.is_null()), "{name}: {map}");
        }
    }
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
        for (name, helm) in helms() {
            let out = template_with(helm, &[bad]);
            assert!(!out.status.success(), "{name}: {bad} was accepted");
            assert!(
                text(&out).contains("values don't meet the specifications of the schema"),
                "{name}: {bad}: {}",
                text(&out)
            );
        }
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

#[test]
fn the_role_allows_only_what_the_operator_does() {
    let docs = documents(&rendered(&[]));
    let role = docs.iter().find(|d| d["kind"] == "Role").unwrap();
    assert_eq!(role["metadata"]["namespace"], "kube9-system");
    assert_eq!(
        role["rules"],
        // No `create`: the chart creates the ConfigMap, so a deleted one is not re-created
        // without an owner after `helm uninstall`.
        serde_json::json!([
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
    let staged = kube9_release::chart::stage(&chart(), &dest, &data, 1_700_000_000).unwrap();
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

/// Stages the chart as a release does and packages it with Helm 4; returns the archive.
fn package_staged(epoch: i64) -> PathBuf {
    let digest = format!("sha256:{}", "0".repeat(64));
    let data = chart_data_1_2_3(&digest);
    let dest = temp_dir("reproducible-chart");
    let staged = kube9_release::chart::stage(&chart(), &dest, &data, epoch).unwrap();
    ok(helm()
        .arg("package")
        .arg(&staged)
        .arg("--destination")
        .arg(&dest));
    dest.join("kube9-operator-1.2.3.tgz")
}

/// Each entry's path and modification time in a chart archive.
fn entry_times(archive: &Path) -> Vec<(String, u64)> {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().display().to_string(),
                e.header().mtime().unwrap(),
            )
        })
        .collect()
}

#[test]
fn two_packagings_of_one_commit_give_one_chart_archive() {
    let commit_time = 1_767_225_600; // 2026-01-01T00:00:00Z
    let first = package_staged(commit_time);
    // Copies made a second later carry a later time unless staging sets the commit's.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = package_staged(commit_time);
    let times = entry_times(&first);
    assert!(
        times.iter().any(|(p, _)| p == "kube9-operator/Chart.yaml"),
        "{times:?}"
    );
    for (path, time) in &times {
        assert_eq!(*time, commit_time as u64, "{path}");
    }
    assert_eq!(
        kube9_release::layout::sha256(&std::fs::read(&first).unwrap()),
        kube9_release::layout::sha256(&std::fs::read(&second).unwrap()),
        "two packagings of one commit differ"
    );
    // Another commit (another time) is another archive: the times are what decides.
    let other = package_staged(commit_time + 1);
    assert_ne!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&other).unwrap()
    );
}
