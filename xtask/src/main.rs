use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use xtask::ci::{self, CiArgs};
use xtask::release_chart::ChartArgs;
use xtask::release_image::ImageArgs;
use xtask::{chart, github, localenv, release_chart, release_image, setup, tools, workspace};

/// Release automation for the kube9-operator: the same commands on a laptop and in GitHub Actions.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build, scan and publish the multi-platform image.
    ReleaseImage(ImageArgs),
    /// Publish the Helm chart for an image that is already published.
    ReleaseChart(ChartArgs),
    /// The image, then the chart: stops at the first failure.
    Release(ReleaseArgs),
    /// Build the same commit twice (the second time without cache) and compare the digests.
    VerifyReproducible(ImageArgs),
    /// Check the tools a release needs and say how to fix what is missing.
    Doctor,
    /// Install what the release and its tests need (Debian 12; idempotent).
    Setup,
    /// Start, stop or show the local environment (Docker engine, registries, Trivy database).
    Env {
        #[arg(value_enum, default_value = "status")]
        action: EnvAction,
    },
    /// The whole test suite: setup, environment, fmt, clippy, every test.
    Ci(CiArgs),
    /// Measure build speed, cache, size and publish cost; writes docs/benchmarks.md.
    Bench(xtask::bench::BenchArgs),
    /// Render the chart's Chart.yaml and values.yaml from their templates for development.
    ChartSync,
}

#[derive(clap::Args)]
struct ReleaseArgs {
    #[command(flatten)]
    image: ImageArgs,
    /// Where the chart is pushed; it lands at <this>/kube9-operator.
    #[arg(long, default_value = xtask::DEFAULT_CHART_REPOSITORY)]
    chart_repository: String,
    /// Seconds the chart step waits for the image.
    #[arg(long, default_value_t = 600)]
    wait_timeout: u64,
    /// Release into a local registry that this command starts (with the whole local
    /// environment); it stays up afterwards so the result can be pulled: `cargo xtask env down`.
    #[arg(long)]
    local: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EnvAction {
    Up,
    Down,
    Status,
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::ReleaseImage(args) => {
            release_image::run(&args)?;
        }
        Command::ReleaseChart(args) => {
            release_chart::run(&args)?;
        }
        Command::Release(args) => release(args)?,
        Command::VerifyReproducible(args) => {
            xtask::reproducible::run(&args)?;
        }
        Command::Doctor => {
            if !tools::doctor() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Setup => {
            for line in setup::run()? {
                println!("{line}");
            }
        }
        Command::Env { action } => {
            let dir = ci::env_dir();
            match action {
                EnvAction::Up => {
                    localenv::up(&dir, true)?;
                    ci::print_env(&dir)?;
                }
                EnvAction::Down => localenv::down(&dir)?,
                EnvAction::Status => ci::print_env(&dir)?,
            }
        }
        Command::Ci(args) => ci::run(&args)?,
        Command::Bench(args) => xtask::bench::run(&args)?,
        Command::ChartSync => {
            let dir = workspace::root().join("charts").join(chart::CHART_NAME);
            let data = chart::ChartData::development(
                workspace::operator_version(),
                xtask::DEFAULT_IMAGE_REPOSITORY,
            );
            chart::write_stamped(&dir, &dir, &data)?;
            println!(
                "rendered {} from their templates",
                chart::STAMPED.join(" and ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn release(mut args: ReleaseArgs) -> Result<()> {
    if args.local {
        for line in setup::run()? {
            eprintln!("  {line}");
        }
        let dir = ci::env_dir();
        let state = localenv::up(&dir, true)?;
        // The tools and the engine of the local environment, for this process and its children.
        for (k, v) in state.vars() {
            std::env::set_var(k, v);
        }
        let registry = state.registry.address();
        args.image.repository = format!("{registry}/alto9/kube9-operator");
        args.chart_repository = format!("oci://{registry}/alto9/charts");
        args.image.trivy_db_repository = Some(state.trivy_db_repository.clone());
        args.image
            .build_args
            .extend(state.base_image_args.iter().cloned());
    }
    let image = &args.image;
    let chart = ChartArgs {
        version: image.version.clone(),
        repository: image.repository.clone(),
        chart_repository: args.chart_repository.clone(),
        platforms: image.platforms.clone(),
        chart: "charts/kube9-operator".into(),
        source: image.source.clone(),
        out_dir: image.out_dir.clone(),
        image_digest: None,
        wait_timeout: args.wait_timeout,
        poll_interval: 10,
        dry_run: image.dry_run,
    };
    if image.dry_run {
        println!("== step 1 of 2: image");
        release_image::run(image)?;
        println!("\n== step 2 of 2: chart (after the image is served)");
        release_chart::run(&chart)?;
        return Ok(());
    }
    let record = release_image::run(image)?;
    if image.no_push {
        println!("--no-push: the chart step needs a published image and was not run");
        return Ok(());
    }
    let record = record.expect("a run that is not a dry run yields a record");
    let chart_record = release_chart::run(&chart)?;
    println!("\nreleased {} and its chart:", record.version);
    println!("  docker pull {}@{}", record.repository, record.digest);
    let plain_http = if args.local { " --plain-http" } else { "" };
    println!(
        "  helm install kube9-operator oci://{} --version {}{plain_http}",
        chart_record.chart, chart_record.version
    );
    if args.local {
        println!("the local environment stays up for that; stop it with: cargo xtask env down");
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            github::report_error(&e);
            ExitCode::FAILURE
        }
    }
}
