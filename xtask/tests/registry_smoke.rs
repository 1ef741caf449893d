//! The registries and skopeo, used for real: an index goes in and comes back unchanged, and the
//! authenticated registry refuses a login without the right password.

mod support;

use std::io::Write;
use std::process::Stdio;

use support::*;

#[test]
fn skopeo_pushes_and_pulls_a_two_platform_index() {
    let env = env();
    let layout = temp_dir("layout");
    let digest = layout_from_rootfs(
        &fixtures().join("trivy-db/rootfs-high"),
        &[("linux", "amd64"), ("linux", "arm64")],
        &layout,
    );
    let repo = env.repository("skopeo");
    ok(skopeo()
        .args(["copy", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}", layout.display()))
        .arg(format!("docker://{repo}:v1")));
    let raw = ok(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{repo}:v1")));
    assert_eq!(
        kube9_release::layout::sha256(raw.as_bytes()),
        digest,
        "the registry serves the index byte for byte"
    );
    let arm = ok(skopeo()
        .args(["--override-arch", "arm64", "inspect", "--tls-verify=false"])
        .arg(format!("docker://{repo}:v1")));
    assert!(arm.contains("\"Architecture\": \"arm64\""), "{arm}");
    let back = temp_dir("pulled");
    ok(skopeo()
        .args(["copy", "--all", "--src-tls-verify=false"])
        .arg(format!("docker://{repo}@{digest}"))
        .arg(format!("oci:{}", back.display())));
    let pulled = kube9_release::layout::Image::open(&back).unwrap();
    assert_eq!(pulled.index.digest, digest);
    assert_eq!(pulled.platform_names(), ["linux/amd64", "linux/arm64"]);
}

fn login(registry: &str, user: &str, password: &str) -> std::process::Output {
    let auth = temp_dir("auth").join("auth.json");
    let mut child = skopeo()
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(&auth)
        .args(["--username", user, "--password-stdin", registry])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn authenticated_registry_needs_the_right_password() {
    let env = env();
    let wrong = login(
        &env.auth_registry.address(),
        &env.auth_user,
        "not-the-password",
    );
    assert!(!wrong.status.success(), "a wrong password must be refused");
    assert!(
        text(&wrong).contains("invalid username/password"),
        "{}",
        text(&wrong)
    );
    let right = login(
        &env.auth_registry.address(),
        &env.auth_user,
        &env.auth_password(),
    );
    assert!(right.status.success(), "{}", text(&right));
    // And an anonymous request is refused outright.
    assert_eq!(
        kube9_devenv::localenv::http_status(&env.auth_registry.address(), "/v2/"),
        Some(401)
    );
    assert_eq!(
        kube9_devenv::localenv::http_status(&env.registry.address(), "/v2/"),
        Some(200)
    );
}
