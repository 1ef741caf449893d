//! `release`: the image, then the chart, then the checks a user would run, as one plan
//! (`kube9_release::plan::release`). `cargo xtask release --local` runs the same command
//! into a local environment it starts (`run_local`).

use anyhow::Result;

use super::inputs;
use crate::flags;
use kube9_release::config::Config;
use kube9_release::facts;
use kube9_release::plan::local::{self, LocalTarget};
use kube9_release::plan::release::{self, ReleaseFacts, ReleaseInputs};
use kube9_release::registry::{Registry, Retry};

impl flags::Release {
    pub fn run(self) -> Result<()> {
        self.run_with(None)
    }

    fn run_with(self, local: Option<&LocalTarget>) -> Result<()> {
        let config = Config::get();
        let output = &self.image.output;
        let mut inputs = self.inputs(config, local.is_some(), output.offline())?;
        if let Some(target) = local {
            inputs = local::into_local(&inputs, target);
        }
        // Checked in a dry run too: they need no network.
        self.check_source(&inputs)?;
        let facts = if output.offline() {
            ReleaseFacts::default()
        } else {
            read_facts(&inputs)?
        };
        let plan = release::plan(&inputs, &facts)?;
        let credentials = inputs.image.credentials.clone();
        let outcome = super::show_then_run(output, &plan, credentials, config.actions.clone())?;
        if let Some(outcome) = outcome {
            let digest = outcome.bindings.index.clone().unwrap_or_default();
            print_result(&inputs, &digest, local.is_some());
        }
        Ok(())
    }

    /// The inputs, checked; `offline` asks GitHub nothing (a pre-release is then assumed a
    /// release).
    fn inputs(&self, config: &Config, local: bool, offline: bool) -> Result<ReleaseInputs> {
        let args = &self.image;
        let release = inputs::release_version(args.target.version.as_deref(), config)?;
        let release_config = (&release, config);
        // A local release signs with the environment's key (`plan::local`).
        let signer = if local {
            None
        } else {
            inputs::signer(&args.sign, release_config, offline)?
        };
        let prerelease = inputs::prerelease(args.github.prerelease, release_config, offline)?;
        // The image step of a release is `release-image` without a flag of its own.
        let image = flags::ReleaseImage {
            image: args.clone(),
            no_push: false,
            hold_floating_tags: false,
            provenance_attested: String::new(),
        };
        let image = inputs::image_inputs(&image, prerelease, release_config, signer.clone())?;
        let chart_flags = (&args.target, &args.output, &args.source);
        let chart = inputs::chart_inputs(
            &self.chart,
            chart_flags,
            prerelease,
            release_config,
            None,
            signer,
        )?;
        Ok(ReleaseInputs {
            image,
            chart,
            public_check: self.public_check,
            github_repository: config.github.repository.clone(),
        })
    }

    fn check_source(&self, inputs: &ReleaseInputs) -> Result<()> {
        let build = &inputs.image.build;
        self.image
            .source
            .check(&build.source, &self.image.github, &build.release)
    }

    /// What `release --local` can check with no network and nothing started (the version,
    /// names, digests, the source, the changelog, `security/vex.json`): `cargo xtask` calls it
    /// before it installs tools or brings the local environment up, so a mistyped command
    /// fails in a moment.
    pub fn check_local(&self) -> Result<()> {
        let inputs = self.inputs(Config::get(), true, true)?;
        self.check_source(&inputs)
    }

    /// `release` into a local environment: the same plan, composed for `target`; the signer
    /// is the environment's key unless `--no-sign`.
    pub fn run_local(self, mut target: LocalTarget) -> Result<()> {
        if self.image.sign.no_sign {
            target.signer = None;
        }
        self.run_with(Some(&target))
    }
}

/// What the registries hold: asked first, so that a registry that is down or refuses the
/// token fails before anything is built.
fn read_facts(inputs: &ReleaseInputs) -> Result<ReleaseFacts> {
    let image = &inputs.image;
    let registry = Registry::new(
        image.repository.clone(),
        image.credentials.as_ref(),
        Retry::default(),
    );
    Ok(ReleaseFacts {
        image: facts::image(&registry, &image.build.release)?,
        chart: super::release_chart::chart_facts(&inputs.chart)?,
    })
}

fn print_result(inputs: &ReleaseInputs, digest: &str, local: bool) {
    let chart = &inputs.chart;
    let plain_http = if chart.charts.is_loopback() {
        " --plain-http"
    } else {
        ""
    };
    let image = &inputs.image;
    println!("\nreleased {} and its chart:", image.build.release);
    println!("  docker pull {}@{digest}", image.repository);
    println!(
        "  helm install kube9-operator {} --version {}{plain_http}",
        chart.helm().chart_repository().oci_url(),
        image.build.release.plain()
    );
    if local {
        println!("the local environment stays up for that; stop it with: cargo xtask env down");
    }
}
