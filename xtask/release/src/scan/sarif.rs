//! Suppressed findings in the SARIF file. Trivy's SARIF leaves out what a VEX statement
//! suppressed; the Security tab would then never show that the release judged the finding.
//! So the SARIF is converted from the report with the suppressed findings put back, and each
//! of them is marked with a SARIF `suppressions` entry carrying the statement's justification
//! (GitHub code scanning shows such a result as dismissed, with the reason). Pure.

use anyhow::{Context, Result};
use serde_json::{json, Value};

/// One suppressed vulnerability as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub id: String,
    pub package: String,
    pub installed: String,
    pub status: String,
    pub justification: String,
}

/// Trivy's JSON report with each suppressed vulnerability moved back among its result's
/// vulnerabilities, and the marks to put on them.
pub fn unsuppress(report: &[u8]) -> Result<(Vec<u8>, Vec<Mark>)> {
    let mut report: Value =
        serde_json::from_slice(report).context("trivy's JSON report does not parse")?;
    let mut marks = Vec::new();
    for result in report["Results"].as_array_mut().into_iter().flatten() {
        let Some(modified) = result
            .as_object_mut()
            .and_then(|r| r.remove("ExperimentalModifiedFindings"))
        else {
            continue;
        };
        for m in modified.as_array().into_iter().flatten() {
            if m["Type"] != "vulnerability" {
                continue;
            }
            let finding = m["Finding"].clone();
            marks.push(Mark {
                id: text(&finding["VulnerabilityID"]),
                package: text(&finding["PkgName"]),
                installed: text(&finding["InstalledVersion"]),
                status: text(&m["Status"]),
                justification: text(&m["Statement"]),
            });
            match result["Vulnerabilities"].as_array_mut() {
                Some(list) => list.push(finding),
                None => result["Vulnerabilities"] = json!([finding]),
            }
        }
    }
    Ok((serde_json::to_vec(&report)?, marks))
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Marks each SARIF result of a suppressed finding (same rule, package and version, as
/// Trivy's result message names them) as suppressed, with the VEX justification.
pub fn mark(sarif: &mut Value, marks: &[Mark]) -> usize {
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

fn is_result_of(result: &Value, m: &Mark) -> bool {
    let message = result["message"]["text"].as_str().unwrap_or_default();
    result["ruleId"] == m.id.as_str()
        && message
            .lines()
            .any(|l| l == format!("Package: {}", m.package))
        && message
            .lines()
            .any(|l| l == format!("Installed Version: {}", m.installed))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            [Mark {
                id: "CVE-2099-0003".into(),
                package: "kube9-fixture-vulnerable".into(),
                installed: "1.0.0".into(),
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

    #[test]
    fn a_report_that_does_not_parse_is_an_error() {
        assert!(unsuppress(b"not json").is_err());
    }
}
