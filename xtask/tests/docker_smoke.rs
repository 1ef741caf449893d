//! The Docker engine builds a two-platform OCI index with buildx, and containerd's `ctr` pulls
//! only the arm64 variant of it, the way a kubelet's runtime on an arm64 node does.

mod support;

use support::*;

#[test]
fn buildx_builds_two_platforms_and_ctr_pulls_only_arm64() {
    let env = env();
    let context = temp_dir("smoke-ctx");
    std::fs::write(context.join("amd64.txt"), "amd64\n").unwrap();
    std::fs::write(context.join("arm64.txt"), "arm64\n").unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}.txt /arch.txt\n",
    )
    .unwrap();
    let repo = env.repository("smoke");
    ok(docker()
        .args([
            "buildx",
            "build",
            "--platform",
            "linux/amd64,linux/arm64",
            "--provenance=false",
        ])
        .args([
            "--output",
            &format!("type=image,name={repo}:v1,push=true,oci-mediatypes=true"),
        ])
        .arg(&context));
    let raw = ok(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{repo}:v1")));
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let digest_of = |arch: &str| {
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .unwrap_or_else(|| panic!("no {arch} in {raw}"))["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (amd64, arm64) = (digest_of("amd64"), digest_of("arm64"));

    let content = ctr_pull_arm64(&format!("{repo}:v1"));
    assert!(
        content.contains(&arm64),
        "the arm64 manifest was fetched: {content}"
    );
    assert!(
        !content.contains(&amd64),
        "the amd64 manifest was not fetched: {content}"
    );
}

#[test]
fn doctor_finds_the_installed_tools_and_the_environments_engine() {
    // As a maintainer's shell right after `cargo xtask release --local`: neither the tools'
    // directory on PATH nor the environment's engine in DOCKER_HOST.
    let out = run(xtask()
        .arg("doctor")
        .env_remove("DOCKER_HOST")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin"));
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    for tool in [
        "docker",
        "docker buildx",
        "trivy",
        "helm",
        "cosign",
        "validators",
        "sarif-multitool",
        "act",
    ] {
        let line = report
            .lines()
            .find(|l| l.starts_with(&format!("{tool:<14} ")))
            .unwrap_or_else(|| panic!("no line for {tool}: {report}"));
        assert!(line.contains(" ok "), "{line}");
    }
    assert!(report.contains("A release can run here."), "{report}");
}
