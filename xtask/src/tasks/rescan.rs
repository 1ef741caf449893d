//! `cargo xtask rescan`: the supported published images, scanned again with today's database;
//! what is found reaches the Security tab (SARIF) and the developers (an issue per version).

use anyhow::{Context, Result};

use crate::flags;
use crate::release::github::Actions;
use crate::release::layout;
use crate::release::notify::GithubIssues;
use crate::release::plan::rescan::{self, Published, RescanInputs};
use crate::release::registry::{Credentials, Registry, Repository, Retry};
use crate::release::scan::TrivyDb;
use crate::release::version;

impl flags::Rescan {
    pub fn run(self) -> Result<()> {
        let actions = Actions::from_env();
        let repository = Repository::parse(&self.repository).context("--repository")?;
        let credentials = Credentials::from_env();
        let cwd = std::env::current_dir()?;
        let images = if self.output.offline() {
            Vec::new()
        } else {
            let registry =
                Registry::new(repository.clone(), credentials.as_ref(), Retry::default());
            self.published(&registry)?
        };
        let inputs = RescanInputs {
            repository,
            images,
            db: TrivyDb {
                repository: self.trivy_db_repository.clone().filter(|r| !r.is_empty()),
                cache_dir: self
                    .trivy_cache_dir
                    .clone()
                    .unwrap_or_else(|| cwd.join("target/trivy-cache")),
                max_age_hours: (!self.allow_stale_db).then_some(self.max_db_age),
            },
            severity: self.severity,
            out_dir: self
                .output
                .out_dir
                .clone()
                .unwrap_or_else(|| cwd.join("target/rescan")),
            github: actions.as_ref().and(GithubIssues::from_env()),
        };
        let plan = rescan::plan(&inputs);
        super::show_then_run(&self.output, &plan, credentials, actions)?;
        Ok(())
    }

    /// The supported releases in the registry, with their digests and platforms.
    fn published(&self, registry: &Registry) -> Result<Vec<Published>> {
        let tags = registry.tags()?;
        let versions = version::published_versions(tags.iter().map(String::as_str));
        let mut images = Vec::new();
        for v in rescan::supported(&versions, self.minors) {
            let tag = format!("v{v}");
            let (bytes, digest) = registry
                .manifest(&registry.repository.tag(&tag))?
                .with_context(|| format!("{}:{tag} vanished", registry.repository))?;
            images.push(Published {
                version: v.to_string(),
                digest,
                platforms: layout::index_platforms(&bytes)?
                    .into_iter()
                    .map(|p| p.0)
                    .collect(),
            });
        }
        if images.is_empty() {
            println!("{} holds no release to rescan", registry.repository);
        }
        Ok(images)
    }
}
