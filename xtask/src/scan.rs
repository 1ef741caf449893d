//! The Trivy scan: one JSON report per platform of the built layout, from which come the SARIF
//! file for GitHub's Security tab, the table in the log, and the gate. The gate is decided here
//! from the full report, so the SARIF keeps every finding while only the chosen severity fails.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cmd::Cmd;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "UPPERCASE")]
#[value(rename_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    fn parse(s: &str) -> Severity {
        match s {
            "LOW" => Severity::Low,
            "MEDIUM" => Severity::Medium,
            "HIGH" => Severity::High,
            "CRITICAL" => Severity::Critical,
            _ => Severity::Unknown,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        };
        f.write_str(s)
    }
}

/// Where Trivy gets its vulnerability database and keeps it between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrivyDb {
    /// A mirror such as `mirror.gcr.io/aquasec/trivy-db:2`; `None` is Trivy's default.
    pub repository: Option<String>,
    pub cache_dir: PathBuf,
}

/// The per-platform commands of one scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPlan {
    pub platform: String,
    pub layout: PathBuf,
    pub json: PathBuf,
    pub sarif: PathBuf,
    pub db: TrivyDb,
}

impl ScanPlan {
    pub fn new(platform: &str, layouts: &Path, reports: &Path, db: &TrivyDb) -> Self {
        let slug = platform.replace('/', "-");
        ScanPlan {
            platform: platform.to_string(),
            layout: layouts.join(&slug),
            json: reports.join(format!("trivy-{slug}.json")),
            sarif: reports.join(format!("trivy-{slug}.sarif")),
            db: db.clone(),
        }
    }

    /// Every severity, so the reports are complete; the gate is applied afterwards.
    pub fn scan(&self) -> Cmd {
        let mut cmd = Cmd::new("trivy")
            .arg("image")
            .opt("--input", self.layout.display().to_string())
            .opt("--scanners", "vuln,secret")
            .opt("--format", "json")
            .opt("--output", self.json.display().to_string())
            .opt("--cache-dir", self.db.cache_dir.display().to_string())
            .opt("--exit-code", "0");
        if let Some(repo) = &self.db.repository {
            cmd = cmd.opt("--db-repository", repo);
        }
        cmd
    }

    pub fn sarif(&self) -> Cmd {
        Cmd::new("trivy")
            .args(["convert", "--format", "sarif"])
            .opt("--output", self.sarif.display().to_string())
            .arg(self.json.display().to_string())
    }

    pub fn table(&self) -> Cmd {
        Cmd::new("trivy")
            .args(["convert", "--format", "table"])
            .arg(self.json.display().to_string())
    }
}

/// One finding of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: String,
    pub package: String,
    pub severity: Severity,
}

/// Counts per severity and the findings at or above the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub platform: String,
    pub counts: std::collections::BTreeMap<String, usize>,
    pub blocking: Vec<Finding>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.blocking.is_empty()
    }
}

/// Reads Trivy's JSON report and applies the gate: a finding blocks at or above `gate`.
pub fn judge(platform: &str, report: &serde_json::Value, gate: Severity) -> Verdict {
    let mut counts = std::collections::BTreeMap::new();
    let mut blocking = Vec::new();
    let results = report["Results"].as_array().cloned().unwrap_or_default();
    for result in &results {
        let vulns = result["Vulnerabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                (
                    v["VulnerabilityID"].as_str(),
                    v["PkgName"].as_str(),
                    v["Severity"].as_str(),
                )
            });
        let secrets = result["Secrets"].as_array().into_iter().flatten().map(|s| {
            (
                s["RuleID"].as_str(),
                result["Target"].as_str(),
                s["Severity"].as_str(),
            )
        });
        for (id, package, severity) in vulns.chain(secrets) {
            let severity = Severity::parse(severity.unwrap_or("UNKNOWN"));
            *counts.entry(severity.to_string()).or_insert(0) += 1;
            if severity >= gate {
                blocking.push(Finding {
                    id: id.unwrap_or("?").to_string(),
                    package: package.unwrap_or("?").to_string(),
                    severity,
                });
            }
        }
    }
    Verdict {
        platform: platform.to_string(),
        counts,
        blocking,
    }
}

pub fn read_report(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read(path)
        .with_context(|| format!("trivy wrote no report at {}", path.display()))?;
    serde_json::from_slice(&text).context("trivy's JSON report is not valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> serde_json::Value {
        serde_json::json!({"Results": [
            {"Target": "img (debian 12)", "Vulnerabilities": [
                {"VulnerabilityID": "CVE-2099-0001", "PkgName": "libcritical", "Severity": "CRITICAL"},
                {"VulnerabilityID": "CVE-2099-0002", "PkgName": "libhigh", "Severity": "HIGH"}]},
            {"Target": "/app/.env", "Secrets": [{"RuleID": "github-pat", "Severity": "CRITICAL"}]},
            {"Target": "empty"}
        ]})
    }

    #[test]
    fn gate_counts_only_at_or_above_its_severity() {
        let v = judge("linux/amd64", &report(), Severity::Critical);
        assert!(!v.passed());
        assert_eq!(v.blocking.len(), 2);
        assert_eq!(v.counts["HIGH"], 1);
        assert_eq!(v.counts["CRITICAL"], 2);
        assert_eq!(judge("x", &report(), Severity::High).blocking.len(), 3);
    }

    #[test]
    fn high_only_report_passes_a_critical_gate() {
        let only_high = serde_json::json!({"Results": [{"Target": "t", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-2099-0002", "PkgName": "libhigh", "Severity": "HIGH"}]}]});
        let v = judge("x", &only_high, Severity::Critical);
        assert!(v.passed());
        assert_eq!(v.counts["HIGH"], 1);
        assert!(judge("x", &serde_json::json!({}), Severity::Low).passed());
    }

    #[test]
    fn commands_keep_every_finding_and_use_the_mirror() {
        let db = TrivyDb {
            repository: Some("127.0.0.1:5000/aquasec/trivy-db:2".into()),
            cache_dir: "c".into(),
        };
        let plan = ScanPlan::new("linux/arm64", Path::new("l"), Path::new("r"), &db);
        let scan = plan.scan().to_string();
        assert_eq!(
            scan,
            "trivy image --input l/linux-arm64 --scanners vuln,secret --format json --output r/trivy-linux-arm64.json --cache-dir c --exit-code 0 --db-repository 127.0.0.1:5000/aquasec/trivy-db:2"
        );
        assert!(!scan.contains("--severity"));
        assert_eq!(plan.sarif().to_string(), "trivy convert --format sarif --output r/trivy-linux-arm64.sarif r/trivy-linux-arm64.json");
    }
}
