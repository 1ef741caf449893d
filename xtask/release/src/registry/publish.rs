//! Writing to a registry: the exact bytes of a layout by digest, version tags that never move,
//! referrers (SBOMs), and reading a published image back into a layout. Floating tags, which
//! only move forward (decided again from the registry's tags immediately before they are
//! written), are `floating`'s.

use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};
use oci_client::manifest::{ImageIndexEntry, OciDescriptor, OciImageIndex, OciImageManifest};
use serde::Serialize;

use super::Registry;
use crate::layout::{self, index_of, Image, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use crate::net::block_on;

/// What a push did: a re-run of the same release uploads nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
    pub blobs_present: usize,
}

/// OCI's empty descriptor content, the config of an artifact manifest.
const EMPTY_CONFIG: &[u8] = b"{}";
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

impl Registry {
    pub fn put_manifest(
        &self,
        reference: &oci_client::Reference,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<()> {
        let content_type = http::HeaderValue::from_str(media_type)?;
        let body = bytes::Bytes::copy_from_slice(bytes);
        block_on(async {
            self.client
                .store_auth_if_needed(&self.repository.host, &self.auth)
                .await;
            self.retrying("writing a manifest", || {
                self.client
                    .push_manifest_raw(reference, body.clone(), content_type.clone())
            })
            .await
            .map_err(|e| self.explain(&format!("writing {reference}"), e))
        })?;
        Ok(())
    }

    /// Uploads a blob unless the registry has it; returns whether it was uploaded.
    pub fn push_blob(&self, bytes: &[u8]) -> Result<bool> {
        let digest = layout::sha256(bytes);
        let reference = self.repository.digest(&digest);
        block_on(async {
            self.client
                .store_auth_if_needed(&self.repository.host, &self.auth)
                .await;
            let exists = self
                .retrying("checking a blob", || {
                    self.client.blob_exists(&reference, &digest)
                })
                .await
                .map_err(|e| self.explain(&format!("checking blob {digest}"), e))?;
            if exists {
                return Ok(false);
            }
            let body = bytes::Bytes::copy_from_slice(bytes);
            self.retrying("uploading a blob", || {
                self.client.push_blob(&reference, body.clone(), &digest)
            })
            .await
            .map_err(|e| self.explain(&format!("uploading blob {digest}"), e))?;
            Ok(true)
        })
    }

    /// Uploads the layout's blobs the registry lacks, its manifests by digest and the index by
    /// digest; no tag. A registry accepts a manifest only once everything it references is
    /// there, so an index it already holds is complete: a re-run uploads nothing.
    pub fn push_content(&self, image: &Image) -> Result<PushReport> {
        let mut report = PushReport::default();
        let index_ref = self.repository.digest(&image.index.digest);
        if self.digest_at(&index_ref)?.is_some() {
            report.blobs_present = image.platforms.iter().map(|p| p.blobs().count()).sum();
            return Ok(report);
        }
        for platform in image.platforms.iter().chain(&image.attestations) {
            for blob in platform.blobs() {
                if self.push_blob(&image.blob(&blob.digest)?)? {
                    report.blobs_uploaded += 1;
                    report.bytes_uploaded += u64::try_from(blob.size).unwrap_or(0);
                } else {
                    report.blobs_present += 1;
                }
            }
            let bytes = image.blob(&platform.manifest.digest)?;
            let reference = self.repository.digest(&platform.manifest.digest);
            self.put_manifest(&reference, &bytes, MANIFEST_MEDIA_TYPE)?;
        }
        self.put_manifest(
            &index_ref,
            &image.blob(&image.index.digest)?,
            INDEX_MEDIA_TYPE,
        )?;
        Ok(report)
    }

    /// Points a version tag at the index, checking immediately before the write that the tag
    /// is free or already holds it: a released version never moves. Returns whether it wrote.
    pub fn push_version_tag(&self, tag: &str, index_digest: &str, index: &[u8]) -> Result<bool> {
        match self.digest_of(tag)? {
            Some(existing) if existing == index_digest => Ok(false),
            Some(existing) => anyhow::bail!(
                "{}:{tag} already holds {existing}, a different build than {index_digest}: a \
                 released version is never overwritten; release a new version instead",
                self.repository
            ),
            None => {
                self.put_manifest(&self.repository.tag(tag), index, INDEX_MEDIA_TYPE)?;
                eprintln!("    {}:{tag} -> {index_digest}", self.repository);
                Ok(true)
            }
        }
    }

    /// Attaches `blob` to `subject` as an OCI 1.1 referrer and makes sure it is listed: by the
    /// registry's referrers API where it has one, else in the referrers tag schema
    /// (`sha256-<hex>`, an index of the referrers). The subject's digest does not change.
    pub fn add_referrer(&self, subject: &ImageIndexEntry, artifact: &Artifact) -> Result<String> {
        self.push_blob(EMPTY_CONFIG)?;
        self.push_blob(&artifact.blob)?;
        let manifest = artifact.manifest(subject);
        let bytes = serde_json::to_vec(&manifest)?;
        let digest = layout::sha256(&bytes);
        self.put_manifest(
            &self.repository.digest(&digest),
            &bytes,
            MANIFEST_MEDIA_TYPE,
        )?;
        let listed = self.referrers(&subject.digest, &artifact.artifact_type)?;
        if !listed.iter().any(|r| r.digest == digest) {
            self.add_to_referrers_tag(&subject.digest, &artifact.descriptor(&digest, bytes.len()))?;
        }
        Ok(digest)
    }

    fn add_to_referrers_tag(&self, subject: &str, entry: &ImageIndexEntry) -> Result<()> {
        let tag = subject.replace(':', "-");
        let mut index = match self.manifest(&self.repository.tag(&tag))? {
            Some((bytes, _)) => serde_json::from_slice::<OciImageIndex>(&bytes)
                .with_context(|| format!("{}:{tag} is not a referrers index", self.repository))?,
            None => index_of(Vec::new()),
        };
        index.manifests.push(entry.clone());
        let bytes = serde_json::to_vec(&index)?;
        self.put_manifest(&self.repository.tag(&tag), &bytes, INDEX_MEDIA_TYPE)
    }

    /// The referrers of `subject` of one artifact type (see `referrers_where`).
    pub fn referrers(&self, subject: &str, artifact_type: &str) -> Result<Vec<ImageIndexEntry>> {
        self.referrers_where(subject, |m| {
            m.artifact_type.as_deref() == Some(artifact_type)
        })
    }

    /// The referrers of `subject` that `keep` accepts: the registry's referrers API answer
    /// and the referrers tag schema's index (`sha256-<hex>`) together. A client that found no
    /// API (`@sigstore/oci` on GHCR, cosign) writes only the tag, and a registry that has the
    /// API answers it with an empty index for what was written that way, so neither answer
    /// alone is the whole list. GHCR has no referrers API and answers the endpoint with a 404,
    /// but at times with a redirect or a 429; any answer that is not an index means "no API
    /// here" and is not retried.
    pub fn referrers_where(
        &self,
        subject: &str,
        keep: impl Fn(&ImageIndexEntry) -> bool,
    ) -> Result<Vec<ImageIndexEntry>> {
        let reference = self.repository.digest(subject);
        let native = block_on(async {
            self.client
                .store_auth_if_needed(&self.repository.host, &self.auth)
                .await;
            // Unfiltered: a registry may not apply the filter, or apply it differently.
            self.client.pull_referrers(&reference, None).await
        });
        let mut found = match native {
            Ok(index) => index.manifests,
            Err(e) => {
                eprintln!(
                    "    the referrers API of {} answered {}: reading the referrers tag instead",
                    self.repository.host,
                    super::short(&e)
                );
                Vec::new()
            }
        };
        for entry in self.referrers_tag(subject)?.manifests {
            if !found.iter().any(|m| m.digest == entry.digest) {
                found.push(entry);
            }
        }
        Ok(found.into_iter().filter(|m| keep(m)).collect())
    }

    /// The referrers index kept under the tag schema's tag (`sha256-<hex>`), empty if none.
    fn referrers_tag(&self, subject: &str) -> Result<OciImageIndex> {
        let tag = subject.replace(':', "-");
        let found = self.manifest(&self.repository.tag(&tag))?;
        let index = found.and_then(|(bytes, _)| serde_json::from_slice(&bytes).ok());
        Ok(index.unwrap_or_else(|| index_of(Vec::new())))
    }

    /// Reads a published image into an OCI layout at `dest`, byte for byte.
    pub fn pull_layout(&self, index_digest: &str, dest: &std::path::Path) -> Result<Image> {
        let _ = std::fs::remove_dir_all(dest);
        let (index_bytes, digest) = self
            .manifest(&self.repository.digest(index_digest))?
            .with_context(|| format!("{}@{index_digest} does not exist", self.repository))?;
        ensure!(
            digest == index_digest,
            "the registry served {digest} for {index_digest}"
        );
        layout::write_blob(dest, &index_bytes)?;
        let index: OciImageIndex = serde_json::from_slice(&index_bytes)?;
        for entry in &index.manifests {
            let (bytes, _) = self
                .manifest(&self.repository.digest(&entry.digest))?
                .with_context(|| format!("{} lacks {}", self.repository, entry.digest))?;
            layout::write_blob(dest, &bytes)?;
            let manifest: OciImageManifest = serde_json::from_slice(&bytes)?;
            for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
                layout::write_blob(dest, &self.blob(&blob.digest)?)?;
            }
        }
        let top = serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": INDEX_MEDIA_TYPE, "digest": index_digest, "size": index_bytes.len()}]});
        std::fs::write(dest.join("index.json"), serde_json::to_vec(&top)?)?;
        std::fs::write(dest.join("oci-layout"), layout::LAYOUT_MARKER)?;
        Image::open(dest)
    }
}

/// A file published as a referrer of an image (an SBOM).
#[derive(Debug, Clone)]
pub struct Artifact {
    pub artifact_type: String,
    pub blob: Vec<u8>,
    pub title: String,
    /// RFC 3339; the commit time, so the manifest does not depend on the wall clock.
    pub created: String,
}

impl Artifact {
    fn manifest(&self, subject: &ImageIndexEntry) -> OciImageManifest {
        let layer = OciDescriptor {
            media_type: self.artifact_type.clone(),
            digest: layout::sha256(&self.blob),
            size: self.blob.len() as i64,
            annotations: Some(BTreeMap::from([(
                "org.opencontainers.image.title".to_string(),
                self.title.clone(),
            )])),
            ..Default::default()
        };
        OciImageManifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.to_string()),
            config: OciDescriptor {
                media_type: EMPTY_MEDIA_TYPE.to_string(),
                digest: layout::sha256(EMPTY_CONFIG),
                size: EMPTY_CONFIG.len() as i64,
                ..Default::default()
            },
            layers: vec![layer],
            subject: Some(OciDescriptor {
                media_type: subject.media_type.clone(),
                digest: subject.digest.clone(),
                size: subject.size,
                ..Default::default()
            }),
            artifact_type: Some(self.artifact_type.clone()),
            annotations: Some(self.annotations()),
        }
    }

    fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(
            "org.opencontainers.image.created".to_string(),
            self.created.clone(),
        )])
    }

    fn descriptor(&self, digest: &str, size: usize) -> ImageIndexEntry {
        ImageIndexEntry {
            media_type: MANIFEST_MEDIA_TYPE.to_string(),
            digest: digest.to_string(),
            size: size as i64,
            platform: None,
            annotations: Some(self.annotations()),
            artifact_type: Some(self.artifact_type.clone()),
        }
    }
}
