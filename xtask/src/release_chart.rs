//! `cargo xtask release-chart`: wait until the registry serves the release's image on every
//! platform, stamp a staged copy of the chart with it, then lint, package, push and verify.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::chart::{self, ChartData, ChartRepository, HelmPlan};
use crate::git;
use crate::github::{self, Actions};
use crate::image::DEFAULT_PLATFORMS;
use crate::layout::sha256;
use crate::record::{self, ChartRecord, ImageRecord};
use crate::registry::{Credentials, Registry, Repository, Retry};
use crate::release_image::release_version;
use crate::version::ReleaseVersion;
use crate::workspace;

#[derive(clap::Args, Debug, Clone)]
pub struct ChartArgs {
    /// Release version, e.g. v1.2.3 (default in GitHub Actions: the release tag).
    #[arg(long)]
    pub version: Option<String>,
    /// The image repository the chart deploys.
    #[arg(long, default_value = crate::DEFAULT_IMAGE_REPOSITORY)]
    pub repository: String,
    /// Where the chart is pushed; it lands at <this>/kube9-operator.
    #[arg(long, default_value = crate::DEFAULT_CHART_REPOSITORY)]
    pub chart_repository: String,
    /// Platforms the image must serve before the chart is published.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_PLATFORMS.iter().map(|p| p.to_string()))]
    pub platforms: Vec<String>,
    /// The chart's source directory, relative to --source.
    #[arg(long, default_value = "charts/kube9-operator")]
    pub chart: PathBuf,
    /// The git checkout to release (default: this repository).
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// Where image.json is read and chart.json written (default: <source>/target/release).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// The image index digest the image step published (default: from image.json, if any);
    /// the registry must serve exactly this digest.
    #[arg(long)]
    pub image_digest: Option<String>,
    /// Seconds to wait for the image before giving up.
    #[arg(long, default_value_t = 600)]
    pub wait_timeout: u64,
    /// Longest pause between two looks at the registry, in seconds.
    #[arg(long, default_value_t = 10)]
    pub poll_interval: u64,
    /// Print the plan and every command; run nothing, touch no network.
    #[arg(long)]
    pub dry_run: bool,
}

impl ChartArgs {
    fn source_dir(&self) -> PathBuf {
        self.source.clone().unwrap_or_else(workspace::root)
    }

    fn out_dir(&self) -> PathBuf {
        self.out_dir
            .clone()
            .unwrap_or_else(|| self.source_dir().join("target/release"))
    }

    fn chart_repository(&self) -> Result<ChartRepository> {
        let bare = self
            .chart_repository
            .strip_prefix("oci://")
            .unwrap_or(&self.chart_repository);
        let parsed = Repository::parse(bare)?;
        Ok(ChartRepository {
            host: parsed.host,
            path: parsed.path,
        })
    }

    fn helm_plan(&self, release: &ReleaseVersion, epoch: i64) -> Result<HelmPlan> {
        let out = self.out_dir();
        let repository = self.chart_repository()?;
        let plain_http = Repository::parse(&repository.chart_repository())?.is_loopback();
        Ok(HelmPlan {
            staged: out.join("chart").join(chart::CHART_NAME),
            package_dir: out.join("chart"),
            version: release.plain(),
            repository,
            plain_http,
            registry_config: std::env::temp_dir()
                .join(format!("kube9-helm-registry-{}.json", std::process::id())),
            source_date_epoch: epoch,
        })
    }
}

/// Waits for the image under the release's version tag with every platform. With a recorded
/// digest, a different digest is an error at once: the chart must deploy what was scanned.
async fn wait_for_image(
    registry: &Registry,
    tag: &str,
    expected: Option<&str>,
    platforms: &[String],
    timeout: Duration,
    max_interval: Duration,
) -> Result<String> {
    let started = Instant::now();
    let mut interval = Duration::from_secs(1).min(max_interval);
    loop {
        let last = match registry.manifest(&registry.repository.tag(tag)).await? {
            Some((bytes, digest)) => {
                if let Some(expected) = expected {
                    ensure!(
                        digest == expected,
                        "{}:{tag} serves {digest}, but the image step published {expected} \
                         (--image-digest or target/release/image.json): the chart must reference the scanned image",
                        registry.repository
                    );
                }
                let served = crate::layout::index_platforms(&bytes)?;
                let missing: Vec<&String> =
                    platforms.iter().filter(|p| !served.contains(p)).collect();
                if missing.is_empty() {
                    return Ok(digest);
                }
                format!("{digest} lacks {missing:?}")
            }
            None => "not found".to_string(),
        };
        if started.elapsed() >= timeout {
            bail!(
                "{}:{tag} was not available with {} within {}s ({last}); publish the image first \
                 (cargo xtask release-image), nothing was published",
                registry.repository,
                platforms.join(", "),
                timeout.as_secs()
            );
        }
        eprintln!(
            "    waiting for {}:{tag} ({last}), next look in {interval:?}",
            registry.repository
        );
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(max_interval);
    }
}

/// The chart layer a pushed chart manifest carries.
fn chart_layer(manifest: &[u8]) -> Option<String> {
    let m: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    m["layers"]
        .as_array()?
        .iter()
        .find(|l| l["mediaType"] == "application/vnd.cncf.helm.chart.content.v1.tar+gzip")
        .and_then(|l| l["digest"].as_str().map(String::from))
}

pub fn run(args: &ChartArgs) -> Result<ChartRecord> {
    let actions = Actions::from_env();
    let release = release_version(args.version.as_deref(), actions.as_ref())?;
    let source = git::read(&args.source_dir())?;
    let image_repository = Repository::parse(&args.repository)?;
    let helm = args.helm_plan(&release, source.commit_time)?;
    let record_path = args.out_dir().join("image.json");
    let chart_dir = args.source_dir().join(&args.chart);

    if args.dry_run {
        println!("Chart {} for {image_repository}", release.plain());
        println!(
            "  wait      up to {}s for {image_repository}:{} with {}",
            args.wait_timeout,
            release.tag(),
            args.platforms.join(", ")
        );
        println!(
            "  stage     {} -> {} (version, appVersion {}, image {}:{}@<published digest>)",
            chart_dir.display(),
            helm.staged.display(),
            release.plain(),
            image_repository,
            release.plain()
        );
        println!("  {}", helm.lint());
        println!("  {}", helm.package());
        if Credentials::from_env().is_some() {
            println!(
                "  {}",
                helm.login("$REGISTRY_USERNAME", crate::cmd::Secret::new(""))
            );
        }
        println!(
            "  {}  (skipped when the same chart is already there)",
            helm.push()
        );
        println!("  {}", helm.pull(&args.out_dir().join("chart-verify")));
        println!(
            "  helm template: image must be {image_repository}:{}@<published digest>",
            release.plain()
        );
        return Ok(ChartRecord {
            version: release.plain(),
            chart: helm.repository.chart_repository(),
            chart_digest: String::new(),
            image: String::new(),
            pushed: false,
        });
    }

    let runtime = tokio::runtime::Runtime::new()?;
    let credentials = Credentials::from_env();
    let images = Registry::new(
        image_repository.clone(),
        credentials.as_ref(),
        Retry::default(),
    );
    let recorded: Option<ImageRecord> = record::read(&record_path)?;
    let recorded_digest = recorded
        .filter(|r| {
            r.version == release.plain() && r.repository == image_repository.to_string() && r.pushed
        })
        .map(|r| r.digest);
    let expected = args
        .image_digest
        .clone()
        .filter(|d| !d.is_empty())
        .or(recorded_digest);
    github::step(&format!("waiting for {image_repository}:{}", release.tag()));
    let digest = runtime.block_on(wait_for_image(
        &images,
        &release.tag(),
        expected.as_deref(),
        &args.platforms,
        Duration::from_secs(args.wait_timeout),
        Duration::from_secs(args.poll_interval.max(1)),
    ))?;
    println!(
        "image {image_repository}@{digest} is served with {}",
        args.platforms.join(", ")
    );

    let data = ChartData::release(
        &release.plain(),
        release.is_prerelease(),
        &image_repository.to_string(),
        &digest,
    );
    std::fs::create_dir_all(&helm.package_dir)?;
    let staged = chart::stage(&chart_dir, &helm.package_dir, &data)?;
    ensure!(
        staged == helm.staged,
        "staged chart landed at {}",
        staged.display()
    );
    helm.lint()
        .run()
        .context("helm lint rejected the stamped chart")?;
    helm.package().run().context("helm package failed")?;
    chart::normalize_package(&helm.package_file(), source.commit_time)?;
    let package = std::fs::read(helm.package_file())
        .with_context(|| format!("helm wrote no {}", helm.package_file().display()))?;
    let layer = sha256(&package);

    // Helm keeps the login in a file of its own outside the repository, removed at the end.
    let publication = Publication {
        helm: &helm,
        release: &release,
        image_repository: &image_repository,
        images: &images,
        digest: &digest,
        layer: &layer,
        verify_dir: args.out_dir().join("chart-verify"),
    };
    let result = publish(&publication, credentials.as_ref(), &runtime);
    let _ = std::fs::remove_file(&helm.registry_config);
    let record = result?;
    record::write(&args.out_dir().join("chart.json"), &record)?;
    if let Some(actions) = &actions {
        actions.set_outputs(&BTreeMap::from([
            ("chart", format!("oci://{}", record.chart)),
            ("chart_digest", record.chart_digest.clone()),
            ("chart_version", record.version.clone()),
        ]))?;
        actions.add_summary(&format!(
            "### Chart {}\n\n| | |\n|---|---|\n| chart | `oci://{}` |\n| digest | `{}` |\n| image | `{}` |\n",
            record.version, record.chart, record.chart_digest, record.image
        ))?;
    }
    println!(
        "published chart oci://{} version {} -> {}",
        record.chart, record.version, record.image
    );
    println!(
        "install: helm install kube9-operator oci://{} --version {}",
        record.chart, record.version
    );
    Ok(record)
}

/// A packaged chart and the published image it must deploy.
struct Publication<'a> {
    helm: &'a HelmPlan,
    release: &'a ReleaseVersion,
    image_repository: &'a Repository,
    images: &'a Registry,
    /// The image index digest the chart pins.
    digest: &'a str,
    /// The digest of the packaged chart archive.
    layer: &'a str,
    verify_dir: PathBuf,
}

/// Pushes the packaged chart unless the same one is there, then pulls it back and checks it.
fn publish(
    p: &Publication,
    credentials: Option<&Credentials>,
    runtime: &tokio::runtime::Runtime,
) -> Result<ChartRecord> {
    let Publication {
        helm,
        release,
        image_repository,
        images,
        digest,
        layer,
        ..
    } = *p;
    if let Some(c) = credentials {
        helm.login(&c.username, c.password.clone())
            .run()
            .context("helm registry login failed")?;
    }
    let chart_repo = Repository::parse(&helm.repository.chart_repository())?;
    let charts = Registry::new(chart_repo.clone(), credentials, Retry::default());
    let existing = runtime.block_on(charts.manifest(&chart_repo.tag(&release.plain())))?;
    let pushed = match existing {
        Some((manifest, _)) => {
            let theirs = chart_layer(&manifest).unwrap_or_default();
            ensure!(
                theirs == layer,
                "{chart_repo}:{} already holds a different chart ({theirs}, this one is {layer}): a \
                 released chart version is never overwritten; release a new version instead",
                release.plain()
            );
            println!(
                "{chart_repo}:{} already holds this chart: nothing to push",
                release.plain()
            );
            false
        }
        None => {
            helm.push().run().context("helm push failed")?;
            true
        }
    };

    github::step("verifying the published chart");
    let verify_dir = &p.verify_dir;
    let _ = std::fs::remove_dir_all(verify_dir);
    std::fs::create_dir_all(verify_dir)?;
    helm.pull(verify_dir)
        .run()
        .context("cannot pull the chart back")?;
    let pulled = verify_dir.join(format!("{}-{}.tgz", chart::CHART_NAME, release.plain()));
    ensure!(
        sha256(&std::fs::read(&pulled)?) == layer,
        "the chart pulled back differs from the one packaged"
    );
    let rendered = chart::template(&pulled).read()?;
    let expected_image = format!("{image_repository}:{}@{digest}", release.plain());
    let images_rendered = chart::rendered_images(&rendered);
    ensure!(
        images_rendered == [expected_image.clone()],
        "the published chart deploys {images_rendered:?}, not {expected_image}"
    );
    runtime
        .block_on(images.manifest(&image_repository.digest(digest)))?
        .with_context(|| format!("{image_repository}@{digest} does not resolve"))?;

    let chart_digest = runtime
        .block_on(charts.digest_of(&release.plain()))?
        .context("the chart is missing right after the push")?;
    Ok(ChartRecord {
        version: release.plain(),
        chart: chart_repo.to_string(),
        chart_digest,
        image: expected_image,
        pushed,
    })
}
