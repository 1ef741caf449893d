use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use super::contents::lockfile_crates;
use super::locate::Lines;
use super::purl::parse_purl;
use super::*;

/// A valid document; the tests change one line of it and check the line an error names.
/// Statement 0 is about the image (lines 8-20), 1 about a crate (21-26), 2 about one release
/// of the image on arm64 (27-36).
const DOC: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://github.com/alto9/kube9-operator/security/vex.json",
  "author": "kube9 maintainers",
  "timestamp": "2026-01-01T00:00:00Z",
  "version": 1,
  "statements": [
    {
      "vulnerability": {"name": "CVE-2099-0003"},
      "timestamp": "2026-01-02T00:00:00Z",
      "products": [
        {
          "@id": "pkg:oci/kube9-operator?repository_url=ghcr.io%2Falto9%2Fkube9-operator",
          "subcomponents": [{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}]
        }
      ],
      "status": "not_affected",
      "justification": "vulnerable_code_not_in_execute_path",
      "impact_statement": "The operator never calls the vulnerable function."
    },
    {
      "vulnerability": {"name": "CVE-2099-0004", "aliases": ["GHSA-0000-0000-0004"]},
      "products": [{"@id": "pkg:cargo/fixture-app@0.1.0"}],
      "status": "affected",
      "action_statement": "Update fixture-app to 0.1.1."
    },
    {
      "vulnerability": {"name": "CVE-2099-0005"},
      "products": [
        {
          "identifiers": {"purl": "pkg:oci/kube9-operator@DIGEST_A?arch=arm64&repository_url=ghcr.io/alto9/kube9-operator"},
          "subcomponents": [{"identifiers": {"purl": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}}]
        }
      ],
      "status": "fixed"
    }
  ]
}
"#;

const FILE: &str = "security/vex.json";
const CANONICAL: &str = "ghcr.io/alto9/kube9-operator";
const TARGET: &str = "127.0.0.1:5117/kube9/fixture";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn text() -> String {
    DOC.replace("DIGEST_A", &digest('a'))
}

fn doc() -> Document {
    parse(FILE, &text()).unwrap()
}

/// The document with `from` replaced by `to` (which must be found, on one line).
fn changed(from: &str, to: &str) -> String {
    let text = text();
    assert!(text.contains(from), "the test document has no `{from}`");
    text.replacen(from, to, 1)
}

/// The error of the changed document, which must start with `file:line: path: `.
fn error(from: &str, to: &str, line: usize, path: &str) -> String {
    let e = parse(FILE, &changed(from, to)).unwrap_err().to_string();
    let prefix = format!("{FILE}:{line}: {path}: ");
    assert!(e.starts_with(&prefix), "expected `{prefix}...`, got: {e}");
    e
}

fn vulnerable(version: &str) -> Crate {
    Crate {
        name: "kube9-fixture-vulnerable".into(),
        version: version.into(),
    }
}

fn app() -> Crate {
    Crate {
        name: "fixture-app".into(),
        version: "0.1.0".into(),
    }
}

#[test]
fn a_valid_document_is_typed_with_its_lines() {
    let doc = doc();
    assert_eq!(doc.author, "kube9 maintainers");
    assert_eq!(doc.timestamp, "2026-01-01T00:00:00Z");
    assert_eq!(doc.version, 1);
    let lines: Vec<usize> = doc.statements.iter().map(|s| s.line).collect();
    assert_eq!(lines, [8, 21, 27]);
    let first = &doc.statements[0];
    assert_eq!(first.path, "statements[0]");
    assert_eq!(first.status, Status::NotAffected);
    assert_eq!(
        first.justification,
        Some(Justification::VulnerableCodeNotInExecutePath)
    );
    assert_eq!(first.timestamp.as_deref(), Some("2026-01-02T00:00:00Z"));
    let image = &first.products[0];
    assert_eq!(
        image.product.value,
        Product::Image(ImagePurl {
            name: "kube9-operator".into(),
            digest: None,
            repository: CANONICAL.into(),
            arch: None,
        })
    );
    assert_eq!(
        (image.product.path.as_str(), image.product.line),
        ("statements[0].products[0].@id", 13)
    );
    assert_eq!(image.subcomponents[0].value, vulnerable("1.0.0"));
    assert_eq!(image.subcomponents[0].line, 14);
    let second = &doc.statements[1];
    assert_eq!(
        second.vulnerability.ids(),
        ["CVE-2099-0004", "GHSA-0000-0000-0004"]
    );
    assert_eq!(second.products[0].product.value, Product::Crate(app()));
    assert!(second.products[0].subcomponents.is_empty());
    let third = &doc.statements[2].products[0];
    assert_eq!(
        third.product.path,
        "statements[2].products[0].identifiers.purl"
    );
    let Product::Image(pinned) = &third.product.value else {
        panic!("not an image: {:?}", third.product.value)
    };
    assert_eq!(pinned.digest, Some(digest('a')));
    assert_eq!(pinned.arch.as_deref(), Some("arm64"));
    // Written as Trivy writes its purls, and read back the same.
    assert_eq!(
        pinned.to_string(),
        format!(
            "pkg:oci/kube9-operator@{}?arch=arm64&repository_url=ghcr.io%2Falto9%2Fkube9-operator",
            digest('a')
        )
    );
    assert_eq!(
        parse_purl(&pinned.to_string()).unwrap(),
        Product::Image(pinned.clone())
    );
}

#[test]
fn a_valid_document_round_trips() {
    let doc = doc();
    let out = for_release(&doc, CANONICAL, &digest('a'), &doc.id, &doc.timestamp).unwrap();
    let again = parse(FILE, &serde_json::to_string_pretty(&out).unwrap()).unwrap();
    assert_eq!(again.id, doc.id);
    assert_eq!(again.statements.len(), 3);
    for (a, b) in again.statements.iter().zip(&doc.statements) {
        assert_eq!(a.vulnerability, b.vulnerability);
        assert_eq!(a.status, b.status);
        assert_eq!(a.justification, b.justification);
        assert_eq!(a.impact_statement, b.impact_statement);
        assert_eq!(a.action_statement, b.action_statement);
        assert_eq!(a.status_notes, b.status_notes);
        let products = |s: &Statement| -> Vec<(Product, Vec<Crate>)> {
            s.products
                .iter()
                .map(|p| {
                    let subs = p.subcomponents.iter().map(|c| c.value.clone()).collect();
                    (p.product.value.clone(), subs)
                })
                .collect()
        };
        let mut expected = products(b);
        // Only the digest is left out of a release's image purl.
        for (product, _) in &mut expected {
            if let Product::Image(image) = product {
                image.digest = None;
            }
        }
        assert_eq!(products(a), expected);
    }
    // A statement without a timestamp keeps the one it had: the source document's.
    assert_eq!(
        again.statements[1].timestamp.as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
}

#[test]
fn an_empty_statements_array_is_refused_as_openvexs_schema_refuses_it() {
    let text = r#"{"@context": "https://openvex.dev/ns", "@id": "x", "author": "a",
        "timestamp": "2026-01-01T00:00:00+02:00", "version": 3, "statements": []}"#;
    let e = parse(FILE, text).unwrap_err().to_string();
    assert!(
        e.starts_with("security/vex.json:2: statements: empty: OpenVEX's schema requires one statement or more (minItems 1)"),
        "{e}"
    );
    assert!(
        e.ends_with("remove the file (a release without it publishes no VEX)"),
        "{e}"
    );
}

#[test]
fn json_syntax_errors_give_line_and_column() {
    let e = parse(FILE, &changed("\"version\": 1,", "\"version\": 1,,"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "security/vex.json:6:16: not valid JSON: key must be a string: fix the syntax there"
    );
    let e = parse(FILE, "[1, 2]").unwrap_err().to_string();
    assert!(
        e.starts_with("security/vex.json:1: the document is an array: "),
        "{e}"
    );
}

#[test]
fn the_document_fields_are_checked() {
    let e = error(
        "  \"@context\": \"https://openvex.dev/ns/v0.2.0\",\n",
        "\n",
        1,
        "@context",
    );
    assert!(e.contains("missing") && e.contains("Trivy refuses"), "{e}");
    let e = error(
        "https://openvex.dev/ns/v0.2.0",
        "https://example.com/ns",
        2,
        "@context",
    );
    assert!(e.contains("write https://openvex.dev/ns/v0.2.0"), "{e}");
    error(
        "https://openvex.dev/ns/v0.2.0",
        "https://openvex.dev/nsx",
        2,
        "@context",
    );
    error(
        "\"@id\": \"https://github.com/alto9/kube9-operator/security/vex.json\"",
        "\"@id\": \"\"",
        3,
        "@id",
    );
    let e = error("\"author\": \"kube9 maintainers\",", "", 1, "author");
    assert!(e.contains("missing"), "{e}");
    let e = error("2026-01-01T00:00:00Z", "2026-01-01", 5, "timestamp");
    assert!(e.contains("is not an RFC 3339 time"), "{e}");
    error("\"version\": 1", "\"version\": 0", 6, "version");
    error("\"version\": 1", "\"version\": \"1\"", 6, "version");
    let e = error("\"version\": 1,", "\"version\": 1, \"foo\": 2,", 6, "foo");
    assert!(e.contains("not a field of an OpenVEX document"), "{e}");
    // Known optional fields are fine.
    parse(
        FILE,
        &changed(
            "\"version\": 1,",
            "\"version\": 1, \"role\": \"maintainer\", \"last_updated\": \"2026-02-01T00:00:00Z\",",
        ),
    )
    .unwrap();
}

#[test]
fn a_key_given_twice_is_refused() {
    let e = error(
        "\"status\": \"not_affected\",",
        "\"status\": \"not_affected\", \"status\": \"fixed\",",
        17,
        "statements[0].status",
    );
    assert!(
        e.contains("given twice") && e.contains("first on line 17"),
        "{e}"
    );
}

#[test]
fn a_bad_justification_names_its_line() {
    let e = error(
        "vulnerable_code_not_in_execute_path",
        "because",
        18,
        "statements[0].justification",
    );
    assert_eq!(
        e,
        "security/vex.json:18: statements[0].justification: `because` is not a justification \
         OpenVEX knows (component_not_present, vulnerable_code_not_present, \
         vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary, \
         inline_mitigations_already_exist)"
    );
}

#[test]
fn not_affected_needs_a_justification_and_no_action() {
    // A missing field is shown at the statement that lacks it.
    let e = error(
        "\"justification\": \"vulnerable_code_not_in_execute_path\",",
        "",
        8,
        "statements[0].justification",
    );
    assert!(e.contains("impact_statement alone is not enough"), "{e}");
    error(
        "\"impact_statement\": \"The operator",
        "\"action_statement\": \"The operator",
        19,
        "statements[0].action_statement",
    );
}

#[test]
fn affected_needs_an_action_and_no_justification() {
    error(
        "\"action_statement\": \"Update",
        "\"status_notes\": \"Update",
        21,
        "statements[1].action_statement",
    );
    error(
        "\"status\": \"affected\",",
        "\"status\": \"affected\", \"justification\": \"component_not_present\",",
        24,
        "statements[1].justification",
    );
    error(
        "\"status\": \"affected\",",
        "\"status\": \"affected\", \"impact_statement\": \"x\",",
        24,
        "statements[1].impact_statement",
    );
}

#[test]
fn fixed_and_under_investigation_say_nothing_more() {
    error(
        "\"status\": \"fixed\"",
        "\"status\": \"fixed\", \"impact_statement\": \"x\"",
        35,
        "statements[2].impact_statement",
    );
    error(
        "\"status\": \"fixed\"",
        "\"status\": \"under_investigation\", \"action_statement\": \"x\"",
        35,
        "statements[2].action_statement",
    );
    parse(
        FILE,
        &changed(
            "\"status\": \"fixed\"",
            "\"status\": \"under_investigation\", \"status_notes\": \"looking\"",
        ),
    )
    .unwrap();
}

#[test]
fn statement_fields_are_checked() {
    let e = error(
        "\"status\": \"not_affected\"",
        "\"status\": \"fine\"",
        17,
        "statements[0].status",
    );
    assert!(
        e.contains("not_affected, affected, fixed, under_investigation"),
        "{e}"
    );
    let e = error(
        "\"timestamp\": \"2026-01-02T00:00:00Z\",",
        "\"timestamp\": \"2026-01-02T00:00:00Z\", \"note\": \"x\",",
        10,
        "statements[0].note",
    );
    assert!(e.contains("not a field of an OpenVEX statement"), "{e}");
    error(
        "2026-01-02T00:00:00Z",
        "yesterday",
        10,
        "statements[0].timestamp",
    );
    error(
        "{\"name\": \"CVE-2099-0005\"}",
        "{\"description\": \"x\"}",
        28,
        "statements[2].vulnerability.name",
    );
    error(
        "[\"GHSA-0000-0000-0004\"]",
        "[\"GHSA-0000-0000-0004\", 4]",
        22,
        "statements[1].vulnerability.aliases[1]",
    );
    error(
        "{\"name\": \"CVE-2099-0005\"}",
        "{\"name\": \"CVE-2099-0005\", \"alias\": []}",
        28,
        "statements[2].vulnerability.alias",
    );
}

#[test]
fn products_are_required() {
    let e = error(
        "\"products\": [{\"@id\": \"pkg:cargo/fixture-app@0.1.0\"}],",
        "",
        21,
        "statements[1].products",
    );
    assert!(
        e.contains("missing: Trivy applies a statement only to the products it lists"),
        "{e}"
    );
    error(
        "[{\"@id\": \"pkg:cargo/fixture-app@0.1.0\"}]",
        "[]",
        23,
        "statements[1].products",
    );
    let e = error(
        "[{\"@id\": \"pkg:cargo/fixture-app@0.1.0\"}]",
        "[{}]",
        23,
        "statements[1].products[0].@id",
    );
    assert!(e.contains("missing"), "{e}");
    let e = error(
        "[{\"@id\": \"pkg:cargo/fixture-app@0.1.0\"}]",
        "[{\"hashes\": {\"sha-256\": \"x\"}}]",
        23,
        "statements[1].products[0].hashes",
    );
    assert!(e.contains("by purl only"), "{e}");
}

#[test]
fn an_image_product_needs_subcomponents_for_the_gate() {
    let e = error(
        "\"subcomponents\": [{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.0\"}]",
        "\"subcomponents\": []",
        14,
        "statements[0].products[0].subcomponents",
    );
    assert!(
        e.contains("OCI layout") && e.contains("could not be honoured by the gate"),
        "{e}"
    );
    // Missing altogether: shown at the product. (The identifiers equal the @id, which is fine.)
    let e = error(
        "\"subcomponents\": [{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.0\"}]",
        "\"identifiers\": {\"purl\": \"pkg:oci/kube9-operator?repository_url=ghcr.io/alto9/kube9-operator\"}",
        12,
        "statements[0].products[0].subcomponents",
    );
    assert!(
        e.contains("missing: an image product lists the crates"),
        "{e}"
    );
    error(
        "[{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.0\"}]",
        "[{\"@id\": \"pkg:oci/kube9-operator?repository_url=ghcr.io/alto9/kube9-operator\"}]",
        14,
        "statements[0].products[0].subcomponents[0].@id",
    );
    // Subcomponents do not nest.
    let e = error(
        "[{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.0\"}]",
        "[{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.0\", \"subcomponents\": []}]",
        14,
        "statements[0].products[0].subcomponents[0].subcomponents",
    );
    assert!(
        e.contains("not a field of a subcomponent (@id, identifiers)"),
        "{e}"
    );
}

#[test]
fn a_crate_product_has_no_subcomponents() {
    let e = error(
        "[{\"@id\": \"pkg:cargo/fixture-app@0.1.0\"}]",
        "[{\"@id\": \"pkg:cargo/fixture-app@0.1.0\", \"subcomponents\": [{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.0\"}]}]",
        23,
        "statements[1].products[0].subcomponents",
    );
    assert!(e.contains("a crate product has no subcomponents"), "{e}");
}

#[test]
fn two_purls_of_one_product_must_agree() {
    let e = error(
        "[{\"@id\": \"pkg:cargo/fixture-app@0.1.0\"}]",
        "[{\"@id\": \"pkg:cargo/fixture-app@0.1.0\", \"identifiers\": {\"purl\": \"pkg:cargo/fixture-app@0.1.1\"}}]",
        23,
        "statements[1].products[0].identifiers.purl",
    );
    assert!(e.contains("is not the product of @id"), "{e}");
}

#[test]
fn a_tag_qualifier_is_refused() {
    let e = error(
        "kube9-operator?repository_url=ghcr.io%2Falto9%2Fkube9-operator",
        "kube9-operator?repository_url=ghcr.io%2Falto9%2Fkube9-operator&tag=1.2.3",
        13,
        "statements[0].products[0].@id",
    );
    assert!(e.contains("never carries one"), "{e}");
}

#[test]
fn image_purls_are_checked() {
    let id = "pkg:oci/kube9-operator?repository_url=ghcr.io%2Falto9%2Fkube9-operator";
    let path = "statements[0].products[0].@id";
    let cases = [
        ("pkg:oci/kube9-operator", "has no repository_url"),
        (
            "pkg:oci/other?repository_url=ghcr.io/alto9/kube9-operator",
            "write pkg:oci/kube9-operator",
        ),
        (
            "pkg:oci/kube9-operator@1.2.3?repository_url=ghcr.io/alto9/kube9-operator",
            "is not an image digest",
        ),
        (
            "pkg:oci/kube9-operator@sha256:ABC?repository_url=ghcr.io/alto9/kube9-operator",
            "is not an image digest",
        ),
        (
            "pkg:oci/kube9-operator?os=linux&repository_url=ghcr.io/alto9/kube9-operator",
            "the qualifier os",
        ),
        (
            "pkg:oci/kube9-operator?repository_url=https://ghcr.io/alto9/kube9-operator",
            "has a scheme",
        ),
        (
            "pkg:oci/kube9-operator?repository_url=ghcr.io%2",
            "bad %-escape",
        ),
        (
            "pkg:oci/kube9-operator?repository_url=ghcr.io%+2alto9",
            "bad %-escape",
        ),
        (
            "pkg:oci/alto9/kube9-operator?repository_url=ghcr.io/alto9/kube9-operator",
            "has a namespace",
        ),
        (
            "pkg:oci/kube9-operator?arch=AMD64&repository_url=ghcr.io/alto9/kube9-operator",
            "not an architecture",
        ),
        (
            "pkg:oci/kube9-operator?repository_url=ghcr.io/alto9/kube9-operator#x",
            "has a subpath",
        ),
        ("pkg:npm/kube9-operator@1.0.0", "of type npm"),
        ("kube9-operator", "is not a purl"),
    ];
    for (purl, expected) in cases {
        let e = error(id, purl, 13, path);
        assert!(e.contains(expected), "{purl}: {e}");
    }
}

#[test]
fn crate_purls_are_checked() {
    let id = "pkg:cargo/fixture-app@0.1.0";
    let path = "statements[1].products[0].@id";
    let cases = [
        ("pkg:cargo/fixture-app", "has no version"),
        ("pkg:cargo/fixture-app@0.1", "is not a crate version"),
        (
            "pkg:cargo/fixture-app@0.1.0?arch=amd64",
            "silently match nothing",
        ),
        ("pkg:cargo/rust/fixture-app@0.1.0", "has a namespace"),
        ("pkg:cargo/fixture app@0.1.0", "is not a crate name"),
    ];
    for (purl, expected) in cases {
        let e = error(id, purl, 23, path);
        assert!(e.contains(expected), "{purl}: {e}");
    }
}

#[test]
fn two_statements_about_one_vulnerability_in_one_crate_are_refused() {
    // The pinned arm64 statement overlaps the one about every release and architecture.
    let e = error(
        "CVE-2099-0005",
        "CVE-2099-0003",
        32,
        "statements[2].products[0].subcomponents[0].identifiers.purl",
    );
    assert!(
        e.contains("statements[0] (line 8) already says not_affected about CVE-2099-0003 in pkg:cargo/kube9-fixture-vulnerable@1.0.0"),
        "{e}"
    );
    // A crate statement overlaps an image statement about that crate, and so does an alias.
    let crate_product = "[{\"@id\": \"pkg:cargo/fixture-app@0.1.0\"}]";
    let vulnerable_product = "[{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.0\"}]";
    let text = changed(crate_product, vulnerable_product).replacen(
        "\"GHSA-0000-0000-0004\"",
        "\"CVE-2099-0003\"",
        1,
    );
    let e = parse(FILE, &text).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "security/vex.json:23: statements[1].products[0].@id: statements[0] (line 8)"
        ),
        "{e}"
    );
    // Within one statement, the same crate of the image in another repository is the same.
    let e = error(
        "      ],\n      \"status\": \"not_affected\"",
        "      ,{\"@id\": \"pkg:oci/fixture?repository_url=127.0.0.1:5117/kube9/fixture\", \"subcomponents\": [{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.0\"}]}],\n      \"status\": \"not_affected\"",
        16,
        "statements[0].products[1].subcomponents[0].@id",
    );
    assert!(
        e.contains("this statement already speaks of CVE-2099-0003"),
        "{e}"
    );
}

#[test]
fn statements_for_other_releases_or_architectures_do_not_overlap() {
    // Pinned to other digests, or to other architectures.
    let pinned = format!(
        "pkg:oci/kube9-operator@{}?repository_url=ghcr.io%2Falto9%2Fkube9-operator",
        digest('b')
    );
    let text = changed(
        "kube9-operator?repository_url=ghcr.io%2Falto9%2Fkube9-operator",
        &pinned[8..],
    )
    .replacen("CVE-2099-0005", "CVE-2099-0003", 1);
    parse(FILE, &text).unwrap();
    let text = changed(
        "kube9-operator?repository_url=ghcr.io%2Falto9%2Fkube9-operator",
        "kube9-operator?arch=amd64&repository_url=ghcr.io%2Falto9%2Fkube9-operator",
    )
    .replacen("CVE-2099-0005", "CVE-2099-0003", 1);
    parse(FILE, &text).unwrap();
}

#[test]
fn the_locator_follows_strings_and_nesting() {
    let text =
        "{\"a\": \"}{\\\"[\",\n \"b\": [1,\n  {\"c\": [[],\n   \"x\"]}],\n \"d\\u0040\": {}}";
    let lines = Lines::scan(text);
    assert_eq!(lines.line(""), 1);
    assert_eq!(lines.line("a"), 1);
    assert_eq!(lines.line("b"), 2);
    assert_eq!(lines.line("b[1]"), 3);
    assert_eq!(lines.line("b[1].c[1]"), 4);
    assert_eq!(lines.line("d@"), 5);
    // A missing value is shown at what holds it.
    assert_eq!(lines.line("b[1].missing"), 3);
    assert_eq!(lines.line("nothing"), 1);
    assert!(lines.duplicate.is_none());
}

/// A source with the fixture's lockfile, and others that must not count.
fn source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let lock = |path: &str, name: &str, version: &str| {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = format!(
            "# This file is automatically @generated by Cargo.\nversion = 4\n\n[[package]]\n\
             name = \"{name}\"\nversion = \"{version}\"\ndependencies = [\n \"x\",\n]\n"
        );
        fs::write(path, text).unwrap();
    };
    fs::write(
        dir.path().join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"fixture-app\"\nversion = \"0.1.0\"\ndependencies = [\n \"kube9-fixture-vulnerable\",\n]\n\n\
         [[package]]\nname = \"kube9-fixture-vulnerable\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"00\"\n",
    )
    .unwrap();
    lock(
        "target/debug/Cargo.lock",
        "kube9-fixture-vulnerable",
        "1.0.2",
    );
    lock("tools/.git/Cargo.lock", "kube9-fixture-vulnerable", "1.0.3");
    lock(
        "xtask/tests/fixtures/app/Cargo.lock",
        "kube9-fixture-vulnerable",
        "1.0.4",
    );
    lock("tools/other/Cargo.lock", "other-crate", "2.0.0");
    dir
}

#[test]
fn the_crates_are_those_of_every_lockfile_outside_target_git_and_tests() {
    let dir = source();
    let crates = crates_in_lockfiles(dir.path()).unwrap();
    let other = Crate {
        name: "other-crate".into(),
        version: "2.0.0".into(),
    };
    assert_eq!(crates, BTreeSet::from([app(), vulnerable("1.0.0"), other]));
    // Only directories below the root are skipped: a root under tests/ is read.
    let fixture = dir.path().join("xtask/tests/fixtures/app");
    assert_eq!(
        crates_in_lockfiles(&fixture).unwrap(),
        BTreeSet::from([vulnerable("1.0.4")])
    );
    let e = lockfile_crates("x/Cargo.lock", "[[package]]\nname = \"a\"\n\n[[package]]\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("x/Cargo.lock:1: a [[package]] without a name or a version"),
        "{e}"
    );
}

#[test]
fn products_are_checked_against_the_image() {
    let dir = source();
    let contents = Contents::new(TARGET, crates_in_lockfiles(dir.path()).unwrap());
    assert_eq!(contents.repositories, [TARGET, CANONICAL]);
    // The canonical repository.
    check_products(FILE, &doc(), &contents).unwrap();
    // The release target.
    let text = changed(
        "pkg:oci/kube9-operator?repository_url=ghcr.io%2Falto9%2Fkube9-operator",
        "pkg:oci/fixture?repository_url=127.0.0.1:5117/kube9/fixture",
    );
    check_products(FILE, &parse(FILE, &text).unwrap(), &contents).unwrap();
    // Another repository.
    let text = changed(
        "pkg:oci/kube9-operator?repository_url=ghcr.io%2Falto9%2Fkube9-operator",
        "pkg:oci/kube9-operator?repository_url=ghcr.io/someone/kube9-operator",
    );
    let e = check_products(FILE, &parse(FILE, &text).unwrap(), &contents)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "security/vex.json:13: statements[0].products[0].@id: \
         pkg:oci/kube9-operator?repository_url=ghcr.io%2Fsomeone%2Fkube9-operator: the image is \
         published to 127.0.0.1:5117/kube9/fixture and ghcr.io/alto9/kube9-operator, not \
         ghcr.io/someone/kube9-operator: write repository_url=127.0.0.1:5117/kube9/fixture"
    );
    // A crate version no lockfile has (the one under target/ does not count).
    let text = changed(
        "{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.0\"}",
        "{\"@id\": \"pkg:cargo/kube9-fixture-vulnerable@1.0.2\"}",
    );
    let e = check_products(FILE, &parse(FILE, &text).unwrap(), &contents)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "security/vex.json:14: statements[0].products[0].subcomponents[0].@id: \
             pkg:cargo/kube9-fixture-vulnerable@1.0.2: no crate kube9-fixture-vulnerable 1.0.2 \
             in any Cargo.lock of the source; it has 1.0.0"
        ),
        "{e}"
    );
    // A crate no lockfile has.
    let text = changed(
        "pkg:cargo/fixture-app@0.1.0",
        "pkg:cargo/fixture-tool@0.1.0",
    );
    let e = check_products(FILE, &parse(FILE, &text).unwrap(), &contents)
        .unwrap_err()
        .to_string();
    assert!(e.contains(":23: statements[1].products[0].@id: pkg:cargo/fixture-tool@0.1.0: no crate fixture-tool in any Cargo.lock"), "{e}");
}

#[test]
fn the_release_document_holds_what_applies_to_the_release() {
    let doc = doc();
    let id = "https://github.com/alto9/kube9-operator/releases/v1.2.3/vex.json";
    let time = "2026-03-01T12:00:00Z";
    let out = for_release(&doc, TARGET, &digest('b'), id, time).unwrap();
    let expected = json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": id,
        "author": "kube9 maintainers",
        "timestamp": time,
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": "CVE-2099-0003"},
                "timestamp": "2026-01-02T00:00:00Z",
                "products": [{
                    "@id": "pkg:oci/fixture?repository_url=127.0.0.1:5117%2Fkube9%2Ffixture",
                    "subcomponents": [{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}]
                }],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
                "impact_statement": "The operator never calls the vulnerable function."
            },
            {
                "vulnerability": {"name": "CVE-2099-0004", "aliases": ["GHSA-0000-0000-0004"]},
                "timestamp": "2026-01-01T00:00:00Z",
                "products": [{"@id": "pkg:cargo/fixture-app@0.1.0"}],
                "status": "affected",
                "action_statement": "Update fixture-app to 0.1.1."
            }
        ]
    });
    // The statement pinned to another release's digest is left out.
    assert_eq!(out, expected);
    let bytes = serde_json::to_vec_pretty(&out).unwrap();
    let again = for_release(&doc, TARGET, &digest('b'), id, time).unwrap();
    assert_eq!(serde_json::to_vec_pretty(&again).unwrap(), bytes);
    // The release it is pinned to gets it, with the arch and without the digest.
    let out = for_release(&doc, TARGET, &digest('a'), id, time).unwrap();
    assert_eq!(
        out["statements"][2]["products"][0]["@id"],
        "pkg:oci/fixture?arch=arm64&repository_url=127.0.0.1:5117%2Fkube9%2Ffixture"
    );
    assert_eq!(out["statements"][2]["status"], "fixed");
}

#[test]
fn nothing_applies_nothing_is_published() {
    let text = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a",
        "timestamp": "2026-01-01T00:00:00Z", "version": 1, "statements": [{
        "vulnerability": {"name": "CVE-2099-0003"}, "status": "fixed",
        "products": [{"@id": "pkg:oci/fixture@DIGEST?repository_url=127.0.0.1:5117/kube9/fixture",
                      "subcomponents": [{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}]}]}]}"#
        .replace("DIGEST", &digest('a'));
    let doc = parse(FILE, &text).unwrap();
    assert_eq!(for_release(&doc, TARGET, &digest('b'), "id", "t"), None);
    assert_eq!(for_gate(&doc, &digest('b'), "linux/amd64"), None);
    assert!(for_release(&doc, TARGET, &digest('a'), "id", "t").is_some());
}

#[test]
fn the_gate_document_speaks_of_crates_only() {
    let doc = doc();
    let out = for_gate(&doc, &digest('b'), "linux/arm64").unwrap();
    assert_eq!(out["@id"], doc.id.as_str());
    assert_eq!(out["timestamp"], "2026-01-01T00:00:00Z");
    let products: Vec<&Value> = out["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["products"])
        .collect();
    assert_eq!(
        products,
        [
            &json!([{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}]),
            &json!([{"@id": "pkg:cargo/fixture-app@0.1.0"}]),
        ]
    );
    assert_eq!(
        out["statements"][0]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    // The arm64 statement pinned to this release applies to the arm64 layout only.
    let arm = for_gate(&doc, &digest('a'), "linux/arm64").unwrap();
    assert_eq!(arm["statements"].as_array().unwrap().len(), 3);
    assert_eq!(
        arm["statements"][2]["products"],
        json!([{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}])
    );
    let amd = for_gate(&doc, &digest('a'), "linux/amd64").unwrap();
    assert_eq!(amd["statements"].as_array().unwrap().len(), 2);
}

#[test]
fn the_file_is_read_from_the_source() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read(dir.path()).unwrap(), None);
    fs::create_dir_all(dir.path().join("security")).unwrap();
    fs::write(dir.path().join(VEX_PATH), text()).unwrap();
    assert_eq!(read(dir.path()).unwrap(), Some(doc()));
    fs::write(dir.path().join(VEX_PATH), "{").unwrap();
    let e = read(dir.path()).unwrap_err().to_string();
    assert!(
        e.starts_with("security/vex.json:1:1: not valid JSON"),
        "{e}"
    );
}

#[test]
fn the_projects_own_lockfiles_are_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let crates = crates_in_lockfiles(&root).unwrap();
    assert!(crates.iter().any(|c| c.name == "kube9-release"));
    // The Trivy fixture's program has a lockfile of its own, under xtask/tests: never built
    // into the image, it is not read.
    assert!(root
        .join("xtask/tests/fixtures/trivy-db-cargo/app/Cargo.lock")
        .is_file());
    assert!(!crates.contains(&app()), "{crates:?}");
}
