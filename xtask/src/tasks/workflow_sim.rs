//! `cargo xtask workflow-sim`: a GitHub workflow run here by act, against the local
//! environment, with stand-ins for the actions it uses. Run it before changing a workflow.

use anyhow::{bail, Result};

use crate::flags::{self, SimEvent};
use kube9_devenv::localenv;
use kube9_devenv::workflow_sim::{Event, RunOptions, Sim};
use kube9_devenv::{self as devenv, setup};
use kube9_release::workspace;

impl flags::WorkflowSim {
    pub fn run(self) -> Result<()> {
        for line in setup::run()? {
            eprintln!("  {line}");
        }
        let env = localenv::up(&devenv::local_env_dir(), true)?;
        let sim = Sim::new(&workspace::root().join("target/workflow-sim"), &env)?;
        if self.fixture_app {
            sim.use_fixture_app(false)?;
        }
        sim.tag(&self.tag)?;
        let event = match self.event {
            SimEvent::Release => Event::Release {
                tag: self.tag.clone(),
                prerelease: self.prerelease,
            },
            SimEvent::Dispatch => {
                // What `gh workflow run release.yml --ref <tag>` starts; GitHub's release of
                // the tag says whether it is a pre-release.
                sim.github().publish_release(&self.tag, self.prerelease);
                Event::Dispatch {
                    version: self.tag.clone(),
                    git_ref: self
                        .git_ref
                        .clone()
                        .unwrap_or(kube9_release::version::tag_ref(&self.tag)),
                }
            }
            SimEvent::PullRequest => Event::PullRequest,
        };
        let (image, charts) = repositories(sim.ghcr());
        let mut vars = vec![
            ("IMAGE_REPOSITORY", image.as_str()),
            ("CHART_REPOSITORY", charts.as_str()),
            ("TRIVY_DB_REPOSITORY", env.trivy_db_repository.as_str()),
            // The simulation's registry wants a login for every pull: warn, do not fail.
            ("PUBLIC_CHECK", "warn"),
        ];
        if self.fixture_app {
            // The fixture image is a file on `scratch`, with nothing to run.
            vars.push(("RUN_CHECK", "skip"));
        }
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

/// A repository path of this run's own in "GHCR", so runs never see each other's tags.
fn repositories(ghcr: &str) -> (String, String) {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{ghcr}/workflow-sim/{stamp}");
    (
        format!("{base}/kube9-operator"),
        format!("oci://{base}/charts"),
    )
}
