//! `cargo xtask release`: the image, then the chart, then the checks a user would run, as one
//! plan. `--local` starts the local environment first and releases into its registry.

use anyhow::{Context, Result};

use super::inputs::{self, ChartFlags, ImageFlags};
use crate::devenv::localenv::{self, EnvState};
use crate::devenv::{self, setup};
use crate::flags;
use crate::release::cmd::{Cmd, Secret};
use crate::release::github::Actions;
use crate::release::plan::chart::{ChartFacts, ChartInputs};
use crate::release::plan::image::{ImageFacts, ImageInputs};
use crate::release::plan::verify::{PublicCheck, VerifyInputs};
use crate::release::plan::{self, Plan, Step, INDEX_DIGEST};
use crate::release::registry::{Registry, Repository, Retry};
use crate::release::sign::{Signer, Verifier};
use crate::release::{facts, source};

impl flags::Release {
    pub fn run(self) -> Result<()> {
        let actions = Actions::from_env();
        let release = inputs::release_version(self.target.version.as_deref(), actions.as_ref())?;
        let env = if self.local && !self.output.offline() {
            Some(local_environment()?)
        } else {
            None
        };
        let signer = match &env {
            Some(env) if !self.sign.no_sign => Some(local_signer(env)?),
            _ => inputs::signer(&self.sign, actions.as_ref(), self.output.offline())?,
        };
        let flags = self.image_flags();
        let mut image = inputs::image_inputs(&flags, &release, actions.as_ref(), signer.clone())?;
        let mut chart = inputs::chart_inputs(&self.chart_flags(), &release, None, signer)?;
        if let Some(env) = &env {
            use_local_environment(env, &mut image, &mut chart)?;
        }
        let (image_facts, chart_facts) = if self.output.offline() {
            (ImageFacts::default(), ChartFacts::default())
        } else {
            source::require_clean(&image.build.source, self.source.allow_dirty)?;
            self.github.check(&image.build.source, &release)?;
            let registry = Registry::new(
                image.repository.clone(),
                image.credentials.as_ref(),
                Retry::default(),
            );
            (
                facts::image(&registry, &release)?,
                super::release_chart::chart_facts(&chart)?,
            )
        };
        let plan = release_plan(
            &image,
            &image_facts,
            &chart,
            &chart_facts,
            self.public_check,
        )?;
        let outcome =
            super::show_then_run(&self.output, &plan, image.credentials.clone(), actions)?;
        if let Some(outcome) = outcome {
            let digest = outcome
                .bindings
                .get(INDEX_DIGEST)
                .cloned()
                .unwrap_or_default();
            print_result(&image, &chart, &digest, self.local);
        }
        Ok(())
    }

    fn image_flags(&self) -> ImageFlags<'_> {
        ImageFlags {
            target: &self.target,
            output: &self.output,
            source: &self.source,
            build: &self.build,
            scan: &self.scan,
            github: &self.github,
            push: true,
        }
    }

    fn chart_flags(&self) -> ChartFlags<'_> {
        ChartFlags {
            target: &self.target,
            output: &self.output,
            source: &self.source,
            chart: &self.chart,
            github: &self.github,
        }
    }
}

/// The image's steps, the chart's, then verification (stopping at the first failure).
pub fn release_plan(
    image: &ImageInputs,
    image_facts: &ImageFacts,
    chart: &ChartInputs,
    chart_facts: &ChartFacts,
    public_check: PublicCheck,
) -> Result<Plan> {
    let mut plan =
        plan::image::plan(image, image_facts)?.then(plan::chart::plan(chart, chart_facts));
    let (key_step, verifier) = verifier(image);
    plan.steps.extend(key_step);
    let verify = VerifyInputs {
        release: image.build.release.clone(),
        image: image.repository.clone(),
        charts: chart.charts.clone(),
        platforms: image.build.platforms.clone(),
        verifier,
        public_check,
        out_dir: image.build.out_dir.clone(),
        credentials: image.credentials.clone(),
    };
    let verify = plan::verify::plan(&verify);
    let no_signatures = image.signer.is_none();
    Ok(Plan {
        steps: plan
            .steps
            .into_iter()
            .chain(
                verify
                    .steps
                    .into_iter()
                    .filter(|s| !(no_signatures && is_signature_check(s))),
            )
            .collect(),
        notes: plan
            .notes
            .into_iter()
            .chain([String::new(), verify.title])
            .collect(),
        ..plan
    })
}

fn is_signature_check(step: &Step) -> bool {
    matches!(step, Step::Check { cmd, .. } if cmd.program == "cosign")
}

/// How the release's own signatures are checked: the public half of the signing key (derived
/// into the output directory), or the release workflow's keyless identity.
fn verifier(image: &ImageInputs) -> (Option<Step>, Verifier) {
    match &image.signer {
        Some(Signer::Key { key, password }) => {
            let public_key = image.build.out_dir.join("cosign.pub");
            let cmd = Cmd::new("cosign")
                .args(["public-key", "--key", "env://COSIGN_PRIVATE_KEY"])
                .opt("--outfile", public_key.display().to_string())
                .secret_env("COSIGN_PRIVATE_KEY", key.clone())
                .secret_env("COSIGN_PASSWORD", password.clone());
            (
                Some(Step::run("public key", cmd)),
                Verifier::Key { public_key },
            )
        }
        _ => {
            let repository = std::env::var("GITHUB_REPOSITORY")
                .unwrap_or_else(|_| "alto9/kube9-operator".into());
            (
                None,
                Verifier::release_workflow(&repository, &image.build.release.tag()),
            )
        }
    }
}

fn local_environment() -> Result<EnvState> {
    for line in setup::run()? {
        eprintln!("  {line}");
    }
    localenv::up(&devenv::local_env_dir(), true)
}

/// Everything a release into the local environment differs in: its registry, its engine, the
/// stand-ins for the public base images, its fixture database (judged at any age: it is a
/// fixture, kept in the environment's own cache), and its signing key.
fn use_local_environment(
    env: &EnvState,
    image: &mut ImageInputs,
    chart: &mut ChartInputs,
) -> Result<()> {
    let registry = env.registry.address();
    image.repository = Repository::parse(&format!("{registry}/alto9/kube9-operator"))?;
    chart.image = image.repository.clone();
    chart.charts = Repository::parse(&format!("oci://{registry}/alto9/charts"))?;
    image
        .build
        .build_contexts
        .extend(env.build_contexts.iter().cloned());
    image.build.docker_host = env.docker_host.clone();
    image.db.repository = Some(env.trivy_db_repository.clone());
    image.db.cache_dir = env.trivy_cache_dir();
    image.db.max_age_hours = None;
    image.notify.image = image.repository.to_string();
    Ok(())
}

/// The local environment's key pair, read from its private files.
fn local_signer(env: &EnvState) -> Result<Signer> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    Ok(Signer::Key {
        key: Secret::new(read(&env.cosign.private_key)?),
        password: Secret::new(read(&env.cosign.password)?),
    })
}

fn print_result(image: &ImageInputs, chart: &ChartInputs, digest: &str, local: bool) {
    let plain_http = if chart.charts.is_loopback() {
        " --plain-http"
    } else {
        ""
    };
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
