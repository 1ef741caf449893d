//! The plan of `release-chart`: wait until the registry serves the image on every platform,
//! stamp a staged copy of the chart with its digest, lint, package, push, pull back, check what
//! it deploys, sign. Pure.

use std::path::PathBuf;

use super::{Mode, Plan, Step, CHART_DIGEST, INDEX_DIGEST, LOGIN_DIR};
use crate::release::chart::{self, ChartData, HelmPlan, CHART_NAME};
use crate::release::registry::{Credentials, Repository};
use crate::release::sign::{self, Cosign, Signer};
use crate::release::source::Source;
use crate::release::version::ReleaseVersion;

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
            registry_config: format!("{LOGIN_DIR}/registry.json"),
        }
    }

    /// The image reference the chart must deploy.
    pub fn image_reference(&self) -> String {
        format!("{}:{}@{INDEX_DIGEST}", self.image, self.release.plain())
    }
}

pub fn plan(inputs: &ChartInputs, facts: &ChartFacts) -> Plan {
    let helm = inputs.helm();
    let mut steps = vec![Step::WaitForImage {
        repository: inputs.image.clone(),
        tag: inputs.release.tag(),
        expected: inputs.expected_digest.clone(),
        platforms: inputs.platforms.clone(),
        timeout_secs: inputs.wait_timeout,
        interval_secs: inputs.poll_interval.max(1),
    }];
    steps.extend(package_steps(inputs, &helm));
    if let Some(c) = &inputs.credentials {
        steps.push(Step::run(
            "login",
            helm.login(&c.username, c.password.clone()),
        ));
    }
    steps.push(Step::PushChart {
        repository: helm.chart_repository(),
        version: inputs.release.plain(),
        package: helm.package_file(),
        push: helm.push(),
    });
    let pulled = inputs.out_dir.join("chart-verify");
    steps.push(Step::FreshDir {
        path: pulled.clone(),
    });
    steps.push(Step::run("pull back", helm.pull(&pulled)));
    let pulled_file = pulled.join(format!("{CHART_NAME}-{}.tgz", inputs.release.plain()));
    steps.push(Step::CheckChart {
        template: chart::template(&pulled_file),
        pulled: pulled_file,
        package: helm.package_file(),
        image: inputs.image_reference(),
    });
    if !facts.signed {
        steps.extend(signing_steps(inputs, &helm.chart_repository()));
    }
    steps.push(Step::RecordChart {
        path: inputs.out_dir.join("chart.json"),
        repository: helm.chart_repository(),
        version: inputs.release.plain(),
        image: inputs.image_reference(),
    });
    Plan {
        title: format!("Chart {} for {}", inputs.release.plain(), inputs.image),
        notes: vec![format!("chart      {}", helm.chart_repository().oci_url())],
        mode: Mode::StopAtFirstFailure,
        steps,
    }
}

fn package_steps(inputs: &ChartInputs, helm: &HelmPlan) -> Vec<Step> {
    let data = ChartData::release(
        &inputs.release.plain(),
        inputs.prerelease || inputs.release.is_prerelease(),
        &inputs.image.to_string(),
        INDEX_DIGEST,
    );
    vec![
        Step::StageChart {
            chart: inputs.source.dir.join(&inputs.chart),
            dest: helm.package_dir.clone(),
            data,
        },
        Step::run("lint", helm.lint()),
        Step::run("package", helm.package()),
        Step::NormalizeChart {
            package: helm.package_file(),
            epoch: inputs.source.commit_time,
        },
    ]
}

fn signing_steps(inputs: &ChartInputs, chart: &Repository) -> Vec<Step> {
    let Some(signer) = &inputs.signer else {
        return Vec::new();
    };
    let mut steps = Vec::new();
    let login = inputs.credentials.as_ref().map(|_| LOGIN_DIR);
    if let Some(c) = &inputs.credentials {
        steps.push(Step::run(
            "login",
            sign::login(&chart.host, &c.username, &c.password, LOGIN_DIR),
        ));
    }
    let cosign = Cosign::for_repository(chart, login);
    let reference = format!("{chart}@{CHART_DIGEST}");
    steps.push(Step::run("sign the chart", cosign.sign(signer, &reference)));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::cmd::Secret;

    fn inputs() -> ChartInputs {
        ChartInputs {
            release: ReleaseVersion::parse("v1.2.3").unwrap(),
            prerelease: false,
            source: Source {
                dir: "/src".into(),
                commit: "c0ffee".into(),
                commit_time: 1_700_000_000,
                clean: true,
            },
            image: Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
            charts: Repository::parse("oci://ghcr.io/alto9/charts").unwrap(),
            platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
            chart: "charts/kube9-operator".into(),
            out_dir: "out".into(),
            expected_digest: None,
            wait_timeout: 600,
            poll_interval: 10,
            signer: Some(Signer::Key {
                key: Secret::new("k"),
                password: Secret::new("p"),
            }),
            credentials: Some(Credentials {
                username: "octocat".into(),
                password: Secret::new("token"),
            }),
        }
    }

    #[test]
    fn the_chart_waits_for_the_image_then_publishes_checks_and_signs() {
        let plan = plan(&inputs(), &ChartFacts::default());
        assert_eq!(
            plan.kinds(),
            [
                "wait-for-image",
                "stage-chart",
                "run:helm",
                "run:helm",
                "normalize-chart",
                "run:helm",
                "push-chart",
                "fresh-dir",
                "run:helm",
                "check-chart",
                "run:cosign",
                "run:cosign",
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
    fn a_signed_chart_is_not_signed_again_and_no_login_without_credentials() {
        let unsigned = ChartInputs {
            credentials: None,
            ..inputs()
        };
        let plan = plan(&unsigned, &ChartFacts { signed: true });
        assert!(!plan.has("run:cosign"));
        assert!(!plan.to_string().contains("registry login"));
    }

    #[test]
    fn a_github_prerelease_marks_the_chart() {
        let pre = ChartInputs {
            prerelease: true,
            ..inputs()
        };
        let plan = plan(&pre, &ChartFacts::default());
        let staged = plan
            .steps
            .iter()
            .find_map(|s| match s {
                Step::StageChart { data, .. } => Some(data.clone()),
                _ => None,
            })
            .unwrap();
        assert!(staged.prerelease);
        assert_eq!(staged.image_digest, INDEX_DIGEST);
    }
}
