//! The plan of `release-chart`: wait until the registry serves the image on every platform,
//! stamp a staged copy of the chart with its digest, lint, package, push, pull back, check what
//! it deploys, sign. Pure.

use anyhow::Result;
use std::path::PathBuf;

use super::{Mode, Plan};
use crate::changelog::Entry;
use crate::chart::{HelmPlan, CHART_NAME};
use crate::credentials::Credentials;
use crate::registry::Repository;
use crate::sign::{Cosign, Signer};
use crate::source::Source;
use crate::step::{
    Bound, ChartRelease, CheckChart, FreshDir, LintChart, LoginClient, PackageChart, PullChart,
    PushChart, PushRepoMetadata, RecordChart, Sign, StageChart, Step, Subject, WaitForImage,
};
use crate::version::ReleaseVersion;

#[derive(Debug, Clone)]
pub struct ChartInputs {
    pub release: ReleaseVersion,
    pub prerelease: bool,
    pub source: Source,
    pub image: Repository,
    /// Where charts are pushed (`oci://ghcr.io/alto9/charts`).
    pub charts: Repository,
    pub platforms: Vec<String>,
    /// The chart's source directory, relative to the source.
    pub chart: PathBuf,
    pub out_dir: PathBuf,
    /// The index digest the image step published, when known: the registry must serve it.
    pub expected_digest: Option<String>,
    pub wait_timeout: u64,
    pub poll_interval: u64,
    pub signer: Option<Signer>,
    pub credentials: Option<Credentials>,
    /// This version's CHANGELOG.md entry, for Artifact Hub (`None`: `--skip-changelog`).
    pub changes: Option<Entry>,
    /// `artifacthub-repo.yml`, checked, when the source has one.
    pub repo_metadata: Option<PathBuf>,
}

/// The chart already published under this version, if any.
#[derive(Debug, Clone, Default)]
pub struct ChartFacts {
    /// Whether the published chart (if any) carries a signature already.
    pub signed: bool,
}

impl ChartInputs {
    pub fn helm(&self) -> HelmPlan {
        let dir = self.out_dir.join("chart");
        HelmPlan {
            staged: dir.join(CHART_NAME),
            package_dir: dir,
            version: self.release.plain(),
            repository: self.charts.clone(),
            plain_http: self.charts.is_loopback(),
        }
    }

    /// What the chart is stamped with; the image digest is learnt when the image is served.
    pub fn chart_release(&self) -> ChartRelease {
        ChartRelease {
            version: self.release.plain(),
            prerelease: self.prerelease || self.release.is_prerelease(),
            image: self.image.clone(),
            tag: self.release.plain(),
            platforms: self.platforms.clone(),
            changes: self.changes.as_ref().map(|e| e.changes.clone()),
        }
    }
}

pub fn plan(inputs: &ChartInputs, facts: &ChartFacts) -> Result<Plan> {
    let helm = inputs.helm();
    let mut steps = vec![Step::WaitForImage(WaitForImage {
        repository: inputs.image.clone(),
        tag: inputs.release.tag(),
        expected: inputs.expected_digest.clone(),
        platforms: inputs.platforms.clone(),
        timeout_secs: inputs.wait_timeout,
        interval_secs: inputs.poll_interval.max(1),
    })];
    steps.extend(package_steps(inputs, &helm));
    let plain_http = helm.plain_http;
    let credentials = inputs.credentials.as_ref();
    steps.extend(LoginClient::Helm { plain_http }.login(&inputs.charts.host, credentials));
    steps.push(Step::PushChart(PushChart {
        repository: helm.chart_repository(),
        version: inputs.release.plain(),
        package: helm.package_file(),
        helm: helm.clone(),
    }));
    let pulled = inputs.out_dir.join("chart-verify");
    steps.push(Step::FreshDir(FreshDir {
        path: pulled.clone(),
    }));
    steps.push(Step::PullChart(PullChart {
        helm: helm.clone(),
        dest: pulled.clone(),
    }));
    steps.push(Step::CheckChart(CheckChart {
        pulled: pulled.join(format!("{CHART_NAME}-{}.tgz", inputs.release.plain())),
        package: helm.package_file(),
        release: inputs.chart_release(),
    }));
    if !facts.signed {
        steps.extend(signing_steps(inputs, &helm.chart_repository()));
    }
    if let Some(file) = &inputs.repo_metadata {
        steps.push(Step::PushRepoMetadata(PushRepoMetadata {
            repository: helm.chart_repository(),
            file: file.clone(),
        }));
    }
    steps.push(Step::RecordChart(RecordChart {
        path: inputs.out_dir.join("chart.json"),
        repository: helm.chart_repository(),
        release: inputs.chart_release(),
    }));
    Plan {
        title: format!("Chart {} for {}", inputs.release.plain(), inputs.image),
        notes: vec![
            format!("chart      {}", helm.chart_repository().oci_url()),
            match &inputs.changes {
                Some(entry) => format!("changelog  {}", super::image::changelog_line(entry)),
                None => super::image::changelog_skipped().into(),
            },
        ],
        mode: Mode::StopAtFirstFailure,
        steps,
    }
    .checked()
}

fn package_steps(inputs: &ChartInputs, helm: &HelmPlan) -> Vec<Step> {
    vec![
        Step::StageChart(StageChart {
            chart: inputs.source.dir.join(&inputs.chart),
            dest: helm.package_dir.clone(),
            release: inputs.chart_release(),
            epoch: inputs.source.commit_time,
        }),
        Step::LintChart(LintChart { helm: helm.clone() }),
        Step::PackageChart(PackageChart {
            helm: helm.clone(),
            epoch: inputs.source.commit_time,
        }),
    ]
}

fn signing_steps(inputs: &ChartInputs, chart: &Repository) -> Vec<Step> {
    let Some(signer) = &inputs.signer else {
        return Vec::new();
    };
    let login = LoginClient::Cosign.login(&chart.host, inputs.credentials.as_ref());
    let sign = Step::Sign(Sign {
        cosign: Cosign::for_repository(chart, inputs.credentials.is_some()),
        signer: signer.clone(),
        subjects: vec![Subject::new(chart, Bound::Chart)],
    });
    login.into_iter().chain([sign]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> ChartInputs {
        crate::plan::samples::chart_inputs()
    }

    #[test]
    fn the_chart_waits_for_the_image_then_publishes_checks_and_signs() {
        let plan = plan(&inputs(), &ChartFacts::default()).unwrap();
        assert_eq!(
            plan.kinds(),
            [
                "wait-for-image",
                "stage-chart",
                "lint-chart",
                "package-chart",
                "login",
                "push-chart",
                "fresh-dir",
                "pull-chart",
                "check-chart",
                "login",
                "sign",
                "record-chart"
            ]
        );
        let text = plan.to_string();
        assert!(
            text.contains(
                "helm registry login ghcr.io --username octocat --password-stdin <<< ***"
            ),
            "{text}"
        );
        assert!(text.contains("cosign sign --yes --key env://COSIGN_PRIVATE_KEY --tlog-upload=false ghcr.io/alto9/charts/kube9-operator@<chart-digest>"), "{text}");
        assert!(
            text.contains("the chart deploys ghcr.io/alto9/kube9-operator:1.2.3@<index-digest>"),
            "{text}"
        );
        assert!(
            !text.contains("token") && !serde_json::to_string(&plan).unwrap().contains("token")
        );
    }

    #[test]
    fn a_plain_http_registry_gets_helm_4s_plain_http_login() {
        let local = ChartInputs {
            charts: Repository::parse("oci://127.0.0.1:5000/charts").unwrap(),
            ..inputs()
        };
        let text = plan(&local, &ChartFacts::default()).unwrap().to_string();
        // Helm 4's `registry login --insecure` still speaks HTTPS to such a registry.
        assert!(
            text.contains("helm registry login 127.0.0.1:5000 --plain-http --username octocat --password-stdin <<< ***"),
            "{text}"
        );
        assert!(
            text.contains("oci://127.0.0.1:5000/charts --plain-http"),
            "{text}"
        );
    }

    #[test]
    fn a_signed_chart_is_not_signed_again_and_no_login_without_credentials() {
        let unsigned = ChartInputs {
            credentials: None,
            ..inputs()
        };
        let plan = plan(&unsigned, &ChartFacts { signed: true }).unwrap();
        assert!(!plan.has("sign"));
        assert!(!plan.to_string().contains("registry login"));
    }

    #[test]
    fn a_github_prerelease_marks_the_chart() {
        let pre = ChartInputs {
            prerelease: true,
            ..inputs()
        };
        let plan = plan(&pre, &ChartFacts::default()).unwrap();
        let staged = plan
            .steps
            .iter()
            .find_map(|s| match s {
                Step::StageChart(stage) => Some(stage.release.clone()),
                _ => None,
            })
            .unwrap();
        assert!(staged.prerelease);
        assert!(plan
            .to_string()
            .contains("image ghcr.io/alto9/kube9-operator:1.2.3@<index-digest>)"));
    }
}
