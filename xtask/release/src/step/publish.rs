//! Publishing the image: its bytes by digest, the SBOM referrers, the version tags that never
//! move and the floating tags that only move forward, what the registry then serves, and the
//! record of it all.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{ensure, Context, Result};
use serde::Serialize;

use super::needs::{Access, Binding, Needs};
use super::{Action, Bound, Cx, Subject};
use crate::actions::Actions;
use crate::layout;
use crate::record::{self, ImageRecord, PlatformRecord};
use crate::registry::{Artifact, Registry, Repository};
use crate::scan::SBOM_ARTIFACT_TYPE;

/// A published image read back into a layout, byte for byte (a re-run that must scan or
/// attest again, a rescan). Learns the image.
#[derive(Debug, Clone, Serialize)]
pub struct PullPublished {
    pub subject: Subject,
    pub layout: PathBuf,
}

impl Action for PullPublished {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_subject(&self.subject)
            .writes([Binding::Image, Binding::Index, Binding::Platforms])
            .registry(Access::Read)
    }

    fn describe(&self) -> String {
        format!(
            "read {} back into {}",
            self.subject.placeholder(),
            self.layout.display()
        )
    }

    fn hint(&self) -> String {
        format!(
            "{} could not be read back from {}; nothing further was published",
            self.subject.placeholder(),
            self.subject.repository.host
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let digest = cx.bindings.digest(&self.subject.digest)?;
        let image = cx
            .registry(&self.subject.repository)
            .pull_layout(&digest, &self.layout)?;
        cx.bindings.learn_image(image);
        Ok(())
    }
}

/// Blobs, manifests and the index, by digest; no tag. Learns what was uploaded.
#[derive(Debug, Clone, Serialize)]
pub struct PushContent {
    pub repository: Repository,
}

impl Action for PushContent {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads([Binding::Image])
            .writes([Binding::Pushed])
            .registry(Access::Write)
    }

    fn describe(&self) -> String {
        format!(
            "push the scanned bytes to {}@{} (missing blobs only, no tag)",
            self.repository,
            Bound::Index.placeholder()
        )
    }

    fn hint(&self) -> String {
        format!(
            "the image could not be pushed to {}; no tag was written, so nothing is published \
             yet: re-running the release finishes it",
            self.repository
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let report = cx
            .registry(&self.repository)
            .push_content(cx.bindings.image()?)?;
        eprintln!(
            "    uploaded {} blobs ({} bytes), {} already present",
            report.blobs_uploaded, report.bytes_uploaded, report.blobs_present
        );
        cx.bindings.pushed = Some(report);
        Ok(())
    }
}

/// A platform's SBOM as an OCI referrer of its manifest.
#[derive(Debug, Clone, Serialize)]
pub struct AttachSbom {
    pub subject: Subject,
    pub sbom: PathBuf,
    /// RFC 3339, the commit time: the referrer's bytes do not depend on the wall clock.
    pub created: String,
}

impl Action for AttachSbom {
    fn needs(&self) -> Needs {
        Needs::new().reads([Binding::Image]).registry(Access::Write)
    }

    fn describe(&self) -> String {
        format!(
            "attach {} to {} as a referrer",
            self.sbom.display(),
            self.subject.placeholder()
        )
    }

    fn hint(&self) -> String {
        format!(
            "the SBOM of {} could not be attached; nothing further was published: re-running \
             the release finishes it",
            self.subject.what()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let Bound::Platform(platform) = &self.subject.digest else {
            anyhow::bail!("internal: an SBOM belongs to a platform image");
        };
        let blob = std::fs::read(&self.sbom)
            .with_context(|| format!("no SBOM at {}", self.sbom.display()))?;
        let subject = cx.bindings.image()?.platform(platform)?.manifest.clone();
        let artifact = Artifact {
            artifact_type: SBOM_ARTIFACT_TYPE.to_string(),
            blob,
            title: self
                .sbom
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            created: self.created.clone(),
        };
        let digest = cx
            .registry(&self.subject.repository)
            .add_referrer(&subject, &artifact)?;
        eprintln!("    {platform} SBOM {digest} refers to {}", subject.digest);
        Ok(())
    }
}

/// Version tags, each checked immediately before it is written. Learns the tags.
#[derive(Debug, Clone, Serialize)]
pub struct PushVersionTags {
    pub repository: Repository,
    pub tags: Vec<String>,
}

impl Action for PushVersionTags {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads([Binding::Image])
            .writes([Binding::VersionTags])
            .registry(Access::Write)
    }

    fn describe(&self) -> String {
        format!(
            "tag {}: {} (each checked free or already this build, right before)",
            self.repository,
            self.tags.join(", ")
        )
    }

    fn hint(&self) -> String {
        format!(
            "the version tags of {} could not be written; re-running the release finishes them",
            self.repository
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let image = cx.bindings.image()?;
        let digest = image.index.digest.clone();
        let index = image.blob(&digest)?;
        let registry = cx.registry(&self.repository);
        let mut wrote = false;
        for tag in &self.tags {
            if registry.push_version_tag(tag, &digest, &index)? {
                wrote = true;
            } else {
                println!("{}:{tag} already holds this build", self.repository);
            }
        }
        if wrote {
            cx.bindings.timeline.published = Some(record::now());
        }
        cx.bindings.version_tags = self.tags.clone();
        Ok(())
    }
}

/// Floating tags, decided again from the registry's tags right before writing. Learns which
/// it took.
#[derive(Debug, Clone, Serialize)]
pub struct MoveFloatingTags {
    pub repository: Repository,
    pub version: String,
    /// The release's git tag (`v1.2.3`), for the command that finishes a failed move.
    pub release_tag: String,
    pub candidates: Vec<String>,
    /// On GitHub, where the workflow attests the index's build provenance: the tags move only
    /// once it is seen, within a bounded wait; else the run fails (fail closed: a green run
    /// never leaves a floating tag behind).
    pub provenance: Option<ProvenanceWait>,
}

/// Which index must show its build provenance before a floating tag names it, and how long
/// to wait for the registry to show it.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenanceWait {
    pub index: Bound,
    pub seconds: u64,
}

/// How long a floating-tag move waits for the workflow's provenance to show: GHCR serves a
/// referrers tag written seconds before within a few seconds; two minutes is generous.
pub const PROVENANCE_WAIT_SECONDS: u64 = 120;

impl MoveFloatingTags {
    /// Where each candidate stays, for the failure message.
    fn where_they_stay(&self, registry: &Registry) -> String {
        self.candidates
            .iter()
            .map(|tag| match registry.digest_of(tag) {
                Ok(Some(d)) => format!("{tag} stays on {d}"),
                Ok(None) => format!("{tag} does not exist yet"),
                Err(_) => format!("{tag} stays where it was"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Waits for the index's build provenance, or fails saying which tag stayed where.
    fn wait_for_provenance(&self, cx: &mut Cx, wait: &ProvenanceWait) -> Result<()> {
        let index = cx.bindings.digest(&wait.index)?;
        let registry = cx.registry(&self.repository);
        let started = std::time::Instant::now();
        loop {
            let tags = registry.tags()?;
            if crate::attached::has_provenance(&registry, &index, &tags)? {
                return Ok(());
            }
            if started.elapsed().as_secs() >= wait.seconds {
                anyhow::bail!(
                    "the build provenance of {}@{index} was not seen within {} s (neither the \
                     registry's referrers API nor its referrers tag {} lists a SLSA provenance \
                     bundle), so no floating tag moved: {}",
                    self.repository,
                    wait.seconds,
                    index.replace(':', "-"),
                    self.where_they_stay(&registry)
                );
            }
            std::thread::sleep(std::time::Duration::from_secs(5.min(wait.seconds.max(1))));
        }
    }
}

impl Action for MoveFloatingTags {
    fn needs(&self) -> Needs {
        let needs = Needs::new()
            .writes([Binding::Floating])
            .registry(Access::Write);
        match &self.provenance {
            Some(wait) => needs.reads_digest(&wait.index),
            None => needs,
        }
    }

    fn describe(&self) -> String {
        let after = match &self.provenance {
            Some(w) => format!(
                ", once {}@{} shows its build provenance (at most {} s)",
                self.repository,
                w.index.placeholder(),
                w.seconds
            ),
            None => String::new(),
        };
        format!(
            "floating tags {}: read the tags again, take those no higher release holds{after}",
            self.candidates.join(", ")
        )
    }

    fn hint(&self) -> String {
        format!(
            "the floating tags {} of {} were not moved to {} (each stays where it was; the \
             version tags are published): finish with `gh workflow run release.yml --ref {tag} \
             -f version={tag}` (or, off GitHub, the same release command again)",
            self.candidates.join(", "),
            self.repository,
            self.version,
            tag = self.release_tag
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        if let Some(wait) = &self.provenance {
            self.wait_for_provenance(cx, wait)?;
        }
        let version = semver::Version::parse(&self.version)?;
        let moved = cx
            .registry(&self.repository)
            .move_floating(&version, &self.candidates)?;
        if moved.withdrawn {
            eprintln!(
                "    none: {} is withdrawn, so it takes no floating tag",
                self.version
            );
        }
        if moved.prerelease {
            eprintln!(
                "    none: {} was published as a GitHub pre-release, so it takes no floating tag",
                self.version
            );
        }
        for (tag, holder) in &moved.left {
            eprintln!("    not {tag}: held by the higher release {holder}");
        }
        cx.bindings.floating = Some(moved);
        Ok(())
    }
}

/// What the registry serves under the version tag: the digest (the built one, or on a re-run
/// the published one, which it learns), every platform, the labels.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyImage {
    pub repository: Repository,
    pub tag: String,
    pub platforms: Vec<String>,
    pub version: String,
    pub commit: String,
    /// Every version tag of the release, learnt as its tags on a re-run.
    pub version_tags: Vec<String>,
}

impl Action for VerifyImage {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_if_known([Binding::Index, Binding::VersionTags])
            .writes([Binding::Index, Binding::Platforms, Binding::VersionTags])
            .registry(Access::Read)
    }

    fn describe(&self) -> String {
        format!(
            "verify {}:{}: digest {}, platforms {}, labels",
            self.repository,
            self.tag,
            Bound::Index.placeholder(),
            self.platforms.join(", ")
        )
    }

    fn hint(&self) -> String {
        format!(
            "{}:{} is not the image this release built: nothing further was published",
            self.repository, self.tag
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let registry = cx.registry(&self.repository);
        let (bytes, digest) = registry
            .manifest(&self.repository.tag(&self.tag))?
            .with_context(|| format!("{}:{} is missing", self.repository, self.tag))?;
        if let Some(built) = &cx.bindings.index {
            ensure!(
                digest == *built,
                "{}:{} serves {digest}, not the scanned {built}",
                self.repository,
                self.tag
            );
        }
        let served: BTreeMap<String, String> =
            layout::index_platforms(&bytes)?.into_iter().collect();
        for p in &self.platforms {
            let manifest = served.get(p).with_context(|| {
                format!(
                    "the index lacks {p} (it lists {:?})",
                    served.keys().collect::<Vec<_>>()
                )
            })?;
            check_labels(&registry, manifest, p, (&self.version, &self.commit))?;
            cx.bindings.platforms.insert(p.clone(), manifest.clone());
        }
        println!(
            "verified {}:{} -> {digest} ({})",
            self.repository,
            self.tag,
            self.platforms.join(", ")
        );
        let b = &mut cx.bindings;
        b.index = Some(digest);
        if b.version_tags.is_empty() {
            b.version_tags = self.version_tags.clone();
        }
        Ok(())
    }
}

fn check_labels(
    registry: &Registry,
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

/// image.json, the step outputs and the job summary, from what the steps learnt.
#[derive(Debug, Clone, Serialize)]
pub struct RecordImage {
    pub path: PathBuf,
    pub repository: Repository,
    pub version: String,
    pub commit: String,
    /// Whether the plan published (else it built and scanned only).
    pub pushed: bool,
    /// Whether the published index still lacks GitHub's build provenance (the workflow
    /// attests it then, once).
    pub provenance_missing: bool,
    /// The version's latest withdrawal statement, as read when planning (a re-run of a
    /// withdrawn release records it).
    pub withdrawal: Option<crate::withdrawal::Withdrawal>,
}

impl Action for RecordImage {
    fn needs(&self) -> Needs {
        let needs = Needs::new()
            .reads([Binding::Index])
            .reads_if_known([
                Binding::Image,
                Binding::Scan,
                Binding::Pushed,
                Binding::VersionTags,
                Binding::Floating,
            ])
            .writes([Binding::RecordedScan]);
        if self.pushed {
            // A re-run reads each platform back from the registry.
            needs.reads([Binding::Platforms]).registry(Access::Read)
        } else {
            needs
        }
    }

    fn describe(&self) -> String {
        format!(
            "record {} (and the step outputs in Actions)",
            self.path.display()
        )
    }

    fn hint(&self) -> String {
        format!(
            "{} could not be written: the image is published, re-running the release writes it",
            self.path.display()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let mut record = self.record(cx);
        self.keep_what_is_known(cx, &mut record)?;
        if cx.bindings.scan.is_none() && !record.scan.gate.is_empty() {
            cx.bindings.recorded_scan = Some(record.scan.clone());
        }
        record::write(&self.path, &record)?;
        if !record.pushed {
            println!("checks passed; --no-push: nothing was published");
            return Ok(());
        }
        if let Some(actions) = cx.actions() {
            image_outputs(actions, &record, self.provenance_missing)?;
        }
        println!(
            "published {}@{} as {}",
            record.repository,
            record.digest,
            record.tags.join(", ")
        );
        Ok(())
    }
}

impl RecordImage {
    /// A run that built nothing (a re-run of a published version, or the workflow's second
    /// invocation that moves the floating tags) records no less than what is published: each
    /// platform and its size read back from the registry, and the scan at release kept from
    /// the record of the same index that this machine wrote. Where no such record is (a fresh
    /// runner), the scan is said to be unknown here, never invented.
    fn keep_what_is_known(&self, cx: &mut Cx, record: &mut ImageRecord) -> Result<()> {
        if cx.bindings.image.is_some() || !self.pushed {
            return Ok(());
        }
        let previous: Option<ImageRecord> = record::read(&self.path)
            .ok()
            .flatten()
            .filter(|p: &ImageRecord| p.pushed && p.digest == record.digest);
        if record.platforms.is_empty() {
            record.platforms = self.served_platforms(cx)?;
        }
        if cx.bindings.scan.is_none() {
            match previous.filter(|p| !p.scan.gate.is_empty()) {
                Some(p) => record.scan = p.scan,
                None => println!(
                    "the scan at release of {}@{} is not known to this run (nothing was \
                     scanned, and this machine has no record of the run that published it): \
                     image.json says so",
                    record.repository, record.digest
                ),
            }
        }
        Ok(())
    }

    /// Each platform of the published index, by the manifest digests the registry served
    /// (`VerifyImage`), with its compressed size as the build would state it: manifest, config
    /// and layers.
    fn served_platforms(&self, cx: &mut Cx) -> Result<Vec<PlatformRecord>> {
        let registry = cx.registry(&self.repository);
        let mut platforms = Vec::new();
        for (platform, digest) in &cx.bindings.platforms {
            let (bytes, _) = registry
                .manifest(&self.repository.digest(digest))?
                .with_context(|| format!("{}@{digest} vanished", self.repository))?;
            let manifest: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("the {platform} manifest is not JSON"))?;
            let size = |d: &serde_json::Value| d["size"].as_u64().unwrap_or(0);
            let layers: u64 = manifest["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(size)
                .sum();
            platforms.push(PlatformRecord {
                platform: platform.clone(),
                manifest: digest.clone(),
                compressed_bytes: bytes.len() as u64 + size(&manifest["config"]) + layers,
            });
        }
        Ok(platforms)
    }

    fn record(&self, cx: &Cx) -> ImageRecord {
        let b = &cx.bindings;
        let pushed = b.pushed.clone().unwrap_or_default();
        let platforms = b.image.iter().flat_map(|image| {
            image.platforms.iter().map(|p| PlatformRecord {
                platform: p.platform.clone(),
                manifest: p.manifest.digest.clone(),
                compressed_bytes: p.compressed_size(),
            })
        });
        ImageRecord {
            version: self.version.clone(),
            repository: self.repository.to_string(),
            digest: b.index.clone().unwrap_or_default(),
            commit: self.commit.clone(),
            tags: b.tags(),
            platforms: platforms.collect(),
            pushed: self.pushed,
            scan: b.scan.clone().unwrap_or_default(),
            blobs_uploaded: pushed.blobs_uploaded,
            bytes_uploaded: pushed.bytes_uploaded,
            timeline: b.timeline.clone(),
            withdrawal: self.withdrawal.clone(),
        }
    }
}

/// `ghcr.io` of `ghcr.io/alto9/kube9-operator`: where a workflow step logs in.
fn registry_host(repository: &str) -> String {
    repository.split('/').next().unwrap_or_default().to_string()
}

fn image_outputs(actions: &Actions, record: &ImageRecord, provenance_missing: bool) -> Result<()> {
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
        ("registry", registry_host(&record.repository)),
        (
            "published-at",
            record.timeline.published.clone().unwrap_or_default(),
        ),
        ("scan", serde_json::to_string(&record.scan)?),
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
