//! The command line of `cargo xtask`, in one place (rust-analyzer's xtask keeps its `flags`
//! the same way): the release commands, as `kube9-release` has them, and the developer
//! environment's. `impl flags::<Command> { fn run(self) }` lives in `tasks/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use kube9_release_cli::flags as release;

/// Release automation for the kube9-operator: the same commands on a laptop and in GitHub Actions.
#[derive(Parser)]
#[command(name = "cargo xtask")]
pub struct Xtask {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Build, scan, publish, sign and verify the multi-platform image.
    ReleaseImage(release::ReleaseImage),
    /// Publish (and sign) the Helm chart for an image that is already published.
    ReleaseChart(release::ReleaseChart),
    /// The image, the chart, then the checks a user would run: stops at the first failure.
    Release(ReleaseLocal),
    /// Check a published release: tags, platforms, labels, signatures, SBOMs, the chart's pin.
    VerifyRelease(release::VerifyRelease),
    /// Build the same commit twice (the second time without cache) and compare the digests.
    VerifyReproducible(release::VerifyReproducible),
    /// Scan the published images again with today's database and report what is found.
    Rescan(release::Rescan),
    /// Put the release-page section `verify-release` wrote into the GitHub release of the tag.
    ReleaseNotes(release::ReleaseNotes),
    /// Check the repository's protections on GitHub (tag ruleset, immutable releases, the
    /// `release` environment, the default workflow token, public packages).
    CheckRepo(release::CheckRepo),
    /// Withdraw a bad release without deleting anything (`--undo` lifts it).
    Withdraw(WithdrawLocal),
    /// Check the tools a release needs and say how to fix what is missing.
    Doctor(Doctor),
    /// Install what the release and its tests need (Debian 12; idempotent).
    Setup(Setup),
    /// Start, stop or show the local environment (Docker engine, registries, Trivy database).
    Env(Env),
    /// The whole test suite: setup, environment, fmt, clippy, every test.
    Ci(Ci),
    /// Measure build speed, cache, size and publish cost; writes docs/benchmarks.md.
    Bench(Bench),
    /// Run a GitHub workflow here with act, against the local environment.
    WorkflowSim(WorkflowSim),
    /// Render the chart's Chart.yaml and values.yaml from their templates for development.
    ChartSync(ChartSync),
}

/// `release`, and `--local`: into the local environment, which it starts.
#[derive(Args, Debug, Clone)]
pub struct ReleaseLocal {
    #[command(flatten)]
    pub release: release::Release,
    /// Release into a local registry that this command starts (with the whole local
    /// environment); it stays up afterwards so the result can be pulled: `cargo xtask env down`.
    #[arg(long)]
    pub local: bool,
}

/// `withdraw`, and `--local`: in the local environment, with its key.
#[derive(Args, Debug, Clone)]
pub struct WithdrawLocal {
    #[command(flatten)]
    pub withdraw: release::Withdraw,
    /// Withdraw from the local environment's registry (started if it is not up), signing
    /// with its key.
    #[arg(long)]
    pub local: bool,
}

#[derive(Args, Debug, Clone)]
pub struct Doctor {}

#[derive(Args, Debug, Clone)]
pub struct Setup {}

#[derive(Args, Debug, Clone)]
pub struct Env {
    #[arg(value_enum, default_value = "status")]
    pub action: EnvAction,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EnvAction {
    Up,
    Down,
    Status,
    /// Empty the build cache of the environment's engine and remove the registry seed (the
    /// environment must be up).
    Prune,
}

#[derive(Args, Debug, Clone)]
pub struct Ci {
    /// Test groups not to run (comma separated): registry, helm, trivy, docker, workflows, act.
    #[arg(long, value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Do not install anything; fail if a tool is missing.
    #[arg(long)]
    pub no_install: bool,
}

#[derive(Args, Debug, Clone)]
pub struct Bench {
    /// Runs of each quick measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Pairs of cold builds compared (old Dockerfile, new; one platform, both).
    #[arg(long, default_value_t = 2)]
    pub pairs: usize,
    /// The release whose build the current one is compared with: a tag or any git revision
    /// (default: the latest release tag, `v*`, before HEAD).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Where the table is written.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub output: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct WorkflowSim {
    /// The workflow's event: `release` (release.yml), `dispatch` (release.yml by hand) or
    /// `pull-request` (ci.yml's image job).
    #[arg(value_enum)]
    pub event: SimEvent,
    /// The release tag the event names (it is created in the simulated checkout).
    #[arg(long, default_value = "v1.2.3")]
    pub tag: String,
    /// Mark the GitHub release (of a dispatch: the tag's) as a pre-release.
    #[arg(long)]
    pub prerelease: bool,
    /// The ref a dispatch is started from (default: the tag, `refs/tags/<tag>`; e.g.
    /// `refs/heads/main` to see it refused).
    #[arg(long)]
    pub git_ref: Option<String>,
    /// Build the small fixture app instead of the operator (seconds instead of minutes).
    #[arg(long)]
    pub fixture_app: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimEvent {
    Release,
    Dispatch,
    PullRequest,
}

#[derive(Args, Debug, Clone)]
pub struct ChartSync {}
