//! The plan of `verify-release`: what a user (or the last job of a release) checks about a
//! published release. Every check runs and is reported, passing or not. Pure.

use anyhow::Result;
use std::path::PathBuf;

use serde::Serialize;

use super::image::ProvenanceSource;
use super::{Mode, Plan};
use crate::changelog;
use crate::chart::CHART_NAME;
use crate::credentials::Credentials;
use crate::record::{ScanRecord, Timeline};
use crate::registry::Repository;
use crate::secret::Secret;
use crate::sign::{AttestationType, Cosign, Verifier};
use crate::step::{
    AnonymousPull, Bound, CheckFloatingTags, CheckSboms, CheckWithdrawal, LoginClient, PullAsNode,
    Pullable, RecordVerification, RenderChart, ResolveChart, ResolveRelease, RunImage, Step,
    Subject, VerifyAttestation, VerifyProvenance, VerifySignature, VerifyVex, VexRelease,
    WriteReleaseNotes,
};
use crate::verifiers::Checker;
use crate::version::ReleaseVersion;

/// Whether the release must be pullable without a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PublicCheck {
    /// Fail when the image or the chart cannot be pulled without a login.
    Require,
    /// Only warn (a private organisation).
    Warn,
    Skip,
}

#[derive(Debug, Clone)]
pub struct VerifyInputs {
    pub release: ReleaseVersion,
    pub image: Repository,
    pub charts: Repository,
    pub platforms: Vec<String>,
    pub verifier: Verifier,
    /// Whether the release was signed, so that its signatures are checked (a release
    /// published with --no-sign has none).
    pub signatures: bool,
    /// `owner/name` of the repository whose release workflow attests build provenance.
    pub github_repository: String,
    /// The token `gh attestation verify` asks GitHub's API with.
    pub github_token: Option<Secret>,
    pub public_check: PublicCheck,
    pub out_dir: PathBuf,
    /// For packages that are still private (the first release on GHCR).
    pub credentials: Option<Credentials>,
    /// The platforms run as a node runs them (natively where this machine's architecture
    /// matches, else under QEMU, which the report says).
    pub run_platforms: Vec<String>,
    /// Emulation fails the run check (a GitHub-hosted runner: the leg proves hardware).
    pub native_only: bool,
    /// The engine the run check uses (a local environment's); `None`: docker's own.
    pub docker_host: Option<String>,
    /// What the release's earlier jobs recorded: when it was published and served, its scan.
    pub given: Timeline,
    pub scan: Option<ScanRecord>,
    /// Marked as a pre-release on GitHub: it takes no floating tag, so none is checked.
    pub prerelease: bool,
    /// The checkout whose history holds the release's commit (its `security/vex.json` says
    /// which VEX statements the index must carry).
    pub checkout: PathBuf,
    /// This version's CHANGELOG.md entry, for the release page.
    pub changes: Option<changelog::Entry>,
    /// Who attested the index's build provenance: with a key, the release's own cosign
    /// attestation, or the workflow's Sigstore bundle (the simulation of GitHub's attest step).
    pub provenance: ProvenanceSource,
}

/// Where a key-verified Sigstore bundle's trusted root is written (see `VerifyProvenance`);
/// `None` when there is no bundle to verify with a key.
fn bundle_root(inputs: &VerifyInputs) -> Option<PathBuf> {
    let bundle = inputs.provenance == ProvenanceSource::Workflow;
    (bundle && matches!(inputs.verifier, Verifier::Key { .. }))
        .then(|| inputs.out_dir.join("sigstore-trusted-root.json"))
}

/// Whether the release is withdrawn: the latest withdrawal statement on the index that
/// verifies against the withdrawal's signer (the release's key; keyless, the withdraw
/// workflow on `main`).
fn withdrawal_step(inputs: &VerifyInputs) -> Option<Step> {
    if !inputs.signatures {
        return None;
    }
    let verifier = match &inputs.verifier {
        Verifier::Key { .. } => inputs.verifier.clone(),
        Verifier::Keyless { .. } => Verifier::withdraw_workflow(&inputs.github_repository),
    };
    Some(Step::CheckWithdrawal(CheckWithdrawal {
        cosign: cosign(inputs, &inputs.image),
        verifier,
        subject: Subject::new(&inputs.image, Bound::Index),
    }))
}

/// Where a GHCR package's visibility is changed; elsewhere, the registry's own settings.
pub fn package_settings(repository: &Repository) -> String {
    if repository.host != "ghcr.io" {
        return format!("the settings of {repository} in {}", repository.host);
    }
    let (owner, package) = repository
        .path
        .split_once('/')
        .unwrap_or((repository.path.as_str(), ""));
    let package = package.replace('/', "%2F");
    format!(
        "https://github.com/orgs/{owner}/packages/container/{package}/settings (Danger Zone > Change \
         visibility > Public; for a user account: https://github.com/users/{owner}/packages/container/{package}/settings)"
    )
}

pub fn plan(inputs: &VerifyInputs) -> Result<Plan> {
    let chart = inputs.charts.child(CHART_NAME);
    let mut steps = vec![Step::ResolveRelease(ResolveRelease {
        repository: inputs.image.clone(),
        tags: inputs.release.version_tags(),
        platforms: inputs.platforms.clone(),
        version: inputs.release.plain(),
    })];
    steps.push(Step::CheckFloatingTags(CheckFloatingTags {
        repository: inputs.image.clone(),
        release: inputs.release.tag(),
        prerelease: inputs.prerelease,
    }));
    steps.extend(login_step(inputs));
    steps.extend(image_signature_steps(inputs));
    steps.extend(withdrawal_step(inputs));
    steps.push(Step::ResolveChart(ResolveChart {
        repository: chart.clone(),
        version: inputs.release.plain(),
        image: inputs.image.clone(),
        tag: inputs.release.plain(),
    }));
    // Helm 4 renders it as the release packaged it; Helm 3, where installed, as admins who
    // have not moved yet install it.
    for helm in [Checker::Helm, Checker::Helm3] {
        steps.push(Step::RenderChart(RenderChart {
            helm,
            chart: chart.clone(),
            version: inputs.release.plain(),
            image: inputs.image.clone(),
            tag: inputs.release.plain(),
        }));
    }
    steps.extend(chart_signature_step(inputs, &chart));
    steps.push(Step::CheckSboms(CheckSboms {
        repository: inputs.image.clone(),
        platforms: inputs.platforms.clone(),
    }));
    if inputs.public_check != PublicCheck::Skip {
        let required = inputs.public_check == PublicCheck::Require;
        steps.push(Step::AnonymousPull(AnonymousPull {
            repository: inputs.image.clone(),
            target: Pullable::Digest(Bound::Index),
            settings: package_settings(&inputs.image),
            required,
        }));
        steps.push(Step::AnonymousPull(AnonymousPull {
            repository: chart.clone(),
            target: Pullable::Tag(inputs.release.plain()),
            settings: package_settings(&chart),
            required,
        }));
    }
    steps.extend(run_steps(inputs));
    steps.extend(node_steps(inputs));
    steps.push(Step::RecordVerification(RecordVerification {
        path: inputs.out_dir.join("verify.json"),
        given: inputs.given.clone(),
        skipped: skipped_checks(inputs),
    }));
    steps.push(Step::WriteReleaseNotes(WriteReleaseNotes {
        path: inputs.out_dir.join("release-notes.md"),
        version: inputs.release.plain(),
        image: inputs.image.clone(),
        chart: chart.clone(),
        image_cosign: Cosign::for_repository(&inputs.image, false),
        chart_cosign: Cosign::for_repository(&chart, false),
        verifier: inputs.verifier.clone(),
        github_repository: inputs.github_repository.clone(),
        source_ref: inputs.release.git_ref(),
        bundle_root: bundle_root(inputs),
        scan: inputs.scan.clone(),
        changes: inputs.changes.as_ref().map(changelog::Entry::markdown),
    }));
    let mut notes = vec![format!("chart      {}", chart.oci_url())];
    notes.extend(skipped_notes(inputs));
    Plan {
        title: format!("Verify release {} of {}", inputs.release, inputs.image),
        notes,
        mode: Mode::ReportAll,
        steps,
    }
    .checked()
}

/// The checks a user would expect that this verification leaves out on request: named in the
/// plan, the report and the release page, so that the release never reads as checked by them.
pub fn skipped_checks(inputs: &VerifyInputs) -> Vec<String> {
    let mut skipped = Vec::new();
    if inputs.run_platforms.is_empty() {
        skipped.push(
            "each platform pulled by tag and run: SKIPPED (no platform to run: `--run-platform \
             none`, the release workflow's RUN_CHECK variable set to `skip`, or an image \
             without the operator's binary)"
                .to_string(),
        );
    }
    if inputs.public_check == PublicCheck::Skip {
        skipped.push("anonymous pulls: SKIPPED (`--public-check skip`)".to_string());
    }
    if inputs.signatures && matches!(inputs.verifier, Verifier::Keyless { .. }) {
        skipped.push(
            "each platform pulled as a CRI-O or podman node that enforces signatures: NOT \
             POSSIBLE for a keyless release (containers/image matches Fulcio certificates by \
             e-mail only, not by the release workflow)"
                .to_string(),
        );
    }
    skipped
}

/// The plan's lines for the skipped checks.
pub fn skipped_notes(inputs: &VerifyInputs) -> Vec<String> {
    skipped_checks(inputs)
        .into_iter()
        .map(|s| format!("not run    {s}"))
        .collect()
}

/// Each platform pulled by tag and run; with the run's login only when the packages may be
/// private (`--public-check warn|skip` with credentials).
fn run_steps(inputs: &VerifyInputs) -> Vec<Step> {
    // The cosign login's docker config (there when there are credentials to sign-check with).
    let cosign_login = inputs.credentials.is_some() && inputs.signatures;
    let logged_in = cosign_login && inputs.public_check != PublicCheck::Require;
    inputs
        .run_platforms
        .iter()
        .map(|p| {
            Step::RunImage(RunImage {
                repository: inputs.image.clone(),
                tag: inputs.release.plain(),
                platform: p.clone(),
                version: inputs.release.plain(),
                logged_in,
                native_only: inputs.native_only,
                docker_host: inputs.docker_host.clone(),
            })
        })
        .collect()
}

/// Each platform pulled as a CRI-O or podman node that enforces the release key's signatures
/// pulls it. A keyless release cannot be checked so (containers/image matches Fulcio
/// certificates by e-mail only), which the plan's notes say.
fn node_steps(inputs: &VerifyInputs) -> Vec<Step> {
    let Verifier::Key { public_key } = &inputs.verifier else {
        return Vec::new();
    };
    if !inputs.signatures {
        return Vec::new();
    }
    inputs
        .platforms
        .iter()
        .map(|p| {
            Step::PullAsNode(PullAsNode {
                repository: inputs.image.clone(),
                tag: inputs.release.plain(),
                platform: p.clone(),
                public_key: public_key.clone(),
                logged_in: inputs.credentials.is_some(),
            })
        })
        .collect()
}

/// Logins for a release whose packages are still private: cosign (signatures) and helm (the
/// chart rendered), into the run's private directory.
fn login_step(inputs: &VerifyInputs) -> Vec<Step> {
    let login = |client: LoginClient| client.login(&inputs.image.host, inputs.credentials.as_ref());
    let mut steps = Vec::new();
    if inputs.signatures {
        steps.extend(login(LoginClient::Cosign));
    }
    let plain_http = inputs.charts.is_loopback();
    steps.extend(login(LoginClient::Helm { plain_http }));
    steps
}

fn cosign(inputs: &VerifyInputs, repository: &Repository) -> Cosign {
    Cosign::for_repository(repository, inputs.credentials.is_some())
}

/// The signatures of the index and of each platform manifest (what a node that enforces
/// signatures checks), each platform's SBOM attestation, the index's build provenance.
fn image_signature_steps(inputs: &VerifyInputs) -> Vec<Step> {
    if !inputs.signatures {
        return Vec::new();
    }
    let cosign = cosign(inputs, &inputs.image);
    let subject = |digest| Subject::new(&inputs.image, digest);
    let signature = |digest| {
        Step::VerifySignature(VerifySignature {
            cosign: cosign.clone(),
            verifier: inputs.verifier.clone(),
            subject: subject(digest),
        })
    };
    let platform = |p: &String| Bound::Platform(p.clone());
    let mut steps = vec![signature(Bound::Index)];
    steps.extend(inputs.platforms.iter().map(|p| signature(platform(p))));
    for p in &inputs.platforms {
        steps.push(Step::VerifyAttestation(VerifyAttestation {
            cosign: cosign.clone(),
            verifier: inputs.verifier.clone(),
            kind: AttestationType::CycloneDx,
            subject: subject(platform(p)),
        }));
    }
    steps.push(Step::VerifyProvenance(VerifyProvenance {
        cosign: cosign.clone(),
        verifier: inputs.verifier.clone(),
        subject: subject(Bound::Index),
        bundle_root: bundle_root(inputs),
        github_repository: inputs.github_repository.clone(),
        source_ref: inputs.release.git_ref(),
        token: inputs.github_token.clone(),
    }));
    steps.push(Step::VerifyVex(VerifyVex {
        cosign: cosign.clone(),
        verifier: inputs.verifier.clone(),
        subject: subject(Bound::Index),
        release: VexRelease::new(&inputs.image, &inputs.release.tag()),
        checkout: inputs.checkout.clone(),
    }));
    steps
}

/// The chart's signature, once its digest is resolved.
fn chart_signature_step(inputs: &VerifyInputs, chart: &Repository) -> Option<Step> {
    inputs.signatures.then(|| {
        Step::VerifySignature(VerifySignature {
            cosign: cosign(inputs, chart),
            verifier: inputs.verifier.clone(),
            subject: Subject::new(chart, Bound::Chart),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(public_check: PublicCheck) -> VerifyInputs {
        VerifyInputs {
            release: ReleaseVersion::parse("v1.2.3").unwrap(),
            image: Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
            charts: Repository::parse("oci://ghcr.io/alto9/charts").unwrap(),
            platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
            verifier: Verifier::release_workflow("alto9/kube9-operator", "v1.2.3"),
            signatures: true,
            github_repository: "alto9/kube9-operator".into(),
            github_token: None,
            public_check,
            out_dir: "out".into(),
            credentials: None,
            run_platforms: vec!["linux/arm64".into()],
            native_only: true,
            docker_host: None,
            given: Timeline::default(),
            scan: None,
            prerelease: false,
            checkout: "/src".into(),
            changes: None,
            provenance: ProvenanceSource::Workflow,
        }
    }

    #[test]
    fn every_check_in_order_and_the_report_last() {
        let plan = plan(&inputs(PublicCheck::Require)).unwrap();
        assert_eq!(plan.mode, Mode::ReportAll);
        assert_eq!(
            plan.kinds(),
            [
                "resolve-release",
                "check-floating-tags",
                "verify-signature",
                "verify-signature",
                "verify-signature",
                "verify-attestation",
                "verify-attestation",
                "verify-provenance",
                "verify-vex",
                "check-withdrawal",
                "resolve-chart",
                "render-chart",
                "render-chart",
                "verify-signature",
                "check-sboms",
                "anonymous-pull",
                "anonymous-pull",
                "run-image",
                "record-verification",
                "write-release-notes"
            ]
        );
        let text = plan.to_string();
        assert!(text.contains("--certificate-identity https://github.com/alto9/kube9-operator/.github/workflows/release.yml@refs/tags/v1.2.3"), "{text}");
        assert!(
            text.contains(
                "HELM_REGISTRY_CONFIG=<login-dir>/registry.json helm template kube9 \
                 oci://ghcr.io/alto9/charts/kube9-operator --version 1.2.3"
            ),
            "{text}"
        );
        assert!(
            text.contains("ghcr.io/alto9/kube9-operator@<linux/arm64-digest>"),
            "{text}"
        );
        assert!(
            text.contains(
                "gh attestation verify oci://ghcr.io/alto9/kube9-operator@<index-digest> --repo \
                 alto9/kube9-operator --signer-workflow \
                 alto9/kube9-operator/.github/workflows/release.yml --source-ref refs/tags/v1.2.3"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_private_organisation_can_skip_the_anonymous_pull() {
        let plan = plan(&inputs(PublicCheck::Skip)).unwrap();
        assert!(!plan.has("anonymous-pull"));
        assert!(
            plan.to_string()
                .contains("not run    anonymous pulls: SKIPPED (`--public-check skip`)"),
            "{plan}"
        );
    }

    #[test]
    fn skipped_run_checks_are_named_in_the_plan_and_handed_to_the_report() {
        let all = plan(&inputs(PublicCheck::Require)).unwrap();
        assert!(!all.to_string().contains("SKIPPED"), "{all}");
        let none = VerifyInputs {
            run_platforms: Vec::new(),
            ..inputs(PublicCheck::Require)
        };
        let plan = plan(&none).unwrap();
        assert!(!plan.has("run-image"));
        let text = plan.to_string();
        assert!(
            text.contains("not run    each platform pulled by tag and run: SKIPPED"),
            "{text}"
        );
        let Some(Step::RecordVerification(report)) = plan
            .steps
            .iter()
            .find(|s| s.kind() == "record-verification")
        else {
            panic!("no report step");
        };
        assert_eq!(report.skipped, skipped_checks(&none));
        // The run check, and (keyless) the node's signature check that cannot be made.
        assert_eq!(report.skipped.len(), 2);
    }

    #[test]
    fn a_key_signed_release_is_pulled_as_a_node_that_enforces_its_key_and_a_keyless_one_says_it_cannot_be(
    ) {
        let keyless = plan(&inputs(PublicCheck::Require)).unwrap();
        assert!(!keyless.has("pull-as-node"));
        assert!(
            keyless.to_string().contains(
                "not run    each platform pulled as a CRI-O or podman node that enforces \
                 signatures: NOT POSSIBLE for a keyless release"
            ),
            "{keyless}"
        );
        let key = VerifyInputs {
            verifier: Verifier::Key {
                public_key: "cosign.pub".into(),
            },
            ..inputs(PublicCheck::Require)
        };
        let plan = plan(&key).unwrap();
        let nodes: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| s.kind() == "pull-as-node")
            .map(Step::describe)
            .collect();
        assert_eq!(nodes.len(), 2, "{nodes:?}");
        assert!(
            nodes[1].contains(
                "--override-os linux --override-arch arm64 copy --quiet --remove-signatures \
                 --policy <login-dir>/node-linux-arm64/policy.json"
            ) && nodes[1].ends_with(
                "docker://ghcr.io/alto9/kube9-operator:1.2.3 oci:<login-dir>/node-linux-arm64/pulled:pulled"
            ),
            "{nodes:?}"
        );
        assert!(!plan.to_string().contains("NOT POSSIBLE"));
    }

    #[test]
    fn with_a_key_the_workflows_provenance_is_verified_as_a_sigstore_bundle() {
        let with_key = |provenance| VerifyInputs {
            verifier: Verifier::Key {
                public_key: "cosign.pub".into(),
            },
            provenance,
            ..inputs(PublicCheck::Require)
        };
        let check = |inputs: &VerifyInputs| {
            plan(inputs)
                .unwrap()
                .steps
                .iter()
                .find(|s| s.kind() == "verify-provenance")
                .map(Step::describe)
                .unwrap()
        };
        // The attest step's bundle (the simulation: the key stands in for GitHub's identity),
        // with a trusted root that trusts nothing but the key.
        let bundle = check(&with_key(ProvenanceSource::Workflow));
        assert!(
            bundle.contains(
                "cosign verify-attestation --type slsaprovenance1 --output json \
                 --new-bundle-format --key cosign.pub --insecure-ignore-tlog=true \
                 --trusted-root out/sigstore-trusted-root.json ghcr.io/alto9/kube9-operator@"
            ),
            "{bundle}"
        );
        // The release's own cosign attestation.
        let own = check(&with_key(ProvenanceSource::Release));
        assert!(
            own.contains(
                "cosign verify-attestation --type slsaprovenance1 --output json --key cosign.pub \
                 --insecure-ignore-tlog=true ghcr.io/alto9/kube9-operator@"
            ),
            "{own}"
        );
        // Keyless: GitHub's attestation, with gh, whoever attested.
        let keyless = check(&inputs(PublicCheck::Require));
        assert!(keyless.contains("gh attestation verify"), "{keyless}");
        assert!(!keyless.contains("trusted-root"), "{keyless}");
    }

    #[test]
    fn the_settings_page_of_a_ghcr_package_is_named() {
        let chart = Repository::parse("ghcr.io/alto9/charts/kube9-operator").unwrap();
        let text = package_settings(&chart);
        assert!(
            text.starts_with(
                "https://github.com/orgs/alto9/packages/container/charts%2Fkube9-operator/settings"
            ),
            "{text}"
        );
    }
}
