//! `cargo xtask release-image`: plan, build into an OCI layout, check size and scan, push those
//! same bytes, verify. Nothing reaches the registry unless every check before it passed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, ensure, Context, Result};

use crate::git::{self, Source};
use crate::github::{self, Actions};
use crate::image::{self, BuildPlan, Cache, CacheMode};
use crate::layout::Image;
use crate::metadata::{self, ImageMetadata};
use crate::record::{self, ImageRecord, PlatformRecord};
use crate::registry::{self, Credentials, Registry, Repository, Retry};
use crate::scan::{self, ScanPlan, Severity, TrivyDb, Verdict};
use crate::version::{self, ReleaseVersion, TagPlan};
use crate::workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PublicCheck {
    /// Fail when the image cannot be pulled without a login.
    Require,
    /// Only warn (a private registry, or the first release before the package is made public).
    Warn,
    Skip,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ImageArgs {
    /// Release version, e.g. v1.2.3 (default in GitHub Actions: the release tag).
    #[arg(long)]
    pub version: Option<String>,
    /// Image repository, registry host included.
    #[arg(long, default_value = crate::DEFAULT_IMAGE_REPOSITORY)]
    pub repository: String,
    #[arg(long, value_delimiter = ',', default_values_t = image::DEFAULT_PLATFORMS.iter().map(|p| p.to_string()))]
    pub platforms: Vec<String>,
    /// Dockerfile, relative to --source.
    #[arg(long, default_value = "Dockerfile")]
    pub dockerfile: PathBuf,
    /// Build context, relative to --source.
    #[arg(long, default_value = ".")]
    pub context: PathBuf,
    /// The git checkout to release (default: this repository).
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// Where reports, the OCI layout and image.json go (default: <source>/target/release).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    pub cache: CacheMode,
    /// The lowest severity that fails the scan gate.
    #[arg(long, value_enum, default_value = "CRITICAL")]
    pub severity: Severity,
    /// Largest allowed compressed size of one platform's image, in MB (10^6 bytes).
    #[arg(long, default_value_t = 200)]
    pub size_budget_mb: u64,
    /// Extra build arguments (KEY=VALUE), e.g. base image mirrors.
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Add provenance attestations to the index (they change its digest on every build).
    #[arg(long)]
    pub provenance: bool,
    /// A mirror of Trivy's vulnerability database.
    #[arg(long, env = "TRIVY_DB_REPOSITORY")]
    pub trivy_db_repository: Option<String>,
    /// Where Trivy keeps its database between runs.
    #[arg(long, env = "TRIVY_CACHE_DIR")]
    pub trivy_cache_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "require")]
    pub public_check: PublicCheck,
    /// Build, check and scan, but publish nothing (pull requests).
    #[arg(long)]
    pub no_push: bool,
    /// Print the plan and every command; run nothing, touch no network.
    #[arg(long)]
    pub dry_run: bool,
    /// Build from a tree with uncommitted changes (local tests only).
    #[arg(long)]
    pub allow_dirty: bool,
}

/// Everything decided before anything runs.
#[derive(Debug, Clone)]
pub struct ImagePlan {
    pub release: ReleaseVersion,
    pub source: Source,
    pub repository: Repository,
    pub metadata: ImageMetadata,
    pub tags: TagPlan,
    pub tags_assumed: bool,
    pub build: BuildPlan,
    pub scans: Vec<ScanPlan>,
    pub severity: Severity,
    pub size_budget: u64,
    pub out_dir: PathBuf,
    pub warnings: Vec<String>,
}

/// The version from `--version`, else the GitHub release tag.
pub fn release_version(flag: Option<&str>, actions: Option<&Actions>) -> Result<ReleaseVersion> {
    let raw = match (flag, actions.and_then(|a| a.ref_name.as_deref())) {
        (Some(v), _) => v,
        (None, Some(r)) => r,
        (None, None) => bail!("no release version: pass --version v1.2.3"),
    };
    ReleaseVersion::parse(raw)
}

impl ImageArgs {
    pub fn source_dir(&self) -> PathBuf {
        self.source.clone().unwrap_or_else(workspace::root)
    }

    pub fn out_dir(&self) -> PathBuf {
        self.out_dir
            .clone()
            .unwrap_or_else(|| self.source_dir().join("target/release"))
    }

    fn extra_build_args(&self) -> Result<Vec<(String, String)>> {
        self.build_args
            .iter()
            .map(|a| {
                let (k, v) = a
                    .split_once('=')
                    .with_context(|| format!("--build-arg `{a}` is not KEY=VALUE"))?;
                ensure!(
                    !["VERSION", "COMMIT", "SOURCE_DATE_EPOCH"].contains(&k),
                    "--build-arg {k} is set by the release itself"
                );
                Ok((k.to_string(), v.to_string()))
            })
            .collect()
    }

    /// Computes the plan; `published` is None when the registry was not asked (dry run).
    pub fn plan(
        &self,
        release: ReleaseVersion,
        source: Source,
        published: Option<&[String]>,
        actions: Option<&Actions>,
    ) -> Result<ImagePlan> {
        let repository = Repository::parse(&self.repository)?;
        let dir = self.source_dir();
        let out_dir = self.out_dir();
        let metadata = ImageMetadata::new(&release, &source.commit, source.commit_time);
        let versions =
            version::published_versions(published.unwrap_or_default().iter().map(String::as_str));
        let tags = version::plan_tags(&release, &versions);
        let mut build_args = vec![
            ("VERSION".to_string(), release.plain()),
            ("COMMIT".to_string(), source.commit.clone()),
            (
                "SOURCE_DATE_EPOCH".to_string(),
                source.commit_time.to_string(),
            ),
        ];
        build_args.extend(self.extra_build_args()?);
        let cache = Cache::choose(
            self.cache,
            actions,
            &self.repository,
            &dir.join("target/buildx-cache"),
        )?;
        let build = BuildPlan {
            dockerfile: dir.join(&self.dockerfile),
            context: dir.join(&self.context),
            platforms: self.platforms.clone(),
            build_args,
            labels: metadata.labels(),
            cache,
            provenance: self.provenance,
            output: out_dir.join("oci"),
        };
        let db = TrivyDb {
            repository: self.trivy_db_repository.clone().filter(|r| !r.is_empty()),
            cache_dir: self
                .trivy_cache_dir
                .clone()
                .unwrap_or_else(|| dir.join("target/trivy-cache")),
        };
        let scans = self
            .platforms
            .iter()
            .map(|p| ScanPlan::new(p, &out_dir.join("scan-layouts"), &out_dir.join("scan"), &db))
            .collect();
        let mut warnings = Vec::new();
        let crate_version = workspace::operator_version();
        if self.source.is_none() && crate_version != release.plain() {
            warnings.push(format!(
                "the operator crate's version is {crate_version}, the release is {}: the binary reports {}",
                release.plain(),
                release.plain()
            ));
        }
        Ok(ImagePlan {
            release,
            source,
            repository,
            metadata,
            tags,
            tags_assumed: published.is_none(),
            build,
            scans,
            severity: self.severity,
            size_budget: self.size_budget_mb * 1_000_000,
            out_dir,
            warnings,
        })
    }
}

impl ImagePlan {
    pub fn print(&self, no_push: bool) {
        println!("Release {} of {}", self.release, self.repository);
        println!(
            "  commit   {} ({}){}",
            self.source.commit,
            metadata::rfc3339(self.source.commit_time),
            if self.source.clean {
                ""
            } else {
                ", uncommitted changes"
            }
        );
        for w in &self.warnings {
            println!("  warning  {w}");
        }
        println!("  tags     {}", self.tags.tags_to_push().join(" "));
        for f in self.tags.floating.iter().filter(|f| f.held_by.is_some()) {
            println!(
                "           not {}: held by the higher release {}",
                f.tag,
                f.held_by.as_ref().unwrap()
            );
        }
        if self.tags_assumed {
            println!("           (the registry was not asked: floating tags assume no higher release exists)");
        }
        println!("  labels and index annotations:");
        for (k, v) in &self.metadata.labels() {
            println!("           {k}={v}");
        }
        println!("build:");
        println!("  {}", self.build.command());
        println!("checks (every platform, before any push):");
        println!(
            "  compressed size at most {} MB",
            self.size_budget / 1_000_000
        );
        for s in &self.scans {
            println!("  {}", s.scan());
            println!("  {}", s.sarif());
        }
        println!("  gate: no finding of severity {} or above", self.severity);
        if no_push {
            println!("push: none (--no-push)");
        } else {
            println!("push (oci-client, the scanned bytes, missing blobs only):");
            println!("  {}@<index digest>", self.repository);
            println!("  tags in order: {}", self.tags.tags_to_push().join(", "));
            println!(
                "verify: index digest, platforms {}, labels; anonymous pull",
                self.build.platforms.join(", ")
            );
        }
        println!("record: {}", self.out_dir.join("image.json").display());
    }
}

fn check_sizes(image: &Image, budget: u64) -> Vec<String> {
    image
        .platforms
        .iter()
        .filter(|p| p.compressed_size() > budget)
        .map(|p| {
            format!(
                "{} is {:.1} MB compressed, over the {} MB budget",
                p.platform.name(),
                p.compressed_size() as f64 / 1e6,
                budget / 1_000_000
            )
        })
        .collect()
}

fn run_scans(plan: &ImagePlan, image: &Image) -> Result<Vec<Verdict>> {
    std::fs::create_dir_all(plan.out_dir.join("scan"))?;
    let mut verdicts = Vec::new();
    for scan_plan in &plan.scans {
        let platform = image
            .platforms
            .iter()
            .find(|p| p.platform.name() == scan_plan.platform)
            .with_context(|| format!("the build produced no {} image", scan_plan.platform))?;
        image.write_single_platform(platform, &scan_plan.layout)?;
        scan_plan.scan().run().context(
            "trivy could not scan the image; if its database cannot be downloaded, set TRIVY_DB_REPOSITORY to a mirror",
        )?;
        scan_plan.sarif().run()?;
        scan_plan.table().run()?;
        let report = scan::read_report(&scan_plan.json)?;
        verdicts.push(scan::judge(&scan_plan.platform, &report, plan.severity));
    }
    Ok(verdicts)
}

fn scan_summary(verdicts: &[Verdict], gate: Severity) -> serde_json::Value {
    serde_json::json!({
        "gate": gate.to_string(),
        "passed": verdicts.iter().all(Verdict::passed),
        "platforms": verdicts,
    })
}

/// Reads back what the registry serves under the version tag and compares it with the build.
async fn verify(registry: &Registry, plan: &ImagePlan, image: &Image) -> Result<()> {
    let tag = plan.release.tag();
    let (bytes, digest) = registry
        .manifest(&registry.repository.tag(&tag))
        .await?
        .with_context(|| {
            format!(
                "{}:{tag} is missing right after the push",
                registry.repository
            )
        })?;
    ensure!(
        digest == image.index.digest,
        "{}:{tag} serves {digest}, not the scanned {}",
        registry.repository,
        image.index.digest
    );
    let served = crate::layout::index_platforms(&bytes)?;
    for p in &plan.build.platforms {
        ensure!(
            served.contains(p),
            "the pushed index lacks {p} (it lists {})",
            served.join(", ")
        );
    }
    for platform in &image.platforms {
        let config: serde_json::Value =
            serde_json::from_slice(&registry.blob(&platform.config.digest).await?)?;
        let labels = &config["config"]["Labels"];
        ensure!(
            labels["org.opencontainers.image.version"] == plan.release.plain().as_str()
                && labels["org.opencontainers.image.revision"] == plan.source.commit.as_str(),
            "the {} image in the registry lacks the version and revision labels",
            platform.platform.name()
        );
    }
    Ok(())
}

pub fn run(args: &ImageArgs) -> Result<Option<ImageRecord>> {
    let actions = Actions::from_env();
    let release = release_version(args.version.as_deref(), actions.as_ref())?;
    let source = git::read(&args.source_dir())?;
    if args.dry_run {
        let plan = args.plan(release, source, None, actions.as_ref())?;
        plan.print(args.no_push);
        return Ok(None);
    }
    git::require_clean(&source, args.allow_dirty)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let repository = Repository::parse(&args.repository)?;
    let credentials = Credentials::from_env();
    let registry = Registry::new(repository.clone(), credentials.as_ref(), Retry::default());

    // Ask the registry first: a registry that is down or refuses us fails before the build.
    let published = if args.no_push {
        None
    } else {
        github::step(&format!("reading the tags of {repository}"));
        Some(runtime.block_on(registry.tags())?)
    };
    let plan = args.plan(release, source, published.as_deref(), actions.as_ref())?;
    plan.print(args.no_push);

    github::step("building");
    if plan.build.output.exists() {
        std::fs::remove_dir_all(&plan.build.output)?;
    }
    plan.build
        .command()
        .run()
        .context("the image build failed (its output is above); nothing was pushed")?;
    if let Cache::Local { dir } = &plan.build.cache {
        let staged = image::staged_cache(dir);
        if staged.exists() {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::rename(&staged, dir)?;
        }
    }
    let image = Image::open(&plan.build.output)?;
    let mut built = image.platform_names();
    built.sort();
    let mut wanted = plan.build.platforms.clone();
    wanted.sort();
    ensure!(
        built == wanted,
        "the build produced {built:?}, not the requested {wanted:?}"
    );
    println!("built {} ({})", image.index.digest, built.join(", "));
    for p in &image.platforms {
        println!(
            "  {:<14} {:>8.2} MB compressed",
            p.platform.name(),
            p.compressed_size() as f64 / 1e6
        );
    }

    github::step("checking size and scanning");
    let size_problems = check_sizes(&image, plan.size_budget);
    let verdicts = run_scans(&plan, &image)?;
    let mut record = ImageRecord {
        version: plan.release.plain(),
        repository: repository.to_string(),
        digest: image.index.digest.clone(),
        commit: plan.source.commit.clone(),
        tags: Vec::new(),
        platforms: image
            .platforms
            .iter()
            .map(|p| PlatformRecord {
                platform: p.platform.name(),
                manifest: p.manifest.digest.clone(),
                compressed_bytes: p.compressed_size(),
            })
            .collect(),
        pushed: false,
        scan: scan_summary(&verdicts, plan.severity),
        blobs_uploaded: 0,
        bytes_uploaded: 0,
    };
    let record_path = plan.out_dir.join("image.json");
    record::write(&record_path, &record)?;
    let mut failures = size_problems;
    for v in verdicts.iter().filter(|v| !v.passed()) {
        let ids: Vec<String> = v
            .blocking
            .iter()
            .map(|f| format!("{} ({} in {})", f.id, f.severity, f.package))
            .collect();
        failures.push(format!("{}: {}", v.platform, ids.join(", ")));
    }
    if !failures.is_empty() {
        bail!(
            "the image failed its checks, so nothing was pushed:\n  {}\nreports: {}",
            failures.join("\n  "),
            plan.out_dir.join("scan").display()
        );
    }
    if args.no_push {
        println!("checks passed; --no-push: nothing was published");
        return Ok(Some(record));
    }

    // A version tag never moves: the same digest is a re-run, another digest is refused.
    for tag in &plan.tags.version_tags {
        if let Some(existing) = runtime.block_on(registry.digest_of(tag))? {
            ensure!(
                existing == image.index.digest,
                "{repository}:{tag} already holds {existing}, a different build than {}: a released \
                 version is never overwritten; release a new version instead",
                image.index.digest
            );
            println!("{repository}:{tag} already holds this build: re-run, nothing new to upload");
        }
    }

    github::step(&format!("pushing to {repository}"));
    let tags = plan.tags.tags_to_push();
    let pushed = runtime.block_on(registry.push(&image, &tags))?;
    println!(
        "uploaded {} blobs ({} bytes), {} already present",
        pushed.blobs_uploaded, pushed.bytes_uploaded, pushed.blobs_present
    );
    github::step("verifying");
    runtime.block_on(verify(&registry, &plan, &image))?;
    match args.public_check {
        PublicCheck::Skip => {}
        check => {
            if let Err(e) = runtime.block_on(registry::check_anonymous_pull(
                &repository,
                &image.index.digest,
            )) {
                if check == PublicCheck::Require {
                    return Err(e);
                }
                eprintln!("warning: {e:#}");
            }
        }
    }
    record.tags = pushed.tags.clone();
    record.pushed = true;
    record.blobs_uploaded = pushed.blobs_uploaded;
    record.bytes_uploaded = pushed.bytes_uploaded;
    record::write(&record_path, &record)?;
    if let Some(actions) = &actions {
        publish_outputs(actions, &record)?;
    }
    println!(
        "published {repository}@{} as {}",
        record.digest,
        record.tags.join(", ")
    );
    Ok(Some(record))
}

fn publish_outputs(actions: &Actions, record: &ImageRecord) -> Result<()> {
    let reference = format!("{}@{}", record.repository, record.digest);
    actions.set_outputs(&BTreeMap::from([
        ("digest", record.digest.clone()),
        ("tags", record.tags.join(",")),
        ("image", reference.clone()),
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
    summary.push_str(&format!(
        "| scan | gate {} passed |\n",
        record.scan["gate"].as_str().unwrap_or("?")
    ));
    actions.add_summary(&summary)
}
