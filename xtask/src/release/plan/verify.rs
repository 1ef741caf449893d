//! The plan of `verify-release`: what a user (or the last job of a release) checks about a
//! published release. Every check runs and is reported, passing or not. Pure.

use std::path::PathBuf;

use serde::Serialize;

use super::{platform_digest, Mode, Plan, Step, CHART_DIGEST, INDEX_DIGEST, LOGIN_DIR};
use crate::release::chart::CHART_NAME;
use crate::release::registry::{Credentials, Repository};
use crate::release::sign::{self, Cosign, Verifier};
use crate::release::version::ReleaseVersion;

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
    pub public_check: PublicCheck,
    pub out_dir: PathBuf,
    /// For packages that are still private (the first release on GHCR).
    pub credentials: Option<Credentials>,
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
    format!(
        "https://github.com/orgs/{owner}/packages/container/{}/settings (Danger Zone > Change \
         visibility > Public; for a user account: https://github.com/users/{owner}/packages/container/{}/settings)",
        package.replace('/', "%2F"),
        package.replace('/', "%2F")
    )
}

pub fn plan(inputs: &VerifyInputs) -> Plan {
    let chart = inputs.charts.child(CHART_NAME);
    let mut steps = vec![Step::ResolveRelease {
        repository: inputs.image.clone(),
        tags: vec![inputs.release.tag(), inputs.release.plain()],
        platforms: inputs.platforms.clone(),
        version: inputs.release.plain(),
    }];
    steps.extend(signature_steps(inputs, &chart));
    steps.push(Step::CheckSboms {
        repository: inputs.image.clone(),
        platforms: inputs.platforms.clone(),
    });
    if inputs.public_check != PublicCheck::Skip {
        let required = inputs.public_check == PublicCheck::Require;
        steps.push(Step::AnonymousPull {
            reference: format!("{}@{INDEX_DIGEST}", inputs.image),
            settings: package_settings(&inputs.image),
            repository: inputs.image.clone(),
            required,
        });
        steps.push(Step::AnonymousPull {
            reference: format!("{chart}:{}", inputs.release.plain()),
            settings: package_settings(&chart),
            repository: chart.clone(),
            required,
        });
    }
    steps.push(Step::RecordVerification {
        path: inputs.out_dir.join("verify.json"),
    });
    Plan {
        title: format!("Verify release {} of {}", inputs.release, inputs.image),
        notes: vec![format!("chart      {}", chart.oci_url())],
        mode: Mode::ReportAll,
        steps,
    }
}

/// The chart is resolved between the image's signature checks and its own, so that its digest
/// is known when its signature is checked.
fn signature_steps(inputs: &VerifyInputs, chart: &Repository) -> Vec<Step> {
    let login = inputs.credentials.as_ref().map(|_| LOGIN_DIR);
    let cosign = Cosign::for_repository(&inputs.image, login);
    let mut steps = Vec::new();
    if let Some(c) = &inputs.credentials {
        steps.push(Step::run(
            "login",
            sign::login(&inputs.image.host, &c.username, &c.password, LOGIN_DIR),
        ));
    }
    let index = format!("{}@{INDEX_DIGEST}", inputs.image);
    steps.push(Step::check(
        "signature of the index",
        cosign.verify(&inputs.verifier, &index),
    ));
    for p in &inputs.platforms {
        let reference = format!("{}@{}", inputs.image, platform_digest(p));
        steps.push(Step::check(
            format!("SBOM attestation of {p}"),
            cosign.verify_attestation(&inputs.verifier, &reference),
        ));
    }
    steps.push(Step::ResolveChart {
        repository: chart.clone(),
        version: inputs.release.plain(),
        image: inputs.image.clone(),
    });
    let chart_cosign = Cosign::for_repository(chart, login);
    steps.push(Step::check(
        "signature of the chart",
        chart_cosign.verify(&inputs.verifier, &format!("{chart}@{CHART_DIGEST}")),
    ));
    steps
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
            public_check,
            out_dir: "out".into(),
            credentials: None,
        }
    }

    #[test]
    fn every_check_in_order_and_the_report_last() {
        let plan = plan(&inputs(PublicCheck::Require));
        assert_eq!(plan.mode, Mode::ReportAll);
        assert_eq!(
            plan.kinds(),
            [
                "resolve-release",
                "check:cosign",
                "check:cosign",
                "check:cosign",
                "resolve-chart",
                "check:cosign",
                "check-sboms",
                "anonymous-pull",
                "anonymous-pull",
                "record-verification"
            ]
        );
        let text = plan.to_string();
        assert!(text.contains("--certificate-identity https://github.com/alto9/kube9-operator/.github/workflows/release.yml@refs/tags/v1.2.3"), "{text}");
        assert!(
            text.contains("ghcr.io/alto9/kube9-operator@<linux/arm64-digest>"),
            "{text}"
        );
    }

    #[test]
    fn a_private_organisation_can_skip_the_anonymous_pull() {
        assert!(!plan(&inputs(PublicCheck::Skip)).has("anonymous-pull"));
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
