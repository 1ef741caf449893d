//! The chart steps: wait for the image, stage a stamped copy (its files at the commit's time,
//! so that one commit packages to one chart), lint, package, push (or find the same chart
//! there), pull it back and check what it deploys, record.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;

use super::needs::{Access, Binding, Needs, Tool};
use super::{Action, Bound, ChartPublished, Cx, Placeholders, Values};
use crate::changelog::Change;
use crate::chart::{self, ChartData, HelmPlan};
use crate::layout::{self, sha256};
use crate::record::{self, ChartRecord};
use crate::registry::{Registry, Repository};

/// How long to wait for an image, and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub timeout: Duration,
    pub max_interval: Duration,
}

/// Polls until the registry serves the image with every platform; learns its digests.
#[derive(Debug, Clone, Serialize)]
pub struct WaitForImage {
    pub repository: Repository,
    pub tag: String,
    /// The digest the image step published, when known: the registry must serve exactly it.
    pub expected: Option<String>,
    pub platforms: Vec<String>,
    pub timeout_secs: u64,
    pub interval_secs: u64,
}

impl Action for WaitForImage {
    fn needs(&self) -> Needs {
        Needs::new()
            .reads_if_known([Binding::Index])
            .writes([Binding::Index, Binding::Platforms])
            .registry(Access::Read)
    }

    fn describe(&self) -> String {
        format!(
            "wait up to {}s until {}:{} is served with {}",
            self.timeout_secs,
            self.repository,
            self.tag,
            self.platforms.join(", ")
        )
    }

    fn hint(&self) -> String {
        "the chart needs its image first; nothing was published".into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let patience = Patience {
            timeout: Duration::from_secs(self.timeout_secs),
            max_interval: Duration::from_secs(self.interval_secs),
        };
        // Within one release, the image step's digest is the one to wait for.
        let expected = self.expected.clone().or(cx.bindings.index.clone());
        let registry = cx.registry(&self.repository);
        let (digest, platforms) = wait_for_image(
            &registry,
            &self.tag,
            expected.as_deref(),
            &self.platforms,
            patience,
        )?;
        println!(
            "image {}@{digest} is served with {}",
            self.repository,
            self.platforms.join(", ")
        );
        cx.bindings.index = Some(digest);
        cx.bindings.platforms.extend(platforms);
        cx.bindings.timeline.image_served = Some(record::now());
        Ok(())
    }
}

/// Waits for the image under the release's version tag with every platform; returns its
/// digest and platform manifests. With a recorded digest, a different one is an error at
/// once: the chart must deploy what was scanned.
pub fn wait_for_image(
    registry: &Registry,
    tag: &str,
    expected: Option<&str>,
    platforms: &[String],
    patience: Patience,
) -> Result<(String, BTreeMap<String, String>)> {
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
                let served: BTreeMap<String, String> =
                    layout::index_platforms(&bytes)?.into_iter().collect();
                let missing: Vec<&String> = platforms
                    .iter()
                    .filter(|p| !served.contains_key(*p))
                    .collect();
                if missing.is_empty() {
                    return Ok((digest, served));
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

/// The chart's release data; the image digest is learnt when the image is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChartRelease {
    pub version: String,
    pub prerelease: bool,
    pub image: Repository,
    /// The image tag the chart names with the digest (`1.2.3`).
    pub tag: String,
    /// The image's platforms, for Artifact Hub.
    pub platforms: Vec<String>,
    /// This version's changes from CHANGELOG.md (`None`: `--skip-changelog`).
    pub changes: Option<Vec<Change>>,
}

impl ChartRelease {
    pub fn data(&self, digest: &str) -> Result<ChartData> {
        ChartData::release(
            &self.version,
            self.prerelease,
            (&self.image.to_string(), &self.tag, digest),
            &self.platforms,
            self.changes.clone(),
        )
    }

    /// `repo:tag@digest`, what the chart must deploy.
    pub fn image_reference(&self, digest: &str) -> String {
        format!("{}:{}@{digest}", self.image, self.tag)
    }
}

/// A copy of the chart with the release's data rendered in, every file at the commit's time.
#[derive(Debug, Clone, Serialize)]
pub struct StageChart {
    pub chart: PathBuf,
    pub dest: PathBuf,
    pub release: ChartRelease,
    /// The commit's time, in seconds since 1970: the staged files' modification time.
    pub epoch: i64,
}

impl Action for StageChart {
    fn needs(&self) -> Needs {
        Needs::new().reads([Binding::Index])
    }

    fn describe(&self) -> String {
        format!(
            "stage {} in {}, its files dated {} (the commit's time) (version {}, image {})",
            self.chart.display(),
            self.dest.display(),
            self.epoch,
            self.release.version,
            self.release.image_reference(&Bound::Index.placeholder())
        )
    }

    fn hint(&self) -> String {
        format!(
            "the chart in {} could not be stamped (its .j2 templates); nothing was published",
            self.chart.display()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let digest = cx.bindings.digest(&Bound::Index)?;
        std::fs::create_dir_all(&self.dest)?;
        chart::stage(
            &self.chart,
            &self.dest,
            &self.release.data(&digest)?,
            self.epoch,
        )?;
        Ok(())
    }
}

/// `helm lint --strict` of the staged chart.
#[derive(Debug, Clone, Serialize)]
pub struct LintChart {
    pub helm: HelmPlan,
}

impl Action for LintChart {
    fn needs(&self) -> Needs {
        Needs::new().tools([Tool::Helm])
    }

    fn describe(&self) -> String {
        format!("lint: {}", self.helm.lint())
    }

    fn hint(&self) -> String {
        "helm lint --strict refused the stamped chart (helm's message above names the file and \
         field): fix charts/kube9-operator, or the CHANGELOG.md entry stamped into its \
         annotations, and run the release again; no chart was published (and in `release`, \
         which lints before pushing the image, nothing at all)"
            .into()
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        self.helm.lint().run()
    }
}

/// `helm package` of the staged chart; the archive then gets the commit's time, since
/// `helm push` takes the archive's time as the chart's `org.opencontainers.image.created`
/// (part of the manifest, so of the chart digest).
#[derive(Debug, Clone, Serialize)]
pub struct PackageChart {
    pub helm: HelmPlan,
    /// The commit's time, in seconds since 1970.
    pub epoch: i64,
}

impl Action for PackageChart {
    fn needs(&self) -> Needs {
        Needs::new().tools([Tool::Helm])
    }

    fn describe(&self) -> String {
        format!(
            "package: {} (the archive dated {}, the commit's time)",
            self.helm.package(),
            self.epoch
        )
    }

    fn hint(&self) -> String {
        "helm could not package the chart; nothing was published".into()
    }

    fn run(&self, _: &mut Cx) -> Result<()> {
        self.helm.package().run()?;
        chart::set_times(&self.helm.package_file(), self.epoch)
    }
}

/// Pushes the chart unless the same one is there; another chart under the version is
/// refused. Learns the chart's digest.
#[derive(Debug, Clone, Serialize)]
pub struct PushChart {
    pub repository: Repository,
    pub version: String,
    pub package: PathBuf,
    pub helm: HelmPlan,
}

impl Action for PushChart {
    fn needs(&self) -> Needs {
        Needs::new()
            .writes([Binding::Chart])
            .tools([Tool::Helm])
            .registry(Access::Write)
    }

    fn describe(&self) -> String {
        let push = self
            .helm
            .push(&Placeholders.login_dir().expect("placeholder"));
        format!("{push} (skipped when the same chart is there)")
    }

    fn hint(&self) -> String {
        format!(
            "the chart could not be published to {}; re-running the release finishes it",
            self.repository
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let bytes = std::fs::read(&self.package)
            .with_context(|| format!("helm wrote no {}", self.package.display()))?;
        let layer = sha256(&bytes);
        let registry = cx.registry(&self.repository);
        let (repository, version) = (&self.repository, &self.version);
        let pushed = match registry.manifest(&repository.tag(version))? {
            Some((manifest, _)) => {
                let theirs = chart::chart_layer(&manifest).unwrap_or_default();
                ensure!(
                    theirs == layer,
                    "{repository}:{version} already holds a different chart ({theirs}, this one \
                     is {layer}): a released chart version is never overwritten; release a new \
                     version instead"
                );
                println!("{repository}:{version} already holds this chart: nothing to push");
                false
            }
            None => {
                let login = cx.login_dir()?;
                self.helm.push(&login).run().context("helm push failed")?;
                true
            }
        };
        let digest = registry
            .digest_of(version)?
            .context("the chart is missing right after the push")?;
        cx.bindings.chart = Some(ChartPublished { digest, pushed });
        Ok(())
    }
}

/// `helm pull` of the published chart, as a user gets it.
#[derive(Debug, Clone, Serialize)]
pub struct PullChart {
    pub helm: HelmPlan,
    pub dest: PathBuf,
}

impl Action for PullChart {
    fn needs(&self) -> Needs {
        Needs::new().tools([Tool::Helm]).registry(Access::Read)
    }

    fn describe(&self) -> String {
        let login = Placeholders.login_dir().expect("placeholder");
        format!("pull back: {}", self.helm.pull(&self.dest, &login))
    }

    fn hint(&self) -> String {
        "the published chart could not be pulled back; re-running the release checks it again"
            .into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let login = cx.login_dir()?;
        self.helm.pull(&self.dest, &login).run()
    }
}

/// The pulled chart is the packaged one and deploys exactly the image, which resolves.
#[derive(Debug, Clone, Serialize)]
pub struct CheckChart {
    pub pulled: PathBuf,
    pub package: PathBuf,
    pub release: ChartRelease,
}

impl Action for CheckChart {
    fn needs(&self) -> Needs {
        Needs::new().reads([Binding::Index]).registry(Access::Read)
    }

    fn describe(&self) -> String {
        format!(
            "{}: the chart deploys {}",
            chart::template(&self.pulled),
            self.release.image_reference(&Bound::Index.placeholder())
        )
    }

    fn hint(&self) -> String {
        "the published chart does not deploy the released image: do not install it; re-run \
         the release after fixing the chart's templates"
            .into()
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        ensure!(
            sha256(&std::fs::read(&self.pulled)?) == sha256(&std::fs::read(&self.package)?),
            "the chart pulled back differs from the one packaged"
        );
        let digest = cx.bindings.digest(&Bound::Index)?;
        let expected = self.release.image_reference(&digest);
        let rendered = chart::rendered_images(&chart::template(&self.pulled).read()?);
        ensure!(
            rendered == [expected.clone()],
            "the published chart deploys {rendered:?}, not {expected}"
        );
        let image = &self.release.image;
        cx.registry(image)
            .manifest(&image.digest(&digest))?
            .with_context(|| format!("{expected} does not resolve"))?;
        println!("the chart deploys {expected}, which resolves");
        cx.bindings.timeline.chart_served = Some(record::now());
        Ok(())
    }
}

/// chart.json, the step outputs and the job summary.
#[derive(Debug, Clone, Serialize)]
pub struct RecordChart {
    pub path: PathBuf,
    pub repository: Repository,
    pub release: ChartRelease,
}

impl Action for RecordChart {
    fn needs(&self) -> Needs {
        Needs::new().reads([Binding::Index, Binding::Chart])
    }

    fn describe(&self) -> String {
        format!(
            "record {} (and the step outputs in Actions)",
            self.path.display()
        )
    }

    fn hint(&self) -> String {
        format!(
            "{} could not be written: the chart is published, re-running the release writes it",
            self.path.display()
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let chart = cx
            .bindings
            .chart
            .clone()
            .context("internal: no chart was pushed or found before this step")?;
        let index = cx.bindings.digest(&Bound::Index)?;
        let record = ChartRecord {
            version: self.release.version.clone(),
            chart: self.repository.to_string(),
            chart_digest: chart.digest,
            image: self.release.image_reference(&index),
            pushed: chart.pushed,
            timeline: cx.bindings.timeline.clone(),
        };
        record::write(&self.path, &record)?;
        if let Some(actions) = cx.actions() {
            actions.set_outputs(&BTreeMap::from([
                ("chart", self.repository.oci_url()),
                ("chart_digest", record.chart_digest.clone()),
                ("chart_version", record.version.clone()),
                (
                    "image-served-at",
                    record.timeline.image_served.clone().unwrap_or_default(),
                ),
                (
                    "chart-served-at",
                    record.timeline.chart_served.clone().unwrap_or_default(),
                ),
            ]))?;
            actions.add_summary(&format!(
                "### Chart {}\n\n| | |\n|---|---|\n| chart | `{}` |\n| digest | `{}` |\n| image | `{}` |\n",
                record.version, self.repository.oci_url(), record.chart_digest, record.image
            ))?;
        }
        println!(
            "published chart {} version {} -> {}",
            self.repository.oci_url(),
            record.version,
            record.image
        );
        Ok(())
    }
}
