//! Directories made aside and renamed into place: the simulated runners' target directory, the
//! wheel directory, the environment's registry seed.

use std::path::Path;

use anyhow::{Context, Result};

/// Makes `dir` once, unless it is there (then true): `fill` writes a staging directory beside
/// it (`<name>.<pid>`: `workflow_sim::commits_to_forget` knows it by its dot), renamed into place when
/// full, so that processes starting together never see a half-made one and the one that loses
/// the race drops its own. Callers in one process make it one at a time.
pub fn made_once(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<bool> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if dir.is_dir() {
        return Ok(true);
    }
    let name = dir
        .file_name()
        .context("no directory name")?
        .to_string_lossy();
    let staging = dir.with_file_name(format!("{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    if let Err(e) = fill(&staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if std::fs::rename(&staging, dir).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_made_once_and_a_failed_fill_leaves_nothing() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("abc");
        let failed = made_once(&dir, |staging| {
            std::fs::write(staging.join("half"), "x")?;
            anyhow::bail!("no network")
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
        let made = made_once(&dir, |staging| Ok(std::fs::write(staging.join("f"), "x")?));
        assert!(!made.unwrap(), "made now");
        assert!(dir.join("f").is_file());
        let again = made_once(&dir, |_| panic!("filled twice")).unwrap();
        assert!(again, "it was there");
        assert_eq!(
            std::fs::read_dir(parent.path()).unwrap().count(),
            1,
            "no staging left"
        );
    }
}
