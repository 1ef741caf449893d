//! What catalogues read from the registry itself: Artifact Hub's repository metadata, the
//! `artifacthub-repo.yml` pushed as the `artifacthub.io` tag of a repository.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use super::needs::{Access, Needs};
use super::{Action, Cx};
use crate::artifacthub::{self, RepoMetadata};
use crate::layout::{self, MANIFEST_MEDIA_TYPE};
use crate::registry::Repository;

/// `artifacthub-repo.yml` under the `artifacthub.io` tag of `repository`, once: a tag that
/// already holds exactly this file is left alone.
#[derive(Debug, Clone, Serialize)]
pub struct PushRepoMetadata {
    pub repository: Repository,
    pub file: PathBuf,
}

impl Action for PushRepoMetadata {
    fn needs(&self) -> Needs {
        Needs::new().registry(Access::Write)
    }

    fn describe(&self) -> String {
        format!(
            "Artifact Hub metadata: {} as {}:{} (config {}, layer {}; skipped when it is there)",
            self.file.display(),
            self.repository,
            artifacthub::TAG,
            artifacthub::CONFIG_MEDIA_TYPE,
            artifacthub::LAYER_MEDIA_TYPE
        )
    }

    fn hint(&self) -> String {
        format!(
            "{} could not be pushed to {}:{}; the release is otherwise published, and \
             re-running it pushes the metadata",
            self.file.display(),
            self.repository,
            artifacthub::TAG
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let yml = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        RepoMetadata::parse(
            &self.file.display().to_string(),
            &String::from_utf8_lossy(&yml),
        )?;
        let (manifest, config) = artifacthub::manifest(&yml);
        let digest = layout::sha256(&manifest);
        let registry = cx.registry(&self.repository);
        if registry.digest_of(artifacthub::TAG)?.as_deref() == Some(digest.as_str()) {
            println!(
                "{}:{} already holds this metadata",
                self.repository,
                artifacthub::TAG
            );
            return Ok(());
        }
        registry.push_blob(&config)?;
        registry.push_blob(&yml)?;
        let tag = self.repository.tag(artifacthub::TAG);
        registry.put_manifest(&tag, &manifest, MANIFEST_MEDIA_TYPE)?;
        println!(
            "pushed {} as {}:{} ({digest})",
            self.file.display(),
            self.repository,
            artifacthub::TAG
        );
        Ok(())
    }
}
