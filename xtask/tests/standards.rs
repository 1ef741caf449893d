//! Each standard's own validator, as the release runs it (`kube9_release::validate`): it
//! accepts a known-good document and rejects a known-bad one, naming the field, in its own
//! words, with a hint. The documents are in `fixtures/standards/`; the SARIF Trivy writes today
//! is made here by the real Trivy from the fixture database.
//!
//! Needs what `cargo xtask setup` installs (the Python validators and the SARIF multitool)
//! and trivy; no Docker.

mod support;

use std::path::{Path, PathBuf};

use kube9_release::validate::{self, Standard};
use support::*;

fn doc(name: &str) -> PathBuf {
    fixtures().join("standards").join(name)
}

fn accepted(standard: Standard, file: &Path) {
    if let Err(e) = validate::check(standard, file) {
        panic!("{standard} rejects {}: {e:#}", file.display());
    }
}

/// The error a rejection gives, checked for its shape: the file, the validator, each field
/// with the validator's message, a hint last.
fn rejected(standard: Standard, file: &Path) -> String {
    rejected_by(standard, standard.validator(), file)
}

fn rejected_by(standard: Standard, validator: &str, file: &Path) -> String {
    let err = match validate::check(standard, file) {
        Ok(()) => panic!("{standard} accepts {}", file.display()),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.starts_with(&file.display().to_string()), "{err}");
    assert!(
        err.lines()
            .next()
            .unwrap()
            .contains(&format!("{validator} says:")),
        "{err}"
    );
    assert!(
        err.lines().last().unwrap().starts_with("hint: "),
        "no hint: {err}"
    );
    println!("{standard} on {}:\n{err}\n", file.display());
    err
}

/// The line of the error that names `field`.
fn line_for<'a>(err: &'a str, field: &str) -> &'a str {
    err.lines()
        .find(|l| l.trim_start().starts_with(&format!("{field}: ")))
        .unwrap_or_else(|| panic!("no error for {field}: {err}"))
}

#[test]
fn cyclonedx_schema_accepts_an_sbom_and_rejects_an_unknown_component_type() {
    accepted(Standard::CycloneDx, &doc("cyclonedx-good.json"));
    let err = rejected(
        Standard::CycloneDx,
        &doc("cyclonedx-bad-component-type.json"),
    );
    let line = line_for(&err, "$.metadata.component.type");
    assert!(line.contains("'oci-image' is not one of"), "{line}");
}

#[test]
fn cyclonedx_schema_cannot_tell_an_sbom_that_names_no_image() {
    // The SBOMs: metadata.component is a build-machine path with no version and no
    // purl. The schema allows that, so the schema alone cannot be the release's whole check
    // of the SBOM's identity (the release checks name, version and purl itself).
    accepted(
        Standard::CycloneDx,
        &doc("cyclonedx-component-without-identity.json"),
    );
}

#[test]
fn in_toto_accepts_a_v1_statement_with_slsa_v1_provenance() {
    accepted(Standard::InTotoProvenance, &doc("provenance-good.json"));
}

#[test]
fn in_toto_accepts_the_statement_inside_a_dsse_envelope() {
    // What `cosign verify-attestation` prints: the statement base64-encoded in an envelope.
    use base64::Engine;
    let statement = std::fs::read(doc("provenance-good.json")).unwrap();
    let envelope = serde_json::json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64::engine::general_purpose::STANDARD.encode(statement),
        "signatures": [{"keyid": "", "sig": "MEUCIQ=="}],
    });
    let file = temp_dir("standards").join("envelope.json");
    std::fs::write(&file, envelope.to_string()).unwrap();
    accepted(Standard::InTotoProvenance, &file);
}

#[test]
fn in_toto_rejects_an_slsa_v1_predicate_in_a_v0_1_statement() {
    // What `cosign attest --type slsaprovenance1` writes today.
    let err = rejected(
        Standard::InTotoProvenance,
        &doc("provenance-statement-v0.1.json"),
    );
    let line = line_for(&err, "$._type");
    assert!(line.contains("Wrong statement type"), "{line}");
    assert!(line.contains("https://in-toto.io/Statement/v0.1"), "{line}");
}

#[test]
fn in_toto_rejects_a_builder_id_that_is_no_uri() {
    let err = rejected(
        Standard::InTotoProvenance,
        &doc("provenance-builder-id-not-uri.json"),
    );
    let line = line_for(&err, "$.predicate.runDetails.builder.id");
    assert!(line.contains("is not a URI"), "{line}");
    assert!(line.contains("(kube9-release, key-signed)"), "{line}");
}

#[test]
fn openvex_schema_accepts_a_statement_and_rejects_an_empty_document() {
    accepted(Standard::OpenVex, &doc("openvex-good.json"));
    let err = rejected(Standard::OpenVex, &doc("openvex-empty-statements.json"));
    let line = line_for(&err, "$.statements");
    assert!(line.contains("should be non-empty"), "{line}");
}

#[test]
fn sarif_accepts_a_located_fingerprinted_result() {
    accepted(Standard::Sarif, &doc("sarif-good.sarif"));
}

#[test]
fn sarif_githubs_rules_reject_a_result_without_a_region() {
    let err = rejected(Standard::Sarif, &doc("sarif-without-region.sarif"));
    let line = line_for(&err, "runs[0].results[0].locations[0].physicalLocation");
    assert!(line.contains("GH1003"), "{line}");
    assert!(line.contains("'region' property is absent"), "{line}");
}

/// The release sends its checks to one `validate.py serve` process; each answer is what
/// `validate.py KIND FILE` prints and exits with: for a valid document, an invalid one, one
/// that is not JSON and one that cannot be read.
#[test]
fn the_validator_process_answers_each_check_as_the_command_does() {
    let scratch = temp_dir("validator-process");
    let not_json = scratch.join("not.json");
    std::fs::write(&not_json, "{").unwrap();
    let cases = [
        (Standard::CycloneDx, doc("cyclonedx-good.json")),
        (
            Standard::CycloneDx,
            doc("cyclonedx-bad-component-type.json"),
        ),
        (
            Standard::InTotoProvenance,
            doc("provenance-builder-id-not-uri.json"),
        ),
        (
            Standard::OciManifest,
            doc("oci-manifest-layer-without-digest.json"),
        ),
        (Standard::OpenVex, not_json),
        (Standard::OpenVex, scratch.join("absent.json")),
        (Standard::OciIndex, doc("oci-index-good.json")),
    ];
    for (standard, file) in &cases {
        let once = validate::command(*standard, file).output().unwrap();
        let served = validate::output(*standard, file).unwrap();
        assert_eq!(
            (served.code, &served.stdout, &served.stderr),
            (once.code, &once.stdout, &once.stderr),
            "{standard} on {}",
            file.display()
        );
    }
    let codes: Vec<Option<i32>> = cases
        .iter()
        .map(|(s, f)| validate::output(*s, f).unwrap().code)
        .collect();
    assert_eq!(
        codes,
        [
            Some(0),
            Some(1),
            Some(1),
            Some(1),
            Some(1),
            Some(2),
            Some(0)
        ]
    );
}

/// The multitool's own verdict on `file`, without the release's fingerprint rule.
fn multitool_errors(file: &Path) -> Vec<validate::Rejection> {
    let out = validate::command(Standard::Sarif, file).output().unwrap();
    validate::judge(Standard::Sarif, &out).unwrap()
}

#[test]
fn sarif_an_image_path_without_fingerprints_passes_githubs_rules_and_is_refused() {
    // GitHub's ingestion rules (GH1001-GH1006) do not require partialFingerprints: upload-sarif
    // computes them, but only from files in the checkout, and this one is in the image.
    let file = doc("sarif-image-path-without-fingerprints.sarif");
    assert_eq!(multitool_errors(&file), []);
    let err = rejected_by(Standard::Sarif, validate::FINGERPRINT_RULE, &file);
    let line = line_for(&err, "runs[0].results[0].partialFingerprints");
    assert!(line.contains("usr/local/bin/kube9-operator"), "{line}");
}

/// What the real Trivy writes in `format` for the fixture crate with the fixture database
/// (CVE-2099-0003), offline.
fn trivy_report(format: &str) -> PathBuf {
    let cache = temp_dir("standards-trivy-cache");
    std::fs::create_dir_all(cache.join("db")).unwrap();
    ok(std::process::Command::new("tar")
        .arg("-xzf")
        .arg(fixtures().join("trivy-db-cargo/db.tar.gz"))
        .arg("-C")
        .arg(cache.join("db")));
    let report = temp_dir("standards-trivy").join(format!("trivy.{format}"));
    ok(trivy()
        .args(["fs", "--cache-dir"])
        .arg(&cache)
        .args(["--skip-db-update", "--offline-scan", "--scanners", "vuln"])
        .args(["--format", format, "--output"])
        .arg(&report)
        .arg(fixtures().join("trivy-db-cargo/app")));
    report
}

#[test]
fn cyclonedx_schema_knows_the_spec_version_trivy_writes() {
    let sbom = trivy_report("cyclonedx");
    let text = std::fs::read_to_string(&sbom).unwrap();
    assert!(text.contains("kube9-fixture-vulnerable"), "{text}");
    accepted(Standard::CycloneDx, &sbom);
}

#[test]
fn sarif_trivy_writes_today_for_the_fixture_advisory_has_no_fingerprints() {
    let sarif = trivy_report("sarif");
    let text = std::fs::read_to_string(&sarif).unwrap();
    assert!(text.contains("CVE-2099-0003"), "{text}");
    assert_eq!(multitool_errors(&sarif), [], "{text}");
    let err = rejected_by(Standard::Sarif, validate::FINGERPRINT_RULE, &sarif);
    let line = line_for(&err, "runs[0].results[0].partialFingerprints");
    assert!(line.contains("CVE-2099-0003"), "{line}");
}

#[test]
fn oci_index_schema_accepts_an_index_and_rejects_a_malformed_media_type() {
    accepted(Standard::OciIndex, &doc("oci-index-good.json"));
    let err = rejected(Standard::OciIndex, &doc("oci-index-bad-media-type.json"));
    let line = line_for(&err, "$.mediaType");
    assert!(line.contains("does not match"), "{line}");
}

#[test]
fn oci_manifest_schema_accepts_an_sbom_artefact_and_rejects_a_layer_without_digest() {
    accepted(Standard::OciManifest, &doc("oci-manifest-good.json"));
    let err = rejected(
        Standard::OciManifest,
        &doc("oci-manifest-layer-without-digest.json"),
    );
    let line = line_for(&err, "$.layers[0]");
    assert!(line.contains("'digest' is a required property"), "{line}");
}

#[test]
fn a_document_that_is_no_json_is_rejected_not_crashed_on() {
    let file = temp_dir("standards").join("broken.json");
    std::fs::write(&file, "{ not json").unwrap();
    for standard in [Standard::OpenVex, Standard::Sarif] {
        let err = rejected(standard, &file);
        assert!(err.contains("\n  $: "), "{err}");
    }
}

/// One change to a JSON document.
type Change = fn(&mut serde_json::Value);

/// The release's own VEX check (`kube9_release::vex::parse`, run on `security/vex.json`
/// before anything is built) refuses every document OpenVEX's schema refuses: each change
/// below makes the good document one the schema refuses, and the release must refuse it
/// too, or it would publish what scanners reject.
#[test]
fn the_releases_vex_check_refuses_what_openvexs_schema_refuses() {
    let mut good: serde_json::Value =
        serde_json::from_slice(&std::fs::read(doc("openvex-good.json")).unwrap()).unwrap();
    // The project's own rule on top of the schema: an image product names its crates.
    good["statements"][0]["products"][0]["subcomponents"] =
        serde_json::json!([{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}]);
    kube9_release::vex::parse("security/vex.json", &good.to_string())
        .expect("the release accepts the good document");
    let changes: [(&str, Change); 8] = [
        ("no statement", |d| d["statements"] = serde_json::json!([])),
        ("no @context", |d| {
            d.as_object_mut().unwrap().remove("@context");
        }),
        ("no @id", |d| {
            d.as_object_mut().unwrap().remove("@id");
        }),
        ("no author", |d| {
            d.as_object_mut().unwrap().remove("author");
        }),
        ("no timestamp", |d| {
            d.as_object_mut().unwrap().remove("timestamp");
        }),
        ("an unknown status", |d| {
            d["statements"][0]["status"] = "maybe".into()
        }),
        ("an unknown justification", |d| {
            d["statements"][0]["justification"] = "because".into()
        }),
        ("a statement without vulnerability", |d| {
            d["statements"][0]
                .as_object_mut()
                .unwrap()
                .remove("vulnerability");
        }),
    ];
    let dir = temp_dir("openvex-refused");
    for (what, change) in changes {
        let mut bad = good.clone();
        change(&mut bad);
        let file = dir.join(format!("{}.json", what.replace(' ', "-")));
        std::fs::write(&file, bad.to_string()).unwrap();
        rejected(Standard::OpenVex, &file);
        let ours = kube9_release::vex::parse("security/vex.json", &bad.to_string());
        assert!(
            ours.is_err(),
            "{what}: the schema refuses it, the release does not"
        );
    }
}
