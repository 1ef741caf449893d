//! What the registry holds before a release is planned: the repository's tags, and whether
//! this version is published already (and how completely). Read once; the plan decides.

use anyhow::{Context, Result};

use crate::attached::{attested_vex, has_provenance, withdrawals};
use crate::layout;
use crate::plan::chart::ChartFacts;
use crate::plan::image::{ImageFacts, Published};
use crate::registry::Registry;
use crate::scan::SBOM_ARTIFACT_TYPE;
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
    let withdrawals = withdrawals(registry, &tags)?;
    Ok(ImageFacts {
        tags: Some(tags),
        published,
        withdrawals,
    })
}

fn published(registry: &Registry, release: &ReleaseVersion, tags: &[String]) -> Result<Published> {
    let repo = &registry.repository;
    let (bytes, digest) = registry
        .manifest(&repo.tag(&release.tag()))?
        .with_context(|| format!("{repo}:{} vanished while it was read", release.tag()))?;
    let platforms = layout::index_platforms(&bytes)?;
    let mut revision = String::new();
    let (mut sboms, mut attested, mut signed_platforms) = (Vec::new(), Vec::new(), Vec::new());
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
        if tags.contains(&cosign_tag(manifest, "sig")) {
            signed_platforms.push(platform.clone());
        }
    }
    Ok(Published {
        provenance: has_provenance(registry, &digest, tags)?,
        vex: attested_vex(registry, &digest, tags)?,
        signed: tags.contains(&cosign_tag(&digest, "sig")),
        signed_platforms,
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
