//! `cargo xtask rescan`: the supported published images, scanned again with today's database;
//! what is found reaches the Security tab (SARIF) and the developers (an issue per version).

use anyhow::{Context, Result};

use super::inputs;
use crate::flags;
use kube9_release::attached;
use kube9_release::config::Config;
use kube9_release::layout;
use kube9_release::notify::GithubIssues;
use kube9_release::plan::rescan::{self, Published, RescanInputs};
use kube9_release::registry::{Registry, Repository, Retry};
use kube9_release::version;
use kube9_release::workspace;

/// A withdrawn version and its statement's words.
type Withdrawn = (String, String);

impl flags::Rescan {
    pub fn run(self) -> Result<()> {
        let config = Config::get();
        let repository = Repository::parse(&self.repository).context("--repository")?;
        let credentials = config.registry.clone();
        let cwd = std::env::current_dir()?;
        let (images, withdrawn) = if self.output.offline() {
            // Without the registry, the supported versions are one placeholder image: the
            // plan shows (and declares) what each of them gets.
            let each = Published {
                version: "<version>".into(),
                digest: "<index-digest>".into(),
                platforms: kube9_release::buildx::DEFAULT_PLATFORMS
                    .iter()
                    .map(|p| p.to_string())
                    .collect(),
            };
            (vec![each], Vec::new())
        } else {
            let registry =
                Registry::new(repository.clone(), credentials.as_ref(), Retry::default());
            self.published(&registry)?
        };
        let checkout = self.source.clone().unwrap_or_else(workspace::root);
        let vex = inputs::vex_inputs(&checkout, &repository)?;
        let inputs = RescanInputs {
            repository,
            images,
            db: inputs::trivy_db(&self.db, config, &cwd),
            severity: self.severity,
            out_dir: self
                .output
                .out_dir
                .clone()
                .unwrap_or_else(|| cwd.join("target/rescan")),
            github: config
                .actions
                .as_ref()
                .and(GithubIssues::from_config(&config.github)),
            vex: vex.map(|v| v.source),
            withdrawn,
        };
        let plan = rescan::plan(&inputs)?;
        super::show_then_run(&self.output, &plan, credentials, config.actions.clone())?;
        Ok(())
    }

    /// The supported releases in the registry that are not withdrawn, with their digests and
    /// platforms; and the withdrawn ones, with their statement's words.
    fn published(&self, registry: &Registry) -> Result<(Vec<Published>, Vec<Withdrawn>)> {
        let tags = registry.tags()?;
        let versions = version::published_versions(tags.iter().map(String::as_str));
        let statements = attached::withdrawals(registry, &tags)?;
        let withdrawn: Vec<Withdrawn> = statements
            .statements
            .iter()
            .filter(|(_, w)| w.withdrawn)
            .map(|(v, w)| (v.to_string(), w.summary()))
            .collect();
        for (v, summary) in &withdrawn {
            println!("{}:{v} is {summary}: not scanned", registry.repository);
        }
        let mut images = Vec::new();
        for v in rescan::supported_not_withdrawn(&versions, &statements.withdrawn(), self.minors) {
            // Every release has its plain version tag, whatever the git tag was.
            let tag = v.to_string();
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
        Ok((images, withdrawn))
    }
}
