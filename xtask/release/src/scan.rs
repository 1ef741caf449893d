//! The Trivy scan: the database is fetched once and its age checked, then one JSON report per
//! platform of the built layout, from which come the SARIF file for GitHub's Security tab, the
//! table in the log, the CycloneDX SBOM and the gate. The gate is decided here from the full
//! report, so the SARIF keeps every finding while only the chosen severity fails.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cmd::Cmd;

pub mod identity;
pub mod sarif;

pub use identity::ScannedImage;

/// The media type of a CycloneDX SBOM, and the artifact type of its referrer.
pub const SBOM_ARTIFACT_TYPE: &str = "application/vnd.cyclonedx+json";

/// The oldest vulnerability database a release is judged by, in hours.
pub const MAX_DB_AGE_HOURS: u64 = 72;

/// Trivy's words, on the command line, in its reports and in ours.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    clap::ValueEnum,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
)]
#[value(rename_all = "UPPERCASE")]
#[serde(rename_all = "UPPERCASE", from = "String")]
#[strum(serialize_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

/// Trivy's words; anything else is UNKNOWN.
impl From<String> for Severity {
    fn from(word: String) -> Severity {
        word.parse().unwrap_or(Severity::Unknown)
    }
}

/// Where Trivy gets its vulnerability database and keeps it between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrivyDb {
    /// A mirror such as `mirror.gcr.io/aquasec/trivy-db:2`; `None` is Trivy's default.
    pub repository: Option<String>,
    pub cache_dir: PathBuf,
    /// The oldest database the gate accepts, in hours; `None` accepts any (`--allow-stale-db`).
    pub max_age_hours: Option<u64>,
}

impl TrivyDb {
    /// Fetches the database once, before any platform is scanned, so that every platform is
    /// judged by the same one and its age can be checked first.
    pub fn download(&self) -> Cmd {
        Cmd::new("trivy")
            .args(["image", "--download-db-only", "--no-progress"])
            .opt("--cache-dir", self.cache_dir.display().to_string())
            .args(self.repository.iter().flat_map(|r| ["--db-repository", r]))
    }

    pub fn metadata(&self) -> PathBuf {
        self.cache_dir.join("db/metadata.json")
    }

    /// Where the database comes from and how old it may be, for the plan's notes.
    pub fn describe(&self) -> String {
        let from = self
            .repository
            .as_deref()
            .unwrap_or("Trivy's default repository");
        match self.max_age_hours {
            Some(h) => format!("{from}, at most {h} hours old"),
            None => format!("{from}, any age (a local environment's fixture)"),
        }
    }
}

/// What Trivy records about the database it holds.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DbMetadata {
    pub updated_at: String,
}

/// The database's age in hours at `now`, refused when over the limit: a release must not be
/// judged by a stale (or a test fixture's) database.
pub fn check_db_age(
    meta: &DbMetadata,
    now: jiff::Timestamp,
    max_hours: Option<u64>,
) -> Result<f64> {
    let updated: jiff::Timestamp = meta.updated_at.parse().with_context(|| {
        format!(
            "the database's UpdatedAt `{}` is not a time",
            meta.updated_at
        )
    })?;
    let hours = (now.as_second() - updated.as_second()) as f64 / 3600.0;
    if let Some(max) = max_hours {
        anyhow::ensure!(
            hours <= max as f64,
            "the vulnerability database was updated {} ({hours:.0} hours ago), more than the \
             {max} hours --max-db-age allows: let Trivy download a current one (clear the cache \
             directory, or point TRIVY_DB_REPOSITORY at a mirror that is kept current); only a \
             test environment should pass --allow-stale-db",
            meta.updated_at
        );
    }
    Ok(hours)
}

/// The per-platform commands of one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanPlan {
    pub platform: String,
    pub layout: PathBuf,
    pub json: PathBuf,
    pub sarif: PathBuf,
    pub sbom: PathBuf,
    pub cache_dir: PathBuf,
    /// The image the reports describe (Trivy would name the layout on disk).
    pub image: ScannedImage,
    /// The OpenVEX statements the scan applies (the release's, as the gate reads them):
    /// findings they mark `not_affected` or `fixed` are suppressed, never dropped: the
    /// report, the table and the SARIF list them with the statement's justification.
    pub vex: Option<PathBuf>,
}

impl ScanPlan {
    pub fn new(
        platform: &str,
        layouts: &Path,
        reports: &Path,
        db: &TrivyDb,
        image: &ScannedImage,
    ) -> Self {
        let slug = crate::text::platform_slug(platform);
        ScanPlan {
            platform: platform.to_string(),
            layout: layouts.join(&slug),
            json: reports.join(format!("trivy-{slug}.json")),
            sarif: reports.join(format!("trivy-{slug}.sarif")),
            sbom: reports.join(format!("sbom-{slug}.cdx.json")),
            cache_dir: db.cache_dir.clone(),
            image: image.clone(),
            vex: None,
        }
    }

    /// The same scan, applying the OpenVEX document at `vex`.
    pub fn with_vex(self, vex: Option<PathBuf>) -> Self {
        ScanPlan { vex, ..self }
    }

    /// The JSON report with the suppressed findings put back, which the SARIF is made from
    /// (Trivy's SARIF leaves suppressed findings out; ours keeps them, marked).
    pub fn unsuppressed_json(&self) -> PathBuf {
        self.json.with_extension("unsuppressed.json")
    }

    /// The report the SARIF file is converted from.
    pub fn sarif_source(&self) -> PathBuf {
        match self.vex {
            Some(_) => self.unsuppressed_json(),
            None => self.json.clone(),
        }
    }

    /// Every severity and every package, so the reports and the SBOM are complete; the gate is
    /// applied afterwards. The database was fetched (and its age checked) before. The VEX
    /// document is applied when one was written for this platform (`vex_written`): OpenVEX
    /// has no empty document, so a platform no statement applies to has none.
    pub fn scan(&self, vex_written: bool) -> Cmd {
        let cmd = Cmd::new("trivy")
            .arg("image")
            .opt("--input", self.layout.display().to_string())
            .opt("--scanners", "vuln,secret")
            .arg("--list-all-pkgs")
            .opt("--format", "json")
            .opt("--output", self.json.display().to_string())
            .opt("--cache-dir", self.cache_dir.display().to_string())
            .args(["--skip-db-update", "--skip-java-db-update", "--no-progress"])
            .opt("--exit-code", "0");
        match &self.vex {
            Some(vex) if vex_written => cmd
                .opt("--vex", vex.display().to_string())
                .arg("--show-suppressed"),
            _ => cmd,
        }
    }

    /// The JSON report converted: SARIF for the Security tab, the summary and findings in the
    /// log (`--scanners` says which columns to show), or the SBOM of exactly the scanned bytes.
    pub fn convert(&self, format: ReportFormat) -> Cmd {
        let cmd = Cmd::new("trivy").args(["convert", "--format", format.as_ref()]);
        match format {
            ReportFormat::Sarif => cmd
                .opt("--output", self.sarif.display().to_string())
                .arg(self.sarif_source().display().to_string()),
            ReportFormat::Table => cmd
                .opt("--scanners", "vuln,secret")
                .args(self.vex.is_some().then_some("--show-suppressed"))
                .arg(self.json.display().to_string()),
            ReportFormat::CycloneDx => cmd
                .opt("--output", self.sbom.display().to_string())
                .arg(self.json.display().to_string()),
        }
    }

    /// Where this platform's reports are, for the gate.
    pub fn report(&self) -> ReportFiles {
        ReportFiles {
            platform: self.platform.clone(),
            json: self.json.clone(),
            sarif: self.sarif.clone(),
        }
    }
}

/// Where the reports of one platform's scan are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportFiles {
    pub platform: String,
    pub json: PathBuf,
    pub sarif: PathBuf,
}

impl ReportFiles {
    /// The JSON report read and judged (`judge`).
    pub fn judge(&self, gate: Severity, require_rust: bool) -> Result<Verdict> {
        let report = read_report(&self.json)?;
        Ok(judge(&self.platform, &report, gate, require_rust))
    }
}

/// What a JSON report is converted into, named as Trivy's `--format` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::AsRefStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ReportFormat {
    Sarif,
    Table,
    CycloneDx,
}

impl ReportFormat {
    /// How the plan names it.
    pub fn what(self) -> &'static str {
        match self {
            ReportFormat::Sarif | ReportFormat::Table => "report",
            ReportFormat::CycloneDx => "sbom",
        }
    }
}

/// Trivy's JSON report: the fields the gate reads, and all the others kept (`other`), so that
/// the report written back for `trivy convert` (`sarif::unsuppress`) holds all that Trivy
/// wrote. A field Trivy leaves out stays out.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ReportResult>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportResult {
    pub target: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub class: String,
    #[serde(default, rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<Vulnerability>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretFinding>,
    /// Findings a VEX statement suppressed (only with `--show-suppressed`). Never written back:
    /// `sarif::unsuppress` moves them among the vulnerabilities.
    #[serde(default, rename = "ExperimentalModifiedFindings", skip_serializing)]
    pub modified: Vec<ModifiedFinding>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A finding Trivy did not report because a statement says so: of a vulnerability, by an
/// OpenVEX statement; of anything else (a secret, by `.trivyignore`), not the release's concern.
#[derive(Debug, Deserialize)]
#[serde(tag = "Type")]
pub enum ModifiedFinding {
    #[serde(rename = "vulnerability")]
    Vulnerability(VexSuppressed),
    #[serde(other)]
    Other,
}

/// A vulnerability a VEX statement suppressed, and why.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VexSuppressed {
    /// The VEX status: `not_affected` or `fixed`.
    pub status: String,
    /// The statement's justification.
    #[serde(default)]
    pub statement: String,
    pub finding: Vulnerability,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Package {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vulnerability {
    #[serde(rename = "VulnerabilityID")]
    pub id: String,
    pub pkg_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub installed_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fixed_version: String,
    pub severity: Severity,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretFinding {
    #[serde(rename = "RuleID")]
    pub rule_id: String,
    pub severity: Severity,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

pub fn read_report(path: &Path) -> Result<Report> {
    let text = std::fs::read(path)
        .with_context(|| format!("trivy wrote no report at {}", path.display()))?;
    serde_json::from_slice(&text).context("trivy's JSON report is not what the gate expects")
}

/// One finding of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: String,
    pub package: String,
    pub installed: String,
    pub fixed: String,
    pub severity: Severity,
}

impl From<&Vulnerability> for Finding {
    fn from(v: &Vulnerability) -> Finding {
        Finding {
            id: v.id.clone(),
            package: v.pkg_name.clone(),
            installed: v.installed_version.clone(),
            fixed: v.fixed_version.clone(),
            severity: v.severity,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} in {}", self.id, self.severity, self.package)?;
        if !self.installed.is_empty() {
            write!(f, " {}", self.installed)?;
        }
        if !self.fixed.is_empty() {
            write!(f, ", fixed in {}", self.fixed)?;
        }
        f.write_str(")")
    }
}

/// A finding a VEX statement suppressed, with why: listed beside the findings, never hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppressed {
    pub finding: Finding,
    /// `not_affected` or `fixed`.
    pub status: String,
    /// The statement's justification, e.g. `vulnerable_code_not_in_execute_path`.
    pub justification: String,
}

impl fmt::Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} suppressed by VEX: {}", self.finding, self.status)?;
        if !self.justification.is_empty() {
            write!(f, ", {}", self.justification)?;
        }
        Ok(())
    }
}

/// What one platform's scan saw and whether it passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub platform: String,
    pub os_packages: usize,
    pub rust_packages: usize,
    pub counts: BTreeMap<String, usize>,
    /// Findings at or above the gate.
    pub blocking: Vec<Finding>,
    /// Every vulnerability, for notifications.
    pub findings: Vec<Finding>,
    /// What the release's VEX statements suppressed: not counted, not blocking, but shown.
    pub suppressed: Vec<Suppressed>,
    /// Why the scan itself cannot be trusted (it saw no Rust packages).
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.blocking.is_empty() && self.problems.is_empty()
    }

    /// Why this platform fails the gate, one line each.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = self.problems.clone();
        if !self.blocking.is_empty() {
            let ids: Vec<String> = self.blocking.iter().map(|f| f.to_string()).collect();
            failures.push(format!("{}: {}", self.platform, ids.join(", ")));
        }
        failures
    }
}

/// The scan, per platform, for the job summary.
pub fn summary(gate: Severity, verdicts: &[Verdict]) -> String {
    let mut md = format!(
        "### Scan (gate: {gate})\n\n| platform | OS packages | Rust packages | findings |\n|---|---|---|---|\n"
    );
    for v in verdicts {
        md.push_str(&format!(
            "| {} | {} | {} | {:?} |\n",
            v.platform, v.os_packages, v.rust_packages, v.counts
        ));
    }
    let suppressed: Vec<String> = verdicts
        .iter()
        .flat_map(|v| {
            v.suppressed
                .iter()
                .map(move |s| format!("- {}: {s}", v.platform))
        })
        .collect();
    if !suppressed.is_empty() {
        md.push_str("\nSuppressed by the release's VEX statements (`security/vex.json`):\n\n");
        md.push_str(&suppressed.join("\n"));
        md.push('\n');
    }
    md
}

/// What the VEX statements suppressed in one result.
pub(crate) fn suppressed(result: &ReportResult) -> impl Iterator<Item = Suppressed> + '_ {
    result.modified.iter().filter_map(|m| match m {
        ModifiedFinding::Vulnerability(v) => Some(Suppressed {
            finding: Finding::from(&v.finding),
            status: v.status.clone(),
            justification: v.statement.clone(),
        }),
        ModifiedFinding::Other => None,
    })
}

fn findings(result: &ReportResult) -> impl Iterator<Item = Finding> + '_ {
    let vulns = result.vulnerabilities.iter().map(Finding::from);
    let secrets = result.secrets.iter().map(|s| Finding {
        id: s.rule_id.clone(),
        package: result.target.clone(),
        installed: String::new(),
        fixed: String::new(),
        severity: s.severity,
    });
    vulns.chain(secrets)
}

/// Applies the gate: a finding blocks at or above `gate`; with `require_rust`, a report that
/// lists no Rust packages fails too (the scan did not see the operator's code).
pub fn judge(platform: &str, report: &Report, gate: Severity, require_rust: bool) -> Verdict {
    let count = |class: &str| -> usize {
        report
            .results
            .iter()
            .filter(|r| r.class == class || (class == "rustbinary" && r.kind == class))
            .map(|r| r.packages.len())
            .sum()
    };
    let rust_packages = count("rustbinary");
    let all: Vec<Finding> = report.results.iter().flat_map(findings).collect();
    let mut counts = BTreeMap::new();
    for f in &all {
        *counts.entry(f.severity.to_string()).or_insert(0) += 1;
    }
    let mut problems = Vec::new();
    if require_rust && rust_packages == 0 {
        problems.push(format!(
            "{platform}: the scan listed no Rust packages, so it did not see the operator's \
             code: build it with `cargo auditable build` (the Dockerfile's build stage), or pass \
             --no-rust-binary for an image that carries no Rust binary"
        ));
    }
    Verdict {
        platform: platform.to_string(),
        os_packages: count("os-pkgs"),
        rust_packages,
        counts,
        blocking: all.iter().filter(|f| f.severity >= gate).cloned().collect(),
        findings: all,
        suppressed: report.results.iter().flat_map(suppressed).collect(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        serde_json::from_value(serde_json::json!({"Results": [
            {"Target": "img (debian 12)", "Class": "os-pkgs", "Type": "debian",
             "Packages": [{"Name": "libcritical", "Version": "1.0.0-1"}, {"Name": "libhigh", "Version": "2.0.0-1"}],
             "Vulnerabilities": [
                {"VulnerabilityID": "CVE-2099-0001", "PkgName": "libcritical", "InstalledVersion": "1.0.0-1", "FixedVersion": "1.0.1-1", "Severity": "CRITICAL"},
                {"VulnerabilityID": "CVE-2099-0002", "PkgName": "libhigh", "Severity": "HIGH"}]},
            {"Target": "usr/local/bin/kube9-operator", "Class": "lang-pkgs", "Type": "rustbinary",
             "Packages": [{"Name": "tokio", "Version": "1.0.0"}]},
            {"Target": "/app/.env", "Class": "secret", "Secrets": [{"RuleID": "github-pat", "Severity": "CRITICAL"}]},
            {"Target": "empty"}
        ]}))
        .unwrap()
    }

    #[test]
    fn gate_counts_only_at_or_above_its_severity() {
        let v = judge("linux/amd64", &report(), Severity::Critical, true);
        assert!(!v.passed());
        assert_eq!(v.blocking.len(), 2);
        assert_eq!(v.counts["HIGH"], 1);
        assert_eq!(v.counts["CRITICAL"], 2);
        assert_eq!((v.os_packages, v.rust_packages), (2, 1));
        assert_eq!(
            v.blocking[0].to_string(),
            "CVE-2099-0001 (CRITICAL in libcritical 1.0.0-1, fixed in 1.0.1-1)"
        );
        assert_eq!(
            judge("x", &report(), Severity::High, true).blocking.len(),
            3
        );
    }

    #[test]
    fn high_only_report_passes_a_critical_gate() {
        let only_high: Report = serde_json::from_value(serde_json::json!({"Results": [
            {"Target": "t", "Class": "lang-pkgs", "Type": "rustbinary", "Packages": [{"Name": "a"}],
             "Vulnerabilities": [{"VulnerabilityID": "CVE-2099-0002", "PkgName": "a", "Severity": "HIGH"}]}]}))
        .unwrap();
        let v = judge("x", &only_high, Severity::Critical, true);
        assert!(v.passed());
        assert_eq!(v.counts["HIGH"], 1);
    }

    #[test]
    fn a_scan_that_saw_no_rust_code_fails_unless_the_image_has_none() {
        let empty = Report::default();
        let v = judge("linux/arm64", &empty, Severity::Critical, true);
        assert!(!v.passed());
        assert!(
            v.problems[0].contains("no Rust packages"),
            "{:?}",
            v.problems
        );
        assert!(judge("linux/arm64", &empty, Severity::Critical, false).passed());
    }

    #[test]
    fn unknown_severities_are_read_as_unknown() {
        let r: Report = serde_json::from_value(serde_json::json!({"Results": [{"Target": "t",
            "Vulnerabilities": [{"VulnerabilityID": "X", "PkgName": "p", "Severity": "WEIRD"}]}]}))
        .unwrap();
        assert_eq!(r.results[0].vulnerabilities[0].severity, Severity::Unknown);
    }

    #[test]
    fn commands_fetch_the_database_once_and_keep_every_finding() {
        let db = TrivyDb {
            repository: Some("127.0.0.1:5000/aquasec/trivy-db:2".into()),
            cache_dir: "c".into(),
            max_age_hours: Some(72),
        };
        assert_eq!(
            db.download().to_string(),
            "trivy image --download-db-only --no-progress --cache-dir c --db-repository 127.0.0.1:5000/aquasec/trivy-db:2"
        );
        let image = ScannedImage {
            repository: crate::registry::Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
            version: "1.2.3".into(),
        };
        let plan = ScanPlan::new("linux/arm64", Path::new("l"), Path::new("r"), &db, &image);
        let scan = plan.scan(true).to_string();
        assert_eq!(
            scan,
            "trivy image --input l/linux-arm64 --scanners vuln,secret --list-all-pkgs --format json --output r/trivy-linux-arm64.json --cache-dir c --skip-db-update --skip-java-db-update --no-progress --exit-code 0"
        );
        assert!(!scan.contains("--severity"));
        assert_eq!(
            plan.convert(ReportFormat::CycloneDx).to_string(),
            "trivy convert --format cyclonedx --output r/sbom-linux-arm64.cdx.json r/trivy-linux-arm64.json"
        );
    }

    #[test]
    fn an_old_database_is_refused_unless_allowed() {
        let meta = DbMetadata {
            updated_at: "2026-11-20T00:00:00Z".into(),
        };
        let now: jiff::Timestamp = "2026-11-28T00:00:00Z".parse().unwrap();
        let err = check_db_age(&meta, now, Some(72)).unwrap_err().to_string();
        assert!(err.contains("192 hours ago"), "{err}");
        assert!(err.contains("--max-db-age"), "{err}");
        assert_eq!(check_db_age(&meta, now, None).unwrap(), 192.0);
        let fresh = DbMetadata {
            updated_at: "2026-11-27T12:00:00.123456789Z".into(),
        };
        assert_eq!(check_db_age(&fresh, now, Some(72)).unwrap().round(), 12.0);
    }
}
