//! The command line without any tool or network: `--dry-run` plans and input validation.

mod support;

use support::*;

fn dry_run(args: &[&str]) -> std::process::Output {
    let source = git_repo(
        "dry-run",
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("charts/kube9-operator/.keep", ""),
        ],
    );
    // No docker, no helm, no trivy, no registry: PATH holds git only, DOCKER_HOST leads nowhere.
    let git_dir = std::path::Path::new(
        &String::from_utf8(
            std::process::Command::new("sh")
                .args(["-c", "command -v git"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim(),
    )
    .parent()
    .unwrap()
    .to_path_buf();
    let empty = temp_dir("empty-path");
    std::os::unix::fs::symlink(git_dir.join("git"), empty.join("git")).unwrap();
    run(xtask()
        .args(args)
        .arg("--source")
        .arg(&source)
        .env("PATH", &empty)
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .env_remove("GITHUB_ACTIONS"))
}

#[test]
fn dry_run_prints_the_whole_plan_without_any_tool() {
    let out = dry_run(&["release", "--dry-run", "--version", "v1.2.3"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = text(&out);
    for expected in [
        "tags     v1.2.3 1.2.3 1.2 1 latest",
        "the registry was not asked: floating tags assume no higher release exists",
        "docker buildx build --file",
        "--platform linux/amd64,linux/arm64",
        "--annotation index:org.opencontainers.image.version=1.2.3",
        "rewrite-timestamp=true",
        "trivy image --input",
        "gate: no finding of severity CRITICAL or above",
        "tags in order: v1.2.3, 1.2.3, 1.2, 1, latest",
        "helm lint --strict",
        "helm push",
        "oci://ghcr.io/alto9/charts",
        "image must be ghcr.io/alto9/kube9-operator:1.2.3@<published digest>",
    ] {
        assert!(plan.contains(expected), "missing {expected:?} in:\n{plan}");
    }
}

#[test]
fn dry_run_of_a_prerelease_takes_no_floating_tag() {
    let out = dry_run(&["release-image", "--dry-run", "--version", "v1.0.0-beta.1"]);
    assert!(
        text(&out).contains("tags     v1.0.0-beta.1 1.0.0-beta.1\n"),
        "{}",
        text(&out)
    );
}

#[test]
fn invalid_versions_are_refused_with_a_hint() {
    for bad in ["v1.2", "1.2.3.4", "latest", "01.2.3", "v1.2.3+build"] {
        let out = dry_run(&["release-image", "--dry-run", "--version", bad]);
        assert!(!out.status.success(), "{bad}");
        assert!(text(&out).contains("v1.2.3"), "{bad}: {}", text(&out));
    }
}

#[test]
fn the_version_comes_from_the_release_tag_in_actions() {
    let source = git_repo("actions", &[("Dockerfile", "FROM scratch\n")]);
    let out = run(xtask()
        .args(["release-image", "--dry-run", "--source"])
        .arg(&source)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF_NAME", "v4.5.6"));
    assert!(
        text(&out).contains("Release v4.5.6 of ghcr.io/alto9/kube9-operator"),
        "{}",
        text(&out)
    );
}
