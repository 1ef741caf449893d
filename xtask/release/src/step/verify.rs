//! The checks of `verify-release`: each records its verdict, passing or not, and the report
//! lists them all.

use crate::validate::Standard;
use crate::verifiers::Checker;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;

use super::needs::{Access, Binding, Needs, Tool};
use super::sign::on_subject;
use super::{Action, Bound, ChartPublished, Cx, Placeholders, Status, Subject, Values};
use crate::actions::Permission;
use crate::chart;
use crate::cmd::Cmd;
use crate::layout;
use crate::record::Timeline;
use crate::registry::{Registry, Repository};
use crate::scan::SBOM_ARTIFACT_TYPE;
use crate::secret::Secret;
use crate::sign::{self, AttestationType, Cosign, Verifier};

/// Each floating tag this release is eligible for (`MAJOR.MINOR`, `MAJOR`, `latest`) names
/// the highest release eligible for it: this one, or the higher release that holds it. A run
/// that left one behind is caught here even if it passed.
#[derive(Debug, Clone, Serialize)]
pub struct CheckFloatingTags {
    pub repository: Repository,
    /// The release's git tag (`v1.2.3`).
    pub release: String,
    /// Marked as a pre-release on GitHub: it takes no floating tag.
    pub prerelease: bool,
}

impl Action for CheckFloatingTags {
    fn needs(&self) -> Needs {
        Needs::new().registry(Access::Read)
    }

    fn describe(&self) -> String {
        format!(
            "floating tags of {} in {}: each names the highest release eligible for it",
            self.release, self.repository
        )
    }

    fn hint(&self) -> String {
        format!(
            "a floating tag of {} does not name the highest release eligible for it: \
             `gh workflow run release.yml --ref {tag} -f version={tag}` moves this release's \
             (a higher release's tags are moved by a run of that release)",
            self.repository,
            tag = self.release
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let release = crate::version::ReleaseVersion::parse(&self.release)?;
        let what = "floating tags".to_string();
        let registry = cx.registry(&self.repository);
        let (published, withdrawn) = registry.eligible_versions()?;
        if withdrawn.contains(release.semver()) {
            cx.pass(&what, "none: a withdrawn release takes no floating tag");
            return Ok(());
        }
        let plan = crate::version::plan_tags(&release, &published, self.prerelease);
        if plan.floating.is_empty() {
            cx.pass(&what, "none: a pre-release takes no floating tag");
            return Ok(());
        }
        let mut right = Vec::new();
        let mut wrong = Vec::new();
        for f in &plan.floating {
            let owner = f.held_by.clone().unwrap_or_else(|| release.plain());
            let expected = registry.digest_of(&owner)?;
            let actual = registry.digest_of(&f.tag)?;
            match (&actual, &expected) {
                (Some(a), Some(e)) if a == e => right.push(format!("{} -> {owner}", f.tag)),
                _ => wrong.push(format!(
                    "{} names {}, not {owner} ({})",
                    f.tag,
                    actual.as_deref().unwrap_or("nothing"),
                    expected.as_deref().unwrap_or("missing")
                )),
            }
        }
        ensure!(wrong.is_empty(), "{}", wrong.join("; "));
        cx.pass(&what, &right.join(", "));
        Ok(())
    }
}

/// Resolves the version tags to one index with every platform and the right labels; learns
/// the index and platform digests.
#[derive(Debug, Clone, Serialize)]
pub struct ResolveRelease {
    pub repository: Repository,
    pub tags: Vec<String>,
    pub platforms: Vec<String>,
    pub version: String,
}

impl Action for ResolveRelease {
    fn needs(&self) -> Needs {
        Needs::new()
            .writes([Binding::Index, Binding::Platforms, Binding::Revision])
            .registry(Access::Read)
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::RegistryApi)
    }

    fn describe(&self) -> String {
        format!(
            "resolve {}:{} to one index with every platform and its labels",
            self.repository,
            self.tags.join(", ")
        )
    }

    fn hint(&self) -> String {
        format!(
            "{} does not serve release {} as published: re-run the release (it finishes what a \
             failed run left out)",
            self.repository, self.version
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let registry = cx.registry(&self.repository);
        let digest = self.one_digest(&registry)?;
        let (bytes, _) = registry
            .manifest(&self.repository.digest(&digest))?
            .context("the index vanished")?;
        let served: BTreeMap<String, String> =
            layout::index_platforms(&bytes)?.into_iter().collect();
        for p in &self.platforms {
            let manifest = served
                .get(p)
                .with_context(|| format!("{}@{digest} has no {p} image", self.repository))?;
            let revision = platform_revision(&registry, manifest, &self.version)?;
            eprintln!("    {p}: {manifest}, commit {revision}");
            if let Some(first) = &cx.bindings.revision {
                ensure!(
                    *first == revision,
                    "{}@{digest}: {p} is labelled commit {revision}, another platform {first}",
                    self.repository
                );
            }
            cx.bindings.revision = Some(revision);
            cx.bindings.platforms.insert(p.clone(), manifest.clone());
        }
        cx.bindings.index = Some(digest.clone());
        cx.pass(&self.describe(), &digest);
        Ok(())
    }
}

impl ResolveRelease {
    /// The digest every version tag names.
    fn one_digest(&self, registry: &Registry) -> Result<String> {
        let mut digest: Option<String> = None;
        for tag in &self.tags {
            let found = registry.digest_of(tag)?.with_context(|| {
                format!("{}:{tag} does not exist: the release was not published (or the package is private and no credentials were given)", self.repository)
            })?;
            if let Some(first) = &digest {
                ensure!(
                    *first == found,
                    "{}:{tag} is {found}, but {} is {first}",
                    self.repository,
                    self.tags[0]
                );
            }
            digest = Some(found);
        }
        digest.context("no version tag to resolve")
    }
}

/// The platform image's revision label, after checking its version label.
fn platform_revision(registry: &Registry, manifest: &str, version: &str) -> Result<String> {
    let labels = registry.labels(manifest)?;
    let label = |k: &str| {
        labels
            .get(&format!("org.opencontainers.image.{k}"))
            .cloned()
    };
    let labelled = label("version").unwrap_or_default();
    ensure!(
        labelled == version,
        "{}@{manifest} is labelled version `{labelled}`, not {version}",
        registry.repository
    );
    Ok(label("revision").unwrap_or_else(|| "?".into()))
}

/// A cosign signature of `subject` verifies with the expected key or identity.
#[derive(Debug, Clone, Serialize)]
pub struct VerifySignature {
    pub cosign: Cosign,
    pub verifier: Verifier,
    pub subject: Subject,
}

impl VerifySignature {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        on_subject(&self.cosign, &self.subject, values, |target, login| {
            self.cosign.verify(&self.verifier, target, login)
        })
    }

    fn what(&self) -> String {
        format!("signature of {}", self.subject.what())
    }
}

impl Action for VerifySignature {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_subject(&self.subject)
            .tools([Tool::Cosign])
            .registry(Access::Read)
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::Cosign)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("{}: {cmd}", self.what())
    }

    fn hint(&self) -> String {
        format!(
            "the {} does not verify: the release is not what its signer published, or it is \
             checked against the wrong key or identity",
            self.what()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        self.command(cx)?.read()?;
        cx.pass(&self.what(), "ok");
        Ok(())
    }
}

/// A signed attestation of `subject` of one type verifies.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyAttestation {
    pub cosign: Cosign,
    pub verifier: Verifier,
    pub kind: AttestationType,
    pub subject: Subject,
}

impl VerifyAttestation {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        on_subject(&self.cosign, &self.subject, values, |target, login| {
            self.cosign
                .verify_attestation(&self.verifier, self.kind, target, login)
        })
    }

    fn what(&self) -> String {
        format!(
            "{} attestation of {}",
            self.kind.what(),
            self.subject.what()
        )
    }
}

impl Action for VerifyAttestation {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_subject(&self.subject)
            .tools([Tool::Cosign, Tool::Validators])
            .registry(Access::Read)
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::Cosign)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("{}: {cmd}", self.what())
    }

    fn hint(&self) -> String {
        format!(
            "the {} does not verify: re-run the release (it attests what a failed run left \
             out), or check against the right key or identity",
            self.what()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let out = self.command(cx)?.read()?;
        cx.pass(&self.what(), "ok");
        if self.kind == AttestationType::CycloneDx {
            for sbom in out.lines().filter_map(sign::dsse_predicate) {
                cx.validate_served(
                    Standard::CycloneDx,
                    &format!("the SBOM attested on {}", self.subject.what()),
                    &serde_json::to_vec(&sbom)?,
                )?;
            }
        }
        Ok(())
    }
}

/// The index's build provenance verifies: GitHub's attestation of the release workflow at the
/// release's tag (`gh attestation verify`), or with a key the release's own attestation, or
/// the Sigstore bundle the workflow's attest step pushed (where the key stands in for
/// GitHub's identity: the workflow simulation).
#[derive(Debug, Clone, Serialize)]
pub struct VerifyProvenance {
    pub cosign: Cosign,
    pub verifier: Verifier,
    pub subject: Subject,
    /// With a key, the provenance is the workflow's Sigstore bundle: where the trusted root
    /// cosign's bundle verifier needs is written (`None`: the release's own attestation).
    pub bundle_root: Option<PathBuf>,
    /// `owner/name` of the repository whose release workflow attested it (keyless).
    pub github_repository: String,
    /// `refs/tags/v1.2.3`.
    pub source_ref: String,
    /// `gh` asks GitHub's API for the attestation with a token.
    pub token: Option<Secret>,
}

/// The check of `target`'s build provenance a user runs: with the release's key, its own
/// SLSA attestation, or the workflow's Sigstore bundle when `bundle_root` names the trusted
/// root to verify it with; keyless, GitHub's attestation of the release workflow of
/// `repository` at `source_ref` (`gh attestation verify` with the strict flags). `login`: the
/// run's registry login directory, which both read as `DOCKER_CONFIG` (gh through
/// go-containerregistry's default keychain), so that a package that is still private
/// verifies too.
pub(super) fn provenance_check(
    cosign: &Cosign,
    verifier: &Verifier,
    target: &str,
    (repository, source_ref): (&str, &str),
    login: Option<&str>,
    bundle_root: Option<&Path>,
) -> Cmd {
    if let Verifier::Key { .. } = verifier {
        let kind = AttestationType::SlsaProvenance;
        return match bundle_root {
            Some(root) => cosign.verify_bundle_attestation(verifier, kind, target, login, root),
            None => cosign.verify_attestation(verifier, kind, target, login),
        };
    }
    let cmd = Cmd::new("gh")
        .args(["attestation", "verify"])
        .arg(format!("oci://{target}"))
        .opt("--repo", repository)
        .opt(
            "--signer-workflow",
            format!("{repository}/.github/workflows/release.yml"),
        )
        .opt("--source-ref", source_ref);
    match login {
        Some(dir) => cmd.env("DOCKER_CONFIG", dir),
        None => cmd,
    }
}

impl VerifyProvenance {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        let cmd = on_subject(&self.cosign, &self.subject, values, |target, login| {
            let source = (self.github_repository.as_str(), self.source_ref.as_str());
            let root = self.bundle_root.as_deref();
            provenance_check(&self.cosign, &self.verifier, target, source, login, root)
        })?;
        Ok(match (&self.verifier, &self.token) {
            (Verifier::Key { .. }, _) | (_, None) => cmd,
            (_, Some(t)) => cmd.secret_env("GH_TOKEN", t.clone()),
        })
    }
}

impl Action for VerifyProvenance {
    fn needs(&self) -> Needs {
        let needs = Needs::new()
            .reads_subject(&self.subject)
            .tools([Tool::Validators])
            .registry(Access::Read);
        match self.verifier {
            Verifier::Key { .. } => needs.tools([Tool::Cosign]),
            Verifier::Keyless { .. } => needs
                .tools([Tool::Gh])
                .github([Permission::AttestationsRead]),
        }
    }

    fn checker(&self) -> Option<Checker> {
        Some(match self.verifier {
            Verifier::Key { .. } => Checker::Cosign,
            Verifier::Keyless { .. } => Checker::Gh,
        })
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("build provenance of the index: {cmd}")
    }

    fn hint(&self) -> String {
        "the index's build provenance does not verify: on GitHub, re-run the image job (it \
         attests provenance when it is missing); elsewhere re-run the release"
            .into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        if let (Verifier::Key { .. }, Some(root)) = (&self.verifier, &self.bundle_root) {
            crate::record::write_text(root, sign::EMPTY_TRUSTED_ROOT)?;
        }
        let out = self.command(cx)?.read()?;
        cx.pass("build provenance of the index", "ok");
        // The statement (cosign prints its envelope, from a cosign attestation or a bundle);
        // GitHub's is checked by `gh`, which prints no statement.
        if let Verifier::Key { .. } = self.verifier {
            for statement in out.lines().filter_map(sign::dsse_statement) {
                cx.validate_served(
                    Standard::InTotoProvenance,
                    "the build provenance of the index",
                    &serde_json::to_vec(&statement)?,
                )?;
            }
        }
        Ok(())
    }
}

/// Each platform has a CycloneDX SBOM referrer.
#[derive(Debug, Clone, Serialize)]
pub struct CheckSboms {
    pub repository: Repository,
    pub platforms: Vec<String>,
}

impl Action for CheckSboms {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads([Binding::Platforms])
            .registry(Access::Read)
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::RegistryApi)
    }

    fn describe(&self) -> String {
        format!(
            "SBOM referrers of {} for {}",
            self.repository,
            self.platforms.join(", ")
        )
    }

    fn hint(&self) -> String {
        "an SBOM referrer is missing: re-run the release (cargo xtask release-image finishes \
         what a failed run left out)"
            .into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let registry = cx.registry(&self.repository);
        for p in &self.platforms {
            let digest = cx.bindings.digest(&Bound::Platform(p.clone()))?;
            let found = registry.referrers(&digest, SBOM_ARTIFACT_TYPE)?;
            ensure!(
                !found.is_empty(),
                "{}@{digest} ({p}) has no CycloneDX SBOM referrer",
                self.repository
            );
        }
        cx.pass(&self.describe(), "one SBOM per platform");
        Ok(())
    }
}

/// The published chart pins exactly the image index; learns the chart's digest.
#[derive(Debug, Clone, Serialize)]
pub struct ResolveChart {
    pub repository: Repository,
    pub version: String,
    pub image: Repository,
    /// The image tag the chart must name (`1.2.3`).
    pub tag: String,
}

impl Action for ResolveChart {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads([Binding::Index])
            .writes([Binding::Chart])
            .registry(Access::Read)
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::RegistryApi)
    }

    fn describe(&self) -> String {
        format!(
            "{}:{} pins {}:{}@{}",
            self.repository,
            self.version,
            self.image,
            self.tag,
            Bound::Index.placeholder()
        )
    }

    fn hint(&self) -> String {
        format!(
            "the chart {}:{} does not deploy the released image: do not install it",
            self.repository, self.version
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let registry = cx.registry(&self.repository);
        let (manifest, digest) = registry
            .manifest(&self.repository.tag(&self.version))?
            .with_context(|| {
                format!(
                    "{}:{} does not exist: the chart was not published",
                    self.repository, self.version
                )
            })?;
        let layer = chart::chart_layer(&manifest).context("the chart manifest holds no chart")?;
        let pinned = chart::packaged_image(&registry.blob(&layer)?)?;
        let index = cx.bindings.digest(&Bound::Index)?;
        ensure!(
            pinned.repository == self.image.to_string()
                && pinned.tag == self.tag
                && pinned.digest == index,
            "the chart deploys {}:{}@{}, not {}:{}@{index}",
            pinned.repository,
            pinned.tag,
            pinned.digest,
            self.image,
            self.tag
        );
        let detail = format!(
            "{}@{digest} pins {}:{}@{index}",
            self.repository, self.image, self.tag
        );
        cx.bindings.chart = Some(ChartPublished {
            digest,
            pushed: false,
        });
        cx.pass(&self.describe(), &detail);
        Ok(())
    }
}

/// What an anonymous client can pull: the image by digest, or the chart by tag.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pullable {
    Digest(Bound),
    Tag(String),
}

/// An anonymous pull, as a cluster without credentials does it.
#[derive(Debug, Clone, Serialize)]
pub struct AnonymousPull {
    pub repository: Repository,
    pub target: Pullable,
    /// Where the package is made public.
    pub settings: String,
    pub required: bool,
}

impl AnonymousPull {
    fn shown(&self, values: &dyn Values) -> Result<String> {
        Ok(match &self.target {
            Pullable::Digest(d) => format!("{}@{}", self.repository, values.digest(d)?),
            Pullable::Tag(t) => format!("{}:{t}", self.repository),
        })
    }
}

impl Action for AnonymousPull {
    fn needs(&self) -> Needs {
        // Anonymous on purpose: no credentials, so no registry access of the run's.
        match &self.target {
            Pullable::Digest(d) => Needs::new().reads_digest(d),
            Pullable::Tag(_) => Needs::new(),
        }
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::RegistryApi)
    }

    fn describe(&self) -> String {
        let shown = self.shown(&Placeholders).expect("placeholders");
        format!("pull {shown} without a login")
    }

    fn hint(&self) -> String {
        format!(
            "make the package public once at {}, then open the workflow run and choose \
             \"Re-run failed jobs\" (both verify jobs failed, and the release page waits for \
             both; the release is otherwise complete); a private organisation sets the \
             repository variable PUBLIC_CHECK=skip",
            self.settings
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let shown = self.shown(cx)?;
        let target = match &self.target {
            Pullable::Digest(d) => self.repository.digest(&cx.bindings.digest(d)?),
            Pullable::Tag(t) => self.repository.tag(t),
        };
        let what = format!("anonymous pull of {shown}");
        let why = match Registry::anonymous(&self.repository).manifest(&target) {
            Ok(Some(_)) => {
                cx.pass(&what, "public");
                return Ok(());
            }
            Ok(None) => "not found".to_string(),
            Err(e) => format!("{e:#}"),
        };
        let message = format!("{shown} cannot be pulled without a login ({why})");
        if self.required {
            bail!(message)
        }
        let message = format!("{message}: {}", self.hint());
        crate::github::warning(&message);
        cx.record(&what, Status::Warned, &message);
        Ok(())
    }
}

/// The published chart rendered by Helm as `helm install` renders it: every image it deploys
/// is the release's, by tag and index digest. With the run's registry login when there is one.
#[derive(Debug, Clone, Serialize)]
pub struct RenderChart {
    /// `helm` (4), or `helm3`, which is optional: not installed, the check is skipped, said so.
    pub helm: Checker,
    /// `ghcr.io/alto9/charts/kube9-operator`.
    pub chart: Repository,
    pub version: String,
    pub image: Repository,
    pub tag: String,
}

impl RenderChart {
    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        let dir = values.login_dir()?;
        Ok(Cmd::new(self.helm.name())
            .env("HELM_REGISTRY_CONFIG", format!("{dir}/registry.json"))
            .args(["template", "kube9"])
            .arg(self.chart.oci_url())
            .opt("--version", &self.version)
            .args(self.chart.is_loopback().then_some("--plain-http")))
    }

    fn what(&self) -> String {
        format!(
            "{}:{} rendered by {} deploys {}:{}@{}",
            self.chart,
            self.helm.name(),
            self.version,
            self.image,
            self.tag,
            Bound::Index.placeholder()
        )
    }
}

impl Action for RenderChart {
    fn needs(&self) -> Needs {
        let helm = match self.helm {
            Checker::Helm3 => Tool::Helm3,
            _ => Tool::Helm,
        };
        Needs::new().reads([Binding::Index]).tools([helm])
    }

    fn checker(&self) -> Option<Checker> {
        Some(self.helm)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("{}: {cmd}", self.what())
    }

    fn hint(&self) -> String {
        "helm cannot render the published chart, or it deploys another image: re-run the \
         release's chart job (a chart that pins another image is refused before it is pushed)"
            .into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        if self.helm == Checker::Helm3 && crate::tools::which("helm3").is_none() {
            cx.record(
                &self.what(),
                Status::Skipped,
                "helm3 is not installed here (`cargo xtask setup` installs Helm 3.19 as helm3)",
            );
            return Ok(());
        }
        let rendered = self.command(cx)?.read()?;
        let index = cx.bindings.digest(&Bound::Index)?;
        let expected = format!("{}:{}@{index}", self.image, self.tag);
        let images = crate::chart::rendered_images(&rendered);
        ensure!(
            !images.is_empty() && images.iter().all(|i| *i == expected),
            "helm rendered the images {images:?}, not {expected}"
        );
        cx.pass(&self.what(), &expected);
        Ok(())
    }
}

/// The verification report: every check, passing or not.
#[derive(Debug, Clone, Serialize)]
pub struct RecordVerification {
    pub path: PathBuf,
    /// What earlier jobs of the release recorded (publish, image and chart served).
    pub given: Timeline,
    /// Checks left out on request, reported as skipped.
    pub skipped: Vec<String>,
}

impl Action for RecordVerification {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_if_known([
                Binding::Index,
                Binding::Platforms,
                Binding::Chart,
                Binding::Withdrawal,
            ])
            .writes([Binding::Verifiers])
    }

    fn describe(&self) -> String {
        format!(
            "report {}, with each verifier's version (e.g. `cosign version --json`, \
             `helm version --short`)",
            self.path.display()
        )
    }

    fn hint(&self) -> String {
        format!(
            "{} could not be written; the checks above are the report",
            self.path.display()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        for what in &self.skipped {
            cx.record(what, Status::Skipped, "not run on request");
        }
        let passed = !cx.bindings.any_check_failed();
        let mut timeline = cx.bindings.timeline.or(&self.given);
        if passed {
            timeline.verified = Some(crate::record::now());
        }
        cx.bindings.timeline = timeline.clone();
        cx.bindings.verifiers =
            crate::verifiers::matrix(&cx.bindings.checks, crate::verifiers::installed_version);
        let b = &cx.bindings;
        let report = serde_json::json!({
            "passed": passed,
            "verifiers": b.verifiers,
            "index_digest": b.index,
            "platforms": b.platforms,
            "chart_digest": b.chart.as_ref().map(|c| c.digest.clone()),
            "checks": b.checks,
            "skipped": self.skipped,
            "timeline": timeline,
            "seconds_from_publish": timeline.durations(),
            // The latest verified withdrawal statement (`withdrawn: false` once lifted).
            "withdrawal": b.withdrawal,
        });
        if let Some(actions) = cx.actions() {
            actions.add_summary(&format!("### Timings\n\n{}\n", timeline.summary()))?;
        }
        crate::record::write(&self.path, &report)?;
        println!("\nverification ({}):", self.path.display());
        for c in &b.checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warned => "WARN",
                Status::Failed => "FAIL",
                Status::Skipped => "SKIP",
            };
            println!("  {mark} {}", c.what);
            if ![Status::Ok, Status::Skipped].contains(&c.status) {
                println!("       {}", c.detail);
            }
        }
        println!("verified with:");
        for v in &b.verifiers {
            println!(
                "  {} {}: {} check(s), {}",
                v.verifier,
                v.version,
                v.checks,
                v.result()
            );
        }
        Ok(())
    }
}
