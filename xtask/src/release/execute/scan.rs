//! The scan steps: the database's age, the gate on a release's findings, and a rescan's report
//! on a published version.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::Executor;
use crate::release::github;
use crate::release::notify::{self, Notify};
use crate::release::plan::Report;
use crate::release::scan::{self, Severity, Verdict};

impl Executor {
    pub(super) fn gate(
        &mut self,
        severity: Severity,
        reports: &[Report],
        require_rust: bool,
        enforce: bool,
        notify: &Notify,
    ) -> Result<()> {
        self.verdicts = reports
            .iter()
            .map(|r| {
                let report = scan::read_report(&r.json)?;
                Ok(scan::judge(&r.platform, &report, severity, require_rust))
            })
            .collect::<Result<_>>()?;
        self.gate = severity.to_string();
        for v in &self.verdicts {
            println!(
                "scanned {}: {} OS packages, {} Rust packages; findings {:?}",
                v.platform, v.os_packages, v.rust_packages, v.counts
            );
        }
        self.scan_summary(severity)?;
        let failures: Vec<String> = self.verdicts.iter().flat_map(gate_failures).collect();
        if failures.is_empty() {
            return Ok(());
        }
        if !enforce {
            for f in &failures {
                github::warning(&format!("published image: {f}"));
            }
            return Ok(());
        }
        let dir = reports
            .first()
            .and_then(|r| r.json.parent())
            .unwrap_or(Path::new("."));
        self.notify_failure(severity, notify);
        bail!(
            "the image failed its checks, so nothing was pushed:\n  {}\nreports: {}",
            failures.join("\n  "),
            dir.display()
        )
    }

    fn scan_summary(&self, severity: Severity) -> Result<()> {
        let Some(actions) = &self.actions else {
            return Ok(());
        };
        let mut md = format!("### Scan (gate: {severity})\n\n| platform | OS packages | Rust packages | findings |\n|---|---|---|---|\n");
        for v in &self.verdicts {
            md.push_str(&format!(
                "| {} | {} | {} | {:?} |\n",
                v.platform, v.os_packages, v.rust_packages, v.counts
            ));
        }
        actions.add_summary(&md)
    }

    fn notify_failure(&self, severity: Severity, notify: &Notify) {
        let Some(image) = self.image.as_ref() else {
            return;
        };
        let blocking: Vec<Verdict> = self
            .verdicts
            .iter()
            .filter(|v| !v.blocking.is_empty())
            .cloned()
            .collect();
        if blocking.is_empty() {
            return;
        }
        let why = format!(
            "The release gate ({severity}) stopped this version: nothing was published. Build \
             {}.",
            image.index.digest
        );
        let issue = notify::findings_issue(&notify.image, &notify.version, &blocking, &why);
        notify.send(&issue);
    }
}

fn gate_failures(v: &Verdict) -> Vec<String> {
    let mut failures = v.problems.clone();
    if !v.blocking.is_empty() {
        let ids: Vec<String> = v.blocking.iter().map(|f| f.to_string()).collect();
        failures.push(format!("{}: {}", v.platform, ids.join(", ")));
    }
    failures
}

pub(super) fn check_database(metadata: &Path, max_age_hours: Option<u64>) -> Result<()> {
    let text = std::fs::read(metadata)
        .with_context(|| format!("trivy left no database metadata at {}", metadata.display()))?;
    let meta: scan::DbMetadata = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not Trivy's database metadata", metadata.display()))?;
    let hours = scan::check_db_age(&meta, jiff::Timestamp::now(), max_age_hours)?;
    if max_age_hours.is_none() && hours > 72.0 {
        github::warning(&format!(
            "the vulnerability database is {hours:.0} hours old; judged anyway (--allow-stale-db)"
        ));
    } else {
        println!(
            "vulnerability database updated {} ({hours:.0} hours ago)",
            meta.updated_at
        );
    }
    Ok(())
}

/// A rescan's verdict on one version: each SARIF file gets a category of its own (GitHub keeps
/// one analysis per category), and findings at `severity` or above are reported.
pub(super) fn rescanned(
    version: &str,
    severity: Severity,
    reports: &[Report],
    sarif_dir: &Path,
    notify: &Notify,
) -> Result<()> {
    std::fs::create_dir_all(sarif_dir)?;
    let mut verdicts = Vec::new();
    for r in reports {
        let slug = r.platform.replace('/', "-");
        let category = format!("trivy-rescan-{version}-{slug}");
        let mut sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(&r.sarif)?)?;
        for run in sarif["runs"].as_array_mut().into_iter().flatten() {
            run["automationDetails"] = serde_json::json!({"id": format!("{category}/")});
        }
        let dest = sarif_dir.join(format!("{category}.sarif"));
        std::fs::write(&dest, serde_json::to_vec_pretty(&sarif)?)?;
        let verdict = scan::judge(&r.platform, &scan::read_report(&r.json)?, severity, false);
        verdicts.push(Verdict {
            findings: verdict.blocking.clone(),
            ..verdict
        });
    }
    let found: Vec<Verdict> = verdicts
        .into_iter()
        .filter(|v| !v.blocking.is_empty())
        .collect();
    if found.is_empty() {
        println!("{version}: no finding of {severity} or above");
        return Ok(());
    }
    let count: usize = found.iter().map(|v| v.blocking.len()).sum();
    github::warning(&format!(
        "{}:{version} has {count} finding(s) of {severity} or above since its release",
        notify.image
    ));
    let why = format!(
        "The weekly rescan with today's vulnerability database found {severity} or higher \
         findings in this published image."
    );
    notify.send(&notify::findings_issue(
        &notify.image,
        version,
        &found,
        &why,
    ));
    Ok(())
}
