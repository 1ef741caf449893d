use super::*;

const SAMPLE: &str = "\
# Changelog

All notable changes to this project will be documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).
- a list in the preamble is prose

## [Unreleased]

### Added

- Artifact Hub annotations on the chart
  and on the image index.

## [1.2.0] - 2026-03-01

A note under a version heading is not a change.

### Security

- Bump foo to 1.0.1 (CVE-2099-0003)

### Added

- A status endpoint
- Two lines

  after a blank line

### Fixed

- fix: \"quoted\" #1 & more

## [1.1.0] - 2026-02-01 [YANKED]

### Removed

- The old flag

[unreleased]: https://github.com/alto9/kube9-operator/compare/v1.2.0...HEAD
[1.2.0]: https://github.com/alto9/kube9-operator/compare/v1.1.0...v1.2.0
";

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn sample() -> Changelog {
    parse("CHANGELOG.md", SAMPLE).unwrap()
}

fn err(text: &str) -> String {
    parse("CHANGELOG.md", text).unwrap_err().to_string()
}

fn texts(entry: &Entry) -> Vec<(&'static str, &str)> {
    entry
        .changes
        .iter()
        .map(|c| (c.kind.artifacthub(), c.text.as_str()))
        .collect()
}

#[test]
fn reads_sections_kinds_bullets_and_continuations() {
    let log = sample();
    assert_eq!(log.entries.len(), 3);
    let unreleased = &log.entries[0];
    assert_eq!(
        (unreleased.version.as_ref(), unreleased.date.as_ref()),
        (None, None)
    );
    assert_eq!(
        texts(unreleased),
        [(
            "added",
            "Artifact Hub annotations on the chart and on the image index."
        )]
    );
    let entry = &log.entries[1];
    assert_eq!(entry.version, Some(v("1.2.0")));
    assert_eq!(entry.date.as_deref(), Some("2026-03-01"));
    assert!(!entry.yanked);
    assert_eq!(
        texts(entry),
        [
            ("security", "Bump foo to 1.0.1 (CVE-2099-0003)"),
            ("added", "A status endpoint"),
            ("added", "Two lines after a blank line"),
            ("fixed", "fix: \"quoted\" #1 & more"),
        ]
    );
    assert!(log.entries[2].yanked);
    assert_eq!(log.entries[2].date.as_deref(), Some("2026-02-01"));
}

#[test]
fn markdown_groups_changes_by_kind_in_file_order() {
    let log = sample();
    let entry = log.entry_for(&v("1.2.0")).unwrap();
    assert_eq!(
        entry.markdown(),
        "### Security\n\n- Bump foo to 1.0.1 (CVE-2099-0003)\n\n\
         ### Added\n\n- A status endpoint\n- Two lines after a blank line\n\n\
         ### Fixed\n\n- fix: \"quoted\" #1 & more\n"
    );
    assert!(entry.has_security());
    assert!(!log.unreleased().unwrap().has_security());
}

#[test]
fn kinds_map_one_to_one_to_artifact_hub() {
    let names: Vec<_> = ChangeKind::VARIANTS
        .iter()
        .map(|k| k.artifacthub())
        .collect();
    assert_eq!(
        names,
        [
            "added",
            "changed",
            "deprecated",
            "removed",
            "fixed",
            "security"
        ]
    );
    for &kind in ChangeKind::VARIANTS {
        assert_eq!(kind.heading().parse(), Ok(kind));
        assert_eq!(kind.heading().to_lowercase(), kind.artifacthub());
    }
}

#[test]
fn a_release_finds_its_own_section_by_semver() {
    let log = sample();
    assert_eq!(
        log.entry_for(&v("1.2.0")).unwrap().version,
        Some(v("1.2.0"))
    );
    // A pre-release without its own section takes the Unreleased changes.
    let rc = log.entry_for(&v("1.3.0-rc.1")).unwrap();
    assert_eq!(rc.version, None);
    // A stable release never does.
    let e = log.entry_for(&v("1.3.0")).unwrap_err().to_string();
    assert!(
        e.contains("CHANGELOG.md has no section for 1.3.0, so nothing was built"),
        "{e}"
    );
    assert!(e.contains("add a `## [1.3.0] - YYYY-MM-DD` section"), "{e}");
    assert!(
        e.contains("`## [Unreleased]`") && e.contains("--skip-changelog"),
        "{e}"
    );
}

#[test]
fn a_prerelease_with_a_section_of_its_own_takes_it() {
    let log = parse(
        "CHANGELOG.md",
        "## [Unreleased]\n### Added\n- later\n## [1.3.0-rc.1] - 2026-04-01\n### Fixed\n- rc\n",
    )
    .unwrap();
    let entry = log.entry_for(&v("1.3.0-rc.1")).unwrap();
    assert_eq!(texts(entry), [("fixed", "rc")]);
}

#[test]
fn an_empty_unreleased_section_does_not_document_a_prerelease() {
    let log = parse("CHANGELOG.md", "# Changelog\n\n## [Unreleased]\n\n").unwrap();
    let e = log.entry_for(&v("1.0.0-beta.1")).unwrap_err().to_string();
    assert!(e.contains("[Unreleased] section lists no change"), "{e}");
    assert!(
        e.contains("nothing was built") && e.contains("--skip-changelog"),
        "{e}"
    );
    let log = parse("CHANGELOG.md", "# Changelog\n").unwrap();
    assert!(log.entry_for(&v("1.0.0-beta.1")).is_err());
}

#[test]
fn a_section_without_changes_or_a_yanked_one_is_refused() {
    let log = parse(
        "CHANGELOG.md",
        "## [2.0.0] - 2026-05-01\n\n### Added\n\n## [1.0.0] - 2026-01-01 [YANKED]\n### Fixed\n- x\n",
    )
    .unwrap();
    let e = log.entry_for(&v("2.0.0")).unwrap_err().to_string();
    assert!(
        e.contains("the section of 2.0.0 lists no change, so nothing was built"),
        "{e}"
    );
    let e = log.entry_for(&v("1.0.0")).unwrap_err().to_string();
    assert!(
        e.contains("1.0.0 is marked [YANKED], so nothing was built"),
        "{e}"
    );
}

#[test]
fn malformed_version_headings_name_the_line() {
    let e = err("# Changelog\n\n## [1.2] - 2026-01-01\n");
    assert!(
        e.starts_with("CHANGELOG.md:3: `1.2` is not a semantic version"),
        "{e}"
    );
    let e = err("## [v1.2.3] - 2026-01-01\n");
    assert!(
        e.contains("write `## [1.2.3] - YYYY-MM-DD`, without the v"),
        "{e}"
    );
    let e = err("## [1.2.3] - 2026-02-30\n");
    assert!(
        e.starts_with("CHANGELOG.md:1: `2026-02-30` after [1.2.3] is not a date"),
        "{e}"
    );
    for bad_date in ["2026-1-01", "01-01-2026", "2026/01/01", "20260101", "soon"] {
        let e = err(&format!("## [1.2.3] - {bad_date}\n"));
        assert!(e.contains("is not a date"), "{bad_date}: {e}");
    }
    let e = err("## [1.2.3]\n");
    assert!(e.contains("[1.2.3] has no release date"), "{e}");
    let e = err("## 1.2.3 - 2026-01-01\n");
    assert!(e.contains("is not a version heading"), "{e}");
    let e = err("## [Unreleased] - 2026-01-01\n");
    assert!(e.contains("write `## [Unreleased]`"), "{e}");
}

#[test]
fn unknown_kinds_and_stray_bullets_name_the_line() {
    let e = err("## [1.0.0] - 2026-01-01\n### Improved\n- x\n");
    assert!(
        e.starts_with("CHANGELOG.md:2: `### Improved` is not a Keep a Changelog change type"),
        "{e}"
    );
    assert!(e.contains("`### Security`"), "{e}");
    let e = err("## [1.0.0] - 2026-01-01\n- x\n");
    assert!(
        e.starts_with("CHANGELOG.md:2: the change `x` is not under a change type"),
        "{e}"
    );
    let e = err("# Changelog\n### Added\n- x\n");
    assert!(
        e.starts_with("CHANGELOG.md:2:") && e.contains("before any version heading"),
        "{e}"
    );
    let e = err("## [1.0.0] - 2026-01-01\n### Added\n* x\n");
    assert!(
        e.starts_with("CHANGELOG.md:3:") && e.contains("neither a `- ` bullet"),
        "{e}"
    );
    let e = err("## [1.0.0] - 2026-01-01\n### Added\n  floating\n");
    assert!(
        e.starts_with("CHANGELOG.md:3:") && e.contains("not under a bullet"),
        "{e}"
    );
    let e = err("## [1.0.0] - 2026-01-01\n### Added\n-\n");
    assert!(e.starts_with("CHANGELOG.md:3: an empty bullet"), "{e}");
}

#[test]
fn a_version_listed_twice_is_refused() {
    let e = err("## [1.0.0] - 2026-01-01\n\n## [1.0.0] - 2026-01-02\n");
    assert!(
        e.starts_with("CHANGELOG.md:3: [1.0.0] is listed twice (first on line 1)"),
        "{e}"
    );
    let e = err("## [Unreleased]\n## [unreleased]\n");
    assert!(e.contains("[Unreleased] is listed twice"), "{e}");
}

#[test]
fn errors_stay_on_one_line() {
    let e = err("## [1.0.0] - 2026-01-01\n### Add\u{1b}[31med\n");
    assert!(!e.contains('\u{1b}') && e.contains("\\u{1b}"), "{e}");
}

#[test]
fn a_missing_file_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = read(dir.path()).unwrap_err().to_string();
    assert!(e.contains("CHANGELOG.md, so nothing was built"), "{e}");
    assert!(e.contains("--skip-changelog"), "{e}");
    std::fs::write(dir.path().join(CHANGELOG_PATH), SAMPLE).unwrap();
    assert_eq!(read(dir.path()).unwrap(), sample());
}

#[test]
fn the_projects_changelog_parses() {
    let log = parse(CHANGELOG_PATH, include_str!("../../../../CHANGELOG.md")).unwrap();
    let unreleased = log.unreleased().expect("an Unreleased section");
    assert!(!unreleased.changes.is_empty());
}
