//! `check-repo`: whether the repository's settings protect the release's identity. Run by a
//! maintainer with a token that can read the repository's administration settings, and by
//! the release workflow's image job with `--warn-only` and what its token can read.

use anyhow::{bail, Result};

use crate::flags;
use kube9_release::chart::CHART_NAME;
use kube9_release::config::Config;
use kube9_release::github;
use kube9_release::protections::{self, Package, State};

impl flags::CheckRepo {
    pub fn run(self) -> Result<()> {
        let config = Config::get();
        let chart = format!(
            "{}/{CHART_NAME}",
            self.chart_repository.trim_end_matches('/')
        );
        let mut packages = Vec::new();
        for repository in [&self.repository, &chart] {
            match Package::of_repository(repository) {
                Some(p) => packages.push(p),
                None => println!(
                    "{:<9} package {}: not on ghcr.io, GitHub cannot say whether it is public",
                    "skipped",
                    kube9_release::text::shown(repository)
                ),
            }
        }
        if self.dry_run {
            for path in protections::requests(&config.github.repository, &packages) {
                println!("GET {}/{path}", config.github.url.trim_end_matches('/'));
            }
            return Ok(());
        }
        let answers = protections::gather(&config.github, &packages)?;
        let verdicts = protections::judge(&answers);
        println!("{}'s protections:", config.github.repository);
        for v in &verdicts {
            println!("{}", v.line());
        }
        let count = |of: fn(&State) -> bool| verdicts.iter().filter(|v| of(&v.state)).count();
        let missing = count(|s| matches!(s, State::Missing { .. }));
        let unknown = count(|s| matches!(s, State::Unreadable { .. }));
        if missing + unknown == 0 {
            println!("every protection is in place");
            return Ok(());
        }
        let summary = format!(
            "{missing} protection(s) of {} missing, {unknown} not readable with this token",
            verdicts.len()
        );
        if self.warn_only {
            github::warning(&format!(
                "{summary}; the release goes on (--warn-only): make the changes each line \
                 names, then run `cargo xtask check-repo` with a token that can read them"
            ));
            return Ok(());
        }
        bail!(
            "{summary}: make the changes each line names (or pass --warn-only, as the release \
             workflow does, to report without failing)"
        )
    }
}
