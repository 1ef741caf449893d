//! What a release is built from: one commit of a git checkout. The build context is that
//! commit's tree (`git archive`), never the working tree, so that uncommitted files and the
//! modification times of a local checkout cannot reach an image layer.

use crate::version::tag_ref;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;

use crate::cmd::Cmd;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub dir: PathBuf,
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
        dir: repo.to_path_buf(),
        commit,
        commit_time,
        clean: status.trim().is_empty(),
    })
}

/// A release is built from a commit; uncommitted changes would not be in the image, so they
/// are refused unless the caller says they know (`--allow-dirty`).
pub fn require_clean(source: &Source, allow_dirty: bool) -> Result<()> {
    if !source.clean && !allow_dirty {
        bail!(
            "the working tree has uncommitted changes, which the image would not contain (it is \
             built from commit {}): commit or stash them, or pass --allow-dirty to build the \
             commit anyway",
            source.commit
        );
    }
    Ok(())
}

/// The commit a tag names, or `None` when the checkout has no such tag.
pub fn tag_commit(repo: &Path, tag: &str) -> Result<Option<String>> {
    let out = git(repo)
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{}^{{commit}}", tag_ref(tag)))
        .output()?;
    Ok(out.success.then(|| out.stdout.trim().to_string()))
}

/// On GitHub a release names its tag and commit: the checkout must be exactly that commit,
/// reached through the tag (a branch with the same name must not stand in for it).
pub fn require_release_commit(
    source: &Source,
    tag: &str,
    expected_commit: Option<&str>,
) -> Result<()> {
    let git_ref = tag_ref(tag);
    let tagged = tag_commit(&source.dir, tag)?.with_context(|| {
        format!(
            "the checkout has no tag {tag}: a release is built from its tag (check out \
             {git_ref}, e.g. actions/checkout with `ref: {git_ref}`)"
        )
    })?;
    ensure!(
        tagged == source.commit,
        "{git_ref} is commit {tagged}, but the checkout is {}: check out {git_ref}",
        source.commit
    );
    if let Some(expected) = expected_commit.filter(|c| !c.is_empty()) {
        ensure!(
            expected == source.commit,
            "the release names commit {expected}, but {git_ref} is {}: the tag moved \
             after the release was created; recreate the release for the tag's commit",
            source.commit
        );
    }
    Ok(())
}

/// `git archive` of the commit into `archive`: the exact tree of the commit, every file with
/// the commit's time.
pub fn archive_cmd(source: &Source, archive: &Path) -> Cmd {
    git(&source.dir)
        .args(["archive", "--format=tar"])
        .opt("--output", archive.display().to_string())
        .arg(&source.commit)
}

/// Unpacks the archive into a fresh directory, keeping the commit's times.
pub fn unpack_cmd(archive: &Path, dest: &Path) -> Cmd {
    Cmd::new("tar")
        .args(["--extract", "--same-permissions"])
        .opt("--file", archive.display().to_string())
        .opt("--directory", dest.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source {
            dir: "/src".into(),
            commit: "abc".into(),
            commit_time: 1,
            clean: true,
        }
    }

    #[test]
    fn the_build_context_is_the_commit_not_the_working_tree() {
        let archive = archive_cmd(&source(), Path::new("out/source.tar"));
        assert_eq!(
            archive.to_string(),
            "git -C /src archive --format=tar --output out/source.tar abc"
        );
        let unpack = unpack_cmd(Path::new("out/source.tar"), Path::new("out/context"));
        assert_eq!(
            unpack.to_string(),
            "tar --extract --same-permissions --file out/source.tar --directory out/context"
        );
    }

    #[test]
    fn a_dirty_tree_is_refused_with_the_way_out() {
        let dirty = Source {
            clean: false,
            ..source()
        };
        let err = require_clean(&dirty, false).unwrap_err().to_string();
        assert!(err.contains("--allow-dirty"), "{err}");
        assert!(require_clean(&dirty, true).is_ok());
    }
}
