//! The chart steps: wait for the image, stage, normalize, push (or find the same chart
//! there), check what the published chart deploys, record.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use super::Executor;
use crate::release::chart::{self, ChartData};
use crate::release::cmd::Cmd;
use crate::release::layout::{self, sha256};
use crate::release::plan::{Step, CHART_DIGEST, INDEX_DIGEST};
use crate::release::record::{self, ChartRecord};
use crate::release::registry::{Registry, Repository};

/// How long to wait for an image, and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub timeout: Duration,
    pub max_interval: Duration,
}

impl Executor {
    pub(super) fn chart_step(&mut self, step: &Step) -> Result<()> {
        match step {
            Step::WaitForImage {
                repository,
                tag,
                expected,
                platforms,
                timeout_secs,
                interval_secs,
            } => {
                let patience = Patience {
                    timeout: Duration::from_secs(*timeout_secs),
                    max_interval: Duration::from_secs(*interval_secs),
                };
                let registry = self.registry(repository);
                // Within one release the image step's digest is the one to wait for.
                let expected = expected
                    .clone()
                    .or_else(|| self.bindings.get(INDEX_DIGEST).cloned());
                let digest =
                    wait_for_image(&registry, tag, expected.as_deref(), platforms, patience)?;
                println!(
                    "image {repository}@{digest} is served with {}",
                    platforms.join(", ")
                );
                self.bind(INDEX_DIGEST, &digest);
                Ok(())
            }
            Step::StageChart { chart, dest, data } => self.stage_chart(chart, dest, data),
            Step::NormalizeChart { package, epoch } => chart::normalize_package(package, *epoch),
            Step::PushChart {
                repository,
                version,
                package,
                push,
            } => self.push_chart(repository, version, package, push),
            Step::CheckChart {
                pulled,
                package,
                image,
                template,
            } => self.check_chart(pulled, package, image, template),
            Step::RecordChart {
                path,
                repository,
                version,
                image,
            } => self.record_chart(path, repository, version, image),
            _ => unreachable!("chart steps only"),
        }
    }

    fn stage_chart(&mut self, chart_dir: &Path, dest: &Path, data: &ChartData) -> Result<()> {
        let digest = self.bound(INDEX_DIGEST)?;
        let data = ChartData {
            image_digest: data.image_digest.replace(INDEX_DIGEST, &digest),
            image_reference: data.image_reference.replace(INDEX_DIGEST, &digest),
            ..data.clone()
        };
        std::fs::create_dir_all(dest)?;
        chart::stage(chart_dir, dest, &data)?;
        Ok(())
    }

    /// Pushes the chart unless the same one is there; a different chart under a released
    /// version is refused.
    fn push_chart(
        &mut self,
        repository: &Repository,
        version: &str,
        package: &Path,
        push: &Cmd,
    ) -> Result<()> {
        let bytes = std::fs::read(package)
            .with_context(|| format!("helm wrote no {}", package.display()))?;
        let layer = sha256(&bytes);
        let registry = self.registry(repository);
        match registry.manifest(&repository.tag(version))? {
            Some((manifest, _)) => {
                let theirs = chart::chart_layer(&manifest).unwrap_or_default();
                ensure!(
                    theirs == layer,
                    "{repository}:{version} already holds a different chart ({theirs}, this one \
                     is {layer}): a released chart version is never overwritten; release a new \
                     version instead"
                );
                println!("{repository}:{version} already holds this chart: nothing to push");
            }
            None => {
                self.resolve(push)?.run().context("helm push failed")?;
                self.chart_pushed = true;
            }
        }
        let digest = registry
            .digest_of(version)?
            .context("the chart is missing right after the push")?;
        self.bind(CHART_DIGEST, &digest);
        Ok(())
    }

    fn check_chart(
        &mut self,
        pulled: &Path,
        package: &Path,
        image: &str,
        template: &Cmd,
    ) -> Result<()> {
        ensure!(
            sha256(&std::fs::read(pulled)?) == sha256(&std::fs::read(package)?),
            "the chart pulled back differs from the one packaged"
        );
        let expected = image.replace(INDEX_DIGEST, &self.bound(INDEX_DIGEST)?);
        let rendered = chart::rendered_images(&self.resolve(template)?.read()?);
        ensure!(
            rendered == [expected.clone()],
            "the published chart deploys {rendered:?}, not {expected}"
        );
        let (repository, digest) = expected
            .split_once('@')
            .context("the chart's image has no digest")?;
        let repository =
            Repository::parse(repository.rsplit_once(':').map_or(repository, |r| r.0))?;
        self.registry(&repository)
            .manifest(&repository.digest(digest))?
            .with_context(|| format!("{expected} does not resolve"))?;
        println!("the chart deploys {expected}, which resolves");
        Ok(())
    }

    fn record_chart(
        &mut self,
        path: &Path,
        repository: &Repository,
        version: &str,
        image: &str,
    ) -> Result<()> {
        let record = ChartRecord {
            version: version.to_string(),
            chart: repository.to_string(),
            chart_digest: self.bound(CHART_DIGEST)?,
            image: image.replace(INDEX_DIGEST, &self.bound(INDEX_DIGEST)?),
            pushed: self.chart_pushed,
        };
        record::write(path, &record)?;
        if let Some(actions) = &self.actions {
            actions.set_outputs(&BTreeMap::from([
                ("chart", repository.oci_url()),
                ("chart_digest", record.chart_digest.clone()),
                ("chart_version", record.version.clone()),
            ]))?;
            actions.add_summary(&format!(
                "### Chart {}\n\n| | |\n|---|---|\n| chart | `{}` |\n| digest | `{}` |\n| image | `{}` |\n",
                record.version, repository.oci_url(), record.chart_digest, record.image
            ))?;
        }
        println!(
            "published chart {} version {} -> {}",
            repository.oci_url(),
            record.version,
            record.image
        );
        Ok(())
    }
}

/// Waits for the image under the release's version tag with every platform. With a recorded
/// digest, a different digest is an error at once: the chart must deploy what was scanned.
pub fn wait_for_image(
    registry: &Registry,
    tag: &str,
    expected: Option<&str>,
    platforms: &[String],
    patience: Patience,
) -> Result<String> {
    let started = Instant::now();
    let mut interval = Duration::from_secs(1).min(patience.max_interval);
    loop {
        let last = match registry.manifest(&registry.repository.tag(tag))? {
            Some((bytes, digest)) => {
                if let Some(expected) = expected {
                    ensure!(
                        digest == expected,
                        "{}:{tag} serves {digest}, but the image step published {expected} \
                         (--image-digest or target/release/image.json): the chart must reference the scanned image",
                        registry.repository
                    );
                }
                let served: Vec<String> = layout::index_platforms(&bytes)?
                    .into_iter()
                    .map(|(p, _)| p)
                    .collect();
                let missing: Vec<&String> =
                    platforms.iter().filter(|p| !served.contains(p)).collect();
                if missing.is_empty() {
                    return Ok(digest);
                }
                format!("{digest} lacks {missing:?}")
            }
            None => "not found".to_string(),
        };
        if started.elapsed() >= patience.timeout {
            bail!(
                "{}:{tag} was not available with {} within {}s ({last}); publish the image first \
                 (cargo xtask release-image), nothing was published",
                registry.repository,
                platforms.join(", "),
                patience.timeout.as_secs()
            );
        }
        eprintln!(
            "    waiting for {}:{tag} ({last}), next look in {interval:?}",
            registry.repository
        );
        std::thread::sleep(interval);
        interval = (interval * 2).min(patience.max_interval);
    }
}
