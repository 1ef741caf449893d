//! The floating tags (`1`, `1.2`, `latest`): each names the highest release eligible for it,
//! that is neither withdrawn (by its latest withdrawal statement, `attached`) nor published as
//! a GitHub pre-release. They are moved by the `Registry` methods below, which live here and
//! not in `registry`: which release may hold a tag depends on the withdrawal statements that
//! `attached` reads, and `attached` reads them through `registry`.

use anyhow::{Context, Result};
use semver::Version;
use serde::Serialize;

use crate::layout::INDEX_MEDIA_TYPE;
use crate::registry::Registry;
use crate::version;

/// What happened to the floating tags of one release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Converged {
    /// Tags now on this release.
    pub taken: Vec<String>,
    /// Tags a higher release holds, with that release.
    pub left: Vec<(String, String)>,
    /// The release is withdrawn: it takes no floating tag.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
    /// The release was published as a GitHub pre-release: it takes no floating tag either.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub prerelease: bool,
}

/// Where a withdrawal (or its undo) left one floating tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FloatingMove {
    pub tag: String,
    /// The release it names now; `None`: no release is eligible, so it stayed where it was.
    pub to: Option<String>,
    /// Whether this run wrote it.
    pub moved: bool,
}

impl Registry {
    /// Copies what `from` names to the tag `to` (the same manifest bytes, so the same digest).
    fn copy_tag(&self, from: &str, to: &str) -> Result<String> {
        let (bytes, digest) = self
            .manifest(&self.repository.tag(from))?
            .with_context(|| format!("{}:{from} vanished", self.repository))?;
        self.put_manifest(&self.repository.tag(to), &bytes, INDEX_MEDIA_TYPE)?;
        Ok(digest)
    }

    /// The releases that may hold a floating tag right now: every published version less
    /// those whose latest withdrawal statement withdraws them and those published as GitHub
    /// pre-releases; and those withdrawn.
    pub fn eligible_versions(&self) -> Result<(Vec<Version>, Vec<Version>)> {
        let tags = self.tags()?;
        let published = version::published_versions(tags.iter().map(String::as_str));
        let withdrawals = crate::attached::withdrawals(self, &tags)?;
        Ok((
            version::eligible(&published, &withdrawals.not_floating()),
            withdrawals.withdrawn(),
        ))
    }

    /// Writes the floating tags `candidates` that `release` holds according to the tags read
    /// right now, then reads again: a tag that a higher release took meanwhile (two releases
    /// racing) is put back on the highest release, so `latest` never ends on an older one.
    /// Every release has its plain version tag (`1.2.3`), which is what a floating tag copies.
    /// A withdrawn release takes none (a re-run of it moves nothing).
    pub fn move_floating(&self, release: &Version, candidates: &[String]) -> Result<Converged> {
        let own_tag = release.to_string();
        let mut result = Converged::default();
        let (published, withdrawn) = self.eligible_versions()?;
        if withdrawn.contains(release) {
            result.withdrawn = true;
            return Ok(result);
        }
        if !published.contains(release) {
            anyhow::ensure!(
                self.digest_of(&own_tag)?.is_some(),
                "{own_tag} is missing from {}",
                self.repository
            );
            // Published as a GitHub pre-release (its index says so): it holds no floating
            // tag, whatever a later run was told.
            result.prerelease = true;
            return Ok(result);
        }
        for tag in candidates {
            match version::holder(tag, &published) {
                Some(h) if h == release => {
                    if self.digest_of(tag)? != self.digest_of(&own_tag)? {
                        self.copy_tag(&own_tag, tag)?;
                        eprintln!("    {}:{tag} -> {own_tag}", self.repository);
                    }
                    result.taken.push(tag.clone());
                }
                Some(h) => result.left.push((tag.clone(), h.to_string())),
                None => anyhow::bail!("{own_tag} is missing from {}", self.repository),
            }
        }
        let (published, _) = self.eligible_versions()?;
        for tag in result.taken.clone() {
            let holder = version::holder(&tag, &published);
            if let Some(h) = holder.filter(|h| *h != release) {
                self.copy_tag(&h.to_string(), &tag)?;
                eprintln!(
                    "    {}:{tag} back to {h}, released meanwhile",
                    self.repository
                );
                result.taken.retain(|t| *t != tag);
                result.left.push((tag, h.to_string()));
            }
        }
        Ok(result)
    }

    /// Puts each of `tags` on the highest release eligible for it now (a withdrawal's one
    /// step back, or an undo's return), twice: a release that moved a tag meanwhile is
    /// followed, not undone. A tag with no eligible release stays where it is.
    pub fn converge_floating(&self, tags: &[String]) -> Result<Vec<FloatingMove>> {
        let mut moves: Vec<FloatingMove> = tags
            .iter()
            .map(|tag| FloatingMove {
                tag: tag.clone(),
                to: None,
                moved: false,
            })
            .collect();
        for _ in 0..2 {
            let (published, _) = self.eligible_versions()?;
            for m in &mut moves {
                let Some(holder) = version::holder(&m.tag, &published) else {
                    continue;
                };
                let target = holder.to_string();
                let moved = self.digest_of(&m.tag)? != self.digest_of(&target)?;
                if moved {
                    self.copy_tag(&target, &m.tag)?;
                    eprintln!("    {}:{} -> {target}", self.repository, m.tag);
                }
                m.moved |= moved;
                m.to = Some(target);
            }
        }
        Ok(moves)
    }
}
