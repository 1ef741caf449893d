//! The project's real Dockerfile, released end to end with the whole command: both platforms
//! build (arm64 cross-compiled), each binary reports the version and commit it was given (arm64
//! run through QEMU), the image is small and locked down, and the chart deploys its digest.

mod support;

use support::*;

#[test]
fn the_operator_is_released_for_both_platforms_and_reports_its_build() {
    let env = env();
    let root = project_root();
    let repo = env.repository("kube9-operator");
    let charts = format!("oci://{}/{}", env.registry, unique("charts"));
    let out_dir = temp_dir("operator-release");
    // The version the workflow simulation releases too: the same commit and version build
    // the same layers, so whichever runs second finds them in the builder's cache.
    let version = "1.2.3";
    let mut cmd = xtask();
    cmd.args([
        "release",
        "--version",
        &format!("v{version}"),
        "--repository",
        &repo,
        "--chart-repository",
        &charts,
    ])
    .args(trivy_args(&env, &out_dir))
    .arg("--out-dir")
    .arg(&out_dir)
    // The checkout may carry uncommitted work while developing (the commit is what is built);
    // CI's clone is clean.
    .arg("--allow-dirty")
    // The project's changelog has no section for this test version.
    .arg("--skip-changelog");
    outside_actions(&mut cmd);
    signing(&mut cmd, &env);
    for context in &env.build_contexts {
        cmd.args(["--build-context", context]);
    }
    let commit = ok(std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "HEAD"]));
    let log = ok(&mut cmd);
    let record: kube9_release::record::ImageRecord =
        serde_json::from_slice(&std::fs::read(out_dir.join("image.json")).unwrap()).unwrap();
    assert_eq!(record.commit, commit.trim());
    for platform in ["linux/amd64", "linux/arm64"] {
        assert_runs_small_and_locked_down(&repo, &record, platform, version, commit.trim());
    }
    let chart: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("chart.json")).unwrap()).unwrap();
    assert_eq!(
        chart["image"],
        format!("{repo}:{version}@{}", record.digest)
    );
    assert!(log.contains("helm install kube9-operator"), "{log}");
    assert_the_scan_saw_the_locked_crates(&root, &out_dir);
}

/// The binary reports its build, the image is small, has no shell and does not run as root.
fn assert_runs_small_and_locked_down(
    repo: &str,
    record: &kube9_release::record::ImageRecord,
    platform: &str,
    version: &str,
    commit: &str,
) {
    let reference = format!("{repo}@{}", record.digest);
    let printed = ok(docker().args([
        "run",
        "--rm",
        "--pull",
        "always",
        "--platform",
        platform,
        &reference,
        "--version",
    ]));
    assert_eq!(
        printed.trim(),
        format!("kube9-operator {version} (commit {commit}, {platform})"),
        "the {platform} image runs its own {platform} binary"
    );
    let size = record
        .platforms
        .iter()
        .find(|p| p.platform == platform)
        .unwrap()
        .compressed_bytes;
    eprintln!("{platform}: {:.2} MB compressed", size as f64 / 1e6);
    assert!(size < 200_000_000, "{platform} is over the 200 MB limit");
    assert!(size < 20_000_000, "{platform} is over the 20 MB target");
    // No shell, and not root.
    let shell = run(docker().args([
        "run",
        "--rm",
        "--platform",
        platform,
        "--entrypoint",
        "/bin/sh",
        &reference,
        "-c",
        "true",
    ]));
    assert!(!shell.status.success(), "the image has no shell");
    let user = ok(docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Config.User}}",
        &reference,
    ]));
    assert_eq!(user.trim(), "65532:65532");
    let _ = run(docker().args(["image", "rm", &reference]));
}

fn assert_the_scan_saw_the_locked_crates(root: &std::path::Path, out_dir: &std::path::Path) {
    // The scan saw the code: the crates the binary carries, at the versions Cargo.lock pins.
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    for platform in ["linux-amd64", "linux-arm64"] {
        let report =
            kube9_release::scan::read_report(&out_dir.join(format!("scan/trivy-{platform}.json")))
                .unwrap();
        let crates: Vec<(String, String)> = report
            .results
            .iter()
            .filter(|r| r.kind == "rustbinary")
            .flat_map(|r| {
                r.packages
                    .iter()
                    .map(|p| (p.name.clone(), p.version.clone()))
            })
            .collect();
        assert!(crates.len() > 100, "{platform}: {} crates", crates.len());
        for name in ["kube-client", "tokio", "rustls", "axum"] {
            let locked = locked_version(&lock, name);
            assert!(
                crates.contains(&(name.to_string(), locked.clone())),
                "{platform} lacks {name} {locked}"
            );
        }
    }
}

/// The version Cargo.lock pins for a crate (the first entry of that name).
fn locked_version(lock: &str, name: &str) -> String {
    let entry = lock
        .split("[[package]]")
        .find(|p| p.contains(&format!("\nname = \"{name}\"\n")))
        .unwrap_or_else(|| panic!("{name} is not in Cargo.lock"));
    entry
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap()
        .to_string()
}
