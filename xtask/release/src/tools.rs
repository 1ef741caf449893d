//! Where the programs a release runs are found: the tools `cargo xtask setup` installs (in one
//! directory outside the repository) come first, then the caller's `PATH`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::config::Config;

/// The directory `cargo xtask setup` installs tools into (`KUBE9_TOOLS_DIR` moves it).
pub fn tools_dir() -> PathBuf {
    Config::get().tools_dir.clone()
}

/// The directories of installed tools, in the order they are searched.
pub fn tool_dirs() -> Vec<PathBuf> {
    let dir = tools_dir();
    vec![dir.join("bin"), dir.join("venv/bin")]
}

/// `PATH` for child processes: the installed tools, then the caller's `PATH`.
pub fn search_path() -> OsString {
    let inherited = Config::get().path.clone();
    let dirs = tool_dirs()
        .into_iter()
        .chain(std::env::split_paths(&inherited))
        .collect::<Vec<_>>();
    std::env::join_paths(dirs).unwrap_or(inherited)
}

/// The program a command name resolves to on `path` (a path with a `/` is taken as it is).
pub fn which_in(program: &str, path: &OsString) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    let cwd = std::env::current_dir().ok()?;
    which::which_in(program, Some(path), cwd).ok()
}

/// Where a program would be found for a release.
pub fn which(program: &str) -> Option<PathBuf> {
    which_in(program, &search_path())
}

/// The skopeo that can check sigstore signatures: `skopeo-sigstore` (what `cargo xtask setup`
/// installs beside Debian's, whose sigstore support is compiled out), else `skopeo`.
pub fn node_skopeo() -> &'static str {
    if which("skopeo-sigstore").is_some() {
        "skopeo-sigstore"
    } else {
        "skopeo"
    }
}
