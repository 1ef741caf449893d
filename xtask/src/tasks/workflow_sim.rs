//! `cargo xtask workflow-sim`: a GitHub workflow run here by act, against the local
//! environment, with stand-ins for the actions it uses. Run it before changing a workflow.

use anyhow::{bail, Context, Result};

use crate::devenv::localenv::{self, EnvState, AUTH_USER};
use crate::devenv::workflow_sim::{self, Event, RunOptions, Sim, SimEnv};
use crate::devenv::{self, setup};
use crate::flags::{self, SimEvent};
use crate::release::workspace;

impl flags::WorkflowSim {
    pub fn run(self) -> Result<()> {
        for line in setup::run()? {
            eprintln!("  {line}");
        }
        let env = localenv::up(&devenv::local_env_dir(), true)?;
        let sim = Sim::new(
            &workspace::root().join("target/workflow-sim"),
            sim_env(&env)?,
        )?;
        if self.fixture_app {
            sim.use_fixture_app(false)?;
        }
        sim.tag(&self.tag)?;
        let event = match self.event {
            SimEvent::Release => Event::Release {
                tag: self.tag.clone(),
                prerelease: self.prerelease,
            },
            SimEvent::Dispatch => Event::Dispatch {
                version: self.tag.clone(),
                prerelease: self.prerelease,
            },
            SimEvent::PullRequest => Event::PullRequest,
        };
        let (image, charts) = repositories(&env);
        let vars = [
            ("IMAGE_REPOSITORY", image.as_str()),
            ("CHART_REPOSITORY", charts.as_str()),
            ("TRIVY_DB_REPOSITORY", env.trivy_db_repository.as_str()),
            // The simulation's registry wants a login for every pull: warn, do not fail.
            ("PUBLIC_CHECK", "warn"),
        ];
        let job = (self.event == SimEvent::PullRequest).then_some("image");
        let options = RunOptions {
            vars: &vars,
            job,
            env: &[],
        };
        let run = sim.run(&event, &options)?;
        println!("\n{}", run.summary());
        println!("published to {image} and {charts}");
        if !run.success {
            bail!("the workflow failed (its log is above)");
        }
        Ok(())
    }
}

/// The environment's registry behind a login, its credential as GITHUB_TOKEN.
fn sim_env(env: &EnvState) -> Result<SimEnv> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    Ok(SimEnv {
        registry: env.auth_registry.address(),
        actor: AUTH_USER.into(),
        token: read(&env.auth_password_file)?,
        trivy_db_repository: env.trivy_db_repository.clone(),
        build_contexts: env.build_contexts.clone(),
        docker_host: env.docker_host.clone(),
        cosign_key: read(&env.cosign.private_key)?,
        cosign_password: read(&env.cosign.password)?,
        cosign_public_key: env.cosign.public_key.clone(),
        // Nothing answers there: a failed gate's issue is written to a file and warned about.
        github_api: "http://127.0.0.1:9".into(),
        target_dir: workflow_sim::runner_target_dir()?,
    })
}

/// A repository path of this run's own, so runs never see each other's tags.
fn repositories(env: &EnvState) -> (String, String) {
    let stamp = jiff::Timestamp::now().as_second();
    let base = format!("{}/workflow-sim/{stamp}", env.auth_registry.address());
    (
        format!("{base}/kube9-operator"),
        format!("oci://{base}/charts"),
    )
}
