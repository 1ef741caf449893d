//! Trivy for real, with the fixture database served by the local registry as a mirror would,
//! and its report judged by the release's own gate.

mod support;

use kube9_release::scan::{self, Severity, Verdict};
use support::*;

/// Scans a fixture root file system and judges the report at CRITICAL.
fn scan_and_judge(rootfs: &str) -> Verdict {
    let env = env();
    let layout = temp_dir("trivy-layout");
    layout_from_rootfs(
        &fixtures().join("trivy-db").join(rootfs),
        &[("linux", "amd64")],
        &layout,
    );
    // A cache of its own: the database must come from the registry, not from an earlier test.
    let cache = temp_dir("trivy-cache");
    let report = temp_dir("trivy-report").join("report.json");
    ok(trivy()
        .args(["image", "--input"])
        .arg(&layout)
        .args(["--db-repository", &env.trivy_db_repository, "--cache-dir"])
        .arg(&cache)
        .args(["--scanners", "vuln", "--list-all-pkgs", "--format", "json"])
        .arg("--output")
        .arg(&report)
        .arg("--skip-java-db-update"));
    let report = scan::read_report(&report).unwrap();
    scan::judge("linux/amd64", &report, Severity::Critical, false)
}

#[test]
fn critical_fixture_fails_the_gate() {
    let verdict = scan_and_judge("rootfs-critical");
    assert!(!verdict.passed());
    let ids: Vec<&str> = verdict.blocking.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["CVE-2099-0001"]);
    assert_eq!(
        verdict.counts["HIGH"], 1,
        "the HIGH finding is reported, not gated"
    );
    assert_eq!(verdict.os_packages, 2);
}

#[test]
fn high_only_fixture_passes_the_gate() {
    let verdict = scan_and_judge("rootfs-high");
    assert!(verdict.passed(), "{verdict:?}");
    assert_eq!(verdict.counts["HIGH"], 1);
    assert_eq!(verdict.rust_packages, 0);
}
