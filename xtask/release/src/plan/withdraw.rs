//! The plan of `withdraw`: from the inputs and what the registry holds, the signed statement
//! on the index and the chart, then the floating tags' one explicit step back (an undo: their
//! return). Nothing is deleted. The input checks come first, so that a bad input stops before
//! anything is signed or moved; a re-run attests nothing already said and moves only what is
//! not yet where the rules put it. Pure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use semver::Version;

use super::{Mode, Plan};
use crate::config::GithubApi;
use crate::credentials::Credentials;
use crate::registry::Repository;
use crate::sign::{Cosign, Signer};
use crate::step::{
    AttestWithdrawal, Bound, LoginClient, MarkGithubRelease, MoveWithdrawnTags, Step, Subject,
};
use crate::version::{self, ReleaseVersion};
use crate::withdrawal::{Withdrawal, Withdrawals};

/// Everything `withdraw` is asked to do.
#[derive(Debug, Clone)]
pub struct WithdrawInputs {
    pub release: ReleaseVersion,
    /// Why; required to withdraw, optional for an undo.
    pub reason: Option<String>,
    /// `--use`: the release to install instead.
    pub replacement: Option<ReleaseVersion>,
    pub undo: bool,
    pub repository: Repository,
    /// The chart's repository (`<charts>/kube9-operator`).
    pub chart: Repository,
    pub signer: Signer,
    pub credentials: Option<Credentials>,
    pub out_dir: PathBuf,
    /// GitHub's API with a token (`GITHUB_TOKEN`): the GitHub release of the tag is marked.
    pub github: Option<GithubApi>,
}

/// What the registry holds; `tags: None` when it was not asked (a dry run).
#[derive(Debug, Clone, Default)]
pub struct WithdrawFacts {
    pub tags: Option<Vec<String>>,
    /// The index under the version's plain tag.
    pub index: Option<String>,
    /// The chart of this version.
    pub chart: Option<String>,
    /// The latest statement of every release that has one.
    pub withdrawals: Withdrawals,
    /// What each floating tag in the version's scope, and each release's plain tag, names.
    pub digests: BTreeMap<String, String>,
}

/// The checks that need no registry: a dry run makes them too.
pub fn check_inputs(inputs: &WithdrawInputs) -> Result<()> {
    let v = &inputs.release;
    let reason = inputs.reason.as_deref().map(str::trim).unwrap_or_default();
    if !inputs.undo && reason.is_empty() {
        bail!(
            "no reason given for withdrawing {v}: pass --reason \"...\" (it is signed into the \
             statement and shown to everyone who verifies {v})"
        );
    }
    if let Some(r) = &inputs.replacement {
        if inputs.undo {
            bail!(
                "--use names a replacement, which an undo has none of: leave --use out with --undo"
            );
        }
        if r.semver() <= v.semver() {
            bail!(
                "the replacement {r} is not higher than the withdrawn {v}: name a later release \
                 with --use (or leave --use out)"
            );
        }
    }
    Ok(())
}

/// The plan of `withdraw`.
pub fn plan(inputs: &WithdrawInputs, facts: &WithdrawFacts) -> Result<Plan> {
    check_inputs(inputs)?;
    let v = inputs.release.semver();
    let plain = inputs.release.plain();
    let asked = facts.tags.is_some();
    let tags = facts.tags.as_deref().unwrap_or_default();
    let published = version::published_versions(tags.iter().map(String::as_str));
    if asked && (facts.index.is_none() || !published.contains(v)) {
        bail!(
            "{} was never released to {repo}: its tag {plain} is not there; check the version \
             (`skopeo list-tags docker://{repo}` lists what is published) and --repository",
            inputs.release,
            repo = inputs.repository,
        );
    }
    if let (Some(r), true) = (&inputs.replacement, asked) {
        if !published.contains(r.semver()) {
            bail!(
                "the replacement {r} was never released to {}: release it first, or name a \
                 published release with --use",
                inputs.repository
            );
        }
        if facts.withdrawals.is_withdrawn(r.semver()) {
            bail!(
                "the replacement {r} is itself withdrawn ({}): name a release that is not",
                facts
                    .withdrawals
                    .get(r.semver())
                    .map(Withdrawal::summary)
                    .unwrap_or_default()
            );
        }
    }
    let wanted = Withdrawal {
        version: plain.clone(),
        reason: inputs
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("the withdrawal is lifted")
            .to_string(),
        replacement: inputs.replacement.as_ref().map(ReleaseVersion::plain),
        withdrawn: !inputs.undo,
        time: String::new(),
    };
    let current = facts.withdrawals.get(v);
    // Unknown in a dry run: the plan shows the statement.
    let said = asked
        && match current {
            Some(c) => c.same_state(&wanted),
            // Never withdrawn: lifting it says nothing new.
            None => inputs.undo,
        };

    let mut notes = vec![format!(
        "{:<11}{}",
        if inputs.undo { "undo" } else { "withdraw" },
        match (current, asked) {
            (Some(c), _) => format!("{plain}, now {}", c.summary()),
            (None, true) => format!("{plain}, now not withdrawn"),
            (None, false) =>
                format!("{plain} (the registry was not asked whether it is withdrawn)"),
        }
    )];
    if !inputs.undo {
        notes.push(format!(
            "reason     {}",
            crate::text::one_line(&wanted.reason)
        ));
        notes.push(format!(
            "use        {}",
            wanted
                .replacement
                .as_deref()
                .unwrap_or("(no replacement named)")
        ));
    }
    notes.push("deleted    nothing: version tags, digests, chart, signatures stay".into());
    notes.push(format!("signing    {}", inputs.signer.describe()));
    let mut withdrawn_after = facts.withdrawals.withdrawn();
    withdrawn_after.retain(|x| x != v);
    withdrawn_after.extend((!inputs.undo).then(|| v.clone()));
    let floating = if inputs.release.is_prerelease() {
        Vec::new()
    } else {
        version::floating_candidates(v)
    };
    notes.extend(tag_notes(
        inputs,
        facts,
        &published,
        &withdrawn_after,
        &floating,
    ));

    // What `verify-release` will report, for the GitHub release's notice.
    let summary = (!inputs.undo).then(|| wanted.summary());
    let mut steps = Vec::new();
    if said {
        notes.push(format!(
            "statement  already attached ({}): not signed again",
            current.map_or("not withdrawn".into(), Withdrawal::summary)
        ));
    } else {
        let cosign = Cosign::for_repository(&inputs.repository, inputs.credentials.is_some());
        let credentials = inputs.credentials.as_ref();
        steps.extend(LoginClient::Cosign.login(&inputs.repository.host, credentials));
        let given = |d: &Option<String>, placeholder: &str| {
            Bound::Given(d.clone().unwrap_or_else(|| placeholder.into()))
        };
        let mut subjects = vec![Subject::new(
            &inputs.repository,
            given(&facts.index, "<index-digest>"),
        )];
        if facts.chart.is_some() || !asked {
            subjects.push(Subject::new(
                &inputs.chart,
                given(&facts.chart, "<chart-digest>"),
            ));
        } else {
            notes.push(format!(
                "chart      {}:{plain} is not published: the statement goes on the index only",
                inputs.chart
            ));
        }
        steps.push(Step::AttestWithdrawal(AttestWithdrawal {
            cosign,
            signer: inputs.signer.clone(),
            withdrawal: wanted,
            dir: inputs.out_dir.join("withdrawal"),
            subjects,
        }));
    }
    if !floating.is_empty() {
        steps.push(Step::MoveWithdrawnTags(MoveWithdrawnTags {
            repository: inputs.repository.clone(),
            version: plain.clone(),
            undo: inputs.undo,
            tags: floating,
        }));
    }
    match inputs
        .github
        .as_ref()
        .and_then(|g| Some((g, g.token.clone()?)))
    {
        Some((api, token)) => steps.push(Step::MarkGithubRelease(MarkGithubRelease {
            api_url: api.url.clone(),
            github_repository: api.repository.clone(),
            token,
            tag: inputs.release.tag(),
            summary,
        })),
        None => notes.push(format!(
            "github     the GitHub release of {} is not marked (no GITHUB_TOKEN)",
            inputs.release.tag()
        )),
    }
    Plan {
        title: format!(
            "{} {} of {}",
            if inputs.undo {
                "Lift the withdrawal of"
            } else {
                "Withdraw"
            },
            inputs.release,
            inputs.repository
        ),
        notes,
        mode: Mode::StopAtFirstFailure,
        steps,
    }
    .checked()
}

/// Each floating tag in the version's scope: where it is and where the withdrawal (or undo)
/// puts it, printed as a withdrawal move; one with no eligible release says it stays.
fn tag_notes(
    inputs: &WithdrawInputs,
    facts: &WithdrawFacts,
    published: &[Version],
    withdrawn_after: &[Version],
    floating: &[String],
) -> Vec<String> {
    if floating.is_empty() {
        return vec!["tags       none: a pre-release holds no floating tag".into()];
    }
    if facts.tags.is_none() {
        return vec![format!(
            "tags       {} (the registry was not asked: each goes to the highest eligible release \
             that is not withdrawn, or stays)",
            floating.join(" ")
        )];
    }
    let mut excluded = withdrawn_after.to_vec();
    excluded.extend(facts.withdrawals.marked_prereleases.iter().cloned());
    let eligible = version::eligible(published, &excluded);
    // What a tag names, as a release: the highest release whose plain tag has that digest.
    let names = |tag: &str| -> Option<String> {
        let digest = facts.digests.get(tag)?;
        published
            .iter()
            .filter(|p| facts.digests.get(&p.to_string()) == Some(digest))
            .max()
            .map(ToString::to_string)
    };
    let kind = if inputs.undo {
        "return"
    } else {
        "withdrawal move"
    };
    floating
        .iter()
        .map(|tag| {
            let now = names(tag).unwrap_or_else(|| "nothing".into());
            match version::holder(tag, &eligible).map(ToString::to_string) {
                Some(to) if to == now => format!("tags       {tag} stays on {to}"),
                Some(to) => format!("tags       {kind}: {tag} {now} -> {to}"),
                None => format!(
                    "tags       {tag} stays on {now}: no release is eligible for it \
                     (every other release in its scope is withdrawn or a GitHub pre-release)"
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
