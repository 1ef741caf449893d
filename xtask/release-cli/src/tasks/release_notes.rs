//! `release-notes`: the release page's section, put into the GitHub release of the tag by the
//! release workflow's last job (`permissions: contents: write`, nothing else).

use anyhow::{ensure, Context, Result};

use super::inputs;
use crate::flags;
use kube9_release::config::Config;
use kube9_release::{notes, releases};

impl flags::ReleaseNotes {
    pub fn run(self) -> Result<()> {
        let config = Config::get();
        let release = inputs::release_version(self.version.as_deref(), config)?;
        let file = self.file.display();
        if self.dry_run {
            println!(
                "release page: {file} as the release tool's section of the GitHub release of {} \
                 in {} (GET releases/tags/{}, then PATCH its body, replacing an earlier section)",
                release.tag(),
                config.github.repository,
                release.tag()
            );
            return Ok(());
        }
        let section = std::fs::read_to_string(&self.file)
            .with_context(|| format!("cannot read {file}: verify-release writes it"))?;
        let section = section.trim();
        ensure!(
            section.starts_with(notes::BEGIN) && section.ends_with(notes::END),
            "{file} is not a release-page section written by verify-release (it begins and \
             ends with its markers): re-run the verify job, then this one"
        );
        let found = releases::release_of_tag(&config.github, &release.tag())?;
        let old = found.body.clone().unwrap_or_default();
        let body = notes::replace_section(&old, section);
        if body == old {
            println!("the GitHub release of {} already says this", release.tag());
            return Ok(());
        }
        releases::set_body(&config.github, &found, &body)?;
        println!(
            "the GitHub release of {} now says how to install and verify it",
            release.tag()
        );
        Ok(())
    }
}
