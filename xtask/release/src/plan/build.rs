//! The build of an image: from the commit to the buildx command that builds every platform
//! into an OCI layout, and `verify-reproducible`'s plan (the same commit built twice). Pure.

use anyhow::Result;
use std::path::PathBuf;

use super::{Mode, Plan};
use crate::buildx::{BuildPlan, Cache};
use crate::metadata::ImageMetadata;
use crate::source::Source;
use crate::step::{ArchiveSource, Build, CheckBuild, FreshDir, SameBuild, Step, UnpackSource};
use crate::version::ReleaseVersion;

/// What is built: the commit, how, and where the layout goes.
#[derive(Debug, Clone)]
pub struct BuildInputs {
    pub release: ReleaseVersion,
    /// GitHub's pre-release flag: no floating tags even for a plain version, and listed as
    /// a pre-release like a semver one.
    pub prerelease: bool,
    pub source: Source,
    pub platforms: Vec<String>,
    /// Relative to the source.
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub build_args: Vec<(String, String)>,
    pub build_contexts: Vec<String>,
    /// The images the Dockerfile's `FROM` lines pull, as written (pinned by digest).
    pub base_images: Vec<String>,
    pub cache: Cache,
    pub provenance: bool,
    pub docker_host: Option<String>,
    pub out_dir: PathBuf,
}

impl BuildInputs {
    pub(super) fn metadata(&self) -> ImageMetadata {
        ImageMetadata::new(&self.release, &self.source.commit, self.source.commit_time)
    }

    fn context_dir(&self) -> PathBuf {
        self.out_dir.join("context")
    }

    /// The buildx command writing the layout to `output`, with `cache`.
    pub fn command(&self, output: PathBuf, cache: Cache) -> BuildPlan {
        let mut build_args = vec![
            ("VERSION".to_string(), self.release.plain()),
            ("COMMIT".to_string(), self.source.commit.clone()),
            (
                "SOURCE_DATE_EPOCH".to_string(),
                self.source.commit_time.to_string(),
            ),
            // The Dockerfile compiles every platform's binary in one stage, once.
            ("PLATFORMS".to_string(), self.platforms.join(",")),
        ];
        build_args.extend(self.build_args.iter().cloned());
        BuildPlan {
            dockerfile: self.context_dir().join(&self.dockerfile),
            context: self.context_dir().join(&self.context),
            platforms: self.platforms.clone(),
            build_args,
            build_contexts: self.build_contexts.clone(),
            labels: self.metadata().labels(),
            index_annotations: crate::artifacthub::project_image_annotations(
                &self.release.tag(),
                self.prerelease || self.release.is_prerelease(),
            ),
            cache,
            provenance: self.provenance,
            output,
            docker_host: self.docker_host.clone(),
            source_date_epoch: self.source.commit_time,
        }
    }

    /// The SLSA v1 provenance predicate of this build, less the run's times (the attesting
    /// step adds them): what was built, from which commit and base images, how, and by which
    /// tool. Only inputs, so that two builds of one commit attest the same thing.
    pub fn provenance(&self) -> serde_json::Value {
        let source = crate::metadata::SOURCE_URL;
        let mut dependencies = vec![serde_json::json!({
            "uri": format!("git+{source}@{}", self.release.git_ref()),
            "digest": {"gitCommit": self.source.commit},
        })];
        dependencies.extend(self.base_images.iter().filter_map(|from| {
            let served_by = self.build_contexts.iter().find_map(|c| {
                c.strip_prefix(from.as_str())
                    .and_then(|rest| rest.strip_prefix('='))
            });
            crate::provenance::base_image(from, served_by)
        }));
        serde_json::json!({
            "buildDefinition": {
                "buildType": format!("{source}/xtask/release-image@v1"),
                "externalParameters": {
                    "version": self.release.tag(),
                    "platforms": self.platforms,
                    "dockerfile": self.dockerfile,
                    "context": self.context,
                },
                "internalParameters": {
                    "buildArgs": self.build_args,
                    "SOURCE_DATE_EPOCH": self.source.commit_time,
                },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {"id": format!("{source}/xtask/release-cli#key-signed")},
            },
        })
    }

    /// The commit's tree, unpacked as the build context.
    pub(super) fn source_steps(&self) -> Vec<Step> {
        let archives = self.out_dir.join("source");
        let archive = archives.join(format!("{}.tar", self.source.commit));
        let context = self.context_dir();
        vec![
            Step::FreshDir(FreshDir { path: archives }),
            Step::ArchiveSource(ArchiveSource {
                source: self.source.clone(),
                archive: archive.clone(),
            }),
            Step::FreshDir(FreshDir {
                path: context.clone(),
            }),
            Step::UnpackSource(UnpackSource {
                archive,
                dest: context,
            }),
        ]
    }

    /// One build of the unpacked commit into `layout`, checked to hold every platform.
    pub(super) fn build_steps(&self, layout: PathBuf, cache: Cache) -> Vec<Step> {
        vec![
            Step::FreshDir(FreshDir {
                path: layout.clone(),
            }),
            Step::Build(Build {
                plan: self.command(layout.clone(), cache),
            }),
            Step::CheckBuild(CheckBuild {
                layout,
                platforms: self.platforms.clone(),
            }),
        ]
    }
}

/// `verify-reproducible`: the commit built twice, the second time without any cache, and the
/// two index digests compared.
pub fn reproducible(build: &BuildInputs) -> Result<Plan> {
    let first = build.out_dir.join("reproducible-1");
    let second = build.out_dir.join("reproducible-2");
    let mut steps = build.source_steps();
    steps.extend(build.build_steps(first.clone(), build.cache.clone()));
    steps.extend(build.build_steps(second.clone(), Cache::None));
    steps.push(Step::SameBuild(SameBuild { first, second }));
    Plan {
        title: format!(
            "Build commit {} twice, the second time without cache",
            build.source.commit
        ),
        notes: Vec::new(),
        mode: Mode::StopAtFirstFailure,
        steps,
    }
    .checked()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::samples;

    #[test]
    fn a_reproducibility_check_builds_twice_the_second_time_without_cache_and_compares() {
        let build = samples::image_inputs().build;
        let plan = reproducible(&build).unwrap();
        // The source once, then two builds into their own layouts, then the comparison.
        let source: Vec<String> = build.source_steps().iter().map(Step::kind).collect();
        let built = ["fresh-dir", "build", "check-build"];
        let kinds = plan.kinds();
        assert_eq!(kinds[..source.len()], source[..]);
        assert_eq!(kinds[source.len()..source.len() + 3], built);
        assert_eq!(kinds[source.len() + 3..source.len() + 6], built);
        assert_eq!(kinds[source.len() + 6..], ["same-build"]);
        let builds: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| s.kind() == "build")
            .map(Step::describe)
            .collect();
        assert!(!builds[0].contains("--no-cache"), "{}", builds[0]);
        assert!(builds[1].contains("--no-cache"), "{}", builds[1]);
        assert!(builds[0].contains("reproducible-1") && builds[1].contains("reproducible-2"));
        let text = plan.to_string();
        assert!(
            text.contains("the second time without cache") && text.contains("c0ffee"),
            "{text}"
        );
    }
}
