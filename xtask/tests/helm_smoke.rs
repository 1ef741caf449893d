//! helm pushes a chart to the local registry and pulls the same bytes back.

mod support;

use support::*;

#[test]
fn helm_pushes_and_pulls_a_chart() {
    let env = env();
    let work = temp_dir("helm-smoke");
    ok(helm()
        .arg("package")
        .arg(project_root().join("charts/kube9-operator"))
        .arg("--destination")
        .arg(&work));
    let package = work.join(format!(
        "kube9-operator-{}.tgz",
        kube9_release::workspace::operator_version()
    ));
    let charts = format!("oci://{}/{}", env.registry, unique("charts"));
    let pushed = ok(helm()
        .arg("push")
        .arg(&package)
        .arg(&charts)
        .arg("--plain-http"));
    let _ = pushed;
    let back = work.join("back");
    std::fs::create_dir_all(&back).unwrap();
    ok(helm()
        .args([
            "pull",
            &format!("{charts}/kube9-operator"),
            "--version",
            kube9_release::workspace::operator_version(),
            "--plain-http",
            "--destination",
        ])
        .arg(&back));
    let pulled = back.join(package.file_name().unwrap());
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(&package).unwrap()
    );
}

/// A chart staged and packaged as the release's steps do (`chart::stage`, then `helm package`
/// and the archive dated at the commit's time), pushed with Helm 4; returns the chart digest
/// (the manifest's: what `chart.json` records and cosign signs) and the manifest.
fn pushed_chart(registry: &impl std::fmt::Display, commit_time: i64) -> (String, String) {
    let digest = format!("sha256:{}", "0".repeat(64));
    let data = chart_data_1_2_3(&digest);
    let dest = temp_dir("chart-digest");
    let staged = kube9_release::chart::stage(
        &project_root().join("charts/kube9-operator"),
        &dest,
        &data,
        commit_time,
    )
    .unwrap();
    ok(helm()
        .arg("package")
        .arg(&staged)
        .arg("--destination")
        .arg(&dest));
    let archive = dest.join("kube9-operator-1.2.3.tgz");
    kube9_release::chart::set_times(&archive, commit_time).unwrap();
    let charts = format!("{registry}/{}", unique("charts"));
    let out = run(helm()
        .arg("push")
        .arg(&archive)
        .arg(format!("oci://{charts}"))
        .arg("--plain-http"));
    assert!(out.status.success(), "{}", text(&out));
    let digest = text(&out)
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("helm push printed no digest: {}", text(&out)))
        .trim()
        .to_string();
    let manifest = ok(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{charts}/kube9-operator@{digest}")));
    (digest, manifest)
}

#[test]
fn two_packagings_of_one_commit_push_one_chart_digest() {
    let env = env();
    let commit_time = 1_767_225_600; // 2026-01-01T00:00:00Z
    let (first, manifest) = pushed_chart(&env.registry, commit_time);
    // Files copied a second later, and a push a second later, change nothing.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (second, _) = pushed_chart(&env.registry, commit_time);
    eprintln!("chart digest: {first} and {second}");
    assert!(first.starts_with("sha256:"), "{first}");
    assert_eq!(first, second);
    // helm push names the archive's time as the chart's creation: the commit's.
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.created"], "2026-01-01T00:00:00Z",
        "{manifest}"
    );
}
