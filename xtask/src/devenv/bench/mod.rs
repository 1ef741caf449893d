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

use crate::devenv;
use crate::devenv::localenv::{self, EnvState};
use crate::flags;
use crate::release::cmd::Cmd;
use crate::release::workspace;

use builds::Builder;
use report::Row;

/// On the local environment when it is up (one engine per machine), else on one of its own.
pub fn run(args: &flags::Bench) -> Result<()> {
    if let Some(env) = localenv::running(&devenv::local_env_dir())? {
        return measure(args, &env);
    }
    let env_dir = workspace::root().join("target/kube9-env/bench");
    let env = localenv::up(&env_dir, true)?;
    let result = measure(args, &env);
    localenv::down(&env_dir)?;
    result
}

fn measure(args: &flags::Bench, env: &EnvState) -> Result<()> {
    let work = workspace::root().join("target/bench");
    std::fs::create_dir_all(&work)?;
    let (context, previous_context) = context_copies(&work, &args.previous)?;
    let builder = Builder {
        env,
        context,
        previous_context,
        work,
    };
    let mut rows = Vec::new();
    let mut notes = vec![format!(
        "The previous release build is the Dockerfile and the workspace manifest (its release \
         profile) at `{}`, built from the same sources and Cargo.lock as the current one.",
        args.previous
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
    std::fs::write(&output, table).with_context(|| format!("cannot write {}", output.display()))?;
    println!("written to {}", output.display());
    Ok(())
}

fn docker(env: &EnvState) -> Cmd {
    devenv::docker(env.docker_host.as_deref())
}

/// Copies of the build context, so that source changes can be made without touching the
/// checkout: the current one (with a variant of its Dockerfile without cargo-auditable), and
/// the same sources with the Dockerfile and workspace manifest of the `previous` revision.
fn context_copies(work: &Path, previous: &str) -> Result<(PathBuf, PathBuf)> {
    let ctx = context_copy(work, "context")?;
    let current = std::fs::read_to_string(ctx.join("Dockerfile"))?;
    std::fs::write(
        ctx.join(builds::Dockerfile::NoAuditable.file_name()),
        builds::without_auditable(&current)?,
    )?;
    let old = context_copy(work, "context-previous")?;
    for (file, dest) in [
        ("Dockerfile", builds::Dockerfile::Previous.file_name()),
        ("Cargo.toml", "Cargo.toml"),
    ] {
        let text = git_show(previous, file)?;
        std::fs::write(old.join(dest), text)?;
    }
    Ok((ctx, old))
}

fn git_show(revision: &str, file: &str) -> Result<String> {
    Cmd::new("git")
        .arg("-C")
        .arg(workspace::root().display().to_string())
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
        "charts",
    ] {
        let to = ctx.join(path);
        std::fs::create_dir_all(to.parent().context("a path inside the context")?)?;
        Cmd::new("cp")
            .arg("-a")
            .arg(root.join(path).display().to_string())
            .arg(to.display().to_string())
            .read()?;
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
