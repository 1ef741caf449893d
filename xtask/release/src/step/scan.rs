//! The scan: the database once (and its age), each platform's layout and report, the reports
//! converted, the gate on a release, and a rescan's report on a published version.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::needs::{Binding, Needs, Tool};
use super::{Action, Bound, Cx};
use crate::github;
use crate::notify::{self, Notify};
use crate::record::ScanRecord;
use crate::scan::{self, ReportFiles, ReportFormat, ScanPlan, Severity, TrivyDb, Verdict};
use crate::validate::{self, Standard};

/// The vulnerability database, fetched once before any platform is scanned.
#[derive(Debug, Clone, Serialize)]
pub struct FetchDatabase {
    pub db: TrivyDb,
}

impl Action for FetchDatabase {
    fn needs(&self) -> Needs {
        Needs::new().tools([Tool::Trivy])
    }

    fn describe(&self) -> String {
        format!("database: {}", self.db.download())
    }

    fn hint(&self) -> String {
        "trivy could not fetch its vulnerability database; nothing was pushed: point \
         TRIVY_DB_REPOSITORY (or --trivy-db-repository) at a reachable mirror"
            .into()
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        self.db.download().run()
    }
}

/// The database's age, at most `max_age_hours`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckDatabase {
    pub metadata: PathBuf,
    pub max_age_hours: Option<u64>,
}

impl Action for CheckDatabase {
    fn needs(&self) -> Needs {
        Needs::new()
    }

    fn describe(&self) -> String {
        match self.max_age_hours {
            Some(h) => format!("check the database: updated at most {h} hours ago"),
            None => "check the database: any age accepted (--allow-stale-db)".into(),
        }
    }

    fn hint(&self) -> String {
        "the vulnerability database cannot judge this release; nothing was scanned or pushed".into()
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        let text = std::fs::read(&self.metadata).with_context(|| {
            format!(
                "trivy left no database metadata at {}",
                self.metadata.display()
            )
        })?;
        let meta: scan::DbMetadata = serde_json::from_slice(&text).with_context(|| {
            format!(
                "{} is not Trivy's database metadata",
                self.metadata.display()
            )
        })?;
        let hours = scan::check_db_age(&meta, jiff::Timestamp::now(), self.max_age_hours)?;
        if self.max_age_hours.is_none() && hours > scan::MAX_DB_AGE_HOURS as f64 {
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
}

/// A layout of one platform alone, for Trivy.
#[derive(Debug, Clone, Serialize)]
pub struct SplitPlatform {
    pub platform: String,
    pub dest: PathBuf,
}

impl Action for SplitPlatform {
    fn needs(&self) -> Needs {
        Needs::new().reads([Binding::Image])
    }

    fn describe(&self) -> String {
        format!("layout of {} alone: {}", self.platform, self.dest.display())
    }

    fn hint(&self) -> String {
        format!(
            "the {} image could not be laid out for the scan; nothing was pushed",
            self.platform
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let image = cx.bindings.image()?;
        image.write_single_platform(image.platform(&self.platform)?, &self.dest)
    }
}

/// One platform's scan: every severity and package, into a JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    pub scan: ScanPlan,
    /// The version, when scanning a published one (a rescan).
    pub version: Option<String>,
}

impl Action for Scan {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_if_known([Binding::VexGates])
            .tools([Tool::Trivy])
    }

    fn describe(&self) -> String {
        let what = match &self.version {
            Some(v) => format!("scan {v} {}", self.scan.platform),
            None => format!("scan {}", self.scan.platform),
        };
        let when = match &self.scan.vex {
            Some(_) => " (--vex when a statement applies to this platform)",
            None => "",
        };
        format!("{what}: {}{when}", self.scan.scan(true))
    }

    fn hint(&self) -> String {
        format!(
            "trivy failed (scan {}); nothing was pushed",
            self.scan.platform
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let written = cx.bindings.vex_gates.contains(&self.scan.platform);
        self.scan.scan(written).run()
    }
}

/// A platform's JSON report converted: SARIF for the Security tab, the table in the log, or
/// the CycloneDX SBOM of exactly the scanned bytes. The SARIF and the SBOM are then given the
/// published image's identity (Trivy names the layout on disk) and each SARIF result its
/// fingerprint.
#[derive(Debug, Clone, Serialize)]
pub struct Convert {
    pub scan: ScanPlan,
    pub format: ReportFormat,
}

impl Convert {
    fn marks_suppressed(&self) -> bool {
        self.format == ReportFormat::Sarif && self.scan.vex.is_some()
    }

    /// The SARIF file, from the report with its suppressed findings put back (each marked
    /// suppressed with its justification), naming the image, each result fingerprinted.
    fn sarif(&self) -> Result<()> {
        let mut marks = Vec::new();
        if self.marks_suppressed() {
            let report = std::fs::read(&self.scan.json).with_context(|| {
                format!("trivy wrote no report at {}", self.scan.json.display())
            })?;
            let (all, m) = scan::sarif::unsuppress(&report)?;
            std::fs::write(self.scan.unsuppressed_json(), all)?;
            marks = m;
        }
        self.scan.convert(self.format).run()?;
        let path = &self.scan.sarif;
        let mut sarif = read_json(path, "SARIF file")?;
        let marked = scan::sarif::mark(&mut sarif, &marks);
        scan::identity::identify_sarif(&mut sarif, &self.scan.image, &self.scan.platform);
        std::fs::write(path, serde_json::to_vec_pretty(&sarif)?)?;
        if marked > 0 {
            println!(
                "{}: {marked} finding(s) in the SARIF file marked suppressed by VEX",
                self.scan.platform
            );
        }
        Ok(())
    }

    /// The SBOM, describing the platform's image as published (name, version, purl with the
    /// platform manifest's digest).
    fn sbom(&self, cx: &Cx) -> Result<()> {
        let digest = cx
            .bindings
            .digest(&Bound::Platform(self.scan.platform.clone()))?;
        self.scan.convert(self.format).run()?;
        let path = &self.scan.sbom;
        let mut bom = read_json(path, "CycloneDX SBOM")?;
        scan::identity::identify_sbom(&mut bom, &self.scan.image, &self.scan.platform, &digest);
        std::fs::write(path, serde_json::to_vec_pretty(&bom)?)?;
        validate::check(Standard::CycloneDx, path)
    }
}

fn read_json(path: &Path, what: &str) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("trivy wrote no {what} at {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("trivy's {what} {} does not parse", path.display()))
}

impl Action for Convert {
    fn needs(&self) -> Needs {
        let needs = Needs::new().tools([Tool::Trivy]);
        match self.format {
            ReportFormat::CycloneDx => needs.reads([Binding::Platforms]).tools([Tool::Validators]),
            ReportFormat::Sarif | ReportFormat::Table => needs,
        }
    }

    fn describe(&self) -> String {
        let image = self.scan.image.name();
        let also = match self.format {
            ReportFormat::Sarif if self.marks_suppressed() => format!(
                " (naming {image}, each result fingerprinted; findings the VEX statements \
                 suppress kept, marked suppressed)"
            ),
            ReportFormat::Sarif => format!(" (naming {image}, each result fingerprinted)"),
            ReportFormat::CycloneDx => format!(
                " (describing {image}, pkg:oci purl of <{}-digest>); {}",
                self.scan.platform,
                validate::shown(Standard::CycloneDx, &self.scan.sbom)
            ),
            ReportFormat::Table => String::new(),
        };
        format!(
            "{}: {}{also}",
            self.format.what(),
            self.scan.convert(self.format)
        )
    }

    fn hint(&self) -> String {
        format!(
            "trivy failed ({} of {}); nothing was pushed",
            self.format.what(),
            self.scan.platform
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        match self.format {
            ReportFormat::Sarif => self.sarif(),
            ReportFormat::CycloneDx => self.sbom(cx),
            ReportFormat::Table => self.scan.convert(self.format).run(),
        }
    }
}

/// Judges the reports; with `enforce`, a finding at `severity` or above (or a scan that saw no
/// Rust packages, with `require_rust`) stops the release. Learns the verdicts.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    pub severity: Severity,
    pub reports: Vec<ReportFiles>,
    pub require_rust: bool,
    pub enforce: bool,
    /// Who hears of a failed gate: an issue text, and on GitHub the issue itself.
    pub notify: Notify,
}

impl Action for Gate {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_if_known([Binding::Index])
            .writes([Binding::Scan])
            .github(self.notify.permissions())
    }

    fn describe(&self) -> String {
        let rust = if self.require_rust {
            ", and Rust packages seen in every platform"
        } else {
            ""
        };
        if self.enforce {
            format!(
                "gate: no finding of severity {} or above{rust}",
                self.severity
            )
        } else {
            "report the findings (already published: the gate decided at the first run)".into()
        }
    }

    fn hint(&self) -> String {
        let dir = self
            .reports
            .first()
            .and_then(|r| r.json.parent())
            .unwrap_or(Path::new("."));
        format!(
            "the image failed its checks, so nothing was pushed (reports: {})",
            dir.display()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let verdicts = self
            .reports
            .iter()
            .map(|r| r.judge(self.severity, self.require_rust))
            .collect::<Result<Vec<_>>>()?;
        for v in &verdicts {
            println!(
                "scanned {}: {} OS packages, {} Rust packages; findings {:?}",
                v.platform, v.os_packages, v.rust_packages, v.counts
            );
            for s in &v.suppressed {
                // Package names and versions come from the image: one line each.
                println!("  {}", crate::text::one_line(&s.to_string()));
            }
        }
        if let Some(actions) = cx.actions() {
            actions.add_summary(&scan::summary(self.severity, &verdicts))?;
        }
        let failures: Vec<String> = verdicts.iter().flat_map(Verdict::failures).collect();
        cx.bindings.scan = Some(ScanRecord::new(&self.severity.to_string(), &verdicts));
        if failures.is_empty() {
            return Ok(());
        }
        if !self.enforce {
            for f in &failures {
                github::warning(&format!("published image: {f}"));
            }
            return Ok(());
        }
        let blocking: Vec<Verdict> = verdicts
            .iter()
            .filter(|v| !v.blocking.is_empty())
            .cloned()
            .collect();
        if !blocking.is_empty() {
            let index = cx.bindings.index.as_deref().unwrap_or_default();
            let why = format!(
                "The release gate ({}) stopped this version: nothing was published. Build {index}.",
                self.severity
            );
            let issue =
                notify::findings_issue(&self.notify.image, &self.notify.version, &blocking, &why);
            self.notify.send(&issue);
        }
        bail!("{}", failures.join("; "))
    }
}

/// A rescan's verdict on one published version: its SARIF files named for the Security tab
/// (GitHub keeps one analysis per category), its findings at `severity` or above reported
/// (an issue per version).
#[derive(Debug, Clone, Serialize)]
pub struct Rescanned {
    pub version: String,
    pub severity: Severity,
    pub reports: Vec<ReportFiles>,
    pub sarif_dir: PathBuf,
    pub notify: Notify,
}

impl Action for Rescanned {
    fn needs(&self) -> Needs {
        Needs::new().github(self.notify.permissions())
    }

    fn describe(&self) -> String {
        format!(
            "judge {}: report findings of {} or above",
            self.version, self.severity
        )
    }

    fn hint(&self) -> String {
        format!(
            "the rescan of {} could not be reported: its reports are in {}",
            self.version,
            self.sarif_dir.display()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        std::fs::create_dir_all(&self.sarif_dir)?;
        let mut found = Vec::new();
        let mut verdicts = Vec::new();
        for r in &self.reports {
            self.categorise(r)?;
            let verdict = r.judge(self.severity, false)?;
            // What the VEX statements suppressed is said, never dropped silently.
            for s in &verdict.suppressed {
                println!(
                    "{} {}: {}",
                    self.version,
                    verdict.platform,
                    crate::text::one_line(&s.to_string())
                );
            }
            verdicts.push(verdict.clone());
            if !verdict.blocking.is_empty() {
                found.push(Verdict {
                    findings: verdict.blocking.clone(),
                    ..verdict
                });
            }
        }
        if let Some(actions) = cx.actions() {
            actions.add_summary(&format!(
                "**Rescan of {}**\n\n{}",
                self.version,
                scan::summary(self.severity, &verdicts)
            ))?;
        }
        if found.is_empty() {
            println!("{}: no finding of {} or above", self.version, self.severity);
            return Ok(());
        }
        let count: usize = found.iter().map(|v| v.blocking.len()).sum();
        github::warning(&format!(
            "{}:{} has {count} finding(s) of {} or above since its release",
            self.notify.image, self.version, self.severity
        ));
        let why = format!(
            "The weekly rescan with today's vulnerability database found {} or higher \
             findings in this published image.",
            self.severity
        );
        let issue = notify::findings_issue(&self.notify.image, &self.version, &found, &why);
        self.notify.send(&issue);
        Ok(())
    }
}

impl Rescanned {
    /// The SARIF file with a category of its own: `trivy-rescan-<version>-<platform>`.
    fn categorise(&self, r: &ReportFiles) -> Result<()> {
        let slug = crate::text::platform_slug(&r.platform);
        let category = format!("trivy-rescan-{}-{slug}", self.version);
        let mut sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(&r.sarif)?)?;
        for run in sarif["runs"].as_array_mut().into_iter().flatten() {
            run["automationDetails"] = serde_json::json!({"id": format!("{category}/")});
        }
        let dest = self.sarif_dir.join(format!("{category}.sarif"));
        std::fs::write(&dest, serde_json::to_vec_pretty(&sarif)?)?;
        Ok(())
    }
}
