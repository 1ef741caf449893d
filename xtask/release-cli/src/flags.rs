//! The release commands' command line, in one place (rust-analyzer's xtask keeps its `flags`
//! the same way). Each subcommand is a struct; `impl flags::<Command> { fn run(self) }` lives
//! in `tasks/`. What the environment says (`TRIVY_DB_REPOSITORY`, ...) is read by
//! `kube9_release::config`; a flag overrides it.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use kube9_release::buildx::{CacheMode, DEFAULT_PLATFORMS};
use kube9_release::plan::verify::PublicCheck;
use kube9_release::scan::{Severity, MAX_DB_AGE_HOURS};
use kube9_release::{DEFAULT_CHART_REPOSITORY, DEFAULT_IMAGE_REPOSITORY};

/// The release commands of the kube9-operator: what the release workflow runs with the
/// registry token, and what `cargo xtask` runs on a laptop.
#[derive(Parser)]
#[command(name = "kube9-release")]
pub struct Kube9Release {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Build, scan, publish, sign and verify the multi-platform image.
    ReleaseImage(ReleaseImage),
    /// Publish (and sign) the Helm chart for an image that is already published.
    ReleaseChart(ReleaseChart),
    /// The image, the chart, then the checks a user would run: stops at the first failure.
    Release(Release),
    /// Check a published release: tags, platforms, labels, signatures, SBOMs, the chart's pin.
    VerifyRelease(VerifyRelease),
    /// Build the same commit twice (the second time without cache) and compare the digests.
    VerifyReproducible(VerifyReproducible),
    /// Scan the published images again with today's database and report what is found.
    Rescan(Rescan),
    /// Put the release-page section `verify-release` wrote into the GitHub release of the tag,
    /// replacing the section an earlier run put there.
    ReleaseNotes(ReleaseNotes),
    /// Check the repository's protections on GitHub: a tag ruleset over `v*`, immutable
    /// releases, the `release` environment's tag rule, a read-only default workflow token,
    /// public packages. Exits non-zero when one is missing or unreadable, unless --warn-only.
    CheckRepo(CheckRepo),
    /// Withdraw a bad release without deleting anything: a signed statement on its index and
    /// chart, and the floating tags step back to the highest release still eligible.
    Withdraw(Withdraw),
}

/// Which release: the version and where its image lives.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Release version, e.g. v1.2.3 (default in GitHub Actions: the release tag).
    #[arg(long)]
    pub version: Option<String>,
    /// Image repository, registry host included.
    #[arg(long, default_value = DEFAULT_IMAGE_REPOSITORY)]
    pub repository: String,
    /// Platforms of the image (the Dockerfile builds linux/amd64 and linux/arm64).
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_PLATFORMS.iter().map(|p| p.to_string()))]
    pub platforms: Vec<String>,
}

/// Where the output goes, and whether anything runs.
#[derive(Args, Debug, Clone)]
pub struct Output {
    /// Where reports, layouts and records go (default: <source>/target/release).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Print the plan (every step and command) and run nothing; touches no network.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the plan as JSON to this file (`-` for standard output) and run nothing.
    #[arg(long, value_name = "FILE")]
    pub plan_json: Option<PathBuf>,
    /// After a successful run, write how long each step took to this file, as JSON (what
    /// `cargo xtask bench` reads).
    #[arg(long, value_name = "FILE")]
    pub timings: Option<PathBuf>,
}

/// The git checkout a release is built from.
#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    /// The git checkout to release (default: this repository).
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// Build the commit even though the working tree has uncommitted changes (they are not
    /// in the image).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Release without an entry for this version in CHANGELOG.md: for fixtures and
    /// emergencies only; the plan says so, and the chart lists no changes.
    #[arg(long)]
    pub skip_changelog: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    /// Dockerfile, relative to --source.
    #[arg(long, default_value = "Dockerfile")]
    pub dockerfile: PathBuf,
    /// Build context, relative to --source.
    #[arg(long, default_value = ".")]
    pub context: PathBuf,
    #[arg(long, value_enum, default_value = "auto")]
    pub cache: CacheMode,
    /// The cache's scope (GitHub Actions cache) or tag (registry cache): releases keep one of
    /// their own, which pull requests cannot write.
    #[arg(long, default_value = "kube9-operator")]
    pub cache_scope: String,
    /// Read the build cache, never write it: what releases and pull requests do, so that only
    /// the main branch's cache job writes (on GitHub the cache is read-only on any event but a
    /// push to a branch anyway).
    #[arg(long)]
    pub cache_read_only: bool,
    /// Extra build arguments (KEY=VALUE).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// A base image from a mirror: IMAGE=docker-image://MIRROR (the Dockerfile keeps naming
    /// the public image). Default: KUBE9_BUILD_CONTEXTS, several separated by spaces.
    #[arg(long = "build-context")]
    pub build_contexts: Vec<String>,
    /// Add provenance attestations to the index (they change its digest on every build).
    #[arg(long)]
    pub provenance: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ScanArgs {
    /// The lowest severity that fails the scan gate.
    #[arg(long, value_enum, default_value = "CRITICAL")]
    pub severity: Severity,
    /// Largest allowed compressed size of one platform's image, in MB (10^6 bytes).
    #[arg(long, default_value_t = 200)]
    pub size_budget_mb: u64,
    #[command(flatten)]
    pub db: DbArgs,
    /// The image carries no Rust binary: do not require the scan to list Rust packages.
    #[arg(long)]
    pub no_rust_binary: bool,
}

/// Trivy's vulnerability database.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// A mirror of Trivy's vulnerability database (default: TRIVY_DB_REPOSITORY).
    #[arg(long)]
    pub trivy_db_repository: Option<String>,
    /// Where Trivy keeps its database between runs (default: TRIVY_CACHE_DIR, else
    /// <source>/target/trivy-cache).
    #[arg(long)]
    pub trivy_cache_dir: Option<PathBuf>,
    /// The oldest vulnerability database the gate accepts, in hours.
    #[arg(long, default_value_t = MAX_DB_AGE_HOURS)]
    pub max_db_age: u64,
    /// Judge with a database of any age (test environments, whose database is a fixture;
    /// also KUBE9_ALLOW_STALE_DB=true).
    #[arg(long, action = ArgAction::SetTrue)]
    pub allow_stale_db: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SignArgs {
    /// Publish without signatures and attestations (only for registries that cannot hold
    /// them); otherwise COSIGN_PRIVATE_KEY/COSIGN_PASSWORD or GitHub's OIDC identity sign.
    #[arg(long)]
    pub no_sign: bool,
}

/// Whether the release is a pre-release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Prerelease {
    True,
    False,
    /// The GitHub release of the tag says (GitHub's API, with GITHUB_TOKEN).
    Github,
}

/// GitHub's view of the release.
#[derive(Args, Debug, Clone)]
pub struct GithubRelease {
    /// Marked as a pre-release on GitHub: no floating tag moves, the chart is a pre-release.
    /// `github` asks the GitHub release of the tag (a run started by hand).
    #[arg(long, value_enum, default_value = "false")]
    pub prerelease: Prerelease,
    /// Require the checkout to be the version's tag (refs/tags/<version>), as on GitHub.
    #[arg(long)]
    pub require_tag: bool,
    /// The commit the GitHub release names (github.sha); the tag must be that commit.
    #[arg(long, requires = "require_tag")]
    pub expect_commit: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ChartArgs {
    /// Where the chart is pushed; it lands at <this>/kube9-operator.
    #[arg(long, default_value = DEFAULT_CHART_REPOSITORY)]
    pub chart_repository: String,
    /// The chart's source directory, relative to --source.
    #[arg(long, default_value = "charts/kube9-operator")]
    pub chart: PathBuf,
    /// Seconds the chart step waits for the image.
    #[arg(long, default_value_t = 600)]
    pub wait_timeout: u64,
    /// Longest pause between two looks at the registry, in seconds.
    #[arg(long, default_value_t = 10)]
    pub poll_interval: u64,
}

/// The image, from the checkout to its signatures: what `release-image` and `release` share.
#[derive(Args, Debug, Clone)]
pub struct ImageArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub scan: ScanArgs,
    #[command(flatten)]
    pub sign: SignArgs,
    #[command(flatten)]
    pub github: GithubRelease,
}

#[derive(Args, Debug, Clone)]
pub struct ReleaseImage {
    #[command(flatten)]
    pub image: ImageArgs,
    /// Build, check and scan, but publish nothing (pull requests): nothing is signed either,
    /// so no signer is needed.
    #[arg(long)]
    pub no_push: bool,
    /// Publish all but the floating tags (`latest`, `1`, `1.2`); a re-run moves them. The
    /// release workflow attests build provenance in between.
    #[arg(long)]
    pub hold_floating_tags: bool,
    /// The workflow's attest step's `attestation-id` output (empty when it did not run):
    /// GitHub holds this index's build provenance, so the floating tags need not wait for the
    /// registry to show it.
    #[arg(long, value_name = "ID", default_value = "")]
    pub provenance_attested: String,
}

#[derive(Args, Debug, Clone)]
pub struct ReleaseChart {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub chart: ChartArgs,
    #[command(flatten)]
    pub sign: SignArgs,
    #[command(flatten)]
    pub github: GithubRelease,
    /// The image index digest the image step published (default: from image.json, if any);
    /// the registry must serve exactly this digest.
    #[arg(long)]
    pub image_digest: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct Release {
    #[command(flatten)]
    pub image: ImageArgs,
    #[command(flatten)]
    pub chart: ChartArgs,
    /// Whether the image and chart must be pullable without a login, checked last.
    #[arg(long, value_enum, default_value = "require")]
    pub public_check: PublicCheck,
}

#[derive(Args, Debug, Clone)]
pub struct VerifyRelease {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub output: Output,
    /// Where the chart was pushed.
    #[arg(long, default_value = DEFAULT_CHART_REPOSITORY)]
    pub chart_repository: String,
    /// The public key of a key-signed release (cosign.pub; default: KUBE9_COSIGN_PUBLIC_KEY);
    /// without one the signatures must be the release workflow's keyless ones.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The GitHub repository whose release workflow signed (keyless), `owner/name` (default:
    /// GITHUB_REPOSITORY, else alto9/kube9-operator).
    #[arg(long)]
    pub github_repository: Option<String>,
    /// Whether the image and chart must be pullable without a login.
    #[arg(long, value_enum, default_value = "require")]
    pub public_check: PublicCheck,
    /// The git checkout whose history holds the release's commit: its `security/vex.json`
    /// says which VEX statements the index must carry (default: this repository).
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// Platforms to pull by tag and run as a node would (default: every platform; this
    /// machine's natively, the others under QEMU); `none` for an image without the operator.
    #[arg(long, value_delimiter = ',')]
    pub run_platform: Vec<String>,
    /// Marked as a pre-release on GitHub: it takes no floating tag, so none is checked;
    /// `github` asks the GitHub release of the tag.
    #[arg(long, value_enum, default_value = "false")]
    pub prerelease: Prerelease,
    #[command(flatten)]
    pub earlier: EarlierJobs,
}

/// What the release's earlier jobs recorded, for the report and the release page (their
/// step outputs on GitHub; empty values are not known).
#[derive(Args, Debug, Clone, Default)]
pub struct EarlierJobs {
    /// When the version tags were published (RFC 3339), the image job's `published-at`.
    #[arg(long, value_name = "TIME")]
    pub published_at: Option<String>,
    /// When the image was served on every platform, the chart job's `image-served-at`.
    #[arg(long, value_name = "TIME")]
    pub image_served_at: Option<String>,
    /// When the chart was served, the chart job's `chart-served-at`.
    #[arg(long, value_name = "TIME")]
    pub chart_served_at: Option<String>,
    /// The image job's scan record (its `scan` output, JSON).
    #[arg(long, value_name = "JSON")]
    pub image_scan: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct VerifyReproducible {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub output: Output,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Args, Debug, Clone)]
pub struct Rescan {
    /// Image repository, registry host included.
    #[arg(long, default_value = DEFAULT_IMAGE_REPOSITORY)]
    pub repository: String,
    /// How many minor lines are supported: the newest release of each is scanned, with latest.
    #[arg(long, default_value_t = 3)]
    pub minors: usize,
    /// Findings of this severity or above are reported (issue per image version).
    #[arg(long, value_enum, default_value = "HIGH")]
    pub severity: Severity,
    /// The checkout whose `security/vex.json` the rescan applies (default: this repository).
    #[arg(long)]
    pub source: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Args, Debug, Clone)]
pub struct ReleaseNotes {
    /// Release version, e.g. v1.2.3 (default in GitHub Actions: the release tag).
    #[arg(long)]
    pub version: Option<String>,
    /// The section `verify-release` wrote (`release-notes.md`, or its `notes` output).
    #[arg(long)]
    pub file: PathBuf,
    /// Say what would be written where, and touch neither the file nor GitHub.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CheckRepo {
    /// Image repository whose GHCR package must be public, registry host included.
    #[arg(long, default_value = DEFAULT_IMAGE_REPOSITORY)]
    pub repository: String,
    /// Where the chart is pushed; its package <this>/kube9-operator must be public.
    #[arg(long, default_value = DEFAULT_CHART_REPOSITORY)]
    pub chart_repository: String,
    /// Report what is missing or unreadable as warnings and exit 0: what the release workflow
    /// passes, since its token cannot read every setting and a first release has no packages.
    #[arg(long)]
    pub warn_only: bool,
    /// Say which requests would be made, and make none.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug, Clone)]
pub struct Withdraw {
    /// The release to withdraw, e.g. v1.2.3.
    #[arg(long)]
    pub version: String,
    /// Why (required, unless --undo): signed into the statement, shown by verify-release.
    /// Empty is not given (the workflow's optional input).
    #[arg(long)]
    pub reason: Option<String>,
    /// The release to install instead: higher, published and not withdrawn. Empty is not
    /// given.
    #[arg(long = "use", value_name = "VERSION")]
    pub replacement: Option<String>,
    /// Lift the withdrawal: a later statement says so, and the floating tags return to what
    /// the normal rules give (`--undo false`, the workflow's unticked box, withdraws).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
    pub undo: bool,
    /// Image repository, registry host included.
    #[arg(long, default_value = DEFAULT_IMAGE_REPOSITORY)]
    pub repository: String,
    /// Where the chart was pushed; the statement goes on <this>/kube9-operator too.
    #[arg(long, default_value = DEFAULT_CHART_REPOSITORY)]
    pub chart_repository: String,
    #[command(flatten)]
    pub output: Output,
}

/// Parses the command line as `P`; if clap refuses a value after `--version` that begins with
/// `-` (it reads `-rc.1` as a flag), the error says how to pass it, so that the version check
/// can say what is wrong with it.
pub fn parse<P: Parser>() -> P {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    P::try_parse_from(&args).unwrap_or_else(|e| {
        if let Some(hint) = hyphen_value_hint(&e, &args) {
            let _ = e.print();
            eprintln!("\n  hint: {hint}");
            std::process::exit(e.exit_code());
        }
        e.exit()
    })
}

/// The hint for `--version -x`, which clap reports as an unexpected argument `-x`.
pub fn hyphen_value_hint(e: &clap::Error, args: &[std::ffi::OsString]) -> Option<String> {
    if e.kind() != clap::error::ErrorKind::UnknownArgument {
        return None;
    }
    let value = args
        .windows(2)
        .find(|w| w[0] == "--version" && w[1].to_string_lossy().starts_with('-'))?[1]
        .to_string_lossy()
        .into_owned();
    Some(format!(
        "a version that begins with `-` is read as a flag; give it as `--version={}`",
        kube9_release::text::shown(&value)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(args: &[&str]) -> Option<String> {
        let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        let e = Kube9Release::try_parse_from(&args).err()?;
        hyphen_value_hint(&e, &args)
    }

    #[test]
    fn a_version_that_begins_with_a_hyphen_gets_the_equals_form() {
        assert_eq!(
            hint(&[
                "kube9-release",
                "release",
                "--version",
                "-1.2.3",
                "--dry-run"
            ])
            .unwrap(),
            "a version that begins with `-` is read as a flag; give it as `--version=-1.2.3`"
        );
        // Escaped like every typed value.
        assert!(hint(&[
            "k",
            "release-notes",
            "--version",
            "-\u{202e}1",
            "--file",
            "f"
        ])
        .unwrap()
        .contains("`--version=-\\u{202e}1`"));
        // The equals form reaches the version check; other mistakes keep clap's own error.
        assert!(Kube9Release::try_parse_from(["k", "release", "--version=-1.2.3"]).is_ok());
        assert_eq!(hint(&["k", "release", "--version", "--dry-run"]), None);
        assert_eq!(hint(&["k", "release", "--bogus"]), None);
    }
}
