//! A release as one value, computed before anything runs (cargo-dist's model): every step in
//! order, every external command as a `Cmd`. `--dry-run` prints it, `--plan-json` writes it,
//! tests inspect it, and the executor runs exactly its steps. Planning is pure: the inputs and
//! the registry's facts come in as data.

pub mod build;
pub mod chart;
pub mod image;
pub mod rescan;
pub mod verify;

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::release::chart::ChartData;
use crate::release::cmd::Cmd;
use crate::release::notify::Notify;
use crate::release::registry::Repository;
use crate::release::scan::Severity;

/// What only an earlier step learns, written into later commands as a placeholder.
pub const INDEX_DIGEST: &str = "<index-digest>";
pub const CHART_DIGEST: &str = "<chart-digest>";
/// A private (0700) directory made for the run's registry logins, removed when it ends.
pub const LOGIN_DIR: &str = "<login-dir>";

/// The placeholder for one platform's manifest digest, e.g. `<linux/arm64-digest>`.
pub fn platform_digest(platform: &str) -> String {
    format!("<{platform}-digest>")
}

/// Whether a failed step ends the run (a release) or is recorded and the run goes on (a
/// verification, which reports everything it finds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    StopAtFirstFailure,
    ReportAll,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub title: String,
    /// Facts and decisions worth reading before the steps (tags, labels, warnings).
    pub notes: Vec<String>,
    pub mode: Mode,
    pub steps: Vec<Step>,
}

/// Where the platform reports of a scan are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub platform: String,
    pub json: PathBuf,
    pub sarif: PathBuf,
}

/// One step of a plan.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// An external program; `what` says why it runs.
    Run { what: String, cmd: Cmd },
    /// An external program that checks something: its output is kept out of the log, and
    /// its verdict is recorded.
    Check { what: String, cmd: Cmd },
    /// An empty directory, made fresh.
    FreshDir { path: PathBuf },
    /// Opens the built layout: it must hold exactly `platforms`; binds the digests.
    CheckBuild {
        layout: PathBuf,
        platforms: Vec<String>,
    },
    /// Every platform's compressed size within the budget.
    CheckSize { budget: u64 },
    /// Two builds of one commit gave the same index digest.
    SameBuild { first: PathBuf, second: PathBuf },
    /// A layout of one platform, for Trivy.
    SplitPlatform { platform: String, dest: PathBuf },
    /// The vulnerability database's age.
    CheckDatabase {
        metadata: PathBuf,
        max_age_hours: Option<u64>,
    },
    /// Judges the reports; with `enforce`, a finding at `severity` or above (or a scan that saw
    /// no Rust packages, with `require_rust`) stops the release.
    Gate {
        severity: Severity,
        reports: Vec<Report>,
        require_rust: bool,
        enforce: bool,
        /// Who hears of a failed gate: an issue text, and on GitHub the issue itself.
        notify: Notify,
    },
    /// A published build read back into a layout (a re-run that must scan or attest again,
    /// a rescan); the digest is the one bound earlier unless given.
    PullPublished {
        repository: Repository,
        digest: Option<String>,
        layout: PathBuf,
    },
    /// A rescan's verdict on one published version: its SARIF files named for the Security
    /// tab, its findings at `severity` or above reported (an issue per version).
    Rescanned {
        version: String,
        severity: Severity,
        reports: Vec<Report>,
        sarif_dir: PathBuf,
        notify: Notify,
    },
    /// Blobs, manifests and the index, by digest.
    PushContent { repository: Repository },
    /// Version tags, each checked immediately before it is written.
    PushVersionTags {
        repository: Repository,
        tags: Vec<String>,
    },
    /// Floating tags decided again from the registry's tags right before writing.
    MoveFloatingTags {
        repository: Repository,
        version: String,
        candidates: Vec<String>,
    },
    /// A platform's SBOM as an OCI referrer of its manifest.
    AttachSbom {
        repository: Repository,
        platform: String,
        sbom: PathBuf,
        created: String,
    },
    /// What the registry serves under the version tag: the digest, every platform, the labels.
    VerifyImage {
        repository: Repository,
        tag: String,
        platforms: Vec<String>,
        version: String,
        commit: String,
    },
    /// image.json, the step outputs and the job summary.
    RecordImage {
        path: PathBuf,
        repository: Repository,
        version: String,
        commit: String,
        /// Whether the plan published (else it built and scanned only).
        pushed: bool,
        /// Whether the published index still lacks GitHub's build provenance (the workflow
        /// attests it then, once).
        provenance_missing: bool,
    },
    /// Polls until the registry serves the image with every platform; binds its digest.
    WaitForImage {
        repository: Repository,
        tag: String,
        expected: Option<String>,
        platforms: Vec<String>,
        timeout_secs: u64,
        interval_secs: u64,
    },
    /// A copy of the chart with the release's data rendered in.
    StageChart {
        chart: PathBuf,
        dest: PathBuf,
        data: ChartData,
    },
    /// Fixed times and order in the chart archive, so one commit gives one chart digest.
    NormalizeChart { package: PathBuf, epoch: i64 },
    /// Pushes the chart unless the same one is there; another chart under the version is
    /// refused. Binds the chart's digest.
    PushChart {
        repository: Repository,
        version: String,
        package: PathBuf,
        push: Cmd,
    },
    /// The pulled chart is the packaged one and deploys exactly the image.
    CheckChart {
        pulled: PathBuf,
        package: PathBuf,
        image: String,
        template: Cmd,
    },
    /// chart.json, the step outputs and the job summary.
    RecordChart {
        path: PathBuf,
        repository: Repository,
        version: String,
        image: String,
    },
    /// Resolves the version tags to one index with every platform and the right labels.
    ResolveRelease {
        repository: Repository,
        tags: Vec<String>,
        platforms: Vec<String>,
        version: String,
    },
    /// Each platform has a CycloneDX SBOM referrer.
    CheckSboms {
        repository: Repository,
        platforms: Vec<String>,
    },
    /// The published chart pins exactly the image index.
    ResolveChart {
        repository: Repository,
        version: String,
        image: Repository,
    },
    /// What an anonymous client can pull.
    AnonymousPull {
        repository: Repository,
        reference: String,
        settings: String,
        required: bool,
    },
    /// The verification report.
    RecordVerification { path: PathBuf },
}

impl Step {
    pub fn run(what: impl Into<String>, cmd: Cmd) -> Step {
        Step::Run {
            what: what.into(),
            cmd,
        }
    }

    pub fn check(what: impl Into<String>, cmd: Cmd) -> Step {
        Step::Check {
            what: what.into(),
            cmd,
        }
    }

    /// One line for the printed plan.
    pub fn describe(&self) -> String {
        match self {
            Step::Run { what, cmd } | Step::Check { what, cmd } => format!("{what}: {cmd}"),
            Step::FreshDir { path } => format!("empty directory {}", path.display()),
            Step::CheckBuild { layout, platforms } => format!(
                "check the build: {} holds {}",
                layout.display(),
                platforms.join(", ")
            ),
            Step::CheckSize { budget } => format!(
                "check sizes: every platform at most {} MB compressed",
                budget / 1_000_000
            ),
            Step::SameBuild { first, second } => format!(
                "compare: {} and {} hold the same index digest",
                first.display(),
                second.display()
            ),
            Step::SplitPlatform { platform, dest } => {
                format!("layout of {platform} alone: {}", dest.display())
            }
            Step::CheckDatabase { max_age_hours, .. } => match max_age_hours {
                Some(h) => format!("check the database: updated at most {h} hours ago"),
                None => "check the database: any age accepted (--allow-stale-db)".into(),
            },
            Step::Gate {
                severity,
                require_rust,
                enforce,
                ..
            } => describe_gate(*severity, *require_rust, *enforce),
            _ => self.describe_publishing(),
        }
    }

    fn describe_publishing(&self) -> String {
        match self {
            Step::PullPublished {
                repository,
                digest,
                layout,
            } => format!(
                "read {repository}@{} back into {}",
                digest.as_deref().unwrap_or(INDEX_DIGEST),
                layout.display()
            ),
            Step::Rescanned {
                version, severity, ..
            } => format!("judge {version}: report findings of {severity} or above"),
            Step::PushContent { repository } => format!(
                "push the scanned bytes to {repository}@{INDEX_DIGEST} (missing blobs only)"
            ),
            Step::PushVersionTags { repository, tags } => format!(
                "tag {repository}: {} (each checked free or already this build, right before)",
                tags.join(", ")
            ),
            Step::MoveFloatingTags { candidates, .. } => format!(
                "floating tags {}: read the tags again, take those no higher release holds",
                candidates.join(", ")
            ),
            Step::AttachSbom {
                repository,
                platform,
                sbom,
                ..
            } => format!(
                "attach {} to {repository}@{} as a referrer",
                sbom.display(),
                platform_digest(platform)
            ),
            Step::VerifyImage {
                repository,
                tag,
                platforms,
                ..
            } => format!(
                "verify {repository}:{tag}: digest {INDEX_DIGEST}, platforms {}, labels",
                platforms.join(", ")
            ),
            Step::RecordImage { path, .. } | Step::RecordChart { path, .. } => {
                format!(
                    "record {} (and the step outputs in Actions)",
                    path.display()
                )
            }
            _ => self.describe_chart(),
        }
    }

    fn describe_chart(&self) -> String {
        match self {
            Step::WaitForImage {
                repository,
                tag,
                platforms,
                timeout_secs,
                ..
            } => format!(
                "wait up to {timeout_secs}s until {repository}:{tag} is served with {}",
                platforms.join(", ")
            ),
            Step::StageChart { chart, dest, data } => format!(
                "stage {} in {} (version {}, image {})",
                chart.display(),
                dest.display(),
                data.chart_version,
                data.image_reference
            ),
            Step::NormalizeChart { package, .. } => {
                format!(
                    "normalize {} (commit time, sorted entries)",
                    package.display()
                )
            }
            Step::PushChart { push, .. } => {
                format!("{push} (skipped when the same chart is there)")
            }
            Step::CheckChart {
                image, template, ..
            } => {
                format!("{template}: the chart deploys {image}")
            }
            _ => self.describe_verification(),
        }
    }

    fn describe_verification(&self) -> String {
        match self {
            Step::ResolveRelease {
                repository, tags, ..
            } => format!(
                "resolve {repository}:{} to one index with every platform and its labels",
                tags.join(", ")
            ),
            Step::CheckSboms {
                repository,
                platforms,
            } => format!(
                "SBOM referrers of {repository} for {}",
                platforms.join(", ")
            ),
            Step::ResolveChart {
                repository,
                version,
                image,
            } => format!("{repository}:{version} pins {image}@{INDEX_DIGEST}"),
            Step::AnonymousPull { reference, .. } => {
                format!("pull {reference} without a login")
            }
            Step::RecordVerification { path } => format!("report {}", path.display()),
            _ => unreachable!("every step is described"),
        }
    }
}

fn describe_gate(severity: Severity, require_rust: bool, enforce: bool) -> String {
    let rust = if require_rust {
        ", and Rust packages seen in every platform"
    } else {
        ""
    };
    if enforce {
        format!("gate: no finding of severity {severity} or above{rust}")
    } else {
        "report the findings (already published: the gate decided at the first run)".into()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.title)?;
        for note in &self.notes {
            writeln!(f, "  {note}")?;
        }
        writeln!(f, "steps:")?;
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "  {:>2}. {}", i + 1, step.describe())?;
        }
        Ok(())
    }
}

impl Plan {
    /// Appends another plan's steps (a release: the image's, then the chart's).
    pub fn then(mut self, next: Plan) -> Plan {
        self.notes.push(String::new());
        self.notes.push(next.title);
        self.notes
            .extend(next.notes.into_iter().map(|n| format!("  {n}")));
        self.steps.extend(next.steps);
        self
    }

    /// Whether a step of this kind is in the plan (for tests and messages).
    pub fn has(&self, kind: &str) -> bool {
        self.steps.iter().any(|s| step_kind(s) == kind)
    }

    pub fn kinds(&self) -> Vec<String> {
        self.steps.iter().map(step_kind).collect()
    }
}

/// A step's kind as `--plan-json` names it (`push-content`, or `run:docker` for a command).
pub fn step_kind(step: &Step) -> String {
    let value = serde_json::to_value(step).expect("steps serialise");
    let kind = value["step"].as_str().unwrap_or_default().to_string();
    match step {
        Step::Run { cmd, .. } | Step::Check { cmd, .. } => format!("{kind}:{}", cmd.program),
        _ => kind,
    }
}
