//! From flags and environment to the inputs of a plan: the version, the source, the
//! repositories, the cache, the database, the signer, the credentials.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};

use crate::flags;
use kube9_release::artifacthub;
use kube9_release::buildx::{self, Cache, CacheInputs};
use kube9_release::changelog;
use kube9_release::config::Config;
use kube9_release::layout;
use kube9_release::notify::{GithubIssues, Notify};
use kube9_release::plan::build::BuildInputs;
use kube9_release::plan::chart::ChartInputs;
use kube9_release::plan::image::ProvenanceSource;
use kube9_release::plan::image::{ImageInputs, VexInputs};
use kube9_release::registry::Repository;
use kube9_release::releases;
use kube9_release::scan::TrivyDb;
use kube9_release::secret::Secret;
use kube9_release::sign::Signer;
use kube9_release::source::{self, Source};
use kube9_release::version::ReleaseVersion;
use kube9_release::vex;
use kube9_release::workspace;

/// The version from `--version`, else the GitHub release tag.
pub fn release_version(flag: Option<&str>, config: &Config) -> Result<ReleaseVersion> {
    let tag = config.actions.as_ref().and_then(|a| a.ref_name.as_deref());
    let raw = flag
        .or(tag)
        .context("no release version: pass --version v1.2.3")?;
    ReleaseVersion::parse(raw)
}

impl flags::SourceArgs {
    pub fn read(&self) -> Result<Source> {
        source::read(&self.source.clone().unwrap_or_else(workspace::root))
    }

    /// What every release command checks before anything else, in a dry run too (it needs no
    /// network, and a dry run that passes must mean the run will not fail on it): a clean
    /// tree unless `--allow-dirty`; with `--require-tag`, since on GitHub the release is its
    /// tag, the checkout must be that tag's commit (and the commit the release names).
    pub fn check(
        &self,
        source: &Source,
        github: &flags::GithubRelease,
        release: &ReleaseVersion,
    ) -> Result<()> {
        source::require_clean(source, self.allow_dirty)?;
        if github.require_tag {
            let commit = github.expect_commit.as_deref();
            source::require_release_commit(source, &release.tag(), commit)?;
        }
        Ok(())
    }
}

impl flags::Output {
    pub fn dir(&self, source: &std::path::Path) -> PathBuf {
        self.out_dir
            .clone()
            .unwrap_or_else(|| source.join("target/release"))
    }
}

impl flags::Target {
    pub fn repository(&self) -> Result<Repository> {
        Repository::parse(&self.repository).context("--repository")
    }

    pub fn platforms(&self) -> Result<Vec<String>> {
        buildx::check_platforms(&self.platforms)?;
        Ok(self.platforms.clone())
    }
}

/// `KEY=VALUE` pairs; the release sets VERSION, COMMIT and SOURCE_DATE_EPOCH itself.
fn build_args(args: &[String]) -> Result<Vec<(String, String)>> {
    args.iter()
        .map(|a| {
            let (k, v) = a
                .split_once('=')
                .with_context(|| format!("--build-arg `{a}` is not KEY=VALUE"))?;
            ensure!(
                !["VERSION", "COMMIT", "SOURCE_DATE_EPOCH", "PLATFORMS"].contains(&k),
                "--build-arg {k} is set by the release itself"
            );
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// `--build-context` values, else the environment's (`KUBE9_BUILD_CONTEXTS`).
fn build_contexts(flags: &[String], config: &Config) -> Result<Vec<String>> {
    let given = if flags.is_empty() {
        &config.build_contexts
    } else {
        flags
    };
    let contexts: Vec<String> = given.iter().filter(|c| !c.is_empty()).cloned().collect();
    for c in &contexts {
        ensure!(
            c.split_once('=')
                .is_some_and(|(name, value)| !name.is_empty() && value.contains("://")),
            "--build-context `{c}` is not NAME=docker-image://MIRROR"
        );
    }
    Ok(contexts)
}

/// The signer a run uses; a dry run without one shows GitHub's keyless signing and says so.
pub fn signer(
    sign: &flags::SignArgs,
    (release, config): (&ReleaseVersion, &Config),
    offline: bool,
) -> Result<Option<Signer>> {
    if sign.no_sign {
        return Ok(None);
    }
    require_tag_identity(release, config)?;
    keyless_if_offline(Signer::from_config(config), offline).map(Some)
}

/// `signer`; when there is none and the run only shows its plan, GitHub's keyless signing.
pub fn keyless_if_offline(signer: Result<Signer>, offline: bool) -> Result<Signer> {
    match signer {
        Err(_) if offline => Ok(Signer::Keyless {
            request_token: Secret::new(""),
        }),
        signer => signer,
    }
}

/// A job with GitHub's OIDC identity signs as the workflow run it is: users verify a release
/// as the release workflow at its tag, so any other ref (a run started from a branch) would
/// publish signatures that can never verify. Refused before anything is built.
fn require_tag_identity(release: &ReleaseVersion, config: &Config) -> Result<()> {
    let Some(actions) = config.actions.as_ref().filter(|a| a.oidc.is_some()) else {
        return Ok(());
    };
    let tag_ref = release.git_ref();
    let git_ref = actions.git_ref.as_deref().unwrap_or("an unknown ref");
    ensure!(
        git_ref == tag_ref,
        "this run would sign as {} ({}), but a release is verified as the release workflow at \
         {tag_ref}: start it from the tag, `gh workflow run release.yml --ref {tag} -f \
         version={tag}`; nothing was published",
        actions.workflow_ref.as_deref().unwrap_or("the workflow"),
        kube9_release::text::shown(git_ref),
        tag = release.tag()
    );
    Ok(())
}

/// The pre-release flag: as given, or (`github`) the GitHub release of the tag says. A dry
/// run asks nothing and assumes a release.
pub fn prerelease(
    flag: flags::Prerelease,
    (release, config): (&ReleaseVersion, &Config),
    offline: bool,
) -> Result<bool> {
    Ok(match flag {
        flags::Prerelease::True => true,
        flags::Prerelease::False => false,
        flags::Prerelease::Github if offline => false,
        flags::Prerelease::Github => {
            let found = releases::release_of_tag(&config.github, &release.tag())?;
            let kind = if found.prerelease {
                "a pre-release"
            } else {
                "a release"
            };
            println!("the GitHub release of {} is {kind}", release.tag());
            found.prerelease
        }
    })
}

/// The database: flags first, then the environment; the cache beside the checkout.
pub fn trivy_db(db: &flags::DbArgs, config: &Config, dir: &std::path::Path) -> TrivyDb {
    let allow_stale = db.allow_stale_db || config.allow_stale_db;
    TrivyDb {
        repository: db
            .trivy_db_repository
            .clone()
            .or(config.trivy_db_repository.clone())
            .filter(|r| !r.is_empty()),
        cache_dir: db
            .trivy_cache_dir
            .clone()
            .or(config.trivy_cache_dir.clone())
            .unwrap_or_else(|| dir.join("target/trivy-cache")),
        max_age_hours: (!allow_stale).then_some(db.max_db_age),
    }
}

/// The image step's inputs; `prerelease` is resolved from `--prerelease`, and `signer` is the
/// caller's to choose (from the environment, or the local environment's key).
pub fn image_inputs(
    f: &flags::ReleaseImage,
    prerelease: bool,
    (release, config): (&ReleaseVersion, &Config),
    signer: Option<Signer>,
) -> Result<ImageInputs> {
    let push = !f.no_push;
    let source = f.image.source.read()?;
    let repository = f.image.target.repository()?;
    let out_dir = f.image.output.dir(&source.dir);
    let actions = config.actions.as_ref();
    let cache = choose_cache(&f.image.build, &repository, &source.dir, actions)?;
    let github = actions.and(GithubIssues::from_config(&config.github));
    let vex = vex_inputs(&source.dir, &repository)?;
    // An unpushed build publishes no changes: the changelog is read for a release only.
    let changes = changelog_entry(&source.dir, release, f.image.source.skip_changelog || !push)?;
    Ok(ImageInputs {
        vex,
        changes,
        repo_metadata: repo_metadata(&source.dir)?,
        provenance: provenance(config),
        hold_floating: f.hold_floating_tags,
        provenance_attested: !f.provenance_attested.trim().is_empty(),
        db: trivy_db(&f.image.scan.db, config, &source.dir),
        severity: f.image.scan.severity,
        require_rust: !f.image.scan.no_rust_binary,
        size_budget: f.image.scan.size_budget_mb * 1_000_000,
        push,
        signer: if push { signer } else { None },
        credentials: config.registry.clone(),
        notify: Notify {
            image: repository.to_string(),
            version: release.plain(),
            file: out_dir.join(format!("issue-{}.md", release.plain())),
            github,
        },
        repository,
        build: BuildInputs {
            release: release.clone(),
            prerelease,
            platforms: f.image.target.platforms()?,
            dockerfile: f.image.build.dockerfile.clone(),
            context: f.image.build.context.clone(),
            build_args: build_args(&f.image.build.build_args)?,
            build_contexts: build_contexts(&f.image.build.build_contexts, config)?,
            base_images: base_images(&source.dir.join(&f.image.build.dockerfile))?,
            cache,
            provenance: f.image.build.provenance,
            docker_host: None,
            out_dir,
            source,
        },
    })
}

/// On GitHub (and in its simulation) the workflow attests build provenance (keyless, GitHub's
/// attestation store, which verify-release reads as a Sigstore bundle); elsewhere the release
/// attests its own with its key.
pub fn provenance(config: &Config) -> ProvenanceSource {
    if config.in_actions() {
        ProvenanceSource::Workflow
    } else {
        ProvenanceSource::Release
    }
}

/// The base images the Dockerfile pulls, for the build's provenance.
fn base_images(dockerfile: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(dockerfile).with_context(|| {
        format!(
            "cannot read the Dockerfile {} (--dockerfile names it, relative to --source)",
            dockerfile.display()
        )
    })?;
    Ok(kube9_release::buildx::external_bases(&text))
}

/// The build cache the flags ask for; `actions` lets `--cache auto` choose GitHub's.
fn choose_cache(
    build: &flags::BuildArgs,
    repository: &Repository,
    dir: &Path,
    actions: Option<&kube9_release::actions::Actions>,
) -> Result<Cache> {
    Cache::choose(&CacheInputs {
        mode: build.cache,
        actions,
        repository: &repository.to_string(),
        scope: &build.cache_scope,
        local_dir: &dir.join("target/buildx-cache"),
        read_only: build.cache_read_only,
    })
}

/// What `verify-reproducible` builds.
pub fn build_inputs(
    target: &flags::Target,
    output: &flags::Output,
    source: &flags::SourceArgs,
    build: &flags::BuildArgs,
    (release, config): (&ReleaseVersion, &Config),
) -> Result<BuildInputs> {
    let source = source.read()?;
    let repository = target.repository()?;
    Ok(BuildInputs {
        release: release.clone(),
        // verify-reproducible is not told GitHub's flag: a plain version GitHub marks a
        // pre-release is listed (and so built) as one only by the release itself.
        prerelease: false,
        platforms: target.platforms()?,
        dockerfile: build.dockerfile.clone(),
        context: build.context.clone(),
        build_args: build_args(&build.build_args)?,
        build_contexts: build_contexts(&build.build_contexts, config)?,
        base_images: base_images(&source.dir.join(&build.dockerfile))?,
        cache: choose_cache(build, &repository, &source.dir, None)?,
        provenance: build.provenance,
        docker_host: None,
        out_dir: output.dir(&source.dir),
        source,
    })
}

/// The chart step's inputs; `prerelease` is resolved from `--prerelease`.
pub fn chart_inputs(
    chart: &flags::ChartArgs,
    (target, output, checkout): (&flags::Target, &flags::Output, &flags::SourceArgs),
    prerelease: bool,
    (release, config): (&ReleaseVersion, &Config),
    expected_digest: Option<String>,
    signer: Option<Signer>,
) -> Result<ChartInputs> {
    if let Some(d) = &expected_digest {
        layout::check_digest(d).context("--image-digest")?;
    }
    let source = checkout.read()?;
    let chart_dir = source.dir.join(&chart.chart);
    ensure!(
        chart_dir.join("Chart.yaml.j2").is_file(),
        "{} holds no chart templates (Chart.yaml.j2): point --chart at the chart's directory",
        chart_dir.display()
    );
    Ok(ChartInputs {
        release: release.clone(),
        prerelease,
        image: target.repository()?,
        charts: Repository::parse(&chart.chart_repository).context("--chart-repository")?,
        platforms: target.platforms()?,
        chart: chart.chart.clone(),
        out_dir: output.dir(&source.dir),
        expected_digest,
        wait_timeout: chart.wait_timeout,
        poll_interval: chart.poll_interval,
        signer,
        credentials: config.registry.clone(),
        changes: changelog_entry(&source.dir, release, checkout.skip_changelog)?,
        repo_metadata: repo_metadata(&source.dir)?,
        source,
    })
}

/// `security/vex.json`, parsed and checked against what the image is built from (the crates
/// of the source's lockfiles, the repository it is published to), before anything is built.
pub fn vex_inputs(dir: &std::path::Path, repository: &Repository) -> Result<Option<VexInputs>> {
    let Some(doc) = vex::read(dir)? else {
        return Ok(None);
    };
    let contents = vex::Contents::new(&repository.to_string(), vex::crates_in_lockfiles(dir)?);
    vex::check_products(vex::VEX_PATH, &doc, &contents)?;
    Ok(Some(VexInputs {
        source: dir.join(vex::VEX_PATH),
        doc,
    }))
}

/// This version's entry of CHANGELOG.md; refused before anything is built when it has none,
/// unless `--skip-changelog`.
pub fn changelog_entry(
    dir: &std::path::Path,
    release: &ReleaseVersion,
    skip: bool,
) -> Result<Option<changelog::Entry>> {
    if skip {
        return Ok(None);
    }
    let log = changelog::read(dir)?;
    Ok(Some(log.entry_for(release.semver())?.clone()))
}

/// The source's `artifacthub-repo.yml`, checked before anything is built; none is fine.
pub fn repo_metadata(dir: &std::path::Path) -> Result<Option<PathBuf>> {
    let path = dir.join(artifacthub::REPO_METADATA_PATH);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    artifacthub::RepoMetadata::parse(artifacthub::REPO_METADATA_PATH, &text)?;
    Ok(Some(path))
}
