//! `withdraw`: a bad release is withdrawn without breaking anyone who installed it. Nothing is
//! deleted; a signed statement goes on the index and the chart, then the floating tags take
//! their one explicit step back. `--undo` lifts it.

use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};

use crate::flags;
use kube9_release::attached;
use kube9_release::chart::CHART_NAME;
use kube9_release::config::Config;
use kube9_release::plan::local::LocalTarget;
use kube9_release::plan::withdraw::{self, WithdrawFacts, WithdrawInputs};
use kube9_release::registry::{Registry, Repository, Retry};
use kube9_release::sign::Signer;
use kube9_release::version::{self, ReleaseVersion};

/// The one ref a keyless withdrawal may be signed from: `verify-release` checks withdrawals
/// as the withdraw workflow on `main`.
const WITHDRAW_REF: &str = "refs/heads/main";

impl flags::Withdraw {
    pub fn run(self) -> Result<()> {
        self.run_with(None)
    }

    /// `target`: the local environment (`cargo xtask withdraw --local`): the same paths on its
    /// registry, signed with its key.
    pub fn run_with(self, local: Option<&LocalTarget>) -> Result<()> {
        let config = Config::get();
        let release = ReleaseVersion::parse(&self.version).context("--version")?;
        let replacement = self
            .replacement
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| ReleaseVersion::parse(r).context("--use"))
            .transpose()?;
        let mut repository = Repository::parse(&self.repository).context("--repository")?;
        let mut chart = Repository::parse(&self.chart_repository)
            .context("--chart-repository")?
            .child(CHART_NAME);
        if let Some(target) = local {
            repository.host = target.registry.clone();
            chart.host = target.registry.clone();
        }
        let offline = self.output.offline();
        let local_signer = local.and_then(|t| t.signer.clone());
        let signer = local_signer.map_or_else(|| Signer::from_config(config), Ok);
        let signer = super::inputs::keyless_if_offline(signer, offline)?;
        if let (Signer::Keyless { .. }, Some(actions)) = (&signer, config.actions.as_ref()) {
            let git_ref = actions.git_ref.as_deref().unwrap_or("an unknown ref");
            ensure!(
                offline || git_ref == WITHDRAW_REF,
                "this run would sign the withdrawal as {} at {}, but withdrawals are verified as \
                 the withdraw workflow at {WITHDRAW_REF}: run it from main, `gh workflow run \
                 withdraw.yml --ref main -f version=...`; nothing was signed or moved",
                actions.workflow_ref.as_deref().unwrap_or("the workflow"),
                kube9_release::text::shown(git_ref)
            );
        }
        let cwd = std::env::current_dir()?;
        let inputs = WithdrawInputs {
            release,
            reason: self.reason.clone(),
            replacement,
            undo: self.undo,
            repository,
            chart,
            signer,
            credentials: config.registry.clone(),
            out_dir: self.output.dir(&cwd),
            github: config.github.token.is_some().then(|| config.github.clone()),
        };
        // The checks that need no registry come first, so a bad input never waits on one.
        withdraw::check_inputs(&inputs)?;
        let facts = if offline {
            WithdrawFacts::default()
        } else {
            read_facts(&inputs)?
        };
        let plan = withdraw::plan(&inputs, &facts)?;
        super::show_then_run(
            &self.output,
            &plan,
            inputs.credentials.clone(),
            config.actions.clone(),
        )?;
        Ok(())
    }
}

/// The tags, the version's index and chart, every release's latest withdrawal statement, and
/// what each release and each floating tag in the version's scope names.
fn read_facts(inputs: &WithdrawInputs) -> Result<WithdrawFacts> {
    let credentials = inputs.credentials.as_ref();
    let registry = Registry::new(inputs.repository.clone(), credentials, Retry::default());
    let tags = registry.tags()?;
    let plain = inputs.release.plain();
    let index = if tags.contains(&plain) {
        registry.digest_of(&plain)?
    } else {
        None
    };
    let charts = Registry::new(inputs.chart.clone(), credentials, Retry::default());
    let chart = charts.digest_of(&plain)?;
    let withdrawals = attached::withdrawals(&registry, &tags)?;
    let mut digests = BTreeMap::new();
    let versions = version::published_versions(tags.iter().map(String::as_str));
    // Each release's plain version tag, then the floating tags in the version's scope (they
    // never share a name).
    let scope = version::floating_candidates(inputs.release.semver());
    let names = versions.iter().map(|v| v.to_string()).chain(scope);
    for tag in names.filter(|t| tags.contains(t)) {
        if let Some(d) = registry.digest_of(&tag)? {
            digests.insert(tag, d);
        }
    }
    Ok(WithdrawFacts {
        tags: Some(tags),
        index,
        chart,
        withdrawals,
        digests,
    })
}
