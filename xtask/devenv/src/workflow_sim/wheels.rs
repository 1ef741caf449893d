//! The simulated runners' PyPI: the wheels the simulated commit pins by hash, fetched from PyPI
//! once (`pip download --require-hashes`) into a directory that pip in every job reads instead
//! of PyPI's index (`PIP_NO_INDEX`, `PIP_FIND_LINKS`).
//!
//! pip still resolves the workflow's own requirement files and refuses a file whose hash is not
//! pinned, as on GitHub; a requirement the pins lack is not in the directory either, so the job
//! fails as GitHub's would. What it no longer does in each job is read PyPI's index pages (about
//! 10,600 links for the validators' 30 packages), which was most of an install's CPU; see
//! docs/benchmarks.md ("The test suite").

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use kube9_release::cmd::Cmd;
use kube9_release::workspace;

/// The pin files the workflows install from (`xtask/assets/tools`). ci.yml's `checks` job also
/// installs `requirements.txt` (trivy, zizmor, act), but the simulation runs only its `image`
/// job; a job that needs a wheel not listed here fails with pip's "No matching distribution".
pub const WORKFLOW_PINS: [&str; 3] = ["validators.txt", "helm.txt", "helm3.txt"];

/// The pin files of the checkout at `repo` that exist there (an old commit may have fewer).
fn pin_files(repo: &Path) -> Vec<PathBuf> {
    WORKFLOW_PINS
        .iter()
        .map(|name| repo.join("xtask/assets/tools").join(name))
        .filter(|path| path.is_file())
        .collect()
}

/// The directory named after what the pin files say: the same pins, the same directory.
fn key(pins: &[(PathBuf, Vec<u8>)]) -> String {
    let mut all = Vec::new();
    for (path, text) in pins {
        all.extend_from_slice(path.file_name().unwrap_or_default().as_encoded_bytes());
        all.push(0);
        all.extend_from_slice(text);
        all.push(0);
    }
    kube9_release::layout::sha256(&all)
        .trim_start_matches("sha256:")
        .chars()
        .take(16)
        .collect()
}

/// The wheel directory for the pins of the checkout at `repo`, filled from PyPI the first time
/// (pip's own cache makes that quick on a machine that ran `cargo xtask setup`).
pub fn wheelhouse(repo: &Path) -> Result<PathBuf> {
    let pins: Vec<(PathBuf, Vec<u8>)> = pin_files(repo)
        .into_iter()
        .map(|path| std::fs::read(&path).map(|text| (path, text)))
        .collect::<std::io::Result<_>>()
        .context("cannot read the simulated commit's pin files")?;
    let dir = workspace::root()
        .join("target/workflow-sim-wheels")
        .join(key(&pins));
    crate::staging::made_once(&dir, |staging| {
        for (path, _) in &pins {
            download(path, staging).with_context(|| {
                format!(
                    "cannot fetch the wheels {} pins for the simulated runners; pip needs PyPI \
                     (or its cache) once",
                    path.display()
                )
            })?;
        }
        Ok(())
    })?;
    Ok(dir)
}

/// `pip download` of every file `pins` lists, by hash, without their dependencies (each is
/// pinned itself).
fn download(pins: &Path, into: &Path) -> Result<String> {
    Cmd::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-deps", "--require-hashes", "-r"])
        .arg(pins.display().to_string())
        .opt("-d", into.display().to_string())
        .read()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_follows_the_pins_names_and_contents() {
        let pin = |path: &str, text: &str| (PathBuf::from(path), text.as_bytes().to_vec());
        let one = key(&[pin("/x/helm.txt", "a==1 --hash=sha256:00")]);
        assert_eq!(
            one,
            key(&[pin("/y/helm.txt", "a==1 --hash=sha256:00")]),
            "where the checkout is does not matter"
        );
        assert_ne!(one, key(&[pin("/x/helm.txt", "a==2 --hash=sha256:01")]));
        assert_ne!(one, key(&[pin("/x/helm3.txt", "a==1 --hash=sha256:00")]));
        assert_eq!(one.len(), 16);
    }

    #[test]
    fn the_pins_are_those_the_workflows_install_from_and_exist_here() {
        let pins = pin_files(&workspace::root());
        assert_eq!(pins.len(), WORKFLOW_PINS.len(), "{pins:?}");
        let workflows = std::fs::read_dir(workspace::root().join(".github/workflows"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let installer =
            std::fs::read_to_string(workspace::root().join("xtask/assets/tools/install-helm.sh"))
                .unwrap();
        for name in WORKFLOW_PINS {
            assert!(
                workflows.contains(&format!("xtask/assets/tools/{name}"))
                    || installer.contains(name),
                "{name} is installed by a workflow"
            );
        }
    }
}
