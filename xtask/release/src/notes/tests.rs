use super::*;

fn page() -> ReleasePage {
    ReleasePage {
        withdrawn: None,
        version: "1.2.3".into(),
        image: "ghcr.io/alto9/kube9-operator".into(),
        index: "sha256:aaa".into(),
        platforms: vec![
            ("linux/amd64".into(), "sha256:bbb".into()),
            ("linux/arm64".into(), "sha256:ccc".into()),
        ],
        chart: "oci://ghcr.io/alto9/charts/kube9-operator".into(),
        chart_digest: "sha256:ddd".into(),
        install:
            "helm install kube9-operator oci://ghcr.io/alto9/charts/kube9-operator --version 1.2.3"
                .into(),
        verify: vec!["cosign verify x".into(), "gh attestation verify y".into()],
        scan_command: "trivy image --vex oci --show-suppressed ghcr.io/alto9/kube9-operator:1.2.3"
            .into(),
        scan: Some(ScanRecord {
            gate: "CRITICAL".into(),
            passed: true,
            platforms: serde_json::json!([{
                "platform": "linux/amd64", "os_packages": 3, "rust_packages": 180,
                "counts": {"HIGH": 1},
                "suppressed": [{"finding": {"id": "CVE-2099-0003"}, "status": "not_affected",
                                "justification": "vulnerable_code_not_in_execute_path"}]
            }]),
        }),
        changes: Some("### Fixed\n\n- A status endpoint\n".into()),
        verifiers: vec![crate::verifiers::VerifierResult {
            verifier: "cosign".into(),
            version: "v3.1.3".into(),
            checks: 7,
            failed: 0,
            warned: 0,
            skipped: 0,
        }],
        timeline: Timeline {
            published: Some("2026-01-01T00:00:00Z".into()),
            image_served: Some("2026-01-01T00:00:12Z".into()),
            chart_served: Some("2026-01-01T00:00:40Z".into()),
            verified: Some("2026-01-01T00:01:35Z".into()),
        },
        skipped: Vec::new(),
    }
}

#[test]
fn the_section_names_digests_commands_scan_and_timings() {
    let text = render(&page()).unwrap();
    assert!(text.starts_with(BEGIN) && text.ends_with(END), "{text}");
    for needle in [
        "`ghcr.io/alto9/kube9-operator:1.2.3@sha256:aaa`",
        "| linux/arm64 | `sha256:ccc` |",
        "`oci://ghcr.io/alto9/charts/kube9-operator` version 1.2.3 (`sha256:ddd`)",
        "helm install kube9-operator oci://ghcr.io/alto9/charts/kube9-operator --version 1.2.3\n",
        "cosign verify x\ngh attestation verify y\n",
        "trivy image --vex oci --show-suppressed",
        "| linux/amd64 | 3 | 180 | HIGH 1 | CVE-2099-0003 (not_affected: vulnerable_code_not_in_execute_path) |",
        "verified 95 s",
        "| cosign | v3.1.3 | 7 | ok |",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
}

#[test]
fn the_section_starts_with_this_versions_changes_when_the_changelog_has_them() {
    let text = render(&page()).unwrap();
    assert!(
        text.contains("## Changes in 1.2.3\n\n### Fixed\n\n- A status endpoint\n"),
        "{text}"
    );
    let without = render(&ReleasePage {
        changes: None,
        ..page()
    })
    .unwrap();
    assert!(!without.contains("## Changes"), "{without}");
    assert!(without.contains("## Install and verify 1.2.3"), "{without}");
}

#[test]
fn without_the_scan_the_section_says_so() {
    let text = render(&ReleasePage {
        scan: None,
        ..page()
    })
    .unwrap();
    assert!(text.contains("Not known to this job"), "{text}");
}

#[test]
fn a_rerun_replaces_its_section_and_keeps_the_maintainers_text() {
    let first = replace_section("Highlights of this release.\n", "SECTION-1");
    assert_eq!(first, "Highlights of this release.\n\nSECTION-1");
    let section = render(&page()).unwrap();
    let body = replace_section("Highlights.", &section);
    let again = replace_section(&format!("{body}\n\nA later note."), &section);
    assert_eq!(again.matches(BEGIN).count(), 1, "{again}");
    assert!(again.starts_with("Highlights.\n\n"));
    assert!(again.ends_with("A later note."), "{again}");
    assert_eq!(replace_section("", "S"), "S");
}

#[test]
fn skipped_checks_are_named_on_the_page() {
    let text = render(&page()).unwrap();
    assert!(!text.contains("Not checked"), "{text}");
    let text = render(&ReleasePage {
        skipped: vec!["each platform pulled by tag and run: SKIPPED (x)".into()],
        ..page()
    })
    .unwrap();
    assert!(
        text.contains(
            "## Install and verify 1.2.3\n\n**Not checked by this release's verification:**\n\n\
             - each platform pulled by tag and run: SKIPPED (x)\n"
        ),
        "{text}"
    );
}

#[test]
fn a_withdrawn_release_has_a_banner_at_the_top_of_its_section() {
    let text = render(&ReleasePage {
        withdrawn: Some("withdrawn: leaks a debug flag; use 1.2.4".into()),
        ..page()
    })
    .unwrap();
    let body = text.strip_prefix(BEGIN).unwrap().trim_start();
    assert!(
        body.starts_with("> [!CAUTION]\n> **This release is withdrawn.** withdrawn: leaks a debug flag; use 1.2.4."),
        "{text}"
    );
    assert!(!render(&page()).unwrap().contains("withdrawn"));
}
