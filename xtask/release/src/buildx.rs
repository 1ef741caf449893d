//! The build plan: one `docker buildx build` for every platform into a local OCI layout.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::actions::Actions;
use crate::cmd::Cmd;
use crate::secret::Secret;

pub const DEFAULT_PLATFORMS: &[&str] = &["linux/amd64", "linux/arm64"];

/// The platforms the project's Dockerfile can build (its cross-compiling stage knows these).
pub const SUPPORTED_PLATFORMS: &[&str] = &["linux/amd64", "linux/arm64"];

/// Checks requested platforms against what the Dockerfile supports.
pub fn check_platforms(platforms: &[String]) -> Result<()> {
    if platforms.is_empty() {
        bail!("no platform requested: use --platforms linux/amd64,linux/arm64");
    }
    for p in platforms {
        if !SUPPORTED_PLATFORMS.contains(&p.as_str()) {
            bail!(
                "`{p}` is not a platform the Dockerfile builds: choose from {}",
                SUPPORTED_PLATFORMS.join(", ")
            );
        }
    }
    Ok(())
}

/// Where build cache comes from and goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheMode {
    /// The GitHub Actions cache on GitHub (when its runtime token is exposed); elsewhere the
    /// builder's own cache, which a laptop's engine keeps between builds.
    Auto,
    /// `type=gha` in the scope of `--cache-scope`, every layer (`mode=max`).
    Gha,
    /// `type=registry` in `<repository>-buildcache:<scope>`.
    Registry,
    /// `type=local` in target/buildx-cache, for builders that do not keep a cache themselves.
    Local,
    /// The builder's own cache only: nothing imported or exported.
    Builder,
    /// No cache at all.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Cache {
    /// The runtime token is the cache service's credential; only buildx is given it.
    /// `write`: whether this build exports to the cache, or only imports from it.
    Gha {
        scope: String,
        token: Secret,
        write: bool,
    },
    Registry {
        reference: String,
        write: bool,
    },
    Local {
        dir: PathBuf,
        write: bool,
    },
    Builder,
    None,
}

/// What a cache choice needs to know.
pub struct CacheInputs<'a> {
    pub mode: CacheMode,
    pub actions: Option<&'a Actions>,
    pub repository: &'a str,
    pub scope: &'a str,
    pub local_dir: &'a Path,
    /// `--cache-read-only`: import, never export.
    pub read_only: bool,
}

impl Cache {
    /// `auto` picks the GitHub cache only where it can work: a `run:` step sees the runtime
    /// token only if the workflow exposes it, and without it buildx fails the build.
    ///
    /// The GitHub cache is written only by a push to a branch (the main branch's cache job):
    /// a release (whose tag scope no later run can read) or a pull request that wrote a
    /// `mode=max` cache would evict the entries every release reads. So on any other event
    /// it is read-only whatever the flags say; `--cache-read-only` makes any cache so.
    pub fn choose(i: &CacheInputs) -> Result<Cache> {
        let gha = i.actions.and_then(|a| {
            let token = a.runtime_token.clone()?;
            let branch_push = a.event_name.as_deref() == Some("push")
                && a.git_ref
                    .as_deref()
                    .is_some_and(|r| r.starts_with("refs/heads/"));
            Some(Cache::Gha {
                scope: i.scope.to_string(),
                token,
                write: branch_push && !i.read_only,
            })
        });
        Ok(match (i.mode, gha) {
            (CacheMode::Auto | CacheMode::Gha, Some(gha)) => gha,
            (CacheMode::Gha, None) => bail!(
                "--cache gha needs ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL: expose them with \
                 crazy-max/ghaction-github-runtime, or use --cache local"
            ),
            // Exporting every layer to a directory costs more than a rebuild saves when the
            // builder keeps its own cache (measured: 93 s for the operator, docs/benchmarks.md).
            (CacheMode::Auto, None) | (CacheMode::Builder, _) => Cache::Builder,
            (CacheMode::Local, _) => Cache::Local {
                dir: i.local_dir.to_path_buf(),
                write: !i.read_only,
            },
            (CacheMode::Registry, _) => Cache::Registry {
                reference: format!("{}-buildcache:{}", i.repository, i.scope),
                write: !i.read_only,
            },
            (CacheMode::None, _) => Cache::None,
        })
    }

    fn apply(&self, cmd: Cmd) -> Cmd {
        match self {
            Cache::Gha {
                scope,
                token,
                write,
            } => cmd
                .arg(format!("--cache-from=type=gha,scope={scope}"))
                .args(write.then(|| {
                    format!("--cache-to=type=gha,scope={scope},mode=max,ignore-error=true")
                }))
                .secret_env("ACTIONS_RUNTIME_TOKEN", token.clone()),
            Cache::Registry { reference, write } => cmd
                .arg(format!("--cache-from=type=registry,ref={reference}"))
                .args(write.then(|| format!(
                    "--cache-to=type=registry,ref={reference},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"
                ))),
            // A local cache only grows when exported over itself; export beside it and swap.
            Cache::Local { dir, write } => cmd
                .arg(format!("--cache-from=type=local,src={}", dir.display()))
                .args(write.then(|| {
                    format!(
                        "--cache-to=type=local,dest={},mode=max",
                        staged_cache(dir).display()
                    )
                })),
            Cache::Builder => cmd,
            Cache::None => cmd.arg("--no-cache"),
        }
    }
}

pub fn staged_cache(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    dir.with_file_name(name)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildPlan {
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub platforms: Vec<String>,
    pub build_args: Vec<(String, String)>,
    /// `name=source` pairs: a base image served from a mirror while the Dockerfile keeps
    /// naming the public image (so that Dependabot can still update it).
    pub build_contexts: Vec<String>,
    pub labels: Vec<(String, String)>,
    /// Annotations of the index only (Artifact Hub's `io.artifacthub.package.*`).
    pub index_annotations: Vec<(String, String)>,
    pub cache: Cache,
    pub provenance: bool,
    pub output: PathBuf,
    /// The engine to use, when not the caller's default.
    pub docker_host: Option<String>,
    pub source_date_epoch: i64,
}

impl BuildPlan {
    pub fn command(&self) -> Cmd {
        let mut cmd = Cmd::new("docker")
            .args(["buildx", "build"])
            .opt("--file", self.dockerfile.display().to_string())
            .opt("--platform", self.platforms.join(","));
        for (k, v) in &self.build_args {
            cmd = cmd.opt("--build-arg", format!("{k}={v}"));
        }
        for c in &self.build_contexts {
            cmd = cmd.opt("--build-context", c);
        }
        for (k, v) in &self.labels {
            cmd = cmd.opt("--label", format!("{k}={v}"));
        }
        // GHCR shows an image's description from the index, not from per-image labels, and
        // Artifact Hub reads an index's annotations alone.
        for (k, v) in self.labels.iter().chain(&self.index_annotations) {
            cmd = cmd.opt("--annotation", format!("index:{k}={v}"));
        }
        // Attestations add `unknown/unknown` entries and change the digest on every run.
        cmd = cmd
            .arg(format!("--provenance={}", self.provenance))
            .arg("--sbom=false");
        cmd = self.cache.apply(cmd);
        cmd = cmd.opt(
            "--output",
            format!(
                "type=oci,dest={},tar=false,oci-mediatypes=true,rewrite-timestamp=true",
                self.output.display()
            ),
        );
        // BuildKit reads it from the environment for timestamps of its own.
        cmd = cmd.env("SOURCE_DATE_EPOCH", self.source_date_epoch.to_string());
        if let Some(host) = &self.docker_host {
            cmd = cmd.env("DOCKER_HOST", host);
        }
        cmd.arg("--progress=plain")
            .arg(self.context.display().to_string())
    }
}

/// The images a Dockerfile's `FROM` lines pull (stage names and `scratch` are not images).
pub fn external_bases(dockerfile: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for line in dockerfile.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        {
            continue;
        }
        let rest: Vec<&str> = words[1..]
            .iter()
            .copied()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let Some(image) = rest.first() else { continue };
        // A FROM names an image, or a stage declared above it.
        if *image != "scratch" && !stages.iter().any(|s| s == image) {
            images.push(image.to_string());
        }
        if let [_, kw, name] = rest.as_slice() {
            if kw.eq_ignore_ascii_case("AS") {
                stages.push(name.to_string());
            }
        }
    }
    images
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(cache: Cache) -> BuildPlan {
        BuildPlan {
            dockerfile: "ctx/Dockerfile".into(),
            context: "ctx".into(),
            platforms: DEFAULT_PLATFORMS.iter().map(|p| p.to_string()).collect(),
            build_args: vec![("VERSION".into(), "1.2.3".into())],
            build_contexts: vec![
                "docker.io/library/rust:1@sha256:ab=docker-image://127.0.0.1:5000/base/rust:1"
                    .into(),
            ],
            labels: vec![("org.opencontainers.image.version".into(), "1.2.3".into())],
            index_annotations: vec![("io.artifacthub.package.license".into(), "Apache-2.0".into())],
            cache,
            provenance: false,
            output: "target/release/oci".into(),
            docker_host: None,
            source_date_epoch: 1_700_000_000,
        }
    }

    #[test]
    fn one_build_for_all_platforms_into_an_oci_layout() {
        let cmd = plan(Cache::None).command();
        assert_eq!(cmd.program, "docker");
        let args = cmd.args.join(" ");
        assert!(args
            .starts_with("buildx build --file ctx/Dockerfile --platform linux/amd64,linux/arm64"));
        assert!(args.contains("--build-arg VERSION=1.2.3"));
        assert!(args.contains("--build-context docker.io/library/rust:1@sha256:ab=docker-image://127.0.0.1:5000/base/rust:1"));
        assert!(args.contains("--label org.opencontainers.image.version=1.2.3"));
        assert!(args.contains("--annotation index:org.opencontainers.image.version=1.2.3"));
        assert!(args.contains("--annotation index:io.artifacthub.package.license=Apache-2.0"));
        assert!(args.contains("--provenance=false --sbom=false"));
        assert!(args.contains(
            "--output type=oci,dest=target/release/oci,tar=false,oci-mediatypes=true,rewrite-timestamp=true"
        ));
        assert!(args.contains("--no-cache"));
        assert!(args.ends_with("--progress=plain ctx"));
        assert_eq!(
            cmd.env,
            vec![("SOURCE_DATE_EPOCH".to_string(), "1700000000".to_string())]
        );
    }

    fn choose(mode: CacheMode, actions: Option<&Actions>) -> Result<Cache> {
        choose_read_only(mode, actions, false)
    }

    fn choose_read_only(
        mode: CacheMode,
        actions: Option<&Actions>,
        read_only: bool,
    ) -> Result<Cache> {
        Cache::choose(&CacheInputs {
            mode,
            actions,
            repository: "ghcr.io/alto9/kube9-operator",
            scope: "release",
            local_dir: Path::new("target/buildx-cache"),
            read_only,
        })
    }

    /// The Actions environment of an event on a ref, with the cache service's token.
    fn on(event: &str, git_ref: &str) -> Actions {
        Actions {
            runtime_token: Some(Secret::new("rt")),
            event_name: Some(event.into()),
            git_ref: Some(git_ref.into()),
            ..Default::default()
        }
    }

    #[test]
    fn only_a_branch_push_writes_the_github_cache() {
        let main = on("push", "refs/heads/main");
        assert_eq!(
            choose(CacheMode::Gha, Some(&main)).unwrap(),
            Cache::Gha {
                scope: "release".into(),
                token: Secret::new("rt"),
                write: true
            }
        );
        // Releases and pull requests read it, whatever the flags say.
        for (event, git_ref) in [
            ("release", "refs/tags/v1.2.3"),
            ("workflow_dispatch", "refs/tags/v1.2.3"),
            ("pull_request", "refs/pull/7/merge"),
            ("push", "refs/tags/v1.2.3"),
        ] {
            let actions = on(event, git_ref);
            let cache = choose(CacheMode::Gha, Some(&actions)).unwrap();
            assert!(
                matches!(cache, Cache::Gha { write: false, .. }),
                "{event} {git_ref}: {cache:?}"
            );
            let args = plan(cache).command().args.join(" ");
            assert!(
                args.contains("--cache-from=type=gha,scope=release"),
                "{args}"
            );
            assert!(!args.contains("--cache-to"), "{event}: {args}");
        }
        // And a main push too, when it is told to.
        let read = choose_read_only(CacheMode::Gha, Some(&main), true).unwrap();
        assert!(!plan(read).command().args.join(" ").contains("--cache-to"));
    }

    #[test]
    fn read_only_imports_every_kind_of_cache_and_exports_none() {
        for mode in [CacheMode::Registry, CacheMode::Local] {
            let args = plan(choose_read_only(mode, None, true).unwrap())
                .command()
                .args
                .join(" ");
            assert!(args.contains("--cache-from="), "{mode:?}: {args}");
            assert!(!args.contains("--cache-to"), "{mode:?}: {args}");
            let args = plan(choose(mode, None).unwrap()).command().args.join(" ");
            assert!(args.contains("--cache-to="), "{mode:?}: {args}");
        }
    }

    #[test]
    fn auto_cache_uses_github_only_with_its_runtime_token() {
        let with_token = on("push", "refs/heads/main");
        let without = Actions::default();
        assert_eq!(
            choose(CacheMode::Auto, Some(&with_token)).unwrap(),
            Cache::Gha {
                scope: "release".into(),
                token: Secret::new("rt"),
                write: true
            }
        );
        assert_eq!(
            choose(CacheMode::Auto, Some(&without)).unwrap(),
            Cache::Builder
        );
        assert_eq!(choose(CacheMode::Auto, None).unwrap(), Cache::Builder);
        assert_eq!(
            choose(CacheMode::Local, None).unwrap(),
            Cache::Local {
                dir: "target/buildx-cache".into(),
                write: true
            }
        );
        assert_eq!(
            choose(CacheMode::Registry, None).unwrap(),
            Cache::Registry {
                reference: "ghcr.io/alto9/kube9-operator-buildcache:release".into(),
                write: true
            }
        );
        let err = choose(CacheMode::Gha, None).unwrap_err().to_string();
        assert!(err.contains("ghaction-github-runtime"), "{err}");
    }

    #[test]
    fn gha_cache_is_scoped_keeps_every_layer_and_alone_gets_the_runtime_token() {
        let cmd = plan(Cache::Gha {
            scope: "release".into(),
            token: Secret::new("rt"),
            write: true,
        })
        .command();
        let args = cmd.args.join(" ");
        assert!(args.contains("--cache-from=type=gha,scope=release"));
        assert!(args.contains("--cache-to=type=gha,scope=release,mode=max"));
        assert_eq!(cmd.secret_env[0].0, "ACTIONS_RUNTIME_TOKEN");
        assert!(!cmd.to_string().contains("rt "));
    }

    #[test]
    fn local_cache_exports_beside_the_old_one() {
        let args = plan(Cache::Local {
            dir: "target/cache".into(),
            write: true,
        })
        .command()
        .args
        .join(" ");
        assert!(args.contains("--cache-from=type=local,src=target/cache"));
        assert!(args.contains("--cache-to=type=local,dest=target/cache.new,mode=max"));
    }

    #[test]
    fn only_the_dockerfiles_platforms_are_accepted() {
        assert!(check_platforms(&["linux/amd64".into()]).is_ok());
        let err = check_platforms(&["linux/s390x".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("linux/amd64, linux/arm64"), "{err}");
        assert!(check_platforms(&[]).is_err());
    }
}
