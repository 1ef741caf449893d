//! What is attached to a published index, read from the registry: GitHub's build provenance
//! (a Sigstore bundle referrer), cosign's attestations (SLSA provenance, OpenVEX, withdrawal
//! statements), and which releases were published as GitHub pre-releases. `facts` reads it
//! before a plan; `floating` and the steps read it as they run.

use anyhow::{Context, Result};

use crate::registry::Registry;
use crate::sign::{cosign_tag, AttestationType};
use crate::withdrawal::{self, Withdrawal, Withdrawals};

/// Every Sigstore bundle media type (`...bundle.v0.3+json`, which actions/attest-build-provenance
/// v4 writes, `...bundle+json;version=0.2`).
const BUNDLE_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// The annotation `@sigstore/oci` writes on a bundle referrer with its statement's predicate.
const BUNDLE_PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// SLSA provenance, any version (`https://slsa.dev/provenance/v1`, `.../v0.2`).
fn is_slsa_provenance(predicate_type: &str) -> bool {
    predicate_type.starts_with("https://slsa.dev/provenance/")
}

/// GitHub's build provenance (a Sigstore bundle referrer, found by the registry's referrers
/// API or the referrers tag, of any bundle version, whose statement is SLSA provenance), or
/// the release's own (a cosign attestation of the index whose predicate is SLSA provenance).
pub fn has_provenance(registry: &Registry, index: &str, tags: &[String]) -> Result<bool> {
    let bundles = registry.referrers_where(index, |m| {
        m.artifact_type
            .as_deref()
            .is_some_and(|t| t.starts_with(BUNDLE_TYPE_PREFIX))
    })?;
    for bundle in &bundles {
        if bundle_is_provenance(registry, bundle)? {
            return Ok(true);
        }
    }
    let Some(manifest) = attestations_of(registry, index, tags)? else {
        return Ok(false);
    };
    let types = manifest
        .layers
        .iter()
        .map(|l| match annotated_type(l) {
            Some(t) => Ok(Some(t.clone())),
            // `cosign attach attestation` (the release's own provenance) names no type: the
            // statement in the envelope does.
            None => Ok(statement_type(&registry.blob(&l.digest)?)),
        })
        .filter_map(Result::transpose)
        .collect::<Result<Vec<String>>>()?;
    Ok(types
        .iter()
        .any(|t| t == AttestationType::SlsaProvenance.predicate_type()))
}

/// The predicate type `cosign attest` names on an attestation layer.
fn annotated_type(layer: &oci_client::manifest::OciDescriptor) -> Option<&String> {
    layer.annotations.as_ref()?.get("predicateType")
}

/// Whether a bundle referrer holds SLSA provenance: by `@sigstore/oci`'s annotation, else by
/// the in-toto statement in the bundle itself.
fn bundle_is_provenance(
    registry: &Registry,
    bundle: &oci_client::manifest::ImageIndexEntry,
) -> Result<bool> {
    if let Some(t) = bundle
        .annotations
        .as_ref()
        .and_then(|a| a.get(BUNDLE_PREDICATE_ANNOTATION))
    {
        return Ok(is_slsa_provenance(t));
    }
    let Some((bytes, _)) = registry.manifest(&registry.repository.digest(&bundle.digest))? else {
        return Ok(false);
    };
    let manifest: oci_client::manifest::OciImageManifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}@{} is not a bundle", registry.repository, bundle.digest))?;
    for layer in &manifest.layers {
        let blob = registry.blob(&layer.digest)?;
        if statement_predicate_type(&blob).is_some_and(|t| is_slsa_provenance(&t)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The predicate type of the in-toto statement in a Sigstore bundle's DSSE envelope.
fn statement_predicate_type(bundle: &[u8]) -> Option<String> {
    let bundle: serde_json::Value = serde_json::from_slice(bundle).ok()?;
    statement_type(bundle["dsseEnvelope"].to_string().as_bytes())
}

/// The manifest of cosign's attestation tag of `index` (`sha256-<hex>.att`), if `tags` has it.
fn attestations_of(
    registry: &Registry,
    index: &str,
    tags: &[String],
) -> Result<Option<oci_client::manifest::OciImageManifest>> {
    let att = cosign_tag(index, "att");
    if !tags.contains(&att) {
        return Ok(None);
    }
    let Some((bytes, _)) = registry.manifest(&registry.repository.tag(&att))? else {
        return Ok(None);
    };
    let manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}:{att} is not an attestation", registry.repository))?;
    Ok(Some(manifest))
}

/// The OpenVEX document cosign attested on the index (the first, as Trivy reads it).
pub fn attested_vex(
    registry: &Registry,
    index: &str,
    tags: &[String],
) -> Result<Option<serde_json::Value>> {
    let Some(manifest) = attestations_of(registry, index, tags)? else {
        return Ok(None);
    };
    let vex_type = AttestationType::OpenVex.predicate_type();
    for layer in &manifest.layers {
        if annotated_type(layer).map(String::as_str) != Some(vex_type) {
            continue;
        }
        let envelope = registry.blob(&layer.digest)?;
        return Ok(crate::sign::dsse_predicate(&String::from_utf8_lossy(
            &envelope,
        )));
    }
    Ok(None)
}

/// The `predicateType` of the in-toto statement in a DSSE envelope.
fn statement_type(envelope: &[u8]) -> Option<String> {
    let statement = crate::sign::dsse_statement(std::str::from_utf8(envelope).ok()?)?;
    statement["predicateType"].as_str().map(str::to_string)
}

/// The latest withdrawal statement attached to `index` (as read: `verify-release` checks its
/// signature; a tag moves on what the repository's writers attached).
pub fn withdrawal_of(
    registry: &Registry,
    index: &str,
    tags: &[String],
) -> Result<Option<Withdrawal>> {
    let Some(manifest) = attestations_of(registry, index, tags)? else {
        return Ok(None);
    };
    let mut found = Vec::new();
    for layer in &manifest.layers {
        // `cosign attest` names the type; `cosign attach attestation` leaves it to the envelope.
        if annotated_type(layer).is_some_and(|t| t != withdrawal::PREDICATE_TYPE) {
            continue;
        }
        let envelope = registry.blob(&layer.digest)?;
        let statement = std::str::from_utf8(&envelope)
            .ok()
            .and_then(crate::sign::dsse_statement);
        found.extend(statement.as_ref().and_then(withdrawal::from_statement));
    }
    Ok(withdrawal::latest(found))
}

/// The latest withdrawal statement of every release in `tags` (each read at its plain version
/// tag, which every release has).
pub fn withdrawals(registry: &Registry, tags: &[String]) -> Result<Withdrawals> {
    let mut all = Withdrawals {
        marked_prereleases: marked_prereleases(registry, tags)?,
        ..Withdrawals::default()
    };
    // Only an index with an attestation can carry a statement: most releases cost one request.
    if !tags.iter().any(|t| t.ends_with(".att")) {
        return Ok(all);
    }
    for version in crate::version::published_versions(tags.iter().map(String::as_str)) {
        let tag = version.to_string();
        if !tags.contains(&tag) {
            continue;
        }
        let Some(digest) = registry.digest_of(&tag)? else {
            continue;
        };
        if let Some(w) = withdrawal_of(registry, &digest, tags)? {
            all.statements.insert(version, w);
        }
    }
    Ok(all)
}

/// The versions without a pre-release part whose index says they were published as GitHub
/// pre-releases (`io.artifacthub.package.prerelease: "true"`, which every release writes):
/// one manifest read per such version.
fn marked_prereleases(registry: &Registry, tags: &[String]) -> Result<Vec<semver::Version>> {
    let mut marked = Vec::new();
    for version in crate::version::published_versions(tags.iter().map(String::as_str)) {
        let tag = version.to_string();
        if !version.pre.is_empty() || !tags.contains(&tag) {
            continue;
        }
        let Some((bytes, _)) = registry.manifest(&registry.repository.tag(&tag))? else {
            continue;
        };
        let index: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if index["annotations"]["io.artifacthub.package.prerelease"] == "true" {
            marked.push(version);
        }
    }
    Ok(marked)
}
