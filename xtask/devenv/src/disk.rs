//! Disk space: what the environment's engine keeps, and whether a run has room to finish.
//!
//! A full disk does not fail cleanly: the linker dies with a bus error half-way through the test
//! build. So `ci` checks for room first, and `env up` keeps the engine's build cache bounded.

use std::path::Path;

use anyhow::{ensure, Context, Result};

use crate::docker;
use kube9_release::cmd::Cmd;

pub const GB: u64 = 1_000_000_000;

/// What a run of `cargo xtask ci` on a clean clone needs. Measured with an empty build cache:
/// free space fell by 8.7 GB at most (`target/` 6.4 GB, the engine's layers 1.7 GB).
const CI_NEEDS: u64 = CI_WORKSPACE_NEEDS + CI_ENGINE_NEEDS;
const CI_WORKSPACE_NEEDS: u64 = 9 * GB;
const CI_ENGINE_NEEDS: u64 = 3 * GB;

/// Room for `ci`: in the workspace for `target/`, and where the environment's own engine keeps
/// its layers (`engine_dir`, when it started one); the sum when both share a filesystem.
pub fn require_ci_room(workspace: &Path, engine_dir: Option<&Path>) -> Result<()> {
    let apart = engine_dir.filter(|e| !same_filesystem(workspace, e));
    for (path, needed, what) in ci_room(workspace, apart) {
        require_free(path, needed, what)?;
    }
    Ok(())
}

/// Where `ci` needs how much room, given the engine's directory when it is on a filesystem of
/// its own.
fn ci_room<'a>(
    workspace: &'a Path,
    engine_apart: Option<&'a Path>,
) -> Vec<(&'a Path, u64, &'static str)> {
    match engine_apart {
        None => vec![(workspace, CI_NEEDS, "the test suite")],
        Some(engine) => vec![
            (workspace, CI_WORKSPACE_NEEDS, "the test suite's build"),
            (engine, CI_ENGINE_NEEDS, "the test suite's image layers"),
        ],
    }
}

fn same_filesystem(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        // Unknown: judged as one filesystem, which asks for the larger amount.
        _ => true,
    }
}

/// The most build cache the environment's own engine keeps between runs: enough for the
/// warm layers of both platforms and a few source versions.
const BUILD_CACHE_BUDGET: u64 = 20 * GB;

/// Bytes free for unprivileged use on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Result<u64> {
    let out = Cmd::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path.display().to_string())
        .read()?;
    out.lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .with_context(|| format!("cannot read free space from `df`: {out:?}"))
}

/// Fails unless the filesystem holding `path` has `needed` bytes free.
pub fn require_free(path: &Path, needed: u64, what: &str) -> Result<()> {
    let free = free_bytes(path)?;
    ensure!(
        free >= needed,
        "only {} free on the filesystem of {}, and {what} needs about {}: a full disk \
             fails half-way (the linker dies with a bus error). Free space: \
             `cargo xtask env prune` empties the environment's build cache; old clones' \
             `target/` folders are the other large item",
        show(free),
        path.display(),
        show(needed)
    );
    Ok(())
}

pub fn show(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / GB as f64)
}

/// Parses a size as Docker prints it (`38.83GB`, `993.3MB`, `4.096kB`, `0B`; powers of 1000).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    Some((number * scale).round() as u64)
}

/// The build cache's size, shared records included: `Total:` of `docker buildx du`.
pub fn build_cache_bytes(host: Option<&str>) -> Result<u64> {
    let out = docker(host).args(["buildx", "du"]).read()?;
    out.lines()
        .rev()
        .find_map(|l| l.strip_prefix("Total:"))
        .and_then(parse_size)
        .with_context(|| format!("no `Total:` line in `docker buildx du`: {out:?}"))
}

/// Empties the build cache when it is over its budget. BuildKit's own limits
/// (`--keep-storage`, the daemon's `defaultKeepStorage`) count only records no image shares,
/// and on the containerd image store nearly all are shared: measured here, a 38.8 GB cache
/// stayed whole under a 12 GB limit. Only `prune --all` without filters frees it.
pub fn bound_build_cache(host: Option<&str>) -> Result<()> {
    let size = build_cache_bytes(host)?;
    if size <= BUILD_CACHE_BUDGET {
        return Ok(());
    }
    eprintln!(
        "    the build cache holds {}, over its budget of {}: emptying it (the next image \
         build is cold)",
        show(size),
        show(BUILD_CACHE_BUDGET)
    );
    prune_build_cache(host)
}

pub fn prune_build_cache(host: Option<&str>) -> Result<()> {
    docker(host)
        .args(["buildx", "prune", "--all", "--force"])
        .read()
        .context("docker buildx prune failed")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_sizes() {
        assert_eq!(parse_size("38.83GB"), Some(38_830_000_000));
        assert_eq!(parse_size("993.3MB"), Some(993_300_000));
        assert_eq!(parse_size("4.096kB"), Some(4_096));
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size(" 1.2TB "), Some(1_200_000_000_000));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("GB"), None);
    }

    #[test]
    fn one_filesystem_is_asked_for_the_sum() {
        assert!(same_filesystem(Path::new("/"), Path::new("/")));
        let (ws, engine) = (Path::new("/w"), Path::new("/e"));
        assert_eq!(ci_room(ws, None), [(ws, CI_NEEDS, "the test suite")]);
        let apart: Vec<_> = ci_room(ws, Some(engine))
            .into_iter()
            .map(|(p, n, _)| (p, n))
            .collect();
        assert_eq!(apart, [(ws, 9 * GB), (engine, 3 * GB)]);
        assert_eq!(CI_NEEDS, 12 * GB);
    }

    #[test]
    fn the_root_filesystem_has_some_free_space() {
        assert!(free_bytes(Path::new("/")).unwrap() > 0);
    }

    #[test]
    fn too_little_room_names_the_fix() {
        let err = require_free(Path::new("/"), u64::MAX, "the test suite").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("the test suite needs about"), "{text}");
        assert!(text.contains("cargo xtask env prune"), "{text}");
    }
}
