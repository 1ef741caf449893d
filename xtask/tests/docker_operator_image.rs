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
    let version = xtask::workspace::operator_version();
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
    .args([
        "--trivy-db-repository",
        &env.trivy_db_repository,
        "--trivy-cache-dir",
    ])
    .arg(out_dir.join("trivy-cache"))
    .arg("--out-dir")
    .arg(&out_dir)
    // The checkout may carry uncommitted work while developing; CI's clone is clean.
    .arg("--allow-dirty")
    .env_remove("GITHUB_ACTIONS");
    for arg in &env.build_args {
        cmd.args(["--build-arg", arg]);
    }
    let commit = ok(std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "HEAD"]));
    let log = ok(&mut cmd);
    let record: xtask::record::ImageRecord =
        serde_json::from_slice(&std::fs::read(out_dir.join("image.json")).unwrap()).unwrap();
    assert_eq!(record.commit, commit.trim());

    for platform in ["linux/amd64", "linux/arm64"] {
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
            format!("kube9-operator {version} (commit {})", commit.trim()),
            "{platform}"
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
    let chart: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("chart.json")).unwrap()).unwrap();
    assert_eq!(
        chart["image"],
        format!("{repo}:{version}@{}", record.digest)
    );
    assert!(log.contains("helm install kube9-operator"), "{log}");
}
