//! What this binary was built from, compiled in so a running image is traceable without labels.

/// The release version, from the `KUBE9_VERSION` build argument.
pub const VERSION: &str = match option_env!("KUBE9_VERSION") {
    Some(v) if !v.is_empty() => v,
    _ => concat!(env!("CARGO_PKG_VERSION"), "-dev"),
};

/// The full git commit, from the `KUBE9_COMMIT` build argument.
pub const COMMIT: &str = match option_env!("KUBE9_COMMIT") {
    Some(c) if !c.is_empty() => c,
    _ => "unknown",
};

/// A build without release arguments says so, rather than passing for a release.
pub const fn is_development() -> bool {
    option_env!("KUBE9_VERSION").is_none()
}

/// The line `--version` prints: `kube9-operator 1.2.3 (commit 0123...)`.
pub fn version_line() -> String {
    if is_development() {
        format!("{VERSION} (development build, commit {COMMIT})")
    } else {
        format!("{VERSION} (commit {COMMIT})")
    }
}
