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
