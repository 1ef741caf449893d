//! `cargo xtask bench`: build speed against the previous Dockerfile, both platforms against one,
//! where a build's time goes, cache effect, image size, publish cost and chart latency, measured
//! on a local environment of its own with the project's real Dockerfile. Times are compared as
//! ratios within one run; the table goes to docs/benchmarks.md.

mod builds;
mod cold;
mod publish;
mod report;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate as devenv;
use crate::localenv::{self, EnvState};
use kube9_release::cmd::Cmd;
use kube9_release::workspace;

use builds::Builder;
use report::Row;

/// What `cargo xtask bench` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// Runs of each quick measurement; the median is reported.
    pub runs: usize,
    /// Pairs of cold builds compared.
    pub pairs: usize,
    /// The release compared with; the latest release tag when not given.
    pub baseline: Option<String>,
    /// Where the table is written, relative to the checkout.
    pub output: PathBuf,
}

/// The xtask binary the measurements run, as it was when the bench started: Linux names a
/// running binary that a rebuild replaced `... (deleted)`, which cannot be started again.
fn xtask_exe() -> Result<String> {
    static EXE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .map(|p| p.display().to_string())
    })
    .clone()
    .context("cannot tell where the running xtask binary is")
}

/// On the local environment when it is up (one engine per machine), else on one of its own.
pub fn run(args: &Options) -> Result<()> {
    xtask_exe()?;
    if let Some(env) = localenv::running(&devenv::local_env_dir())? {
        return measure(args, &env);
    }
    let env_dir = workspace::root().join("target/kube9-env/bench");
    let env = localenv::up(&env_dir, true)?;
    let result = measure(args, &env);
    localenv::down(&env_dir)?;
    result
}

fn measure(args: &Options, env: &EnvState) -> Result<()> {
    let baseline = match &args.baseline {
        Some(b) => b.clone(),
        None => latest_release_tag()?,
    };
    let work = workspace::root().join("target/bench");
    std::fs::create_dir_all(&work)?;
    let (context, previous_context) = context_copies(&work, &baseline)?;
    let builder = Builder {
        env,
        context,
        previous_context,
        work,
    };
    let mut rows = Vec::new();
    let mut notes = vec![format!(
        "The baseline build is the Dockerfile and the workspace manifest (its release \
         profile) of `{baseline}`, built from the same operator sources as the current one."
    )];
    let cold = cold::measure(&builder, args.pairs, &mut rows, &mut notes)?;
    cold::incremental(&builder, args.runs, &cold, &mut rows)?;
    publish::sizes(&cold.image()?, &cold.previous_image()?, &mut rows)?;
    publish::measure(env, &cold.image()?, args.runs, &mut rows)?;
    publish::signing(env, &builder.work, &mut rows)?;
    rows.push(publish::dry_run(args.runs)?);
    let environment = report::environment(&|| docker(env));
    let table = report::render(&rows, &notes, &environment)?;
    println!("{table}");
    let output = workspace::root().join(&args.output);
    let kept = std::fs::read_to_string(&output).unwrap_or_default();
    let table = with_suite_section(&table, &kept);
    std::fs::write(&output, table).with_context(|| format!("cannot write {}", output.display()))?;
    println!("written to {}", output.display());
    Ok(())
}

/// The heading of the section `cargo xtask bench` does not measure (the test suite, timed the
/// way CI runs it): a new table keeps it.
const SUITE_SECTION: &str = "\n## The test suite";

fn with_suite_section(table: &str, previous: &str) -> String {
    match previous.find(SUITE_SECTION) {
        Some(at) => format!("{}\n{}", table.trim_end(), &previous[at..]),
        None => table.to_string(),
    }
}

fn docker(env: &EnvState) -> Cmd {
    devenv::docker(env.docker_host.as_deref())
}

/// Copies of the build context, so that source changes can be made without touching the
/// checkout: the current one (with a variant of its Dockerfile without cargo-auditable), and
/// the same operator sources with the `baseline`'s Dockerfile, workspace manifest (its release
/// profile), lock file and tool manifests (its workspace members).
fn context_copies(work: &Path, baseline: &str) -> Result<(PathBuf, PathBuf)> {
    let ctx = context_copy(work, "context")?;
    let current = std::fs::read_to_string(ctx.join("Dockerfile"))?;
    std::fs::write(
        ctx.join(builds::Dockerfile::NoAuditable.file_name()),
        builds::without_auditable(&current)?,
    )?;
    let old = context_copy(work, "context-previous")?;
    let _ = std::fs::remove_dir_all(old.join("xtask"));
    let manifests = baseline_tool_manifests(baseline)?;
    let mut files = vec![
        ("Dockerfile", builds::Dockerfile::Previous.file_name()),
        ("Cargo.toml", "Cargo.toml"),
        ("Cargo.lock", "Cargo.lock"),
    ];
    files.extend(manifests.iter().map(|m| (m.as_str(), m.as_str())));
    for (file, dest) in files {
        let text = git_show(baseline, file)?;
        let dest = old.join(dest);
        std::fs::create_dir_all(dest.parent().context("a path inside the context")?)?;
        std::fs::write(dest, text)?;
    }
    Ok((ctx, old))
}

/// The manifests of the baseline's release tooling (`xtask/**/Cargo.toml`): its workspace's
/// members besides the operator, which its Dockerfile copies for the lock file to resolve.
fn baseline_tool_manifests(baseline: &str) -> Result<Vec<String>> {
    let listing = git()
        .args(["ls-tree", "-r", "--name-only", baseline, "xtask"])
        .read()
        .with_context(|| format!("cannot list `{baseline}`'s files"))?;
    Ok(listing
        .lines()
        .filter(|l| l.ends_with("/Cargo.toml") && !l.contains("/tests/"))
        .map(String::from)
        .collect())
}

/// The newest `v*` tag reachable from HEAD: the last release.
fn latest_release_tag() -> Result<String> {
    let tag = git()
        .args(["describe", "--tags", "--abbrev=0", "--match", "v*", "HEAD"])
        .read()
        .ok()
        .context(
            "no release tag (v*) is reachable from HEAD to compare with: pass --baseline \
             <tag or revision>, e.g. --baseline 3941a72 (the last build before both platforms \
             were compiled in one stage)",
        )?;
    Ok(tag.trim().to_string())
}

/// git in the checkout.
fn git() -> Cmd {
    Cmd::new("git").opt("-C", workspace::root().display().to_string())
}

fn git_show(revision: &str, file: &str) -> Result<String> {
    git()
        .args(["show", &format!("{revision}:{file}")])
        .read()
        .with_context(|| format!("cannot read {file} from git history at `{revision}`"))
}

fn context_copy(work: &Path, name: &str) -> Result<PathBuf> {
    let root = workspace::root();
    let ctx = work.join(name);
    let _ = std::fs::remove_dir_all(&ctx);
    for path in [
        "Dockerfile",
        ".dockerignore",
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "operator/Cargo.toml",
        "operator/src",
        "xtask/Cargo.toml",
        "xtask/release/Cargo.toml",
        "xtask/release-cli/Cargo.toml",
        "xtask/devenv/Cargo.toml",
        "charts",
    ] {
        let to = ctx.join(path);
        std::fs::create_dir_all(to.parent().context("a path inside the context")?)?;
        devenv::cp("-a", &root.join(path), &to).read()?;
    }
    Ok(ctx)
}

/// A name no earlier run used: the environment's registry outlives a bench run, and process
/// ids repeat after a reboot, so a repository named by the process id alone may already hold
/// an image (the chart step would then notice it at once, and a "first" push upload nothing).
fn run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("{}-{secs}", std::process::id())
}

/// `a / b`, shown with both figures.
fn ratio_text(ratio: f64, a: f64, b: f64) -> String {
    format!("{ratio:.2} ({a:.0} s / {b:.0} s)")
}

fn push_row(rows: &mut Vec<Row>, row: Row) {
    eprintln!("{}: {}", row.what, row.value);
    rows.push(row);
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_new_table_keeps_the_suites_section() {
        let old = "# Benchmarks\n\nold table\n\n## The test suite\n\nsuite figures\n";
        assert_eq!(
            super::with_suite_section("# Benchmarks\n\nnew table\n", old),
            "# Benchmarks\n\nnew table\n\n## The test suite\n\nsuite figures\n"
        );
        assert_eq!(super::with_suite_section("t\n", "no section"), "t\n");
    }
}
