//! What the release is built from: the commit, its time, and whether the tree is clean.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cmd::Cmd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub commit: String,
    /// Committer time in seconds since the epoch: the SOURCE_DATE_EPOCH of the build.
    pub commit_time: i64,
    pub clean: bool,
}

fn git(repo: &Path) -> Cmd {
    Cmd::new("git").opt("-C", repo.display().to_string())
}

pub fn read(repo: &Path) -> Result<Source> {
    let commit = git(repo)
        .args(["rev-parse", "--verify", "HEAD"])
        .read()
        .with_context(|| format!("{} is not a git checkout with a commit", repo.display()))?
        .trim()
        .to_string();
    let commit_time = git(repo)
        .args(["show", "-s", "--format=%ct", "HEAD"])
        .read()?
        .trim()
        .parse()
        .context("git printed no commit time")?;
    let status = git(repo)
        .args(["status", "--porcelain", "--untracked-files=normal"])
        .read()?;
    Ok(Source {
        commit,
        commit_time,
        clean: status.trim().is_empty(),
    })
}

/// A release is built from a commit; uncommitted changes would make the image untraceable.
pub fn require_clean(source: &Source, allow_dirty: bool) -> Result<()> {
    if !source.clean && !allow_dirty {
        bail!(
            "the working tree has uncommitted changes, so the image would not match commit {}: \
             commit or stash them (or pass --allow-dirty for a local test build)",
            source.commit
        );
    }
    Ok(())
}
