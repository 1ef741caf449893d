//! The project's OpenVEX statements (`security/vex.json`) with the cargo fixture database:
//! CVE-2099-0003 in the fixture app's crate blocks a release; a `not_affected` statement for
//! that crate lets it through, listed as suppressed (with why) in the log, the table, the SARIF
//! file and image.json; the release attests the statement on its index, `verify-release`
//! checks it, and an admin's own `trivy image --vex oci` applies it from the registry. A
//! statement about another product or another vulnerability suppresses nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use kube9_devenv::workflow_sim::grants::Access;
use kube9_devenv::workflow_sim::GithubStandin;
use support::*;

const CRATE: &str = "pkg:cargo/kube9-fixture-vulnerable@1.0.0";

/// An OpenVEX document of `statements`.
fn vex(statements: serde_json::Value) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://github.com/alto9/kube9-operator/blob/main/security/vex.json",
        "author": "kube9 maintainers",
        "timestamp": "2026-11-30T00:00:00Z",
        "version": 1,
        "statements": statements,
    }))
    .unwrap()
}

/// The image (as the project names it) with the crate as its subcomponent.
fn image_product(digest: Option<&str>) -> serde_json::Value {
    let at = digest.map(|d| format!("@{d}")).unwrap_or_default();
    serde_json::json!({
        "@id": format!("pkg:oci/kube9-operator{at}?repository_url=ghcr.io/alto9/kube9-operator"),
        "subcomponents": [{"@id": CRATE}],
    })
}

fn not_affected(vulnerability: &str, product: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "vulnerability": {"name": vulnerability},
        "products": [product],
        "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path",
        "impact_statement": "the fixture never calls the vulnerable function",
    })
}

/// The fixture app (its crate has CVE-2099-0003), the project's chart, and `vex_json`.
fn source_with(vex_json: &str) -> std::path::PathBuf {
    let source = fixture_app_repo();
    std::fs::create_dir_all(source.join("charts")).unwrap();
    copy_tree(
        &project_root().join("charts/kube9-operator"),
        &source.join("charts/kube9-operator"),
    );
    std::fs::create_dir_all(source.join("security")).unwrap();
    std::fs::write(source.join("security/vex.json"), vex_json).unwrap();
    commit_all(&source, "VEX statements");
    source
}

fn succeeded(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    text(out)
}

/// `trivy image` of a published tag, as an admin runs it, with the fixture database the
/// release fetched into `source`.
fn admin_scan(source: &Path, reference: &str, vex_oci: bool) -> serde_json::Value {
    let mut cmd = tool("trivy");
    cmd.args(["image", "--scanners", "vuln", "--format", "json", "--quiet"])
        .args(["--skip-db-update", "--skip-java-db-update", "--cache-dir"])
        .arg(source.join("target/trivy-cache"));
    if vex_oci {
        cmd.args(["--vex", "oci", "--show-suppressed"]);
    }
    serde_json::from_str(&ok(cmd.arg(reference))).unwrap()
}

fn ids(report: &serde_json::Value, field: &str) -> Vec<String> {
    report["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r[field].as_array().cloned().unwrap_or_default())
        .map(|v| {
            let v = if field == "Vulnerabilities" {
                v
            } else {
                v["Finding"].clone()
            };
            v["VulnerabilityID"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn a_not_affected_statement_lets_the_advisory_through_says_why_and_travels_with_the_image() {
    let env = env();
    let source = source_with(&vex(serde_json::json!([not_affected(
        "CVE-2099-0003",
        image_product(None)
    )])));
    let repo = env.repository("vex-passes");
    let log = succeeded(&run(&mut rust_release_image_cmd(&source, "v1.0.0", &repo)));
    let why = "CVE-2099-0003 (CRITICAL in kube9-fixture-vulnerable 1.0.0, fixed in 1.0.1) \
               suppressed by VEX: not_affected, vulnerable_code_not_in_execute_path";
    assert!(log.contains(why), "the log says why: {log}");
    assert!(
        log.contains("Suppressed Vulnerabilities (Total: 1)"),
        "the table lists it: {log}"
    );
    for platform in ["linux-amd64", "linux-arm64"] {
        let sarif: serde_json::Value = serde_json::from_slice(
            &std::fs::read(source.join(format!("target/release/scan/trivy-{platform}.sarif")))
                .unwrap(),
        )
        .unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        let result = results
            .iter()
            .find(|r| r["ruleId"] == "CVE-2099-0003")
            .unwrap_or_else(|| panic!("{platform}: the SARIF keeps the finding: {sarif}"));
        assert_eq!(
            result["suppressions"][0]["justification"],
            "VEX: not_affected, vulnerable_code_not_in_execute_path",
            "{platform}"
        );
    }
    let record = image_record(&source);
    assert!(record.pushed);
    for p in record.scan.platforms.as_array().unwrap() {
        assert_eq!(p["suppressed"][0]["finding"]["id"], "CVE-2099-0003", "{p}");
    }
    let hex = record.digest.trim_start_matches("sha256:");
    assert!(
        tags(&repo).contains(&format!("sha256-{hex}.att")),
        "attested on the index"
    );

    // An admin's own scan: without VEX Trivy reports the finding; with `--vex oci` it
    // applies the statement attached to the image, from the registry alone.
    let reference = format!("{repo}:v1.0.0");
    let plain = admin_scan(&source, &reference, false);
    assert_eq!(ids(&plain, "Vulnerabilities"), ["CVE-2099-0003"]);
    let applied = admin_scan(&source, &reference, true);
    assert!(ids(&applied, "Vulnerabilities").is_empty(), "{applied}");
    assert_eq!(
        ids(&applied, "ExperimentalModifiedFindings"),
        ["CVE-2099-0003"]
    );
    let source_of = applied["Results"][0]["ExperimentalModifiedFindings"][0]["Source"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        source_of.starts_with("VEX attestation in OCI registry"),
        "{source_of}"
    );

    // The weekly rescan applies the same statements: listed with the reason, not reported.
    let out_dir = temp_dir("vex-rescan");
    let mut rescan = xtask();
    rescan
        .args(["rescan", "--repository", &repo, "--minors", "1"])
        .args(["--trivy-db-repository", &env.trivy_db_repository])
        .arg("--allow-stale-db")
        .arg("--trivy-cache-dir")
        .arg(out_dir.join("trivy-cache"))
        .arg("--out-dir")
        .arg(&out_dir)
        .arg("--source")
        .arg(&source);
    outside_actions(&mut rescan);
    let rescanned = succeeded(&run(&mut rescan));
    assert!(
        rescanned.contains(&format!("1.0.0 linux/arm64: {why}")),
        "{rescanned}"
    );
    assert!(
        rescanned.contains("1.0.0: no finding of HIGH or above"),
        "{rescanned}"
    );
    assert!(!out_dir.join("issue-1.0.0.md").exists());

    // Code scanning sees the release's finding and the rescan's as one alert: each result
    // carries the fingerprint of its rule, package, version and platform, since upload-sarif
    // computes fingerprints only for files in the checkout. Without them (Trivy's own SARIF),
    // GitHub's matching cannot tell it is the same finding and opens it again.
    let release_sarif = source.join("target/release/scan/trivy-linux-amd64.sarif");
    let rescan_sarif = out_dir.join("sarif/trivy-rescan-1.0.0-linux-amd64.sarif");
    let alerts = alerts_after_uploads(&[
        (release_sarif.clone(), "trivy-linux-amd64"),
        (rescan_sarif.clone(), "trivy-rescan-1.0.0-linux-amd64"),
    ]);
    let of_the_advisory = |alerts: &[serde_json::Value]| -> Vec<serde_json::Value> {
        alerts
            .iter()
            .filter(|a| a["rule"]["id"] == "CVE-2099-0003")
            .cloned()
            .collect()
    };
    let seen = of_the_advisory(&alerts);
    assert_eq!(seen.len(), 1, "one alert: {alerts:?}");
    assert_eq!(seen[0]["instances"].as_array().map(Vec::len), Some(2));
    let bare: Vec<_> = [&release_sarif, &rescan_sarif]
        .iter()
        .enumerate()
        .map(|(i, f)| (without_fingerprints(f), ["release", "rescan"][i]))
        .collect();
    let again = of_the_advisory(&alerts_after_uploads(&bare));
    assert_eq!(again.len(), 2, "the control, Trivy's own SARIF: {again:?}");

    // A re-run attests nothing again: the index already says exactly this.
    let again = succeeded(&run(&mut rust_release_image_cmd(&source, "v1.0.0", &repo)));
    assert!(!again.contains("cosign attest"), "{again}");

    // The chart, then what a user checks: the attestation verifies and is the tag's file.
    let charts = format!("oci://{}/{}", env.registry, unique("vex-charts"));
    succeeded(&run(&mut release_chart_cmd(
        &source, "v1.0.0", &repo, &charts,
    )));
    let verified = succeeded(&run(&mut verify_release_cmd(
        &source, "v1.0.0", &repo, &charts,
    )));
    assert!(
        verified.contains("ok   VEX statements of the index"),
        "{verified}"
    );
}

#[test]
fn a_statement_about_another_product_or_vulnerability_suppresses_nothing() {
    let env = env();
    let other_release = format!("sha256:{}", "0".repeat(64));
    let source = source_with(&vex(serde_json::json!([
        not_affected("CVE-2099-0004", serde_json::json!({"@id": CRATE})),
        not_affected("CVE-2099-0003", image_product(Some(&other_release))),
    ])));
    let repo = env.repository("vex-other");
    let out = run(&mut rust_release_image_cmd(&source, "v1.0.0", &repo));
    assert!(!out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(
        log.contains("CVE-2099-0003 (CRITICAL in kube9-fixture-vulnerable 1.0.0, fixed in 1.0.1)"),
        "{log}"
    );
    assert!(!log.contains("suppressed by VEX"), "{log}");
    assert_eq!(tags(&repo), Vec::<String>::new(), "nothing was pushed");
}

/// The alerts code scanning's stand-in holds after upload-sarif's stand-in uploaded each
/// `(file, category)`, one job each.
fn alerts_after_uploads(uploads: &[(PathBuf, &str)]) -> Vec<serde_json::Value> {
    let github = GithubStandin::start();
    let token = github.token("image", &[("security-events", Access::Write)]);
    let script = fixtures().join("actions/github/codeql-action/upload-sarif/upload.py");
    for (file, category) in uploads {
        let job = temp_dir("sarif-job");
        std::fs::write(job.join("github-env"), "").unwrap();
        ok(Command::new("python3")
            .arg(&script)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("TOKEN", &token)
            .env("SARIF", file)
            .env("CATEGORY", category)
            .env("GITHUB_API_URL", github.url())
            .env("GITHUB_REPOSITORY", "alto9/kube9-operator")
            .env("GITHUB_REF", "refs/heads/main")
            .env("GITHUB_SHA", "c0ffee")
            .env("GITHUB_JOB", "scan")
            .env("GITHUB_ENV", job.join("github-env"))
            .env("KUBE9_SIM_OUTBOX", &job)
            .current_dir(&job));
    }
    github.alerts()
}

/// `file` with every result's `partialFingerprints` removed, as Trivy writes it.
fn without_fingerprints(file: &Path) -> PathBuf {
    let mut sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    for run in sarif["runs"].as_array_mut().unwrap() {
        for result in run["results"].as_array_mut().unwrap() {
            result
                .as_object_mut()
                .unwrap()
                .remove("partialFingerprints");
        }
    }
    let dest = temp_dir("sarif-bare").join("bare.sarif");
    std::fs::write(&dest, serde_json::to_vec(&sarif).unwrap()).unwrap();
    dest
}
