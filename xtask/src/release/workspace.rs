//! Facts about this repository that the release reads.

use std::path::{Path, PathBuf};

/// The repository's root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

const OPERATOR_MANIFEST: &str = include_str!("../../../operator/Cargo.toml");

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
    fn reads_the_operator_version() {
        assert!(semver::Version::parse(super::operator_version()).is_ok());
    }
}
