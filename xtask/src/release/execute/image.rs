//! The image steps: check the build, size and scan, push, tag, attach, verify, record.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use super::Executor;
use crate::release::layout::{self, Image};
use crate::release::plan::{platform_digest, Step, INDEX_DIGEST};
use crate::release::record::{self, ImageRecord, PlatformRecord, ScanRecord};
use crate::release::registry::{Artifact, Repository};

use crate::release::scan::SBOM_ARTIFACT_TYPE;

impl Executor {
    pub(super) fn image_step(&mut self, step: &Step) -> Result<()> {
        match step {
            Step::CheckBuild { layout, platforms } => self.check_build(layout, platforms),
            Step::CheckSize { budget } => check_sizes(self.image()?, *budget),
            Step::SplitPlatform { platform, dest } => {
                let image = self.image()?;
                image.write_single_platform(image.platform(platform)?, dest)
            }
            Step::CheckDatabase {
                metadata,
                max_age_hours,
            } => super::scan::check_database(metadata, *max_age_hours),
            Step::Gate {
                severity,
                reports,
                require_rust,
                enforce,
                notify,
            } => self.gate(*severity, reports, *require_rust, *enforce, notify),
            Step::PullPublished {
                repository,
                digest,
                layout,
            } => {
                let digest = match digest {
                    Some(d) => d.clone(),
                    None => self.bound(INDEX_DIGEST)?,
                };
                self.image = Some(self.registry(repository).pull_layout(&digest, layout)?);
                Ok(())
            }
            Step::SameBuild { first, second } => same_build(first, second),
            Step::Rescanned {
                version,
                severity,
                reports,
                sarif_dir,
                notify,
            } => super::scan::rescanned(version, *severity, reports, sarif_dir, notify),
            _ => self.publish_step(step),
        }
    }

    fn publish_step(&mut self, step: &Step) -> Result<()> {
        match step {
            Step::PushContent { repository } => {
                self.pushed = self.registry(repository).push_content(self.image()?)?;
                let p = &self.pushed;
                eprintln!(
                    "    uploaded {} blobs ({} bytes), {} already present",
                    p.blobs_uploaded, p.bytes_uploaded, p.blobs_present
                );
                Ok(())
            }
            Step::PushVersionTags { repository, tags } => self.push_version_tags(repository, tags),
            Step::MoveFloatingTags {
                repository,
                version,
                candidates,
            } => {
                let version = semver::Version::parse(version)?;
                self.floating = self
                    .registry(repository)
                    .move_floating(&version, candidates)?;
                for (tag, holder) in &self.floating.left {
                    eprintln!("    not {tag}: held by the higher release {holder}");
                }
                Ok(())
            }
            Step::AttachSbom {
                repository,
                platform,
                sbom,
                created,
            } => self.attach_sbom(repository, platform, sbom, created),
            Step::VerifyImage {
                repository,
                tag,
                platforms,
                version,
                commit,
            } => self.verify_image(repository, tag, platforms, version, commit),
            Step::RecordImage {
                path,
                repository,
                version,
                commit,
                pushed,
                provenance_missing,
            } => {
                self.provenance_missing = *provenance_missing;
                self.record_image(path, repository, (version, commit), *pushed)
            }
            _ => unreachable!("image steps only"),
        }
    }

    fn check_build(&mut self, layout: &Path, platforms: &[String]) -> Result<()> {
        let image = Image::open(layout)?;
        let mut built = image.platform_names();
        built.sort();
        let mut wanted = platforms.to_vec();
        wanted.sort();
        ensure!(
            built == wanted,
            "the build produced {built:?}, not the requested {wanted:?}"
        );
        println!("built {} ({})", image.index.digest, built.join(", "));
        self.bind(INDEX_DIGEST, &image.index.digest.clone());
        for p in &image.platforms {
            println!(
                "  {:<14} {:>8.2} MB compressed",
                p.platform,
                p.compressed_size() as f64 / 1e6
            );
            self.bind(&platform_digest(&p.platform), &p.manifest.digest.clone());
        }
        self.image = Some(image);
        Ok(())
    }

    fn push_version_tags(&mut self, repository: &Repository, tags: &[String]) -> Result<()> {
        let image = self.image()?;
        let digest = image.index.digest.clone();
        let index = image.blob(&digest)?;
        let registry = self.registry(repository);
        for tag in tags {
            if !registry.push_version_tag(tag, &digest, &index)? {
                println!("{repository}:{tag} already holds this build");
            }
        }
        self.version_tags = tags.to_vec();
        Ok(())
    }

    fn attach_sbom(
        &mut self,
        repository: &Repository,
        platform: &str,
        sbom: &Path,
        created: &str,
    ) -> Result<()> {
        let blob = std::fs::read(sbom).with_context(|| format!("no SBOM at {}", sbom.display()))?;
        let subject = self.image()?.platform(platform)?.manifest.clone();
        let artifact = Artifact {
            artifact_type: SBOM_ARTIFACT_TYPE.to_string(),
            blob,
            title: sbom
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            created: created.to_string(),
        };
        let digest = self
            .registry(repository)
            .add_referrer(&subject, &artifact)
            .with_context(|| {
                format!("the {platform} SBOM could not be attached; nothing further was published")
            })?;
        eprintln!("    {platform} SBOM {digest} refers to {}", subject.digest);
        Ok(())
    }

    /// Reads back what the registry serves under the version tag: the digest (the scanned one,
    /// or on a re-run the published one, which is then bound), every platform, the labels.
    fn verify_image(
        &mut self,
        repository: &Repository,
        tag: &str,
        platforms: &[String],
        version: &str,
        commit: &str,
    ) -> Result<()> {
        let registry = self.registry(repository);
        let (bytes, digest) = registry
            .manifest(&repository.tag(tag))?
            .with_context(|| format!("{repository}:{tag} is missing"))?;
        if let Some(built) = self.bindings.get(INDEX_DIGEST) {
            ensure!(
                digest == *built,
                "{repository}:{tag} serves {digest}, not the scanned {built}"
            );
        }
        self.bind(INDEX_DIGEST, &digest);
        if self.version_tags.is_empty() {
            // A re-run: the version tags are the ones found, not written.
            self.version_tags = vec![tag.to_string(), version.to_string()];
        }
        let served: BTreeMap<String, String> =
            layout::index_platforms(&bytes)?.into_iter().collect();
        for p in platforms {
            let manifest = served.get(p).with_context(|| {
                format!(
                    "the index lacks {p} (it lists {:?})",
                    served.keys().collect::<Vec<_>>()
                )
            })?;
            self.bind(&platform_digest(p), manifest);
            check_labels(&registry, manifest, p, (version, commit))?;
        }
        println!(
            "verified {repository}:{tag} -> {digest} ({})",
            platforms.join(", ")
        );
        Ok(())
    }

    fn record_image(
        &mut self,
        path: &Path,
        repository: &Repository,
        (version, commit): (&str, &str),
        pushed: bool,
    ) -> Result<()> {
        let record = ImageRecord {
            version: version.to_string(),
            repository: repository.to_string(),
            digest: self.bindings.get(INDEX_DIGEST).cloned().unwrap_or_default(),
            commit: commit.to_string(),
            tags: self
                .version_tags
                .iter()
                .chain(&self.floating.taken)
                .cloned()
                .collect(),
            platforms: self.platform_records(),
            pushed,
            scan: ScanRecord::new(&self.gate, &self.verdicts),
            blobs_uploaded: self.pushed.blobs_uploaded,
            bytes_uploaded: self.pushed.bytes_uploaded,
        };
        record::write(path, &record)?;
        if record.pushed {
            if let Some(actions) = &self.actions {
                image_outputs(actions, &record, self.provenance_missing)?;
            }
            println!(
                "published {}@{} as {}",
                record.repository,
                record.digest,
                record.tags.join(", ")
            );
        } else {
            println!("checks passed; --no-push: nothing was published");
        }
        Ok(())
    }

    fn platform_records(&self) -> Vec<PlatformRecord> {
        let Some(image) = &self.image else {
            return Vec::new();
        };
        image
            .platforms
            .iter()
            .map(|p| PlatformRecord {
                platform: p.platform.clone(),
                manifest: p.manifest.digest.clone(),
                compressed_bytes: p.compressed_size(),
            })
            .collect()
    }
}

pub fn check_sizes(image: &Image, budget: u64) -> Result<()> {
    let over: Vec<String> = image
        .platforms
        .iter()
        .filter(|p| p.compressed_size() > budget)
        .map(|p| {
            format!(
                "{} is {:.1} MB compressed, over the {} MB budget",
                p.platform,
                p.compressed_size() as f64 / 1e6,
                budget / 1_000_000
            )
        })
        .collect();
    if !over.is_empty() {
        bail!(
            "the image failed its checks, so nothing was pushed:\n  {}",
            over.join("\n  ")
        );
    }
    Ok(())
}

fn check_labels(
    registry: &crate::release::registry::Registry,
    manifest: &str,
    platform: &str,
    (version, commit): (&str, &str),
) -> Result<()> {
    let labels = registry.labels(manifest)?;
    let get = |k: &str| {
        labels
            .get(&format!("org.opencontainers.image.{k}"))
            .map(String::as_str)
    };
    ensure!(
        get("version") == Some(version) && get("revision") == Some(commit),
        "the {platform} image in the registry lacks the labels version {version} and revision {commit}"
    );
    Ok(())
}

fn image_outputs(
    actions: &crate::release::github::Actions,
    record: &ImageRecord,
    provenance_missing: bool,
) -> Result<()> {
    let reference = format!("{}@{}", record.repository, record.digest);
    let provenance = if provenance_missing {
        "missing"
    } else {
        "present"
    };
    actions.set_outputs(&BTreeMap::from([
        ("provenance", provenance.to_string()),
        ("digest", record.digest.clone()),
        ("tags", record.tags.join(",")),
        ("image", reference.clone()),
        ("repository", record.repository.clone()),
    ]))?;
    let mut summary = format!(
        "### Image {}\n\n| | |\n|---|---|\n| image | `{reference}` |\n| tags | {} |\n",
        record.version,
        record.tags.join(", ")
    );
    for p in &record.platforms {
        summary.push_str(&format!(
            "| {} | {:.2} MB compressed |\n",
            p.platform,
            p.compressed_bytes as f64 / 1e6
        ));
    }
    actions.add_summary(&summary)
}

fn same_build(first: &Path, second: &Path) -> Result<()> {
    let (a, b) = (layout::top_digest(first)?, layout::top_digest(second)?);
    println!("first build:  {a}\nsecond build: {b}");
    ensure!(
        a == b,
        "the two builds differ ({a} and {b}): the image is not reproducible; compare the layouts \
         in {} and {}",
        first.display(),
        second.display()
    );
    println!("reproducible: both builds gave the same index digest");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::layout::PlatformImage;
    use oci_client::manifest::{ImageIndexEntry, OciDescriptor};

    fn platform(name: &str, layer_bytes: i64) -> PlatformImage {
        let entry = ImageIndexEntry {
            media_type: String::new(),
            digest: String::new(),
            size: 500,
            platform: None,
            annotations: None,
            artifact_type: None,
        };
        PlatformImage {
            platform: name.into(),
            manifest: entry,
            config: OciDescriptor {
                size: 1_000,
                ..Default::default()
            },
            layers: vec![OciDescriptor {
                size: layer_bytes,
                ..Default::default()
            }],
        }
    }

    #[test]
    fn every_platform_over_the_budget_is_named() {
        let image = Image {
            root: "l".into(),
            index: platform("x", 0).manifest,
            platforms: vec![
                platform("linux/amd64", 2_500_000),
                platform("linux/arm64", 900_000),
            ],
            attestations: Vec::new(),
        };
        // manifest + config + layers: what a pull transfers.
        assert_eq!(image.platforms[1].compressed_size(), 901_500);
        let err = check_sizes(&image, 1_000_000).unwrap_err().to_string();
        assert!(
            err.contains("linux/amd64 is 2.5 MB compressed, over the 1 MB budget"),
            "{err}"
        );
        assert!(!err.contains("linux/arm64"), "{err}");
        assert!(check_sizes(&image, 3_000_000).is_ok());
    }
}
