//! `CHANGELOG.md`, in Keep a Changelog 1.1 form: the one place a release's changes are written
//! by hand. The release page and Artifact Hub's `artifacthub.io/changes` are generated from it,
//! so a release whose changes are not written down is refused before anything is built. Pure,
//! apart from `read`.
//!
//! The form read here (<https://keepachangelog.com/en/1.1.0/>):
//!
//! ```text
//! # Changelog
//! (preamble: free text)
//! ## [Unreleased]
//! ## [1.2.3] - 2026-01-01            (optionally followed by ` [YANKED]`)
//! ### Added | Changed | Deprecated | Removed | Fixed | Security
//! - an entry
//!   continued on an indented line
//! [1.2.3]: https://github.com/<owner>/<repo>/compare/v1.2.2...v1.2.3
//! ```

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use anyhow::{bail, Context, Result};
use semver::Version;
use serde::Serialize;
use strum::VariantArray;

use crate::text::shown;

pub const CHANGELOG_PATH: &str = "CHANGELOG.md";

/// The six change types of Keep a Changelog, in its order. The `### ` heading is the
/// variant's name, as the guide spells it; it parses back (`FromStr`) only spelt exactly so.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Changed,
    Deprecated,
    Removed,
    Fixed,
    Security,
}

impl ChangeKind {
    /// The `### ` heading, as Keep a Changelog spells it.
    pub fn heading(self) -> &'static str {
        self.into()
    }

    /// The `kind` of an `artifacthub.io/changes` entry: the heading in lower case, one to one
    /// (a second spelling, which a derive would not give as a `&'static str`).
    pub fn artifacthub(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::Deprecated => "deprecated",
            ChangeKind::Removed => "removed",
            ChangeKind::Fixed => "fixed",
            ChangeKind::Security => "security",
        }
    }
}

/// One bullet of a change-type section, its continuation lines joined with single spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub text: String,
}

/// One `## ` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// `None` is the `## [Unreleased]` section.
    pub version: Option<Version>,
    /// `YYYY-MM-DD`, checked to be a real date; `None` for `Unreleased`.
    pub date: Option<String>,
    pub yanked: bool,
    pub changes: Vec<Change>,
}

impl Entry {
    /// The entry's changes as markdown for the release page: one `### Kind` heading per kind,
    /// in the order the file first lists them, each followed by its bullets.
    pub fn markdown(&self) -> String {
        let mut kinds: Vec<ChangeKind> = Vec::new();
        for change in &self.changes {
            if !kinds.contains(&change.kind) {
                kinds.push(change.kind);
            }
        }
        let sections: Vec<String> = kinds
            .into_iter()
            .map(|kind| {
                let bullets = self.changes.iter().filter(|c| c.kind == kind);
                let bullets: String = bullets.map(|c| format!("- {}\n", c.text)).collect();
                format!("### {}\n\n{bullets}", kind.heading())
            })
            .collect();
        sections.join("\n")
    }

    /// Whether the entry lists a `### Security` change: Artifact Hub then marks the version as
    /// containing security updates.
    pub fn has_security(&self) -> bool {
        has_security(&self.changes)
    }

    fn name(&self) -> String {
        self.version
            .as_ref()
            .map_or("Unreleased".to_string(), Version::to_string)
    }
}

/// Whether `changes` hold a `### Security` change.
pub fn has_security(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.kind == ChangeKind::Security)
}

/// A parsed changelog: its sections in file order (the guide puts the latest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changelog {
    pub entries: Vec<Entry>,
    /// The file it was read from, for errors.
    file: String,
}

impl Changelog {
    /// The section that documents `version`: its own, or, for a pre-release that has none, the
    /// `Unreleased` section when that lists a change (a release candidate is often cut before
    /// the section gets its number). Errors say that nothing was built: this is checked first.
    pub fn entry_for(&self, version: &Version) -> Result<&Entry> {
        let file = &self.file;
        let hint = missing_hint(&version.to_string());
        if let Some(entry) = self
            .entries
            .iter()
            .find(|e| e.version.as_ref() == Some(version))
        {
            if entry.yanked {
                bail!(
                    "{file}: {version} is marked [YANKED], so nothing was built: a yanked version \
                     is not released again; release a new version with a section of its own"
                );
            }
            if entry.changes.is_empty() {
                bail!(
                    "{file}: the section of {version} lists no change, so nothing was built: \
                     {hint}"
                );
            }
            return Ok(entry);
        }
        if !version.pre.is_empty() {
            match self.unreleased() {
                Some(entry) if !entry.changes.is_empty() => return Ok(entry),
                Some(_) => bail!(
                    "{file} has no section for {version} and its [Unreleased] section lists no \
                     change, so nothing was built: {hint}"
                ),
                None => {}
            }
        }
        bail!("{file} has no section for {version}, so nothing was built: {hint}")
    }

    pub fn unreleased(&self) -> Option<&Entry> {
        self.entries.iter().find(|e| e.version.is_none())
    }
}

/// How to fix a release that has no changelog entry; `version` is the plain version.
fn missing_hint(version: &str) -> String {
    format!(
        "add a `## [{version}] - YYYY-MM-DD` section with at least one `### Added`/`### Changed`/... \
         bullet to {CHANGELOG_PATH} (a pre-release may list its changes under `## [Unreleased]`), \
         or pass `--skip-changelog` for a fixture or an emergency release"
    )
}

/// Reads and parses `root/CHANGELOG.md`.
pub fn read(root: &Path) -> Result<Changelog> {
    let path = root.join(CHANGELOG_PATH);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => bail!(
            "there is no {}, so nothing was built: create it in Keep a Changelog form and {}",
            path.display(),
            missing_hint("1.2.3")
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    parse(CHANGELOG_PATH, &text)
}

/// Parses a changelog; `file` names it in errors, which read `file:line: ...`.
pub fn parse(file: &str, text: &str) -> Result<Changelog> {
    let mut parser = Parser {
        file,
        ..Parser::default()
    };
    for (i, line) in text.lines().enumerate() {
        parser.line(i + 1, line)?;
    }
    Ok(Changelog {
        entries: parser.entries,
        file: file.to_string(),
    })
}

/// What one line of the file is, by its start alone.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Blank,
    /// `## ...`: a version heading (checked when parsed).
    Version(&'a str),
    /// `### ...`: a change type.
    Kind(&'a str),
    /// `- ...`, the text after the marker.
    Bullet(&'a str),
    /// An indented line, trimmed.
    Indented(&'a str),
    /// `[1.2.3]: https://...`
    LinkReference,
    /// Anything else: the title, the preamble, a note under a version heading.
    Text,
}

fn classify(line: &str) -> Line<'_> {
    let line = line.trim_end();
    if line.is_empty() {
        Line::Blank
    } else if let Some(rest) = line.strip_prefix("## ") {
        Line::Version(rest.trim())
    } else if let Some(rest) = line.strip_prefix("### ") {
        Line::Kind(rest.trim())
    } else if line == "-" {
        Line::Bullet("")
    } else if let Some(rest) = line.strip_prefix("- ") {
        Line::Bullet(rest.trim())
    } else if line.starts_with([' ', '\t']) {
        Line::Indented(line.trim())
    } else if is_link_reference(line) {
        Line::LinkReference
    } else {
        Line::Text
    }
}

/// `[label]: target`, markdown's link reference definition.
fn is_link_reference(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once("]:"))
        .is_some_and(|(label, _)| !label.is_empty() && !label.contains(']'))
}

#[derive(Default)]
struct Parser<'a> {
    file: &'a str,
    entries: Vec<Entry>,
    /// The line of each entry's heading, for the error about a version listed twice.
    entry_lines: Vec<usize>,
    /// The change type the lines belong to; `None` before the first `### ` of a section.
    kind: Option<ChangeKind>,
    /// Whether an indented line continues the last bullet.
    in_bullet: bool,
}

impl Parser<'_> {
    fn line(&mut self, number: usize, line: &str) -> Result<()> {
        let file = self.file;
        let at = |message: String| anyhow::anyhow!("{file}:{number}: {message}");
        match classify(line) {
            Line::Blank => {}
            Line::Version(heading) => {
                let entry = parse_heading(heading).map_err(at)?;
                if let Some(i) = self.entries.iter().position(|e| e.version == entry.version) {
                    return Err(at(format!(
                        "[{}] is listed twice (first on line {}): merge the two sections into one",
                        entry.name(),
                        self.entry_lines[i]
                    )));
                }
                self.entries.push(entry);
                self.entry_lines.push(number);
                self.kind = None;
                self.in_bullet = false;
            }
            Line::Kind(name) => {
                if self.entries.is_empty() {
                    return Err(at(format!(
                        "`### {}` comes before any version heading: put it under `## [Unreleased]` \
                         or `## [1.2.3] - YYYY-MM-DD`",
                        shown(name)
                    )));
                }
                let kind: ChangeKind = name.parse().map_err(|_| {
                    at(format!(
                        "`### {}` is not a Keep a Changelog change type: use one of {}",
                        shown(name),
                        kinds_list()
                    ))
                })?;
                self.kind = Some(kind);
                self.in_bullet = false;
            }
            Line::Bullet(text) => {
                let Some(entry) = self.entries.last_mut() else {
                    // A list in the preamble is prose, not a change.
                    return Ok(());
                };
                let Some(kind) = self.kind else {
                    return Err(at(format!(
                        "the change `{}` is not under a change type: put it under one of {}",
                        shown(text),
                        kinds_list()
                    )));
                };
                if text.is_empty() {
                    return Err(at(
                        "an empty bullet: write the change after `- `, or remove the line".into(),
                    ));
                }
                entry.changes.push(Change {
                    kind,
                    text: text.to_string(),
                });
                self.in_bullet = true;
            }
            Line::Indented(text) => {
                if self.in_bullet {
                    let change = self
                        .entries
                        .last_mut()
                        .and_then(|e| e.changes.last_mut())
                        .expect("a bullet was read");
                    change.text.push(' ');
                    change.text.push_str(text);
                } else if self.kind.is_some() {
                    return Err(at(format!(
                        "the indented line `{}` is not under a bullet: start the change with `- `",
                        shown(text)
                    )));
                }
            }
            Line::LinkReference => self.in_bullet = false,
            Line::Text => {
                if self.kind.is_some() {
                    return Err(at(format!(
                        "`{}` is neither a `- ` bullet nor a line indented under one: a change is \
                         a `- ` bullet, and its further lines are indented",
                        shown(line.trim())
                    )));
                }
            }
        }
        Ok(())
    }
}

fn kinds_list() -> String {
    ChangeKind::VARIANTS
        .iter()
        .map(|k| format!("`### {}`", k.heading()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The entry a `## ` heading opens: `[Unreleased]`, or `[1.2.3] - 2026-01-01` with an
/// optional ` [YANKED]`. The error is the message without its `file:line:`.
fn parse_heading(heading: &str) -> std::result::Result<Entry, String> {
    let form = "write it as `## [1.2.3] - YYYY-MM-DD` or `## [Unreleased]`";
    let bad = || format!("`## {}` is not a version heading: {form}", shown(heading));
    let (name, tail) = heading
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .ok_or_else(bad)?;
    if name.eq_ignore_ascii_case("unreleased") {
        if !tail.trim().is_empty() {
            return Err(format!(
                "`## {}`: the Unreleased section has no date or marker: write `## [Unreleased]`",
                shown(heading)
            ));
        }
        return Ok(Entry::default());
    }
    if let Some(plain) = name
        .strip_prefix('v')
        .filter(|plain| Version::parse(plain).is_ok())
    {
        return Err(format!(
            "`{}` is not a semantic version: write `## [{plain}] - YYYY-MM-DD`, without the v",
            shown(name)
        ));
    }
    let version = Version::parse(name)
        .map_err(|e| format!("`{}` is not a semantic version ({e}): {form}", shown(name)))?;
    if tail.trim().is_empty() {
        return Err(format!(
            "[{version}] has no release date: write `## [{version}] - YYYY-MM-DD`"
        ));
    }
    let dated = tail.strip_prefix(" - ").ok_or_else(bad)?;
    let (date, yanked) = match dated.strip_suffix(" [YANKED]") {
        Some(date) => (date.trim(), true),
        None => (dated.trim(), false),
    };
    if !is_iso_date(date) {
        return Err(format!(
            "`{}` after [{version}] is not a date: write the release day as YYYY-MM-DD \
             (and ` [YANKED]` after it for a yanked release)",
            shown(date)
        ));
    }
    Ok(Entry {
        version: Some(version),
        date: Some(date.to_string()),
        yanked,
        ..Entry::default()
    })
}

/// `YYYY-MM-DD`, a day that exists (no 2026-02-30).
fn is_iso_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return false;
    };
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    // The form checked first: jiff reads more forms of a date than this one.
    digits(year, 4) && digits(month, 2) && digits(day, 2) && s.parse::<jiff::civil::Date>().is_ok()
}

#[cfg(test)]
mod tests;
