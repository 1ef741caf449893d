//! Trivy's own output in the Actions log: an advisory title is the advisory database's text,
//! not ours, and one that reads `::error::...` must be printed, not obeyed. The findings table
//! (the step that lists them in the log) runs fenced by `::stop-commands::`.

mod support;

use kube9_release::scan::{ReportFormat, ScanPlan};
use support::*;

/// A report as `trivy image --format json` writes it, with one finding whose title is a
/// workflow command, on a line of its own too.
const REPORT: &str = r#"{"SchemaVersion":2,"ArtifactName":"ghcr.io/alto9/kube9-operator:v1.2.3","ArtifactType":"container_image","Results":[{"Target":"kube9 (debian 12.0)","Class":"os-pkgs","Type":"debian","Vulnerabilities":[{"VulnerabilityID":"CVE-2099-0001","PkgName":"libfixture","InstalledVersion":"1.0","FixedVersion":"1.1","Severity":"HIGH","Status":"fixed","Title":"::error::the release is broken\n::add-mask::x"}]}]}"#;

#[test]
fn an_advisory_title_holding_a_workflow_command_is_printed_inside_the_fence() {
    let dir = temp_dir("stop-commands");
    let json = dir.join("trivy-linux-amd64.json");
    std::fs::write(&json, REPORT).unwrap();
    let plan = ScanPlan {
        platform: "linux/amd64".into(),
        layout: dir.join("layout"),
        json,
        sarif: dir.join("trivy-linux-amd64.sarif"),
        sbom: dir.join("sbom-linux-amd64.cdx.json"),
        cache_dir: dir.join("cache"),
        image: kube9_release::scan::ScannedImage {
            repository: kube9_release::registry::Repository::parse("ghcr.io/alto9/kube9-operator")
                .unwrap(),
            version: "1.2.3".into(),
        },
        vex: None,
    };
    let token = kube9_release::github::stop_token().unwrap();
    assert_eq!(token.len(), 32);
    let mut out = Vec::new();
    let status = plan
        .convert(ReportFormat::Table)
        .run_fenced(&mut out, &token)
        .unwrap();
    assert!(status.success());
    let log = String::from_utf8(out).unwrap();
    eprintln!("{log}");
    let lines: Vec<&str> = log.lines().collect();
    let stop = lines
        .iter()
        .position(|l| *l == format!("::stop-commands::{token}"))
        .expect("stop-commands first");
    let resume = lines
        .iter()
        .position(|l| *l == format!("::{token}::"))
        .expect("resumed at the end");
    let title = lines
        .iter()
        .position(|l| l.contains("::error::the release is broken"))
        .expect("trivy printed the title");
    assert_eq!(stop, 0, "{log}");
    assert_eq!(resume, lines.len() - 1, "{log}");
    assert!(stop < title && title < resume, "{log}");
}
