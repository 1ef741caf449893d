//! A release into a local environment (`release --local`): the same plan, pointed at the
//! environment's registry, engine, base image stand-ins, fixture database and key pair. The
//! developer environment says where those are; what changes in the release is decided here.

use std::path::PathBuf;

use super::release::ReleaseInputs;
use crate::registry::Repository;
use crate::sign::Signer;

/// Where a local environment serves what a release needs.
#[derive(Debug, Clone)]
pub struct LocalTarget {
    /// `127.0.0.1:PORT`; a port is only known once the environment is up (before, a dry run
    /// shows `127.0.0.1:<port>`).
    pub registry: String,
    pub trivy_db_repository: String,
    pub trivy_cache_dir: PathBuf,
    /// `--build-context` values that serve the Dockerfile's public base images.
    pub build_contexts: Vec<String>,
    pub docker_host: Option<String>,
    /// The environment's key pair, unless the release is published unsigned (`--no-sign`).
    pub signer: Option<Signer>,
}

/// The release's inputs, released into `target` instead: its registry for the image and the
/// chart, its engine and stand-ins for the build, its fixture database (judged at any age,
/// in the environment's own cache, so a later real release never scans with it), its key.
pub fn into_local(inputs: &ReleaseInputs, target: &LocalTarget) -> ReleaseInputs {
    let mut local = inputs.clone();
    // The same paths as the real release (`--repository`, `--chart-repository`), on the
    // environment's registry.
    let at = |real: &Repository| Repository {
        host: target.registry.clone(),
        path: real.path.clone(),
    };
    let repository = at(&inputs.image.repository);
    let image = &mut local.image;
    image.repository = repository.clone();
    image.notify.image = repository.to_string();
    image
        .build
        .build_contexts
        .extend(target.build_contexts.iter().cloned());
    image.build.docker_host = target.docker_host.clone();
    image.db.repository = Some(target.trivy_db_repository.clone());
    image.db.cache_dir = target.trivy_cache_dir.clone();
    image.db.max_age_hours = None;
    image.signer = if image.push {
        target.signer.clone()
    } else {
        None
    };
    let chart = &mut local.chart;
    chart.image = repository;
    chart.charts = at(&inputs.chart.charts);
    chart.signer = target.signer.clone();
    local
}
