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
    /// Render the chart's Chart.yaml and values.yaml from their templates for development.
    ChartSync,
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

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            github::report_error(&e);
            ExitCode::FAILURE
        }
    }
}
