//! The OCI image layout that buildx writes: the exact bytes that are scanned and published.
//! Manifests are read with oci-client's types; the bytes pushed are always the files on disk.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use oci_client::manifest::{ImageIndexEntry, OciDescriptor, OciImageIndex, OciImageManifest};
use sha2::{Digest as _, Sha256};

pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The `oci-layout` file that marks a directory as an OCI image layout.
pub const LAYOUT_MARKER: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// An image index listing `manifests`.
pub fn index_of(manifests: Vec<ImageIndexEntry>) -> OciImageIndex {
    OciImageIndex {
        schema_version: 2,
        media_type: Some(INDEX_MEDIA_TYPE.to_string()),
        manifests,
        artifact_type: None,
        annotations: None,
    }
}

/// `linux/arm64`, from an index entry's platform; attestation entries are `unknown/unknown`.
pub fn platform_name(entry: &ImageIndexEntry) -> Option<String> {
    let p = entry.platform.as_ref()?;
    Some(match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    })
}

/// One platform's image inside the index.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    pub platform: String,
    pub manifest: ImageIndexEntry,
    pub config: OciDescriptor,
    pub layers: Vec<OciDescriptor>,
}

impl PlatformImage {
    /// What a pull transfers: manifest, config and compressed layers.
    pub fn compressed_size(&self) -> u64 {
        let sizes = std::iter::once(self.manifest.size)
            .chain(std::iter::once(self.config.size))
            .chain(self.layers.iter().map(|l| l.size));
        sizes.map(|s| u64::try_from(s).unwrap_or(0)).sum()
    }

    /// Every blob of this image: config then layers.
    pub fn blobs(&self) -> impl Iterator<Item = &OciDescriptor> {
        std::iter::once(&self.config).chain(&self.layers)
    }
}

/// A multi-platform image as written by `docker buildx build --output type=oci,tar=false`.
#[derive(Debug, Clone)]
pub struct Image {
    pub root: PathBuf,
    pub index: ImageIndexEntry,
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
        let index = top_entry(root)?;
        ensure!(
            index.media_type == INDEX_MEDIA_TYPE,
            "the build produced {} instead of an OCI image index: build with oci-mediatypes=true for several platforms",
            index.media_type
        );
        let inner: OciImageIndex = serde_json::from_slice(&read_blob(root, &index.digest)?)
            .context("the image index is not valid")?;
        let mut images = Vec::new();
        for entry in inner.manifests {
            let platform = platform_name(&entry).with_context(|| {
                format!("manifest {} in the index names no platform", entry.digest)
            })?;
            let m: OciImageManifest = serde_json::from_slice(&read_blob(root, &entry.digest)?)
                .with_context(|| format!("manifest {} is not valid", entry.digest))?;
            images.push(PlatformImage {
                platform,
                manifest: entry,
                config: m.config,
                layers: m.layers,
            });
        }
        let (attestations, platforms) = images
            .into_iter()
            .partition(|i| i.platform.starts_with("unknown/"));
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
        self.platforms.iter().map(|p| p.platform.clone()).collect()
    }

    pub fn platform(&self, name: &str) -> Result<&PlatformImage> {
        self.platforms
            .iter()
            .find(|p| p.platform == name)
            .with_context(|| format!("the image has no {name} platform"))
    }

    /// A layout holding only `platform`, sharing blobs by hard link, for tools that read one
    /// image at a time (Trivy).
    pub fn write_single_platform(&self, platform: &PlatformImage, dest: &Path) -> Result<()> {
        if dest.exists() {
            fs::remove_dir_all(dest)?;
        }
        let blobs = dest.join("blobs/sha256");
        fs::create_dir_all(&blobs)?;
        let digests = std::iter::once(platform.manifest.digest.as_str())
            .chain(platform.blobs().map(|d| d.digest.as_str()));
        for d in digests {
            let from = blob_path(&self.root, d)?;
            let to = blobs.join(hex(d)?);
            fs::hard_link(&from, &to).or_else(|_| fs::copy(&from, &to).map(|_| ()))?;
        }
        fs::write(dest.join("oci-layout"), LAYOUT_MARKER)?;
        let manifest = ImageIndexEntry {
            annotations: None,
            platform: None,
            ..platform.manifest.clone()
        };
        fs::write(
            dest.join("index.json"),
            serde_json::to_vec(&index_of(vec![manifest]))?,
        )?;
        Ok(())
    }
}

/// The entry of what a layout holds: an index for several platforms, a manifest for one.
fn top_entry(root: &Path) -> Result<ImageIndexEntry> {
    let top: OciImageIndex = serde_json::from_slice(&fs::read(root.join("index.json"))?)
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
    Ok(top_entry(root)?.digest)
}

/// The platforms an image index (as served by a registry) lists, as `os/architecture`: a
/// variant such as arm64's `v8` does not change which nodes can run it.
pub fn index_platforms(index: &[u8]) -> Result<Vec<(String, String)>> {
    let index: OciImageIndex =
        serde_json::from_slice(index).context("the registry served an invalid index")?;
    Ok(index
        .manifests
        .iter()
        .filter_map(|m| {
            let p = m.platform.as_ref()?;
            Some((format!("{}/{}", p.os, p.architecture), m.digest.clone()))
        })
        .collect())
}

/// `sha256:<64 hex>`, the only digest form the release accepts.
pub fn check_digest(digest: &str) -> Result<()> {
    hex(digest).map(|_| ())
}

/// The hex part of a sha256 digest.
pub fn hex(digest: &str) -> Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(h)
            if h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
        {
            Ok(h)
        }
        _ => bail!(
            "`{digest}` is not a digest: expected sha256: followed by 64 lowercase hex digits"
        ),
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

/// Writes a blob into a layout under its digest.
pub fn write_blob(root: &Path, bytes: &[u8]) -> Result<String> {
    let digest = sha256(bytes);
    let path = blob_path(root, &digest)?;
    fs::create_dir_all(path.parent().expect("blobs/sha256"))?;
    fs::write(&path, bytes)?;
    Ok(digest)
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
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
        let index = br#"{"schemaVersion": 2, "manifests": [
            {"mediaType": "m", "digest": "d1", "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "m", "digest": "d2", "size": 1, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": "m", "digest": "d3", "size": 1}]}"#;
        let names: Vec<String> = index_platforms(index)
            .unwrap()
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(names, ["linux/amd64", "linux/arm64"]);
    }

    #[test]
    fn refuses_digests_that_are_not_sha256() {
        assert!(hex("sha512:abcd").is_err());
        assert!(hex("sha256:../../etc/passwd").is_err());
        assert!(check_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(check_digest(&format!("sha256:{}", "a".repeat(63))).is_err());
        assert!(check_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
    }
}
