//! Inputs of every plan, as a release of `v1.2.3` to GHCR from commit `c0ffee` would have them:
//! for the plans' unit tests, and for `doctor` and `setup`, which check and install the
//! programs these plans' steps declare (`tools`). The secrets here are made-up strings.

use std::collections::BTreeSet;

use super::build::BuildInputs;
use super::chart::ChartInputs;
use super::image::{ImageInputs, ProvenanceSource};
use super::release::{ReleaseFacts, ReleaseInputs};
use super::rescan::{Published as RescanPublished, RescanInputs};
use super::verify::{PublicCheck, VerifyInputs};
use super::withdraw::{WithdrawFacts, WithdrawInputs};
use super::Plan;
use crate::buildx::Cache;
use crate::config::GithubApi;
use crate::credentials::Credentials;
use crate::notify::{GithubIssues, Notify};
use crate::registry::Repository;
use crate::scan::{Severity, TrivyDb};
use crate::secret::Secret;
use crate::sign::{Signer, Verifier};
use crate::source::Source;
use crate::step::Tool;
use crate::version::ReleaseVersion;

pub fn source() -> Source {
    Source {
        dir: "/src".into(),
        commit: "c0ffee".into(),
        commit_time: 1_700_000_000,
        clean: true,
    }
}

pub fn key() -> Signer {
    Signer::Key {
        key: Secret::new("k3y-s3cret"),
        password: Secret::new("pa55-s3cret"),
        from: "COSIGN_PRIVATE_KEY".into(),
    }
}

pub fn credentials() -> Credentials {
    Credentials {
        username: "octocat".into(),
        password: Secret::new("t0ken-s3cret"),
    }
}

pub fn image_inputs() -> ImageInputs {
    ImageInputs {
        build: BuildInputs {
            release: ReleaseVersion::parse("v1.2.3").unwrap(),
            prerelease: false,
            source: source(),
            platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
            dockerfile: "Dockerfile".into(),
            context: ".".into(),
            build_args: Vec::new(),
            build_contexts: Vec::new(),
            base_images: vec![
                "docker.io/library/rust:1.95.0-slim-bookworm@sha256:d748".into(),
                "gcr.io/distroless/static-debian12:nonroot@sha256:d093".into(),
            ],
            cache: Cache::Builder,
            provenance: false,
            docker_host: None,
            out_dir: "/src/target/release".into(),
        },
        repository: Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
        db: TrivyDb {
            repository: None,
            cache_dir: "/src/target/trivy-cache".into(),
            max_age_hours: Some(72),
        },
        severity: Severity::Critical,
        require_rust: true,
        size_budget: 200_000_000,
        push: true,
        signer: Some(key()),
        provenance: ProvenanceSource::Workflow,
        hold_floating: false,
        provenance_attested: false,
        credentials: Some(credentials()),
        notify: Notify {
            image: "ghcr.io/alto9/kube9-operator".into(),
            version: "1.2.3".into(),
            file: "/src/target/release/issue-1.2.3.md".into(),
            github: None,
        },
        vex: None,
        changes: None,
        repo_metadata: None,
    }
}

pub fn chart_inputs() -> ChartInputs {
    ChartInputs {
        release: ReleaseVersion::parse("v1.2.3").unwrap(),
        prerelease: false,
        source: source(),
        image: Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
        charts: Repository::parse("oci://ghcr.io/alto9/charts").unwrap(),
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        chart: "charts/kube9-operator".into(),
        out_dir: "/src/target/release".into(),
        expected_digest: None,
        wait_timeout: 600,
        poll_interval: 10,
        signer: Some(key()),
        credentials: Some(credentials()),
        changes: None,
        repo_metadata: None,
    }
}

pub fn release_inputs() -> ReleaseInputs {
    ReleaseInputs {
        image: image_inputs(),
        chart: chart_inputs(),
        public_check: PublicCheck::Require,
        github_repository: "alto9/kube9-operator".into(),
    }
}

/// A verification of the release of `release_inputs`, keyless, as the workflow runs it.
pub fn verify_inputs() -> VerifyInputs {
    let release = release_inputs();
    VerifyInputs {
        release: release.image.build.release.clone(),
        image: release.image.repository.clone(),
        charts: release.chart.charts.clone(),
        platforms: release.image.build.platforms.clone(),
        verifier: Verifier::release_workflow("alto9/kube9-operator", "v1.2.3"),
        signatures: true,
        github_repository: "alto9/kube9-operator".into(),
        github_token: None,
        public_check: PublicCheck::Require,
        out_dir: "out".into(),
        credentials: None,
        run_platforms: Vec::new(),
        native_only: false,
        docker_host: None,
        given: Default::default(),
        scan: None,
        prerelease: false,
        checkout: "/src".into(),
        changes: None,
        provenance: ProvenanceSource::Workflow,
    }
}

/// A plan of each command, in each way it signs and verifies: a release with a key and one
/// with GitHub's identity (its verification keyless), a withdrawal, a rescan, and the
/// reproducibility check. What their steps declare is what a machine needs to release.
pub fn plans() -> Vec<Plan> {
    let with_key = release_inputs();
    let mut on_github = release_inputs();
    on_github.image.signer = Some(Signer::Keyless {
        request_token: Secret::new("oidc"),
    });
    on_github.image.notify.github = Some(GithubIssues {
        api_url: "https://api.github.com".into(),
        repository: "alto9/kube9-operator".into(),
        token: Secret::new("t0ken"),
    });
    let facts = ReleaseFacts::default();
    let withdraw = WithdrawInputs {
        release: ReleaseVersion::parse("v1.2.3").unwrap(),
        reason: Some("a regression".into()),
        replacement: None,
        undo: false,
        repository: with_key.image.repository.clone(),
        chart: Repository::parse("ghcr.io/alto9/charts/kube9-operator").unwrap(),
        signer: key(),
        credentials: Some(credentials()),
        out_dir: "/src/target/release".into(),
        github: Some(GithubApi {
            url: "https://api.github.com".into(),
            repository: "alto9/kube9-operator".into(),
            token: Some(Secret::new("t0ken")),
        }),
    };
    let withdraw_facts = WithdrawFacts {
        tags: Some(vec!["v1.2.3".into(), "1.2.3".into()]),
        index: Some(format!("sha256:{}", "a".repeat(64))),
        ..Default::default()
    };
    let rescan = RescanInputs {
        repository: with_key.image.repository.clone(),
        images: vec![RescanPublished {
            version: "1.2.3".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            platforms: with_key.image.build.platforms.clone(),
        }],
        db: with_key.image.db.clone(),
        severity: Severity::Critical,
        out_dir: "/src/target/release".into(),
        github: None,
        vex: None,
        withdrawn: Vec::new(),
    };
    [
        super::release::plan(&with_key, &facts),
        super::release::plan(&on_github, &facts),
        super::withdraw::plan(&withdraw, &withdraw_facts),
        super::rescan::plan(&rescan),
        super::build::reproducible(&with_key.image.build),
    ]
    .into_iter()
    .map(|plan| plan.expect("the sample plans are in order"))
    .collect()
}

/// Every program the sample plans' steps declare.
pub fn tools() -> BTreeSet<Tool> {
    plans().iter().flat_map(|p| p.needs().0).collect()
}
