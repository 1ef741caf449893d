//! The OCI image layout that buildx writes: the exact bytes that are scanned and published.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/arm64` or `linux/arm/v7`.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// One platform's image inside the index.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    pub platform: Platform,
    pub manifest: Descriptor,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

impl PlatformImage {
    /// What a pull transfers: manifest, config and compressed layers.
    pub fn compressed_size(&self) -> u64 {
        self.manifest.size + self.config.size + self.layers.iter().map(|l| l.size).sum::<u64>()
    }
}

/// A multi-platform image as written by `docker buildx build --output type=oci,tar=false`.
#[derive(Debug, Clone)]
pub struct Image {
    pub root: PathBuf,
    pub index: Descriptor,
    pub platforms: Vec<PlatformImage>,
    /// Provenance attestations (`unknown/unknown` entries), only with `--provenance`: pushed
    /// with the index, never scanned or counted as a platform.
    pub attestations: Vec<PlatformImage>,
}

impl Image {
    pub fn open(root: &Path) -> Result<Image> {
        ensure!(
            root.join("oci-layout").is_file(),
            "{} is not an OCI image layout (no oci-layout file)",
            root.display()
        );
        let index = top_descriptor(root)?;
        ensure!(
            index.media_type == INDEX_MEDIA_TYPE,
            "the build produced {} instead of an OCI image index: build with oci-mediatypes=true for several platforms",
            index.media_type
        );
        let inner: Index = serde_json::from_slice(&read_blob(root, &index.digest)?)?;
        let (mut platforms, mut attestations) = (Vec::new(), Vec::new());
        for manifest in inner.manifests {
            let Some(platform) = manifest.platform.clone() else {
                bail!(
                    "manifest {} in the index names no platform",
                    manifest.digest
                )
            };
            let m: Manifest = serde_json::from_slice(&read_blob(root, &manifest.digest)?)?;
            let image = PlatformImage {
                platform,
                manifest,
                config: m.config,
                layers: m.layers,
            };
            if image.platform.os == "unknown" {
                attestations.push(image);
            } else {
                platforms.push(image);
            }
        }
        Ok(Image {
            root: root.to_path_buf(),
            index,
            platforms,
            attestations,
        })
    }

    pub fn blob(&self, digest: &str) -> Result<Vec<u8>> {
        read_blob(&self.root, digest)
    }

    pub fn platform_names(&self) -> Vec<String> {
        self.platforms.iter().map(|p| p.platform.name()).collect()
    }

    /// A layout holding only `platform`, sharing blobs by hard link, for tools that read one
    /// image at a time (Trivy).
    pub fn write_single_platform(&self, platform: &PlatformImage, dest: &Path) -> Result<()> {
        if dest.exists() {
            fs::remove_dir_all(dest)?;
        }
        let blobs = dest.join("blobs/sha256");
        fs::create_dir_all(&blobs)?;
        let digests = std::iter::once(&platform.manifest)
            .chain(std::iter::once(&platform.config))
            .chain(&platform.layers);
        for d in digests {
            let from = blob_path(&self.root, &d.digest)?;
            let to = blobs.join(hex(&d.digest)?);
            fs::hard_link(&from, &to).or_else(|_| fs::copy(&from, &to).map(|_| ()))?;
        }
        fs::write(dest.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let mut manifest = platform.manifest.clone();
        manifest.annotations = None;
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [manifest],
        });
        fs::write(dest.join("index.json"), serde_json::to_vec(&index)?)?;
        Ok(())
    }
}

/// The descriptor of what a layout holds: an index for several platforms, a manifest for one.
fn top_descriptor(root: &Path) -> Result<Descriptor> {
    let top: Index = serde_json::from_slice(&fs::read(root.join("index.json"))?)
        .context("index.json of the OCI layout is not valid")?;
    let [only] = top.manifests.as_slice() else {
        bail!(
            "expected one image in {}, found {}",
            root.display(),
            top.manifests.len()
        );
    };
    Ok(only.clone())
}

pub fn top_digest(root: &Path) -> Result<String> {
    Ok(top_descriptor(root)?.digest)
}

/// The platforms an image index (as served by a registry) lists, as `os/architecture`: a
/// variant such as arm64's `v8` does not change which nodes can run it.
pub fn index_platforms(index: &[u8]) -> Result<Vec<String>> {
    let index: Index =
        serde_json::from_slice(index).context("the registry served an invalid index")?;
    Ok(index
        .manifests
        .iter()
        .filter_map(|m| m.platform.as_ref())
        .map(|p| format!("{}/{}", p.os, p.architecture))
        .collect())
}

fn hex(digest: &str) -> Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(h),
        _ => bail!("unsupported digest {digest}"),
    }
}

fn blob_path(root: &Path, digest: &str) -> Result<PathBuf> {
    Ok(root.join("blobs/sha256").join(hex(digest)?))
}

/// Reads a blob and checks that its bytes match its digest.
pub fn read_blob(root: &Path, digest: &str) -> Result<Vec<u8>> {
    let path = blob_path(root, digest)?;
    let bytes = fs::read(&path).with_context(|| format!("missing blob {}", path.display()))?;
    ensure!(
        sha256(&bytes) == digest,
        "blob {} does not match its digest",
        path.display()
    );
    Ok(bytes)
}

pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn index_platforms_ignore_variants() {
        let index = br#"{"manifests": [
            {"mediaType": "m", "digest": "d", "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "m", "digest": "d", "size": 1, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": "m", "digest": "d", "size": 1}]}"#;
        assert_eq!(
            index_platforms(index).unwrap(),
            ["linux/amd64", "linux/arm64"]
        );
    }

    #[test]
    fn refuses_digests_that_are_not_sha256() {
        assert!(hex("sha512:abcd").is_err());
        assert!(hex("sha256:../../etc/passwd").is_err());
    }
}
