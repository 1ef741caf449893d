//! The developer environment: installing the tools (`setup`), the local services a release and
//! the tests run against (`localenv`), `doctor`, the test suite (`ci`), measurements (`bench`)
//! and running the GitHub workflows here (`workflow_sim`). It uses the release library; the
//! library never uses it.

pub mod bench;
pub mod ci;
pub mod debian;
pub mod disk;
pub mod doctor;
pub mod localenv;
pub mod setup;
pub mod staging;
pub mod workflow_sim;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kube9_release::cmd::Cmd;
use kube9_release::workspace;

/// `docker`, against `host` when given (the environment's own engine), else the caller's.
pub fn docker(host: Option<&str>) -> Cmd {
    let cmd = Cmd::new("docker");
    match host {
        Some(h) => cmd.env("DOCKER_HOST", h),
        None => cmd,
    }
}

/// A file's text; the error names the file.
pub(crate) fn read_text(path: &Path) -> anyhow::Result<String> {
    use anyhow::Context;
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `cp FLAGS FROM TO`.
pub(crate) fn cp(flags: &str, from: &Path, to: &Path) -> Cmd {
    let (from, to) = (from.display().to_string(), to.display().to_string());
    Cmd::new("cp").args([flags, &from, &to])
}

/// The environment `cargo xtask env` and `release --local` manage (`KUBE9_LOCAL_ENV_DIR`
/// moves it, so that a test's environment never touches a developer's).
pub fn local_env_dir() -> PathBuf {
    std::env::var_os("KUBE9_LOCAL_ENV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace::root().join("target/kube9-env/local"))
}

/// The environment `cargo xtask ci` starts and stops.
pub fn ci_env_dir() -> PathBuf {
    workspace::root().join("target/kube9-env/ci")
}

/// `bytes` bytes from the kernel's random source, in hex.
pub(crate) fn random_hex(bytes: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A file only root can read (the environment's passwords, a simulated runner's secrets).
pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}
