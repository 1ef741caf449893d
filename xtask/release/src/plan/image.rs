//! The plan of `release-image`: from the inputs and what the registry holds, the steps that
//! build, check and scan, push the bytes by digest, sign and attest them, attach the SBOMs,
//! and only then tag: version tags, then (last) floating tags. Nothing a user pulls by tag is
//! ever unsigned. Pure.

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::build::BuildInputs;
use super::{Mode, Plan};
use crate::changelog;
use crate::credentials::Credentials;
use crate::metadata;
use crate::notify::Notify;
use crate::registry::Repository;
use crate::scan::{ReportFormat, ScanPlan, ScannedImage, Severity, TrivyDb};
use crate::sign::{AttestationType, Cosign, Signer};
use crate::step::{
    AttachSbom, Attest, AttestProvenance, AttestVex, Bound, CheckDatabase, CheckSize, Convert,
    FetchDatabase, FreshDir, Gate, LoginClient, MoveFloatingTags, ProvenanceWait, PullPublished,
    PushContent, PushRepoMetadata, PushVersionTags, RecordImage, RenderVex, Scan, Sign,
    SplitPlatform, Step, Subject, VerifyImage, VexRelease, PROVENANCE_WAIT_SECONDS,
};
use crate::text::platform_slug;
use crate::version::{self, TagPlan};
use crate::vex;

/// Everything `release-image` is asked to do.
#[derive(Debug, Clone)]
pub struct ImageInputs {
    pub build: BuildInputs,
    pub repository: Repository,
    pub db: TrivyDb,
    pub severity: Severity,
    pub require_rust: bool,
    pub size_budget: u64,
    pub push: bool,
    pub signer: Option<Signer>,
    /// Where the index's build provenance comes from.
    pub provenance: ProvenanceSource,
    /// Publish all but the floating tags, which a re-run moves (the release workflow attests
    /// build provenance between the two).
    pub hold_floating: bool,
    /// The workflow's attest step said it attested this index (`--provenance-attested` with
    /// its `attestation-id` output): GitHub holds the provenance, whatever the registry
    /// shows yet.
    pub provenance_attested: bool,
    pub credentials: Option<Credentials>,
    pub notify: Notify,
    /// The release's OpenVEX statements, checked when planning.
    pub vex: Option<VexInputs>,
    /// This version's changelog entry; `None` with `--skip-changelog`.
    pub changes: Option<changelog::Entry>,
    /// `artifacthub-repo.yml`, checked, when the source has one.
    pub repo_metadata: Option<PathBuf>,
}

/// `security/vex.json`, checked against what the image contains. The release's own document
/// is named after the repository the image goes to, decided when planning (a local release
/// goes elsewhere than the inputs were read for).
#[derive(Debug, Clone)]
pub struct VexInputs {
    pub source: PathBuf,
    pub doc: vex::Document,
}

/// Who attests the index's build provenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvenanceSource {
    /// A step of the release workflow after this command (GitHub's attestation, keyless); the
    /// step outputs say whether it is still missing.
    Workflow,
    /// This release, with its own signer: an SLSA provenance attestation of the index.
    Release,
}

/// What the registry holds under this release's version tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub digest: String,
    /// `os/arch` and manifest digest of every platform.
    pub platforms: Vec<(String, String)>,
    pub revision: String,
    pub signed: bool,
    /// Platforms whose manifest is signed too (what CRI-O and podman check).
    pub signed_platforms: Vec<String>,
    /// Platforms whose SBOM is attached as a referrer.
    pub sboms: Vec<String>,
    /// Platforms whose SBOM is attested.
    pub attested: Vec<String>,
    /// Whether build provenance is attached to the index (GitHub's, or the release's own).
    pub provenance: bool,
    /// The OpenVEX document attested on the index, if any.
    pub vex: Option<serde_json::Value>,
}

/// What the registry said before planning; `tags: None` when it was not asked (dry run,
/// `--no-push`).
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub tags: Option<Vec<String>>,
    pub published: Option<Published>,
    /// The latest withdrawal statement of each release that has one: the withdrawn ones are
    /// absent for floating tags.
    pub withdrawals: crate::withdrawal::Withdrawals,
}

impl ImageInputs {
    fn tag_plan(&self, facts: &ImageFacts) -> TagPlan {
        let tags = facts.tags.as_deref().unwrap_or_default();
        let published = version::published_versions(tags.iter().map(String::as_str));
        let eligible = version::eligible(&published, &facts.withdrawals.not_floating());
        let withdrawn = facts.withdrawals.is_withdrawn(self.build.release.semver());
        version::plan_tags(
            &self.build.release,
            &eligible,
            self.build.prerelease || withdrawn,
        )
    }

    fn scans(&self) -> Vec<ScanPlan> {
        let layouts = self.build.out_dir.join("scan-layouts");
        let reports = self.build.out_dir.join("scan");
        let image = ScannedImage {
            repository: self.repository.clone(),
            version: self.build.release.plain(),
        };
        self.build
            .platforms
            .iter()
            .map(|p| {
                let vex = self.vex.as_ref().map(|_| self.gate_vex(p));
                ScanPlan::new(p, &layouts, &reports, &self.db, &image).with_vex(vex)
            })
            .collect()
    }

    /// The statements the gate applies to one platform (beside the scan's reports, which
    /// are emptied before each scan).
    fn gate_vex(&self, platform: &str) -> PathBuf {
        let slug = platform_slug(platform);
        self.build.out_dir.join(format!("vex/gate-{slug}.json"))
    }

    fn vex_file(&self) -> PathBuf {
        self.build.out_dir.join("vex.json")
    }

    /// The release's own VEX document: about the image where this plan publishes it.
    fn vex_release(&self) -> VexRelease {
        VexRelease::new(&self.repository, &self.build.release.tag())
    }

    /// The gate's documents and (for a signed release) the one to attest, for `index`.
    fn render_vex(&self, index: Bound) -> Option<Step> {
        let vex = self.vex.as_ref()?;
        let attest =
            (self.push && self.signer.is_some()).then(|| (self.vex_release(), self.vex_file()));
        Some(Step::RenderVex(RenderVex {
            source: vex.source.clone(),
            index,
            gates: self
                .build
                .platforms
                .iter()
                .map(|p| (p.clone(), self.gate_vex(p)))
                .collect(),
            attest,
        }))
    }

    fn subject(&self, digest: Bound) -> Subject {
        Subject::new(&self.repository, digest)
    }

    /// Whether this release attests its own build provenance (with a key: a keyless
    /// release is the workflow's, whose provenance GitHub attests).
    fn attests_provenance(&self) -> bool {
        matches!(self.signer, Some(Signer::Key { .. }))
            && self.provenance == ProvenanceSource::Release
    }

    /// Floating tags point only at an image with its build provenance: on GitHub the workflow
    /// attests it after this command, and runs it again to move them.
    fn waits_for_provenance(&self, published: &Published) -> bool {
        self.provenance == ProvenanceSource::Workflow
            && !published.provenance
            && !self.provenance_attested
    }

    fn sbom(&self, platform: &str) -> PathBuf {
        let slug = platform_slug(platform);
        self.build
            .out_dir
            .join(format!("scan/sbom-{slug}.cdx.json"))
    }
}

/// The plan of `release-image`.
pub fn plan(inputs: &ImageInputs, facts: &ImageFacts) -> Result<Plan> {
    let b = &inputs.build;
    let tags = inputs.tag_plan(facts);
    let mut plan = Plan {
        title: format!("Release {} of {}", b.release, inputs.repository),
        notes: notes(inputs, facts, &tags),
        mode: Mode::StopAtFirstFailure,
        steps: Vec::new(),
    };
    // An unpushed build changes nothing published, so what is published does not shape it.
    match facts.published.as_ref().filter(|_| inputs.push) {
        Some(published) => {
            check_rerun(inputs, published)?;
            plan.notes.push(format!(
                "published  {}:{} already holds this commit's build {}: verify it and finish \
                 what is missing, build nothing",
                inputs.repository,
                b.release.tag(),
                published.digest
            ));
            plan.steps = rerun_steps(inputs, published, &tags);
        }
        None => {
            plan.steps = b.source_steps();
            plan.steps
                .extend(b.build_steps(b.out_dir.join("oci"), b.cache.clone()));
            plan.steps.push(Step::CheckSize(CheckSize {
                budget: inputs.size_budget,
            }));
            plan.steps.extend(inputs.render_vex(Bound::Index));
            plan.steps.extend(scan_steps(inputs, true));
            if inputs.push {
                plan.steps.extend(publish_steps(inputs, &tags));
            }
        }
    }
    plan.steps.push(Step::RecordImage(RecordImage {
        path: b.out_dir.join("image.json"),
        repository: inputs.repository.clone(),
        version: b.release.plain(),
        commit: b.source.commit.clone(),
        pushed: inputs.push,
        provenance_missing: inputs.push
            && inputs.provenance == ProvenanceSource::Workflow
            && facts.published.as_ref().is_none_or(|p| !p.provenance),
        withdrawal: facts.withdrawals.get(b.release.semver()).cloned(),
    }));
    plan.checked()
}

fn notes(inputs: &ImageInputs, facts: &ImageFacts, tags: &TagPlan) -> Vec<String> {
    let b = &inputs.build;
    let mut notes = vec![format!(
        "commit     {} ({}){}",
        b.source.commit,
        metadata::rfc3339(b.source.commit_time),
        if b.source.clean {
            ""
        } else {
            ", uncommitted changes (not built)"
        }
    )];
    if inputs.push {
        notes.push(format!("tags       {}", tags.tags_to_push().join(" ")));
        let waits = facts
            .published
            .as_ref()
            .is_some_and(|p| inputs.waits_for_provenance(p));
        if inputs.hold_floating && !tags.floating_taken().is_empty() {
            notes.push(
                "           (floating tags held: a re-run moves them, after the workflow's \
                 build provenance)"
                    .into(),
            );
        } else if waits && !tags.floating_taken().is_empty() {
            notes.push(format!(
                "           (floating tags wait for the index's build provenance, at most {} \
                 s; if it does not show, they stay and the run fails)",
                PROVENANCE_WAIT_SECONDS
            ));
        } else if inputs.provenance_attested && !tags.floating_taken().is_empty() {
            notes.push(
                "           (the workflow's attest step reported the build provenance: floating \
                 tags move without waiting for the registry to show it)"
                    .into(),
            );
        }
        for f in &tags.floating {
            if let Some(h) = &f.held_by {
                notes.push(format!(
                    "           not {}: held by the higher release {h}",
                    f.tag
                ));
            }
        }
        if facts.tags.is_none() {
            notes.push("           (the registry was not asked: floating tags assume no higher release exists)".into());
        }
        if facts.withdrawals.is_withdrawn(b.release.semver()) {
            notes.push(format!(
                "           ({} is withdrawn: no floating tag moves to it)",
                b.release.plain()
            ));
        }
        let withdrawn: Vec<String> = facts
            .withdrawals
            .withdrawn()
            .iter()
            .map(|v| v.to_string())
            .collect();
        if !withdrawn.is_empty() {
            notes.push(format!(
                "           (withdrawn, absent for every floating tag: {})",
                withdrawn.join(" ")
            ));
        }
        if b.prerelease && !b.release.is_prerelease() {
            notes.push("           (a pre-release on GitHub: no floating tag moves)".into());
        }
    } else {
        notes.push("push       none (--no-push): build, check and scan only".into());
    }
    notes.push("labels     (also index annotations)".into());
    for (k, v) in b.metadata().labels() {
        notes.push(format!("           {k}={v}"));
    }
    notes.push(format!("database   {}", inputs.db.describe()));
    notes.push(match &inputs.vex {
        Some(v) => format!(
            "vex        {}: {} statement(s); the gate applies those for this image, and a \
             signed release attests them on the index",
            v.source.display(),
            v.doc.statements.len()
        ),
        None => "vex        none (no security/vex.json)".into(),
    });
    notes.push(match (&inputs.changes, inputs.push) {
        (Some(entry), _) => format!("changelog  {}", changelog_line(entry)),
        (None, false) => "changelog  not read: --no-push publishes nothing".into(),
        (None, true) => changelog_skipped().into(),
    });
    notes.push(match &inputs.signer {
        Some(s) => format!(
            "signing    {}; the index and each platform manifest",
            s.describe()
        ),
        None => "signing    none: nothing is signed or attested".into(),
    });
    if inputs.push && inputs.signer.is_some() {
        notes.push(match inputs.provenance {
            ProvenanceSource::Workflow => {
                "provenance GitHub's build provenance, by the workflow's next step".into()
            }
            ProvenanceSource::Release => format!(
                "provenance SLSA provenance v1 of this build in an in-toto Statement v1, \
                 attested with the release's key ({})",
                inputs.build.out_dir.join("provenance.json").display()
            ),
        });
    }
    notes
}

/// The plan's line for the named opt-out.
pub fn changelog_skipped() -> &'static str {
    "changelog  skipped (--skip-changelog): the chart lists no changes"
}

/// `1.2.3 (2026-01-01): 2 added, 1 fixed`.
pub fn changelog_line(entry: &changelog::Entry) -> String {
    let version = entry
        .version
        .as_ref()
        .map_or("Unreleased".to_string(), |v| v.to_string());
    let date = entry
        .date
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for c in &entry.changes {
        let kind = c.kind.artifacthub().to_string();
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!("{version}{date}: {}", counts.join(", "))
}

/// A version tag that already holds a build is only ever a re-run of the same commit.
fn check_rerun(inputs: &ImageInputs, published: &Published) -> Result<()> {
    let b = &inputs.build;
    let tag = format!("{}:{}", inputs.repository, b.release.tag());
    if published.revision != b.source.commit {
        bail!(
            "{tag} already holds {}, built from commit {}, not {}: a released version is never \
             overwritten; release a new version instead",
            published.digest,
            published.revision,
            b.source.commit
        );
    }
    for p in &b.platforms {
        if !published.platforms.iter().any(|(name, _)| name == p) {
            bail!(
                "{tag} already holds {} without {p}: a released version is never overwritten; \
                 release a new version to add a platform",
                published.digest
            );
        }
    }
    Ok(())
}

/// The database once, then each platform: its own layout, the report, SARIF, table and SBOM;
/// then the gate (enforced on a new build, reported on a re-run).
fn scan_steps(inputs: &ImageInputs, enforce: bool) -> Vec<Step> {
    let mut steps = vec![Step::FreshDir(FreshDir {
        path: inputs.build.out_dir.join("scan"),
    })];
    steps.extend(database_steps(&inputs.db));
    let scans = inputs.scans();
    for s in &scans {
        steps.extend(platform_scan_steps(s, None, true));
    }
    steps.push(Step::Gate(Gate {
        severity: inputs.severity,
        reports: scans.iter().map(ScanPlan::report).collect(),
        require_rust: inputs.require_rust,
        enforce,
        notify: inputs.notify.clone(),
    }));
    steps
}

/// The scanner's database, fetched and checked once before any scan.
pub fn database_steps(db: &TrivyDb) -> [Step; 2] {
    [
        Step::FetchDatabase(FetchDatabase { db: db.clone() }),
        Step::CheckDatabase(CheckDatabase {
            metadata: db.metadata(),
            max_age_hours: db.max_age_hours,
        }),
    ]
}

/// One platform: its own layout, the report, then SARIF, the table and (for a release) the
/// SBOM converted from that report.
pub fn platform_scan_steps(scan: &ScanPlan, version: Option<&str>, sbom: bool) -> Vec<Step> {
    let convert = |format| {
        Step::Convert(Convert {
            scan: scan.clone(),
            format,
        })
    };
    let mut steps = vec![
        Step::SplitPlatform(SplitPlatform {
            platform: scan.platform.clone(),
            dest: scan.layout.clone(),
        }),
        Step::Scan(Scan {
            scan: scan.clone(),
            version: version.map(String::from),
        }),
        convert(ReportFormat::Sarif),
        convert(ReportFormat::Table),
    ];
    if sbom {
        steps.push(convert(ReportFormat::CycloneDx));
    }
    steps
}

/// The bytes by digest, their signatures and attestations, the SBOM referrers; then the
/// version tags, what the registry serves under them, and last the floating tags.
fn publish_steps(inputs: &ImageInputs, tags: &TagPlan) -> Vec<Step> {
    let repo = &inputs.repository;
    let platforms = &inputs.build.platforms;
    let mut steps = vec![Step::PushContent(PushContent {
        repository: repo.clone(),
    })];
    steps.extend(signing_steps(
        inputs,
        &Signing {
            index: true,
            platforms: platforms.clone(),
            sboms: platforms.clone(),
            provenance: inputs.attests_provenance(),
            vex: inputs.vex.is_some(),
        },
    ));
    steps.extend(sbom_steps(inputs, platforms));
    steps.push(Step::PushVersionTags(PushVersionTags {
        repository: repo.clone(),
        tags: tags.version_tags.clone(),
    }));
    steps.push(verify_step(inputs, tags));
    steps.extend(repo_metadata_step(inputs));
    // On GitHub the provenance comes after this command: a run that moves the floating tags
    // without `--hold-floating-tags` waits for it, and fails if it never shows.
    let wait = (inputs.provenance == ProvenanceSource::Workflow && !inputs.provenance_attested)
        .then_some(Bound::Index);
    steps.extend(floating_step(inputs, tags, wait));
    steps
}

fn repo_metadata_step(inputs: &ImageInputs) -> Option<Step> {
    let file = inputs.repo_metadata.clone()?;
    Some(Step::PushRepoMetadata(PushRepoMetadata {
        repository: inputs.repository.clone(),
        file,
    }))
}

/// The floating tags this release takes; with `wait_for`, only once that index shows its
/// build provenance.
fn floating_step(inputs: &ImageInputs, tags: &TagPlan, wait_for: Option<Bound>) -> Option<Step> {
    let candidates = tags.floating_taken();
    (!candidates.is_empty() && !inputs.hold_floating).then(|| {
        Step::MoveFloatingTags(MoveFloatingTags {
            repository: inputs.repository.clone(),
            version: inputs.build.release.plain(),
            release_tag: inputs.build.release.tag(),
            candidates,
            provenance: wait_for.map(|index| ProvenanceWait {
                index,
                seconds: PROVENANCE_WAIT_SECONDS,
            }),
        })
    })
}

fn sbom_steps(inputs: &ImageInputs, platforms: &[String]) -> Vec<Step> {
    platforms
        .iter()
        .map(|p| {
            Step::AttachSbom(AttachSbom {
                subject: inputs.subject(Bound::Platform(p.clone())),
                sbom: inputs.sbom(p),
                created: metadata::rfc3339(inputs.build.source.commit_time),
            })
        })
        .collect()
}

/// What is left to sign and attest; nothing is the default.
#[derive(Default, PartialEq)]
struct Signing {
    index: bool,
    /// Platforms whose manifest is signed (CRI-O and podman check the platform they pull).
    platforms: Vec<String>,
    /// Platforms whose SBOM is attested.
    sboms: Vec<String>,
    /// The index's build provenance.
    provenance: bool,
    /// The index's VEX statements (when one applies; the render step decides).
    vex: bool,
}

/// Logs cosign in (when there are credentials), then signs and attests what `need` lists.
fn signing_steps(inputs: &ImageInputs, need: &Signing) -> Vec<Step> {
    let Some(signer) = &inputs.signer else {
        return Vec::new();
    };
    if *need == Signing::default() {
        return Vec::new();
    }
    let cosign = Cosign::for_repository(&inputs.repository, inputs.credentials.is_some());
    let login = LoginClient::Cosign.login(&inputs.repository.host, inputs.credentials.as_ref());
    let mut steps: Vec<Step> = login.into_iter().collect();
    let unsigned = need
        .index
        .then_some(Bound::Index)
        .into_iter()
        .chain(need.platforms.iter().map(|p| Bound::Platform(p.clone())));
    let subjects: Vec<Subject> = unsigned.map(|digest| inputs.subject(digest)).collect();
    if !subjects.is_empty() {
        steps.push(Step::Sign(Sign {
            cosign: cosign.clone(),
            signer: signer.clone(),
            subjects,
        }));
    }
    for p in &need.sboms {
        steps.push(Step::Attest(Attest {
            cosign: cosign.clone(),
            signer: signer.clone(),
            kind: AttestationType::CycloneDx,
            predicate: inputs.sbom(p),
            subject: inputs.subject(Bound::Platform(p.clone())),
        }));
    }
    // Before the provenance: Trivy's `--vex oci` takes the first OpenVEX layer it meets.
    if need.vex {
        steps.push(Step::AttestVex(AttestVex {
            cosign: cosign.clone(),
            signer: signer.clone(),
            predicate: inputs.vex_file(),
            subject: inputs.subject(Bound::Index),
        }));
    }
    if need.provenance {
        steps.push(Step::AttestProvenance(AttestProvenance {
            cosign: cosign.clone(),
            signer: signer.clone(),
            predicate: inputs.build.provenance(),
            dir: inputs.build.out_dir.clone(),
            subject: inputs.subject(Bound::Index),
        }));
    }
    steps
}

fn verify_step(inputs: &ImageInputs, tags: &TagPlan) -> Step {
    let b = &inputs.build;
    Step::VerifyImage(VerifyImage {
        repository: inputs.repository.clone(),
        tag: b.release.tag(),
        platforms: b.platforms.clone(),
        version: b.release.plain(),
        commit: b.source.commit.clone(),
        version_tags: tags.version_tags.clone(),
    })
}

/// A re-run of a published version: verify it, finish what a previous run left out
/// (attachments, signatures and attestations of a release published before they all came
/// first), then let the floating tags catch up. Nothing is built, and the gate does not judge
/// again (a CVE published since is reported, not allowed to strand the release without its
/// chart).
fn rerun_steps(inputs: &ImageInputs, published: &Published, tags: &TagPlan) -> Vec<Step> {
    let missing = |done: &[String]| -> Vec<String> {
        inputs
            .build
            .platforms
            .iter()
            .filter(|p| !done.contains(p))
            .cloned()
            .collect()
    };
    let need_sbom = missing(&published.sboms);
    let need = match &inputs.signer {
        Some(_) => Signing {
            index: !published.signed,
            platforms: missing(&published.signed_platforms),
            sboms: missing(&published.attested),
            provenance: inputs.attests_provenance() && !published.provenance,
            vex: vex_outdated(inputs, published),
        },
        None => Signing::default(),
    };
    let mut steps = vec![verify_step(inputs, tags)];
    let rescan = !need_sbom.is_empty() || !need.sboms.is_empty();
    if rescan {
        steps.push(Step::PullPublished(PullPublished {
            subject: inputs.subject(Bound::Index),
            layout: inputs.build.out_dir.join("oci"),
        }));
    }
    if rescan || need.vex {
        steps.extend(inputs.render_vex(Bound::Given(published.digest.clone())));
    }
    if rescan {
        steps.extend(scan_steps(inputs, false));
    }
    // The referrers come after the signatures, as on a first run.
    steps.extend(signing_steps(inputs, &need));
    steps.extend(sbom_steps(inputs, &need_sbom));
    steps.extend(repo_metadata_step(inputs));
    // Never left out for want of provenance: the move waits for it, and fails if it does not
    // show (a green run never leaves a floating tag behind).
    let wait = inputs
        .waits_for_provenance(published)
        .then(|| Bound::Given(published.digest.clone()));
    steps.extend(floating_step(inputs, tags, wait));
    steps
}

/// Whether the index lacks the VEX document this release would attest now.
fn vex_outdated(inputs: &ImageInputs, published: &Published) -> bool {
    let Some(vex) = &inputs.vex else {
        return false;
    };
    let expected = inputs.vex_release().document(&vex.doc, &published.digest);
    expected.is_some() && expected != published.vex
}

#[cfg(test)]
mod tests;
