//! The verification steps of `verify-release`; each records a check, passing or not.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use super::Executor;
use crate::release::chart;
use crate::release::layout;
use crate::release::plan::{platform_digest, Step, CHART_DIGEST, INDEX_DIGEST};
use crate::release::registry::{Registry, Repository};
use crate::release::scan::SBOM_ARTIFACT_TYPE;

impl Executor {
    pub(super) fn verify_step(&mut self, step: &Step) -> Result<()> {
        match step {
            Step::ResolveRelease {
                repository,
                tags,
                platforms,
                version,
            } => {
                let detail = self.resolve_release(repository, tags, platforms, version)?;
                self.pass(&step.describe(), &detail);
                Ok(())
            }
            Step::CheckSboms {
                repository,
                platforms,
            } => {
                let registry = self.registry(repository);
                for p in platforms {
                    let digest = self.bound(&platform_digest(p))?;
                    let found = registry.referrers(&digest, SBOM_ARTIFACT_TYPE)?;
                    ensure!(
                        !found.is_empty(),
                        "{repository}@{digest} ({p}) has no CycloneDX SBOM referrer: re-run the \
                         release (cargo xtask release-image finishes what a failed run left out)"
                    );
                }
                self.pass(&step.describe(), "one SBOM per platform");
                Ok(())
            }
            Step::ResolveChart {
                repository,
                version,
                image,
            } => {
                let detail = self.resolve_chart(repository, version, image)?;
                self.pass(&step.describe(), &detail);
                Ok(())
            }
            Step::AnonymousPull {
                repository,
                reference,
                settings,
                required,
            } => self.anonymous_pull(repository, reference, settings, *required),
            Step::RecordVerification { path } => self.record_verification(path),
            _ => unreachable!("verification steps only"),
        }
    }

    fn resolve_release(
        &mut self,
        repository: &Repository,
        tags: &[String],
        platforms: &[String],
        version: &str,
    ) -> Result<String> {
        let registry = self.registry(repository);
        let mut digest: Option<String> = None;
        for tag in tags {
            let found = registry.digest_of(tag)?.with_context(|| {
                format!("{repository}:{tag} does not exist: the release was not published (or the package is private and no credentials were given)")
            })?;
            if let Some(first) = &digest {
                ensure!(
                    *first == found,
                    "{repository}:{tag} is {found}, but {} is {first}",
                    tags[0]
                );
            }
            digest = Some(found);
        }
        let digest = digest.context("no version tag to resolve")?;
        let (bytes, _) = registry
            .manifest(&repository.digest(&digest))?
            .context("the index vanished")?;
        let served: std::collections::BTreeMap<String, String> =
            layout::index_platforms(&bytes)?.into_iter().collect();
        for p in platforms {
            let manifest = served
                .get(p)
                .with_context(|| format!("{repository}@{digest} has no {p} image"))?;
            self.bind(&platform_digest(p), manifest);
            let revision = platform_revision(&registry, manifest, version)?;
            eprintln!("    {p}: {manifest}, commit {revision}");
        }
        self.bind(INDEX_DIGEST, &digest);
        Ok(digest)
    }

    fn resolve_chart(
        &mut self,
        repository: &Repository,
        version: &str,
        image: &Repository,
    ) -> Result<String> {
        let registry = self.registry(repository);
        let (manifest, digest) =
            registry
                .manifest(&repository.tag(version))?
                .with_context(|| {
                    format!("{repository}:{version} does not exist: the chart was not published")
                })?;
        let layer = chart::chart_layer(&manifest).context("the chart manifest holds no chart")?;
        let pinned = chart::packaged_image(&registry.blob(&layer)?)?;
        let index = self.bound(INDEX_DIGEST)?;
        ensure!(
            pinned.repository == image.to_string()
                && pinned.tag == version
                && pinned.digest == index,
            "the chart deploys {}:{}@{}, not {image}:{version}@{index}",
            pinned.repository,
            pinned.tag,
            pinned.digest
        );
        self.bind(CHART_DIGEST, &digest);
        Ok(format!(
            "{repository}@{digest} pins {image}:{version}@{index}"
        ))
    }

    fn anonymous_pull(
        &mut self,
        repository: &Repository,
        reference: &str,
        settings: &str,
        required: bool,
    ) -> Result<()> {
        let reference = reference.replace(INDEX_DIGEST, &self.bound(INDEX_DIGEST)?);
        let anonymous = Registry::anonymous(repository);
        let target = match reference.rsplit_once('@') {
            Some((_, digest)) => repository.digest(digest),
            None => repository.tag(reference.rsplit_once(':').map_or("", |r| r.1)),
        };
        let outcome = anonymous.manifest(&target);
        let what = format!("anonymous pull of {reference}");
        match outcome {
            Ok(Some(_)) => {
                self.pass(&what, "public");
                Ok(())
            }
            failed => {
                let why = match failed {
                    Err(e) => format!("{e:#}"),
                    _ => "not found".into(),
                };
                let message = format!(
                    "{reference} cannot be pulled without a login ({why}): make the package \
                     public once at {settings}, then re-run this job alone (the release is \
                     otherwise complete); a private organisation sets the repository variable \
                     PUBLIC_CHECK=skip"
                );
                if required {
                    bail!(message)
                }
                crate::release::github::warning(&message);
                self.record(&what, super::Status::Warned, &message);
                Ok(())
            }
        }
    }

    fn record_verification(&mut self, path: &Path) -> Result<()> {
        let failed = self
            .checks
            .iter()
            .filter(|c| c.status == super::Status::Failed);
        let report = serde_json::json!({
            "passed": failed.count() == 0,
            "index_digest": self.bindings.get(INDEX_DIGEST),
            "chart_digest": self.bindings.get(CHART_DIGEST),
            "checks": self.checks,
        });
        crate::release::record::write(path, &report)?;
        println!("\nverification ({}):", path.display());
        for c in &self.checks {
            let mark = match c.status {
                super::Status::Ok => "ok  ",
                super::Status::Warned => "WARN",
                super::Status::Failed => "FAIL",
            };
            println!("  {mark} {}", c.what);
            if c.status != super::Status::Ok {
                println!("       {}", c.detail);
            }
        }
        Ok(())
    }
}

/// The platform image's revision label, after checking its version label.
fn platform_revision(registry: &Registry, manifest: &str, version: &str) -> Result<String> {
    let labels = registry.labels(manifest)?;
    let label = |k: &str| {
        labels
            .get(&format!("org.opencontainers.image.{k}"))
            .cloned()
    };
    let labelled = label("version").unwrap_or_default();
    ensure!(
        labelled == version,
        "{}@{manifest} is labelled version `{labelled}`, not {version}",
        registry.repository
    );
    Ok(label("revision").unwrap_or_else(|| "?".into()))
}
