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

/// The platform this binary was compiled for, as OCI names it (`linux/arm64`): what a check
/// on an arm64 node compares with the image it pulled and the machine it runs on.
pub fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

/// The line `--version` prints: `kube9-operator 1.2.3 (commit 0123..., linux/amd64)`.
pub fn version_line() -> String {
    let platform = platform();
    if is_development() {
        format!("{VERSION} (development build, commit {COMMIT}, {platform})")
    } else {
        format!("{VERSION} (commit {COMMIT}, {platform})")
    }
}
