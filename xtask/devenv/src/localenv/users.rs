//! Which environments use the environments' one dockerd (one per machine, shared by a local
//! environment, `cargo xtask ci`'s, a bench's): each records itself while it is up, and the
//! engine is stopped only when no live environment is left. A record whose environment is
//! gone (a crash: its services no longer run) no longer counts.

use std::path::{Path, PathBuf};

/// Where the records are: beside the engine's socket.
fn dir(run_dir: &Path) -> PathBuf {
    run_dir.join("users")
}

fn record(run_dir: &Path, env_dir: &Path) -> PathBuf {
    let name: String = env_dir
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir(run_dir).join(name)
}

/// `env_dir`'s environment uses the engine from now on.
pub fn add(run_dir: &Path, env_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir(run_dir))?;
    std::fs::write(record(run_dir, env_dir), env_dir.display().to_string())
}

/// `env_dir`'s environment no longer uses it.
pub fn remove(run_dir: &Path, env_dir: &Path) {
    let _ = std::fs::remove_file(record(run_dir, env_dir));
}

/// The other environments that use the engine and are still up (`live`); records of
/// environments that are gone are removed.
pub fn others(run_dir: &Path, env_dir: &Path, live: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mine = record(run_dir, env_dir);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir(run_dir))
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        if path == mine {
            continue;
        }
        let Ok(user) = std::fs::read_to_string(&path) else {
            continue;
        };
        let user = PathBuf::from(user);
        if live(&user) {
            found.push(user);
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_is_kept_while_another_live_environment_uses_it() {
        let run = tempfile::tempdir().unwrap();
        let (a, b, crashed) = (
            Path::new("/env/a"),
            Path::new("/env/b"),
            Path::new("/env/c"),
        );
        for env in [a, b, crashed] {
            add(run.path(), env).unwrap();
        }
        let live = |p: &Path| p != Path::new("/env/c");
        assert_eq!(others(run.path(), a, &live), [PathBuf::from("/env/b")]);
        assert!(
            !record(run.path(), crashed).exists(),
            "a crashed one is forgotten"
        );
        remove(run.path(), b);
        assert!(others(run.path(), a, &live).is_empty());
    }
}
