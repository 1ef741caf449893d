//! Timed builds of the project's Dockerfile (and of the one before it, from git history), and
//! where a build's time goes, read from BuildKit's plain progress output.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};

use crate::localenv::EnvState;
use kube9_release::buildx::{BuildPlan, Cache};
use kube9_release::layout;

pub const BOTH: &[&str] = &["linux/amd64", "linux/arm64"];

/// Which Dockerfile a build uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dockerfile {
    /// The checkout's.
    Current,
    /// The one the bench compares against, written into the context from git history.
    Previous,
    /// The checkout's without cargo-auditable: what auditing the binary costs.
    NoAuditable,
}

impl Dockerfile {
    pub fn file_name(self) -> &'static str {
        match self {
            Dockerfile::Current => "Dockerfile",
            Dockerfile::Previous => "Dockerfile.previous",
            Dockerfile::NoAuditable => "Dockerfile.no-auditable",
        }
    }
}

/// The current Dockerfile with plain `cargo` for `cargo auditable`; BuildKit then skips the
/// stage that installs cargo-auditable, since nothing copies from it.
pub fn without_auditable(dockerfile: &str) -> Result<String> {
    let copy = dockerfile
        .lines()
        .find(|l| l.starts_with("COPY --from=auditable "))
        .map(|l| format!("{l}\n"));
    let call = "cargo-musl auditable build";
    match copy {
        Some(copy) if dockerfile.contains(call) => Ok(dockerfile
            .replace(&copy, "")
            .replace(call, "cargo-musl build")),
        _ => bail!(
            "the Dockerfile no longer installs cargo-auditable in a stage of its own and calls it \
             as `{call}`: update bench::builds::without_auditable"
        ),
    }
}

/// What the bench builds, and where.
pub struct Builder<'a> {
    pub env: &'a EnvState,
    pub context: PathBuf,
    /// The same sources with the previous revision's Dockerfile and workspace manifest (its
    /// release profile): the release build as it was.
    pub previous_context: PathBuf,
    pub work: PathBuf,
}

/// One finished build.
pub struct Build {
    pub secs: f64,
    pub digest: String,
    pub output: PathBuf,
    pub steps: Vec<Step>,
}

impl<'a> Builder<'a> {
    pub fn plan(
        &self,
        file: Dockerfile,
        platforms: &[&str],
        cache: Cache,
        name: &str,
    ) -> BuildPlan {
        let platforms: Vec<String> = platforms.iter().map(|p| p.to_string()).collect();
        let (context, extra_args, build_contexts) = match file {
            Dockerfile::Current | Dockerfile::NoAuditable => (
                &self.context,
                vec![("PLATFORMS", platforms.join(","))],
                self.env.build_contexts.clone(),
            ),
            // It named its bases by build argument, before build contexts replaced them.
            Dockerfile::Previous => (
                &self.previous_context,
                vec![
                    ("RUST_IMAGE", self.env.standins.rust.clone()),
                    ("RUNTIME_IMAGE", self.env.standins.runtime.clone()),
                ],
                Vec::new(),
            ),
        };
        let build_args = [
            ("VERSION", "0.0.0-bench".to_string()),
            ("COMMIT", "0".repeat(40)),
            ("SOURCE_DATE_EPOCH", "1700000000".to_string()),
        ]
        .into_iter()
        .chain(extra_args)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        BuildPlan {
            dockerfile: context.join(file.file_name()),
            context: context.clone(),
            platforms,
            build_args,
            build_contexts,
            labels: Vec::new(),
            index_annotations: Vec::new(),
            cache,
            provenance: false,
            output: self.work.join(name),
            docker_host: self.env.docker_host.clone(),
            source_date_epoch: 1_700_000_000,
        }
    }

    /// Builds quietly; the time, the index digest and BuildKit's steps.
    pub fn build(&self, plan: &BuildPlan) -> Result<Build> {
        let _ = std::fs::remove_dir_all(&plan.output);
        eprintln!("  {}", describe(plan));
        let start = Instant::now();
        let out = plan.command().output()?;
        let secs = start.elapsed().as_secs_f64();
        // Kept beside the layout, for a closer look at where the time went.
        std::fs::write(plan.output.with_extension("log"), &out.stderr)?;
        if !out.success {
            let tail: Vec<&str> = out.stderr.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("the build failed:\n{}", tail.join("\n"));
        }
        eprintln!("    {secs:.0} s");
        Ok(Build {
            secs,
            digest: layout::top_digest(&plan.output)?,
            output: plan.output.clone(),
            steps: steps(&out.stderr),
        })
    }

    /// The checkout's Dockerfile, both platforms, on the builder's cache.
    pub fn warm(&self, name: &str) -> Result<Build> {
        self.build(&self.plan(Dockerfile::Current, BOTH, Cache::Builder, name))
    }
}

fn describe(plan: &BuildPlan) -> String {
    let file = plan
        .dockerfile
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let cache = match plan.cache {
        Cache::None => "no cache",
        _ => "builder cache",
    };
    format!("{file}, {}, {cache}", plan.platforms.join("+"))
}

/// One BuildKit vertex that ran (cached ones took no time and are left out).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub secs: f64,
}

/// The vertices of a `--progress=plain` log: a vertex's first line names it (`#N [stage i/n]
/// INSTRUCTION`, `#N exporting to oci image format`), `#N DONE 12.3s` ends it.
pub fn steps(log: &str) -> Vec<Step> {
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let mut done = Vec::new();
    for line in log.lines() {
        let Some((id, rest)) = line.split_once(' ') else {
            continue;
        };
        if !id.starts_with('#') {
            continue;
        }
        if !names.contains_key(id) {
            names.insert(id, rest);
        } else if let Some(secs) = rest.strip_prefix("DONE ").and_then(|s| s.strip_suffix('s')) {
            if let (Some(name), Ok(secs)) = (names.get(id), secs.parse::<f64>()) {
                done.push(Step {
                    name: name.to_string(),
                    secs,
                });
            }
        }
    }
    done
}

/// The parts of the build a maintainer can act on, each matched by what its step runs.
pub const PHASES: &[(&str, &str)] = &[
    ("cargo-auditable install", "cargo install cargo-auditable"),
    (
        "toolchain: cross C compiler and Rust targets",
        "rustup target add",
    ),
    (
        "dependencies",
        "build --release --locked --package kube9-operator",
    ),
    ("operator crate (compile, link)", "touch operator/src"),
    ("image export", "exporting to oci image format"),
];

/// Seconds per phase: the steps whose name contains the phase's marker. The operator step's
/// marker is checked first, since its command also contains the dependencies' marker.
pub fn phases(steps: &[Step]) -> BTreeMap<&'static str, f64> {
    let mut out = BTreeMap::new();
    for step in steps {
        let phase = PHASES
            .iter()
            .rev()
            .find(|(_, marker)| step.name.contains(marker));
        if let Some((phase, _)) = phase {
            *out.entry(*phase).or_insert(0.0) += step.secs;
        }
    }
    out
}

/// The same digest from every build: the image is reproducible across cold builds.
pub fn same_digest(builds: &[&Build]) -> bool {
    builds.windows(2).all(|w| w[0].digest == w[1].digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "#0 building with \"default\" instance using docker driver

#7 [toolchain 1/3] RUN set -eu; apt-get install -y gcc; rustup target add x86_64-unknown-linux-musl
#7 0.310 Get:1 http://deb.debian.org/debian bookworm InRelease
#7 DONE 41.5s

#9 [build 6/8] RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry     cargo-musl build --release --locked --package kube9-operator
#9 12.0    Compiling serde v1.0.219
#9 DONE 120.0s

#11 [build 8/8] RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry     set -eu;     touch operator/src/*.rs;     cargo-musl build --release --locked --package kube9-operator;     collect-binaries
#11 DONE 60.25s

#12 [stage-2 1/2] FROM docker.io/library/alpine
#12 CACHED

#13 exporting to oci image format
#13 DONE 2.0s
";

    #[test]
    fn the_variant_without_auditable_never_runs_it() {
        let current = include_str!("../../../../Dockerfile");
        let variant = without_auditable(current).unwrap();
        assert!(current.contains("COPY --from=auditable"));
        assert!(!variant.contains("COPY --from=auditable"), "{variant}");
        assert!(!variant.contains("cargo-musl auditable"), "{variant}");
        assert!(without_auditable("FROM scratch\n").is_err());
    }

    #[test]
    fn steps_pair_each_vertex_name_with_its_done_line() {
        let steps = steps(LOG);
        assert_eq!(steps.len(), 4, "{steps:?}");
        assert_eq!(steps[1].secs, 120.0);
        assert!(steps[2].name.contains("touch operator/src"));
    }

    #[test]
    fn the_operator_step_is_not_counted_as_dependencies() {
        let phases = phases(&steps(LOG));
        assert_eq!(phases["dependencies"], 120.0);
        assert_eq!(phases["operator crate (compile, link)"], 60.25);
        assert_eq!(phases["toolchain: cross C compiler and Rust targets"], 41.5);
        assert_eq!(phases["image export"], 2.0);
    }
}
