//! Facts about this repository that the release reads.

use std::path::{Path, PathBuf};

/// The checkout the xtask runs in: the nearest directory above the current one that holds
/// this workspace (a `Cargo.toml` beside `xtask/`), else the current directory. Found at run
/// time, so that one binary serves any clone of the repository (a CI job, a simulated runner);
/// the path it happened to be compiled at is not kept in it, so the binary's bytes, and its
/// build's freshness, do not depend on where the checkout was.
pub fn root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .find(|d| is_root(d))
        .map(Path::to_path_buf)
        .unwrap_or(cwd)
}

fn is_root(dir: &Path) -> bool {
    dir.join("xtask/Cargo.toml").is_file()
        && std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
}

const OPERATOR_MANIFEST: &str = include_str!(concat!(env!("OUT_DIR"), "/operator-Cargo.toml"));

/// The operator crate's own version: what a development build and the checked-in chart carry.
pub fn operator_version() -> &'static str {
    OPERATOR_MANIFEST
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("operator/Cargo.toml has a version")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_root_is_the_checkout_around_the_current_directory() {
        // Tests run in xtask/release/: the workspace is two levels up.
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(super::root(), here.ancestors().nth(2).unwrap());
        assert!(super::is_root(&super::root()));
        assert!(!super::is_root(&super::root().join("xtask")));
    }

    #[test]
    fn reads_the_operator_version() {
        assert!(semver::Version::parse(super::operator_version()).is_ok());
    }
}
