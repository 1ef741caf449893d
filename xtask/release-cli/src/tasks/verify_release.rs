//! `verify-release`: what a user checks before trusting a release, and the last job of every
//! release on GitHub.

use anyhow::{Context, Result};

use super::inputs;
use crate::flags;
use kube9_release::config::Config;
use kube9_release::plan::verify::{self, VerifyInputs};
use kube9_release::registry::Repository;
use kube9_release::sign::Verifier;

impl flags::VerifyRelease {
    pub fn run(self) -> Result<()> {
        let config = Config::get();
        let release = inputs::release_version(self.target.version.as_deref(), config)?;
        let key = self.key.clone().or(config.cosign_public_key.clone());
        let repository = self
            .github_repository
            .clone()
            .unwrap_or(config.github.repository.clone());
        let verifier = match key {
            Some(public_key) => Verifier::Key { public_key },
            None => Verifier::release_workflow(&repository, &release.tag()),
        };
        let cwd = std::env::current_dir()?;
        let inputs = VerifyInputs {
            platforms: self.target.platforms()?,
            image: self.target.repository()?,
            charts: Repository::parse(&self.chart_repository).context("--chart-repository")?,
            verifier,
            signatures: true,
            github_repository: repository,
            github_token: config.github.token.clone(),
            public_check: self.public_check,
            out_dir: self.output.dir(&cwd),
            credentials: config.registry.clone(),
            release,
        };
        let plan = verify::plan(&inputs);
        let credentials = inputs.credentials.clone();
        super::show_then_run(&self.output, &plan, credentials, config.actions.clone())?;
        Ok(())
    }
}
