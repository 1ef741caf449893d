//! What the image holds: the repositories it is published to and the crates it is built from.
//! A statement about anything else could never match, and would say something nobody checked,
//! so every product of the document is checked against these.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use super::{Crate, Document, ImagePurl, Located, Product};

/// The directories under the source root whose lockfiles are not the image's: build output,
/// git's own files, and tests, whose fixtures have lockfiles of their own (as
/// `xtask/tests/fixtures/trivy-db-cargo/app/Cargo.lock`) that are never built into the image.
const SKIPPED_DIRS: &[&str] = &["target", ".git", "tests"];

/// What the image holds, that the products of the statements are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// The repositories the image is published to, as `registry/path`: the release target and
    /// the canonical `ghcr.io/alto9/kube9-operator`. Compared as Trivy writes repository_url.
    pub repositories: Vec<String>,
    pub crates: BTreeSet<Crate>,
}

impl Contents {
    /// The release target and the canonical repository (once if they are the same).
    pub fn new(target: &str, crates: BTreeSet<Crate>) -> Contents {
        let mut repositories = vec![target.to_string()];
        if target != crate::DEFAULT_IMAGE_REPOSITORY {
            repositories.push(crate::DEFAULT_IMAGE_REPOSITORY.to_string());
        }
        Contents {
            repositories,
            crates,
        }
    }
}

/// Refuses a statement about an image or a crate this image does not contain: it could never
/// match, and would say something nobody checked.
pub fn check_products(file: &str, doc: &Document, contents: &Contents) -> Result<()> {
    for s in &doc.statements {
        for entry in &s.products {
            let product = &entry.product;
            match &product.value {
                Product::Image(image) => check_image(file, product, image, contents)?,
                Product::Crate(krate) => check_crate(file, product, krate, contents)?,
            }
            for sub in &entry.subcomponents {
                check_crate(file, sub, &sub.value, contents)?;
            }
        }
    }
    Ok(())
}

/// An image product must name a repository the image is published to: Trivy matches
/// repository_url, so any other would never match.
fn check_image(
    file: &str,
    at: &Located<Product>,
    image: &ImagePurl,
    contents: &Contents,
) -> Result<()> {
    ensure!(
        contents.repositories.contains(&image.repository),
        "{file}:{}: {}: {image}: the image is published to {}, not {}: write \
         repository_url={}",
        at.line,
        at.path,
        contents.repositories.join(" and "),
        image.repository,
        contents
            .repositories
            .first()
            .map_or(crate::DEFAULT_IMAGE_REPOSITORY, String::as_str)
    );
    Ok(())
}

/// A crate must be one of a lockfile, at its version; the error lists the versions there are,
/// as a crate named right at an old version is the likely mistake.
fn check_crate<T>(file: &str, at: &Located<T>, krate: &Crate, contents: &Contents) -> Result<()> {
    let Located { path, line, .. } = at;
    if contents.crates.contains(krate) {
        return Ok(());
    }
    let versions: Vec<&str> = contents
        .crates
        .iter()
        .filter(|c| c.name == krate.name)
        .map(|c| c.version.as_str())
        .collect();
    if versions.is_empty() {
        bail!(
            "{file}:{line}: {path}: {krate}: no crate {} in any Cargo.lock of the source: check \
             the name against Cargo.lock",
            krate.name
        );
    }
    bail!(
        "{file}:{line}: {path}: {krate}: no crate {} {} in any Cargo.lock of the source; it has \
         {}: write that version, or drop the statement if the crate has moved on",
        krate.name,
        krate.version,
        versions.join(", ")
    )
}

/// Every `[[package]]` of every `Cargo.lock` under `root`, outside `target`, `.git` and `tests`
/// directories (`SKIPPED_DIRS`): the crates an image is built from are the crates of its
/// lockfile(s), and a test fixture's lockfile is never built into it.
pub fn crates_in_lockfiles(root: &Path) -> Result<BTreeSet<Crate>> {
    let skipped = |e: &walkdir::DirEntry| {
        e.depth() > 0
            && e.file_type().is_dir()
            && e.file_name()
                .to_str()
                .is_some_and(|name| SKIPPED_DIRS.contains(&name))
    };
    let mut crates = BTreeSet::new();
    let walk = walkdir::WalkDir::new(root).sort_by_file_name();
    for entry in walk.into_iter().filter_entry(|e| !skipped(e)) {
        let entry = entry.with_context(|| format!("cannot list {}", root.display()))?;
        if entry.file_type().is_file() && entry.file_name() == "Cargo.lock" {
            let text = fs::read_to_string(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            crates.extend(lockfile_crates(&entry.path().display().to_string(), &text)?);
        }
    }
    Ok(crates)
}

/// The `name` and `version` of each `[[package]]` block, which runs to the next `[` line.
/// Cargo writes these as plain quoted strings on their own lines, which is all that is read:
/// no TOML parser needed.
pub(super) fn lockfile_crates(file: &str, text: &str) -> Result<Vec<Crate>> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut crates = Vec::new();
    for (i, _) in lines
        .iter()
        .enumerate()
        .filter(|(_, l)| **l == "[[package]]")
    {
        let (mut name, mut version) = (None, None);
        for line in lines[i + 1..].iter().take_while(|l| !l.starts_with('[')) {
            if let Some(value) = toml_string(line, "name") {
                name = Some(value);
            } else if let Some(value) = toml_string(line, "version") {
                version = Some(value);
            }
        }
        // Cargo always writes a block with a name and a version.
        let (Some(name), Some(version)) = (name, version) else {
            bail!(
                "{file}:{}: a [[package]] without a name or a version: is this a Cargo.lock that \
                 cargo wrote? let cargo write it again",
                i + 1
            );
        };
        crates.push(Crate { name, version });
    }
    Ok(crates)
}

/// The value of `key = "value"`.
fn toml_string(line: &str, key: &str) -> Option<String> {
    let value = line
        .strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim();
    Some(value.strip_prefix('"')?.strip_suffix('"')?.to_string())
}
