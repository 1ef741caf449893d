//! What the registry holds before a release is planned: the repository's tags, and whether
//! this version is published already (and how completely). Read once; the plan decides.

use anyhow::{Context, Result};

use crate::layout;
use crate::plan::chart::ChartFacts;
use crate::plan::image::{ImageFacts, Published};
use crate::registry::Registry;
use crate::scan::SBOM_ARTIFACT_TYPE;

/// What actions/attest-build-provenance attaches to the index (a Sigstore bundle).
pub const PROVENANCE_ARTIFACT_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
use crate::sign::cosign_tag;
use crate::version::ReleaseVersion;

/// The tags, and the published build under the version tag if there is one.
pub fn image(registry: &Registry, release: &ReleaseVersion) -> Result<ImageFacts> {
    let tags = registry.tags()?;
    let published = if tags.contains(&release.tag()) {
        Some(published(registry, release, &tags)?)
    } else {
        None
    };
    Ok(ImageFacts {
        tags: Some(tags),
        published,
    })
}

fn published(registry: &Registry, release: &ReleaseVersion, tags: &[String]) -> Result<Published> {
    let repo = &registry.repository;
    let (bytes, digest) = registry
        .manifest(&repo.tag(&release.tag()))?
        .with_context(|| format!("{repo}:{} vanished while it was read", release.tag()))?;
    let platforms = layout::index_platforms(&bytes)?;
    let mut revision = String::new();
    let (mut sboms, mut attested) = (Vec::new(), Vec::new());
    for (platform, manifest) in &platforms {
        let labels = registry.labels(manifest)?;
        revision = labels
            .get("org.opencontainers.image.revision")
            .cloned()
            .unwrap_or_default();
        if !registry.referrers(manifest, SBOM_ARTIFACT_TYPE)?.is_empty() {
            sboms.push(platform.clone());
        }
        if tags.contains(&cosign_tag(manifest, "att")) {
            attested.push(platform.clone());
        }
    }
    let provenance = !registry
        .referrers(&digest, PROVENANCE_ARTIFACT_TYPE)?
        .is_empty();
    Ok(Published {
        provenance,
        signed: tags.contains(&cosign_tag(&digest, "sig")),
        digest,
        platforms,
        revision,
        sboms,
        attested,
    })
}

/// Whether the chart of this version is published and signed already.
pub fn chart(registry: &Registry, version: &str) -> Result<ChartFacts> {
    let Some(digest) = registry.digest_of(version)? else {
        return Ok(ChartFacts::default());
    };
    let tags = registry.tags()?;
    Ok(ChartFacts {
        signed: tags.contains(&cosign_tag(&digest, "sig")),
    })
}
