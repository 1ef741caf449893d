//! `verify-release`: what a user checks before trusting a release, and the last job of every
//! release on GitHub.

use anyhow::{Context, Result};

use super::inputs;
use crate::flags;
use kube9_release::config::Config;
use kube9_release::plan::verify::{self, VerifyInputs};
use kube9_release::record::{ScanRecord, Timeline};
use kube9_release::registry::Repository;
use kube9_release::sign::Verifier;
use kube9_release::withdrawal::WithdrawnRelease;

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
        let platforms = self.target.platforms()?;
        let run_platforms = match self.run_platform.as_slice() {
            [] => platforms.clone(),
            [none] if none == "none" => Vec::new(),
            given => {
                kube9_release::buildx::check_platforms(given).context("--run-platform")?;
                given.to_vec()
            }
        };
        let (given, scan) = self.earlier.read()?;
        let prerelease =
            inputs::prerelease(self.prerelease, (&release, config), self.output.offline())?;
        let checkout = self
            .source
            .clone()
            .unwrap_or_else(kube9_release::workspace::root);
        // For the release page only: the release itself refused a version without its entry,
        // and a verification never fails for the changelog.
        let changes = inputs::changelog_entry(&checkout, &release, false)
            .ok()
            .flatten();
        let inputs = VerifyInputs {
            platforms,
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
            run_platforms,
            native_only: config.github_hosted,
            docker_host: None,
            given,
            scan,
            prerelease,
            checkout,
            changes,
            provenance: inputs::provenance(config),
        };
        let plan = verify::plan(&inputs)?;
        let credentials = inputs.credentials.clone();
        let outcome =
            super::show_then_run(&self.output, &plan, credentials, config.actions.clone())?;
        verdict(outcome)
    }
}

/// Everything verified; a withdrawn release still ends with its own error, and so its own
/// exit code (`withdrawal::EXIT_WITHDRAWN`).
fn verdict(outcome: Option<kube9_release::execute::Outcome>) -> Result<()> {
    match outcome.and_then(|o| o.bindings.withdrawal) {
        Some(w) if w.withdrawn => Err(WithdrawnRelease(w).into()),
        _ => Ok(()),
    }
}

impl flags::EarlierJobs {
    /// The timeline and scan the earlier jobs passed on; a time that is not RFC 3339 is an
    /// error, an empty one is not known.
    fn read(&self) -> Result<(Timeline, Option<ScanRecord>)> {
        let time = |flag: &str, value: &Option<String>| -> Result<Option<String>> {
            let given = value.clone().filter(|v| !v.is_empty());
            if let Some(v) = &given {
                let shown = kube9_release::text::shown(v);
                let refusal = || format!("{flag} `{shown}` is not an RFC 3339 time");
                v.parse::<jiff::Timestamp>().with_context(refusal)?;
            }
            Ok(given)
        };
        let timeline = Timeline {
            published: time("--published-at", &self.published_at)?,
            image_served: time("--image-served-at", &self.image_served_at)?,
            chart_served: time("--chart-served-at", &self.chart_served_at)?,
            verified: None,
        };
        let scan = self.image_scan.as_deref().filter(|v| !v.is_empty());
        let scan = scan
            .map(serde_json::from_str)
            .transpose()
            .context("--image-scan is not the image job's `scan` output")?;
        Ok((timeline, scan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube9_release::execute::Outcome;
    use kube9_release::withdrawal::{exit_code, Withdrawal, EXIT_WITHDRAWN};

    fn outcome(withdrawn: Option<bool>) -> Option<Outcome> {
        let mut o = Outcome::default();
        o.bindings.withdrawal = withdrawn.map(|withdrawn| Withdrawal {
            version: "1.2.3".into(),
            reason: "leaks a debug flag".into(),
            replacement: Some("1.2.4".into()),
            withdrawn,
            time: "2026-12-07T01:00:00Z".into(),
        });
        Some(o)
    }

    #[test]
    fn a_verified_withdrawn_release_exits_with_its_own_code() {
        let e = verdict(outcome(Some(true))).unwrap_err();
        assert_eq!(exit_code(&e), EXIT_WITHDRAWN);
        assert!(
            e.to_string()
                .contains("1.2.3 is withdrawn: leaks a debug flag; use 1.2.4"),
            "{e}"
        );
        // Lifted, never withdrawn, or only planned: an ordinary success.
        verdict(outcome(Some(false))).unwrap();
        verdict(outcome(None)).unwrap();
        verdict(None).unwrap();
    }
}
