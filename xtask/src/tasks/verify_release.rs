//! `cargo xtask verify-release`: what a user checks before trusting a release, and the last
//! step of every release on GitHub.

use anyhow::{Context, Result};

use super::inputs;
use crate::flags;
use crate::release::github::Actions;
use crate::release::plan::verify::{self, VerifyInputs};
use crate::release::registry::{Credentials, Repository};
use crate::release::sign::Verifier;

impl flags::VerifyRelease {
    pub fn run(self) -> Result<()> {
        let actions = Actions::from_env();
        let release = inputs::release_version(self.target.version.as_deref(), actions.as_ref())?;
        let verifier = match &self.key {
            Some(key) => Verifier::Key {
                public_key: key.clone(),
            },
            None => Verifier::release_workflow(&self.github_repository, &release.tag()),
        };
        let cwd = std::env::current_dir()?;
        let inputs = VerifyInputs {
            platforms: self.target.platforms()?,
            image: self.target.repository()?,
            charts: Repository::parse(&self.chart_repository).context("--chart-repository")?,
            verifier,
            public_check: self.public_check,
            out_dir: self.output.dir(&cwd),
            credentials: Credentials::from_env(),
            release,
        };
        let plan = verify::plan(&inputs);
        super::show_then_run(&self.output, &plan, inputs.credentials.clone(), actions)?;
        Ok(())
    }
}
