//! The steps a plan is made of: one struct per kind, each carrying its own inputs as typed
//! fields and knowing how it is described, what its failure means (its hint) and how it runs.
//! Steps hand results to later steps only through `Bindings`, typed values the executor
//! passes along (the index and platform digests, the scan verdicts, the pushed tags, the
//! chart digest); nothing is parsed back out of a string.
//!
//! Adding a step: write its struct and `impl Action`, add a variant to `Step` and its arm to
//! `Step::action`, the one match over step kinds.

mod build;
mod chart;
mod listing;
mod needs;
mod node;
mod page;
mod publish;
mod scan;
mod sign;
mod source;
mod verify;
mod vex;
mod withdraw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

pub use build::{check_sizes, Build, CheckBuild, CheckSize, SameBuild};
pub use chart::{
    wait_for_image, ChartRelease, CheckChart, LintChart, PackageChart, Patience, PullChart,
    PushChart, RecordChart, StageChart, WaitForImage,
};
pub use listing::PushRepoMetadata;
pub use needs::{union, Access, Binding, Needs, Tool};
pub use node::{host_platform, PullAsNode, RunImage};
pub use page::WriteReleaseNotes;
pub use publish::{
    AttachSbom, MoveFloatingTags, ProvenanceWait, PullPublished, PushContent, PushVersionTags,
    RecordImage, VerifyImage, PROVENANCE_WAIT_SECONDS,
};
pub use scan::{CheckDatabase, Convert, FetchDatabase, Gate, Rescanned, Scan, SplitPlatform};
pub use sign::{Attest, AttestProvenance, DerivePublicKey, Login, LoginClient, Sign};
pub use source::{ArchiveSource, FreshDir, UnpackSource};
pub use verify::{
    AnonymousPull, CheckFloatingTags, CheckSboms, Pullable, RecordVerification, RenderChart,
    ResolveChart, ResolveRelease, VerifyAttestation, VerifyProvenance, VerifySignature,
};
pub use vex::{AttestVex, RenderVex, VerifyVex, VexRelease};
pub use withdraw::{AttestWithdrawal, CheckWithdrawal, MarkGithubRelease, MoveWithdrawnTags};

use crate::actions::Actions;
use crate::credentials::Credentials;
use crate::floating::Converged;
use crate::layout::Image;
use crate::record::Timeline;
use crate::registry::{PushReport, Registry, Repository, Retry};
use crate::verifiers::{Check, Status};

/// What a step does; `Step::action` gives every kind as one of these.
pub trait Action {
    /// One line for the printed plan. What only the run learns is shown as a placeholder.
    fn describe(&self) -> String;
    /// What a failure of this step means and what to do, written once, beside the step.
    fn hint(&self) -> String;
    fn run(&self, cx: &mut Cx) -> Result<()>;
    /// The bindings it reads and writes, and what it needs from the world: declared beside
    /// the step, checked when a plan is built.
    fn needs(&self) -> Needs;
    /// The verifier the checks this step records are made with, for the report's matrix.
    fn checker(&self) -> Option<crate::verifiers::Checker> {
        None
    }
}

/// Declares `Step`, one variant per kind, with the one dispatch over kinds (`action`) and
/// their names (`KINDS`; `Step::kind` reads the same names, which strum spells as serde does)
/// from the same list.
macro_rules! steps {
    ($($kind:ident,)*) => {
        /// One step of a plan.
        #[derive(Debug, Clone, Serialize, strum::IntoStaticStr, strum::VariantNames)]
        #[serde(tag = "step", rename_all = "kebab-case")]
        #[strum(serialize_all = "kebab-case")]
        pub enum Step {
            $($kind($kind),)*
        }

        impl Step {
            /// Every kind, as `--plan-json` names it.
            pub const KINDS: &'static [&'static str] = <Step as strum::VariantNames>::VARIANTS;

            /// The one dispatch over step kinds.
            pub fn action(&self) -> &dyn Action {
                match self {
                    $(Step::$kind(s) => s,)*
                }
            }
        }
    };
}

steps! {
    FreshDir,
    ArchiveSource,
    UnpackSource,
    Build,
    CheckBuild,
    CheckSize,
    SameBuild,
    FetchDatabase,
    CheckDatabase,
    SplitPlatform,
    Scan,
    Convert,
    RenderVex,
    Gate,
    Rescanned,
    PullPublished,
    PushContent,
    AttachSbom,
    Login,
    Sign,
    Attest,
    AttestProvenance,
    AttestVex,
    PushVersionTags,
    PushRepoMetadata,
    MoveFloatingTags,
    VerifyImage,
    RecordImage,
    WaitForImage,
    StageChart,
    LintChart,
    PackageChart,
    PushChart,
    PullChart,
    CheckChart,
    RecordChart,
    DerivePublicKey,
    ResolveRelease,
    CheckFloatingTags,
    VerifySignature,
    VerifyAttestation,
    VerifyProvenance,
    VerifyVex,
    CheckSboms,
    ResolveChart,
    RenderChart,
    AnonymousPull,
    RunImage,
    PullAsNode,
    RecordVerification,
    WriteReleaseNotes,
    AttestWithdrawal,
    MoveWithdrawnTags,
    CheckWithdrawal,
    MarkGithubRelease,
}

impl Step {
    /// The kind as `--plan-json` names it (`push-content`, `sign`, ...).
    pub fn kind(&self) -> String {
        <&str>::from(self).to_string()
    }

    pub fn describe(&self) -> String {
        self.action().describe()
    }

    pub fn hint(&self) -> String {
        self.action().hint()
    }

    pub fn needs(&self) -> Needs {
        self.action().needs()
    }
}

/// A digest that only an earlier step learns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    /// The image index: built, read back, or waited for.
    Index,
    /// One platform's manifest, e.g. `linux/arm64`.
    Platform(String),
    /// The published chart's manifest.
    Chart,
    /// Known when planning (a rescan of a published version).
    Given(String),
}

impl Bound {
    /// How the printed plan shows it: `<index-digest>`, `<linux/arm64-digest>`.
    pub fn placeholder(&self) -> String {
        match self {
            Bound::Index => "<index-digest>".into(),
            Bound::Platform(p) => format!("<{p}-digest>"),
            Bound::Chart => "<chart-digest>".into(),
            Bound::Given(d) => d.clone(),
        }
    }
}

/// Something in a repository by a digest an earlier step learns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    pub repository: Repository,
    pub digest: Bound,
}

impl Subject {
    pub fn new(repository: &Repository, digest: Bound) -> Subject {
        Subject {
            repository: repository.clone(),
            digest,
        }
    }

    /// `repo@<index-digest>`, as the plan shows it.
    pub fn placeholder(&self) -> String {
        format!("{}@{}", self.repository, self.digest.placeholder())
    }

    /// What the subject is, in words: `the index`, `the linux/arm64 image`, `the chart`.
    pub fn what(&self) -> String {
        match &self.digest {
            Bound::Index | Bound::Given(_) => "the index".into(),
            Bound::Platform(p) => format!("the {p} image"),
            Bound::Chart => "the chart".into(),
        }
    }
}

/// Where a step's command gets what only the run knows: placeholders for the printed plan,
/// the bound values when it runs. One builder serves both, so the plan shows what runs.
pub trait Values {
    fn digest(&self, digest: &Bound) -> Result<String>;
    /// The run's private directory for registry logins.
    fn login_dir(&mut self) -> Result<String>;
}

/// The printed plan's values.
pub struct Placeholders;

impl Values for Placeholders {
    fn digest(&self, digest: &Bound) -> Result<String> {
        Ok(digest.placeholder())
    }
    fn login_dir(&mut self) -> Result<String> {
        Ok("<login-dir>".into())
    }
}

/// `repo@digest` of a subject, with its digest from `values`.
pub fn reference(subject: &Subject, values: &dyn Values) -> Result<String> {
    Ok(format!(
        "{}@{}",
        subject.repository,
        values.digest(&subject.digest)?
    ))
}

/// The chart as the push step left it.
#[derive(Debug, Clone)]
pub struct ChartPublished {
    pub digest: String,
    /// Whether this run pushed it (else the same chart was there).
    pub pushed: bool,
}

/// What steps have learnt, for the steps after them: the only channel between steps.
#[derive(Debug, Default)]
pub struct Bindings {
    /// The image's bytes: the built layout, or the published image read back.
    pub image: Option<Image>,
    pub index: Option<String>,
    /// Each platform's manifest digest.
    pub platforms: BTreeMap<String, String>,
    /// When this run's build started and finished (`Build`), for its provenance.
    pub built: Option<crate::provenance::BuildTimes>,
    /// The scan as the gate judged it.
    pub scan: Option<crate::record::ScanRecord>,
    /// The scan at release as recorded by the run that published it, on a run that scanned
    /// nothing (`RecordImage` keeps it), for the release page.
    pub recorded_scan: Option<crate::record::ScanRecord>,
    pub pushed: Option<PushReport>,
    /// Version tags that hold the index (written now, or found on a re-run).
    pub version_tags: Vec<String>,
    pub floating: Option<Converged>,
    pub chart: Option<ChartPublished>,
    /// The checks of a verification, passing or not.
    pub checks: Vec<Check>,
    /// Which verifiers made them, at which versions (`RecordVerification`).
    pub verifiers: Vec<crate::verifiers::VerifierResult>,
    /// When this run reached each point of the release.
    pub timeline: Timeline,
    /// The commit the published image is labelled with (a verification reads it).
    pub revision: Option<String>,
    /// Whether a statement of the release's VEX file applies to this image.
    pub vex_applies: bool,
    /// The platforms a gate VEX document was written for (`RenderVex`), which their scans
    /// apply.
    pub vex_gates: std::collections::BTreeSet<String>,
    /// Whether the index carries the release's OpenVEX statements.
    pub vex_attested: bool,
    /// The latest verified withdrawal statement of the index (`CheckWithdrawal`), if any.
    pub withdrawal: Option<crate::withdrawal::Withdrawal>,
}

impl Bindings {
    /// The bindings that hold a value: what the executor compares with a step's declared
    /// writes.
    pub fn known(&self) -> std::collections::BTreeSet<Binding> {
        let set = [
            (Binding::Image, self.image.is_some()),
            (Binding::Index, self.index.is_some()),
            (Binding::Platforms, !self.platforms.is_empty()),
            (Binding::Built, self.built.is_some()),
            (Binding::Scan, self.scan.is_some()),
            (Binding::RecordedScan, self.recorded_scan.is_some()),
            (Binding::Pushed, self.pushed.is_some()),
            (Binding::VersionTags, !self.version_tags.is_empty()),
            (Binding::Floating, self.floating.is_some()),
            (Binding::Chart, self.chart.is_some()),
            (Binding::Revision, self.revision.is_some()),
            (Binding::VexGates, !self.vex_gates.is_empty()),
            (Binding::VexApplies, self.vex_applies),
            (Binding::VexAttested, self.vex_attested),
            (Binding::Withdrawal, self.withdrawal.is_some()),
            (Binding::Verifiers, !self.verifiers.is_empty()),
        ];
        set.into_iter()
            .filter(|(_, on)| *on)
            .map(|(b, _)| b)
            .collect()
    }

    /// An image built or read back: its bytes, its index and each platform's digest.
    pub fn learn_image(&mut self, image: Image) {
        self.index = Some(image.index.digest.clone());
        let platforms = image.platforms.iter();
        let digests = platforms.map(|p| (p.platform.clone(), p.manifest.digest.clone()));
        self.platforms.extend(digests);
        self.image = Some(image);
    }

    pub fn digest(&self, digest: &Bound) -> Result<String> {
        let found = match digest {
            Bound::Index => self.index.clone(),
            Bound::Platform(p) => self.platforms.get(p).cloned(),
            Bound::Chart => self.chart.as_ref().map(|c| c.digest.clone()),
            Bound::Given(d) => Some(d.clone()),
        };
        found.with_context(|| {
            format!(
                "internal: no step before this one learnt {}",
                digest.placeholder()
            )
        })
    }

    pub fn image(&self) -> Result<&Image> {
        self.image
            .as_ref()
            .context("internal: no image was built or read before this step")
    }

    /// Whether a check of `verify-release` recorded a failure so far (the report still lists
    /// every check).
    pub fn any_check_failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Failed)
    }

    /// The tags that hold the index after this run: version tags, then floating ones.
    pub fn tags(&self) -> Vec<String> {
        let floating = self.floating.as_ref().map(|f| f.taken.clone());
        self.version_tags
            .iter()
            .cloned()
            .chain(floating.into_iter().flatten())
            .collect()
    }
}

/// What a run gives every step: the bindings, and the run's own resources (the registry
/// credentials, GitHub Actions' files, a private directory for logins).
pub struct Cx {
    pub bindings: Bindings,
    credentials: Option<Credentials>,
    actions: Option<Actions>,
    /// Removed on every way out (the guard's drop).
    login_dir: Option<tempfile::TempDir>,
}

impl Cx {
    pub fn new(credentials: Option<Credentials>, actions: Option<Actions>) -> Cx {
        Cx {
            bindings: Bindings::default(),
            credentials,
            actions,
            login_dir: None,
        }
    }

    pub fn registry(&self, repository: &Repository) -> Registry {
        Registry::new(
            repository.clone(),
            self.credentials.as_ref(),
            Retry::default(),
        )
    }

    pub fn actions(&self) -> Option<&Actions> {
        self.actions.as_ref()
    }

    /// Checks what the registry served (`document`, written to a private scratch file) with
    /// `standard`'s own validator, as a check of its own: failed when the validator refuses
    /// it, a warning naming what to install when the validator is not here.
    pub fn validate_served(
        &mut self,
        standard: crate::validate::Standard,
        what: &str,
        document: &[u8],
    ) -> Result<()> {
        let what = format!("{what} passes {}", standard.validator());
        let by = Some(crate::verifiers::Checker::Validators);
        let (status, detail) = if crate::validate::installed(standard) {
            // A scratch file in the run's private directory (removed when the run ends).
            let name = format!("served-{}.json", self.bindings.checks.len());
            let file = self.make_login_dir()?.join(name);
            std::fs::write(&file, document)?;
            match crate::validate::check(standard, &file) {
                Ok(()) => (Status::Ok, "valid".to_string()),
                Err(e) => (Status::Failed, format!("{e:#}")),
            }
        } else {
            let missing = crate::validate::check(standard, Path::new("-"))
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            (Status::Warned, format!("not checked: {missing}"))
        };
        match status {
            Status::Ok => eprintln!("    ok: {what}"),
            Status::Failed => eprintln!("    FAILED: {what}: {detail}"),
            _ => eprintln!("    warning: {what}: {detail}"),
        }
        self.bindings.checks.push(Check {
            what,
            status,
            detail,
            by,
        });
        Ok(())
    }

    pub fn pass(&mut self, what: &str, detail: &str) {
        eprintln!("    ok: {what}");
        self.record(what, Status::Ok, detail);
    }

    pub fn record(&mut self, what: &str, status: Status, detail: &str) {
        self.bindings.checks.push(Check {
            what: what.to_string(),
            status,
            detail: detail.to_string(),
            by: None,
        });
    }

    fn make_login_dir(&mut self) -> Result<PathBuf> {
        if self.login_dir.is_none() {
            // Only this user may read the logins inside.
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::Builder::new()
                .prefix("kube9-login-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir()
                .context("cannot make a private directory for registry logins")?;
            self.login_dir = Some(dir);
        }
        Ok(self.login_dir.as_ref().expect("made above").path().into())
    }
}

impl Values for Cx {
    fn digest(&self, digest: &Bound) -> Result<String> {
        self.bindings.digest(digest)
    }
    fn login_dir(&mut self) -> Result<String> {
        Ok(self.make_login_dir()?.display().to_string())
    }
}

/// The first characters of a long line.
pub fn shorten(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
