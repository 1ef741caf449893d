//! Trivy for real, with the fixture database served by the local registry as a mirror would.

mod support;

use support::*;

fn scan_gate(rootfs: &str) -> std::process::Output {
    let env = env();
    let layout = temp_dir("trivy-layout");
    layout_from_rootfs(
        &fixtures().join("trivy-db").join(rootfs),
        &[("linux", "amd64")],
        &layout,
    );
    // A cache of its own: the database must come from the registry, not from an earlier test.
    let cache = temp_dir("trivy-cache");
    run(trivy()
        .args(["image", "--input"])
        .arg(&layout)
        .args(["--db-repository", &env.trivy_db_repository, "--cache-dir"])
        .arg(&cache)
        .args([
            "--scanners",
            "vuln",
            "--severity",
            "CRITICAL",
            "--exit-code",
            "1",
            "--skip-java-db-update",
        ]))
}

#[test]
fn critical_fixture_fails_the_gate() {
    let out = scan_gate("rootfs-critical");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("CVE-2099-0001"));
}

#[test]
fn high_only_fixture_passes_the_gate() {
    let out = scan_gate("rootfs-high");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("CVE-2099-0001"));
}
