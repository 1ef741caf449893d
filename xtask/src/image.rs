//! The build plan: one `docker buildx build` for every platform into a local OCI layout.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::cmd::Cmd;
use crate::github::Actions;

pub const DEFAULT_PLATFORMS: &[&str] = &["linux/amd64", "linux/arm64"];

/// Where build cache comes from and goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheMode {
    /// The GitHub Actions cache on GitHub (when its runtime token is exposed); elsewhere the
    /// builder's own cache, which a laptop's engine keeps between builds.
    Auto,
    /// `type=gha`, scoped per image, every layer (`mode=max`).
    Gha,
    /// `type=registry` in `<repository>-buildcache`.
    Registry,
    /// `type=local` in target/buildx-cache, for builders that do not keep a cache themselves.
    Local,
    /// The builder's own cache only: nothing imported or exported.
    Builder,
    /// No cache at all.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cache {
    Gha { scope: String },
    Registry { reference: String },
    Local { dir: PathBuf },
    Builder,
    None,
}

impl Cache {
    /// `auto` picks the GitHub cache only where it can work: a `run:` step sees the runtime
    /// token only if the workflow exposes it, and without it buildx fails the build.
    pub fn choose(
        mode: CacheMode,
        actions: Option<&Actions>,
        repository: &str,
        local_dir: &Path,
    ) -> Result<Cache> {
        let scope = repository
            .rsplit('/')
            .next()
            .unwrap_or(repository)
            .to_string();
        Ok(match mode {
            CacheMode::Auto if actions.is_some_and(|a| a.cache_runtime) => Cache::Gha { scope },
            // Exporting every layer to a directory costs more than a rebuild saves when the
            // builder keeps its own cache (measured: 93 s for the operator, docs/benchmarks.md).
            CacheMode::Auto | CacheMode::Builder => Cache::Builder,
            CacheMode::Local => Cache::Local {
                dir: local_dir.to_path_buf(),
            },
            CacheMode::Gha => {
                if !actions.is_some_and(|a| a.cache_runtime) {
                    bail!(
                        "--cache gha needs ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL: expose them \
                         with crazy-max/ghaction-github-runtime, or use --cache local"
                    );
                }
                Cache::Gha { scope }
            }
            CacheMode::Registry => Cache::Registry {
                reference: format!("{repository}-buildcache:buildcache"),
            },
            CacheMode::None => Cache::None,
        })
    }

    fn args(&self) -> Vec<String> {
        match self {
            Cache::Gha { scope } => vec![
                format!("--cache-from=type=gha,scope={scope}"),
                format!("--cache-to=type=gha,scope={scope},mode=max,ignore-error=true"),
            ],
            Cache::Registry { reference } => vec![
                format!("--cache-from=type=registry,ref={reference}"),
                format!(
                    "--cache-to=type=registry,ref={reference},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"
                ),
            ],
            // A local cache only grows when exported over itself; export beside it and swap.
            Cache::Local { dir } => vec![
                format!("--cache-from=type=local,src={}", dir.display()),
                format!("--cache-to=type=local,dest={},mode=max", staged_cache(dir).display()),
            ],
            Cache::Builder => Vec::new(),
            Cache::None => vec!["--no-cache".to_string()],
        }
    }
}

pub fn staged_cache(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    dir.with_file_name(name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildPlan {
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub platforms: Vec<String>,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub cache: Cache,
    pub provenance: bool,
    pub output: PathBuf,
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
        for (k, v) in &self.labels {
            cmd = cmd.opt("--label", format!("{k}={v}"));
        }
        // GHCR shows an image's description from the index, not from per-image labels.
        for (k, v) in &self.labels {
            cmd = cmd.opt("--annotation", format!("index:{k}={v}"));
        }
        // Attestations add `unknown/unknown` entries and change the digest on every run.
        cmd = cmd
            .arg(format!("--provenance={}", self.provenance))
            .arg("--sbom=false");
        cmd = cmd.args(self.cache.args());
        let epoch = self
            .build_args
            .iter()
            .find(|(k, _)| k == "SOURCE_DATE_EPOCH")
            .map(|(_, v)| v.clone());
        cmd = cmd.opt(
            "--output",
            format!(
                "type=oci,dest={},tar=false,oci-mediatypes=true,rewrite-timestamp=true",
                self.output.display()
            ),
        );
        if let Some(epoch) = epoch {
            // BuildKit reads it from the environment for timestamps of its own.
            cmd = cmd.env("SOURCE_DATE_EPOCH", epoch);
        }
        cmd.arg("--progress=plain")
            .arg(self.context.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(cache: Cache) -> BuildPlan {
        BuildPlan {
            dockerfile: "Dockerfile".into(),
            context: ".".into(),
            platforms: DEFAULT_PLATFORMS.iter().map(|p| p.to_string()).collect(),
            build_args: vec![
                ("VERSION".into(), "1.2.3".into()),
                ("SOURCE_DATE_EPOCH".into(), "1700000000".into()),
            ],
            labels: vec![("org.opencontainers.image.version".into(), "1.2.3".into())],
            cache,
            provenance: false,
            output: "target/release/oci".into(),
        }
    }

    #[test]
    fn one_build_for_all_platforms_into_an_oci_layout() {
        let cmd = plan(Cache::None).command();
        assert_eq!(cmd.program, "docker");
        let args = cmd.args.join(" ");
        assert!(
            args.starts_with("buildx build --file Dockerfile --platform linux/amd64,linux/arm64")
        );
        assert!(args.contains("--build-arg VERSION=1.2.3"));
        assert!(args.contains("--label org.opencontainers.image.version=1.2.3"));
        assert!(args.contains("--annotation index:org.opencontainers.image.version=1.2.3"));
        assert!(args.contains("--provenance=false --sbom=false"));
        assert!(args.contains(
            "--output type=oci,dest=target/release/oci,tar=false,oci-mediatypes=true,rewrite-timestamp=true"
        ));
        assert!(args.contains("--no-cache"));
        assert!(args.ends_with("--progress=plain ."));
        assert_eq!(
            cmd.env,
            vec![("SOURCE_DATE_EPOCH".to_string(), "1700000000".to_string())]
        );
    }

    #[test]
    fn auto_cache_uses_github_only_with_its_runtime_token() {
        let dir = Path::new("target/buildx-cache");
        let with_token = Actions {
            cache_runtime: true,
            ..Default::default()
        };
        let without = Actions::default();
        let repo = "ghcr.io/alto9/kube9-operator";
        assert_eq!(
            Cache::choose(CacheMode::Auto, Some(&with_token), repo, dir).unwrap(),
            Cache::Gha {
                scope: "kube9-operator".into()
            }
        );
        assert_eq!(
            Cache::choose(CacheMode::Auto, Some(&without), repo, dir).unwrap(),
            Cache::Builder
        );
        assert_eq!(
            Cache::choose(CacheMode::Auto, None, repo, dir).unwrap(),
            Cache::Builder
        );
        assert_eq!(
            Cache::choose(CacheMode::Local, None, repo, dir).unwrap(),
            Cache::Local { dir: dir.into() }
        );
        let err = Cache::choose(CacheMode::Gha, None, repo, dir)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ghaction-github-runtime"), "{err}");
    }

    #[test]
    fn gha_cache_is_scoped_and_keeps_every_layer() {
        let args = plan(Cache::Gha {
            scope: "kube9-operator".into(),
        })
        .command()
        .args
        .join(" ");
        assert!(args.contains("--cache-from=type=gha,scope=kube9-operator"));
        assert!(args.contains("--cache-to=type=gha,scope=kube9-operator,mode=max"));
    }

    #[test]
    fn local_cache_exports_beside_the_old_one() {
        let args = plan(Cache::Local {
            dir: "target/cache".into(),
        })
        .command()
        .args
        .join(" ");
        assert!(args.contains("--cache-from=type=local,src=target/cache"));
        assert!(args.contains("--cache-to=type=local,dest=target/cache.new,mode=max"));
    }
}
