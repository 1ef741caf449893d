//! Suppressed findings in the SARIF file. Trivy's SARIF leaves out what a VEX statement
//! suppressed; the Security tab would then never show that the release judged the finding.
//! So the SARIF is converted from the report with the suppressed findings put back, and each
//! of them is marked with a SARIF `suppressions` entry carrying the statement's justification
//! (GitHub code scanning shows such a result as dismissed, with the reason). Pure.

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::{ModifiedFinding, Report, Suppressed};

/// Trivy's JSON report with each suppressed vulnerability moved back among its result's
/// vulnerabilities, and what suppressed each: the marks to put on them.
pub fn unsuppress(report: &[u8]) -> Result<(Vec<u8>, Vec<Suppressed>)> {
    let mut report: Report =
        serde_json::from_slice(report).context("trivy's JSON report does not parse")?;
    let marks = report.results.iter().flat_map(super::suppressed).collect();
    for result in &mut report.results {
        for modified in std::mem::take(&mut result.modified) {
            if let ModifiedFinding::Vulnerability(v) = modified {
                result.vulnerabilities.push(v.finding);
            }
        }
    }
    // Written through a `Value`, whose keys are sorted: the file does not depend on the order
    // of the fields in the structs (the fixture test holds it to its bytes).
    let report = serde_json::to_value(&report)?;
    Ok((serde_json::to_vec(&report)?, marks))
}

/// Marks each SARIF result of a suppressed finding (same rule, package and version, as
/// Trivy's result message names them) as suppressed, with the VEX justification.
pub fn mark(sarif: &mut Value, marks: &[Suppressed]) -> usize {
    let mut marked = 0;
    for run in sarif["runs"].as_array_mut().into_iter().flatten() {
        for result in run["results"].as_array_mut().into_iter().flatten() {
            let Some(m) = marks.iter().find(|m| is_result_of(result, m)) else {
                continue;
            };
            let justification = match m.justification.as_str() {
                "" => format!("VEX: {}", m.status),
                j => format!("VEX: {}, {j}", m.status),
            };
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": justification,
            }]);
            marked += 1;
        }
    }
    marked
}

fn is_result_of(result: &Value, m: &Suppressed) -> bool {
    let message = result["message"]["text"].as_str().unwrap_or_default();
    let f = &m.finding;
    result["ruleId"] == f.id.as_str()
        && message
            .lines()
            .any(|l| l == format!("Package: {}", f.package))
        && message
            .lines()
            .any(|l| l == format!("Installed Version: {}", f.installed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{Finding, Severity};

    fn report() -> Value {
        json!({"Results": [{
            "Target": "Cargo.lock", "Class": "lang-pkgs", "Type": "cargo",
            "Vulnerabilities": [{"VulnerabilityID": "CVE-2099-0009", "PkgName": "other", "InstalledVersion": "2.0.0", "Severity": "HIGH"}],
            "ExperimentalModifiedFindings": [{
                "Type": "vulnerability", "Status": "not_affected",
                "Statement": "vulnerable_code_not_in_execute_path", "Source": "vex.json",
                "Finding": {"VulnerabilityID": "CVE-2099-0003", "PkgName": "kube9-fixture-vulnerable",
                            "InstalledVersion": "1.0.0", "Severity": "CRITICAL"}}]
        }]})
    }

    fn result(id: &str, package: &str, version: &str) -> Value {
        json!({"ruleId": id, "message": {"text": format!(
            "Package: {package}\nInstalled Version: {version}\nVulnerability {id}\nSeverity: CRITICAL")}})
    }

    #[test]
    fn suppressed_findings_go_back_into_the_report_with_their_marks() {
        let (bytes, marks) = unsuppress(&serde_json::to_vec(&report()).unwrap()).unwrap();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        let result = &back["Results"][0];
        assert!(result.get("ExperimentalModifiedFindings").is_none());
        let ids: Vec<&str> = result["Vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["VulnerabilityID"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["CVE-2099-0009", "CVE-2099-0003"]);
        assert_eq!(
            marks,
            [Suppressed {
                finding: Finding {
                    id: "CVE-2099-0003".into(),
                    package: "kube9-fixture-vulnerable".into(),
                    installed: "1.0.0".into(),
                    fixed: String::new(),
                    severity: Severity::Critical,
                },
                status: "not_affected".into(),
                justification: "vulnerable_code_not_in_execute_path".into(),
            }]
        );
    }

    #[test]
    fn a_result_without_vulnerabilities_gets_the_suppressed_ones() {
        let mut r = report();
        r["Results"][0]
            .as_object_mut()
            .unwrap()
            .remove("Vulnerabilities");
        let (bytes, marks) = unsuppress(&serde_json::to_vec(&r).unwrap()).unwrap();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            back["Results"][0]["Vulnerabilities"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(marks.len(), 1);
    }

    #[test]
    fn only_the_suppressed_result_is_marked_with_its_justification() {
        let (_, marks) = unsuppress(&serde_json::to_vec(&report()).unwrap()).unwrap();
        let mut sarif = json!({"runs": [{"results": [
            result("CVE-2099-0003", "kube9-fixture-vulnerable", "1.0.0"),
            result("CVE-2099-0003", "kube9-fixture-vulnerable", "0.9.0"),
            result("CVE-2099-0009", "other", "2.0.0"),
        ]}]});
        assert_eq!(mark(&mut sarif, &marks), 1);
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert_eq!(
            results[0]["suppressions"],
            json!([{"kind": "external", "status": "accepted",
                    "justification": "VEX: not_affected, vulnerable_code_not_in_execute_path"}])
        );
        assert!(results[1].get("suppressions").is_none(), "another version");
        assert!(results[2].get("suppressions").is_none(), "another finding");
    }

    /// A report as Trivy writes it (every kind of result, fields the gate does not read,
    /// suppressed findings of two kinds) gives the same bytes as the report rewritten untyped
    /// did, so Trivy converts it into the same SARIF.
    #[test]
    fn a_full_report_is_rewritten_to_the_same_bytes() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let read = |name: &str| std::fs::read(fixtures.join("trivy-report").join(name)).unwrap();
        let (bytes, marks) = unsuppress(&read("report.json")).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            String::from_utf8(read("unsuppressed.json")).unwrap()
        );
        let marked: Vec<(&str, &str)> = marks
            .iter()
            .map(|m| (m.finding.id.as_str(), m.justification.as_str()))
            .collect();
        assert_eq!(
            marked,
            [
                ("CVE-2099-0003", "vulnerable_code_not_in_execute_path"),
                ("CVE-2099-0010", ""),
                ("CVE-2099-0004", "component_not_present"),
            ]
        );
    }

    #[test]
    fn a_report_that_does_not_parse_is_an_error() {
        assert!(unsuppress(b"not json").is_err());
    }
}
