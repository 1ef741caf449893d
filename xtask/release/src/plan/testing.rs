//! Inputs of every plan, as a release of `v1.2.3` to GHCR from commit `c0ffee` would have them,
//! for the plans' unit tests.

use super::build::BuildInputs;
use super::chart::ChartInputs;
use super::image::{ImageInputs, ProvenanceSource};
use super::release::ReleaseInputs;
use super::verify::PublicCheck;
use crate::buildx::Cache;
use crate::cmd::Secret;
use crate::notify::Notify;
use crate::registry::{Credentials, Repository};
use crate::scan::{Severity, TrivyDb};
use crate::sign::Signer;
use crate::source::Source;
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
