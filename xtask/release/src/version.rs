//! The release version and the tags it earns. Pure: the registry's tags come in as data.

use std::fmt;

use anyhow::{anyhow, bail, Result};
use semver::Version;
use serde::Serialize;

/// The limit Kubernetes sets on a label value; the chart puts the version in one.
pub const LABEL_LIMIT: usize = 63;

/// A release version as given: its git tag, `v1.2.3` or `1.2.3`, checked to be strict semver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseVersion {
    version: Version,
    /// Whether the git tag carries the `v` (`v1.2.3`): the image gets that tag too.
    prefixed: bool,
}

impl ReleaseVersion {
    pub fn parse(raw: &str) -> Result<Self> {
        let hint = "use a strict semantic version such as v1.2.3 or v1.0.0-beta.1";
        let shown = crate::text::shown(raw);
        let prefixed = raw.starts_with('v');
        let plain = raw.strip_prefix('v').unwrap_or(raw);
        if plain.is_empty() {
            bail!("the release version is empty: {hint}");
        }
        let version = Version::parse(plain)
            .map_err(|e| anyhow!("`{shown}` is not a release version ({e}): {hint}"))?;
        if !version.build.is_empty() {
            // The tags are the version as given, so the suggestion keeps (or lacks) the `v`.
            let without = ReleaseVersion {
                version: Version {
                    build: semver::BuildMetadata::EMPTY,
                    ..version.clone()
                },
                prefixed,
            };
            bail!(
                "`{shown}` carries build metadata (`+{}`), which an image tag cannot hold: release `{}` instead",
                crate::text::shown(version.build.as_str()),
                without.tag()
            );
        }
        let release = ReleaseVersion { version, prefixed };
        if release.plain().len() > LABEL_LIMIT {
            bail!(
                "`{shown}` is too long: the chart's app.kubernetes.io/version label holds at most \
                 {LABEL_LIMIT} characters; shorten the pre-release part"
            );
        }
        Ok(release)
    }

    pub fn semver(&self) -> &Version {
        &self.version
    }

    /// `1.2.3`: the chart version, appVersion and the operator's `--version`.
    pub fn plain(&self) -> String {
        self.version.to_string()
    }

    /// `refs/tags/<tag>`: the git ref the release is built from and signed as.
    pub fn git_ref(&self) -> String {
        tag_ref(&self.tag())
    }

    /// The git tag, as given (`v1.2.3` or `1.2.3`), and the first image tag.
    pub fn tag(&self) -> String {
        let v = if self.prefixed { "v" } else { "" };
        format!("{v}{}", self.version)
    }

    /// The image's version tags: the tag as given, and the plain version (`v1.2.3 1.2.3`, or
    /// only `1.2.3`). No tag is invented that no git tag has.
    pub fn version_tags(&self) -> Vec<String> {
        let mut tags = vec![self.tag()];
        if self.prefixed {
            tags.push(self.plain());
        }
        tags
    }

    pub fn is_prerelease(&self) -> bool {
        !self.version.pre.is_empty()
    }
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag())
    }
}

/// Whether a floating tag moves to this release, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Floating {
    pub tag: String,
    /// `None` when this release takes the tag; otherwise the higher release that keeps it.
    pub held_by: Option<String>,
}

/// The tags of one release: version tags never move; floating tags only move forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagPlan {
    pub version_tags: Vec<String>,
    pub floating: Vec<Floating>,
}

impl TagPlan {
    /// The floating tags this release takes, as planned from the tags read before the build.
    pub fn floating_taken(&self) -> Vec<String> {
        self.floating
            .iter()
            .filter(|f| f.held_by.is_none())
            .map(|f| f.tag.clone())
            .collect()
    }

    /// Version tags first, then the floating tags this release takes: the order of pushing.
    pub fn tags_to_push(&self) -> Vec<String> {
        let mut tags = self.version_tags.clone();
        tags.extend(self.floating_taken());
        tags
    }
}

/// `refs/tags/<tag>`, the one spelling of a tag's git ref.
pub fn tag_ref(tag: &str) -> String {
    format!("refs/tags/{tag}")
}

/// Releases already published, each once and in order, read from a repository's tags (a
/// release has `v1.2.3` and `1.2.3`; anything else, such as cosign's `sha256-<hex>.sig` or a
/// referrers index `sha256-<hex>`, is ignored).
pub fn published_versions<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<Version> {
    let versions: std::collections::BTreeSet<Version> = tags
        .into_iter()
        .filter_map(|t| ReleaseVersion::parse(t).ok())
        .map(|r| r.version)
        .collect();
    versions.into_iter().collect()
}

/// The releases that may hold a floating tag: the published ones, less those withdrawn (a
/// withdrawn release is absent for every floating tag, in every release, re-run and race).
pub fn eligible(published: &[Version], withdrawn: &[Version]) -> Vec<Version> {
    published
        .iter()
        .filter(|v| !withdrawn.contains(v))
        .cloned()
        .collect()
}

/// The floating tags a stable version could hold: `MAJOR.MINOR`, `MAJOR` (never a bare `0`,
/// which would claim stability for the unstable 0.x line) and `latest`.
pub fn floating_candidates(v: &Version) -> Vec<String> {
    let mut tags = vec![format!("{}.{}", v.major, v.minor)];
    if v.major > 0 {
        tags.push(v.major.to_string());
    }
    tags.push("latest".to_string());
    tags
}

/// Whether `p` is in the scope of the floating tag `tag` (`1.2`, `1` or `latest`).
fn in_scope(tag: &str, p: &Version) -> bool {
    let mut parts = tag.split('.').map(|n| n.parse::<u64>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => p.major == major && p.minor == minor,
        (Some(Ok(major)), None) => p.major == major,
        _ => tag == "latest",
    }
}

/// The release that should hold a floating tag: the highest stable one in its scope.
pub fn holder<'a>(tag: &str, published: &'a [Version]) -> Option<&'a Version> {
    published
        .iter()
        .filter(|p| p.pre.is_empty() && in_scope(tag, p))
        .max()
}

/// Computes the tags for `release` given the versions already in the registry. A release
/// marked as a pre-release (on GitHub, or by `prerelease`) takes no floating tag even when its
/// version has no pre-release part.
pub fn plan_tags(release: &ReleaseVersion, published: &[Version], prerelease: bool) -> TagPlan {
    let v = release.semver();
    let floating = if release.is_prerelease() || prerelease {
        Vec::new()
    } else {
        floating_candidates(v)
            .into_iter()
            .map(|tag| {
                let held_by = holder(&tag, published).filter(|h| *h > v);
                let held_by = held_by.map(|h| h.to_string());
                Floating { tag, held_by }
            })
            .collect()
    };
    TagPlan {
        version_tags: release.version_tags(),
        floating,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(version: &str, published: &[&str]) -> Vec<String> {
        let release = ReleaseVersion::parse(version).unwrap();
        plan_tags(
            &release,
            &published_versions(published.iter().copied()),
            false,
        )
        .tags_to_push()
    }

    #[test]
    fn accepts_with_and_without_v_and_keeps_the_tag_as_given() {
        let with_v = ReleaseVersion::parse("v1.2.3").unwrap();
        assert_eq!(
            (with_v.tag(), with_v.plain()),
            ("v1.2.3".into(), "1.2.3".into())
        );
        let without = ReleaseVersion::parse("1.2.3").unwrap();
        assert_eq!(
            (without.tag(), without.plain()),
            ("1.2.3".into(), "1.2.3".into())
        );
        assert_eq!(without.version_tags(), ["1.2.3"]);
    }

    #[test]
    fn tags_are_the_version_as_given() {
        assert_eq!(plan("1.2.3", &[]), ["1.2.3", "1.2", "1", "latest"]);
        assert_eq!(
            plan("v1.2.3", &[]),
            ["v1.2.3", "1.2.3", "1.2", "1", "latest"]
        );
        // docker/metadata-action's `{{raw}}` is the tag as given; so is ours for a pre-release.
        assert_eq!(plan("1.0.0-rc.1", &[]), ["1.0.0-rc.1"]);
    }

    #[test]
    fn what_was_typed_is_shown_escaped_on_one_line() {
        for raw in ["v1.2\n.3", "\u{1b}[31mv1", "v1\r2"] {
            let err = ReleaseVersion::parse(raw).unwrap_err().to_string();
            assert!(
                !err.contains('\n') && !err.contains('\r') && !err.contains('\u{1b}'),
                "{err:?}"
            );
        }
        // A right-to-left override would reverse the rest of the line on a terminal.
        let err = ReleaseVersion::parse("v1.2.3-\u{202e}rc1")
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\u{202e}'), "{err:?}");
        assert!(err.starts_with("`v1.2.3-\\u{202e}rc1` is not"), "{err}");
        let err = ReleaseVersion::parse("v1.2\n.3").unwrap_err().to_string();
        assert!(
            err.starts_with("`v1.2\\n.3` is not a release version"),
            "{err}"
        );
    }

    #[test]
    fn refuses_what_is_not_strict_semver() {
        for bad in [
            "v1.2",
            "1.2.3.4",
            "latest",
            "01.2.3",
            "1.02.3",
            "v1.2.3-01",
            "",
            "v",
            "1.2.3 ",
            "vv1.2.3",
        ] {
            let err = ReleaseVersion::parse(bad)
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(err.contains("v1.2.3"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn refuses_build_metadata_and_overlong_tags() {
        let err = ReleaseVersion::parse("v1.2.3+build.5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("release `v1.2.3` instead"), "{err}");
        let err = ReleaseVersion::parse("1.1.2+meta").unwrap_err().to_string();
        assert!(err.ends_with("release `1.1.2` instead"), "{err}");
        let err = ReleaseVersion::parse("v1.1.2+meta")
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("release `v1.1.2` instead"), "{err}");
        let long = format!("1.0.0-{}", "a".repeat(58));
        assert!(ReleaseVersion::parse(&long)
            .unwrap_err()
            .to_string()
            .contains("63 characters"));
        let fits = format!("1.0.0-{}", "a".repeat(57));
        assert!(ReleaseVersion::parse(&fits).is_ok());
    }

    #[test]
    fn stable_release_gets_all_tags() {
        assert_eq!(
            plan("v1.2.3", &[]),
            ["v1.2.3", "1.2.3", "1.2", "1", "latest"]
        );
    }

    #[test]
    fn zero_major_gets_no_bare_zero() {
        assert_eq!(
            plan("v0.4.1", &["v0.3.0"]),
            ["v0.4.1", "0.4.1", "0.4", "latest"]
        );
    }

    #[test]
    fn prerelease_gets_only_its_own_version() {
        assert_eq!(
            plan("v1.0.0-beta.1", &[]),
            ["v1.0.0-beta.1", "1.0.0-beta.1"]
        );
    }

    #[test]
    fn backport_never_moves_latest() {
        let published = ["v2.0.1", "2.0.1", "2.0", "2", "latest", "v1.9.0", "1.9.0"];
        assert_eq!(plan("v1.9.1", &published), ["v1.9.1", "1.9.1", "1.9", "1"]);
        // A patch to an older minor keeps neither the minor above it nor the major.
        let published = ["v1.9.0", "v1.8.4"];
        assert_eq!(plan("v1.8.5", &published), ["v1.8.5", "1.8.5", "1.8"]);
    }

    #[test]
    fn plan_names_the_release_that_holds_a_tag() {
        let release = ReleaseVersion::parse("v1.9.1").unwrap();
        let plan = plan_tags(&release, &published_versions(["v2.0.1"]), false);
        let latest = plan.floating.iter().find(|f| f.tag == "latest").unwrap();
        assert_eq!(latest.held_by.as_deref(), Some("2.0.1"));
    }

    #[test]
    fn prereleases_and_foreign_tags_never_hold_floating_tags() {
        let published = ["v2.0.0-rc.1", "buildcache", "sha256-abc.sig", "2.0.0-rc.1"];
        assert_eq!(
            plan("v1.9.1", &published),
            ["v1.9.1", "1.9.1", "1.9", "1", "latest"]
        );
    }

    #[test]
    fn tags_that_are_no_release_never_count_as_one() {
        let hex = "a".repeat(64);
        let tags = [
            "v1.2.3".to_string(),
            "artifacthub.io".into(),
            "latest".into(),
            "1".into(),
            "1.2".into(),
            format!("sha256-{hex}.sig"),
            format!("sha256-{hex}.att"),
            format!("sha256-{hex}"),
        ];
        let published = published_versions(tags.iter().map(String::as_str));
        assert_eq!(published, [Version::parse("1.2.3").unwrap()]);
        let plan = plan_tags(&ReleaseVersion::parse("v1.2.4").unwrap(), &published, false);
        assert_eq!(plan.floating_taken(), ["1.2", "1", "latest"]);
    }

    #[test]
    fn rerun_of_the_highest_release_keeps_its_tags() {
        assert_eq!(
            plan("v1.2.3", &["v1.2.3", "1.2.3"]),
            ["v1.2.3", "1.2.3", "1.2", "1", "latest"]
        );
    }

    #[test]
    fn a_github_prerelease_takes_no_floating_tag_even_with_a_plain_version() {
        let release = ReleaseVersion::parse("v1.3.0").unwrap();
        let plan = plan_tags(&release, &[], true);
        assert_eq!(plan.tags_to_push(), ["v1.3.0", "1.3.0"]);
    }

    #[test]
    fn a_withdrawn_release_holds_no_floating_tag() {
        let published = published_versions(["v1.2.2", "v1.2.3", "v2.0.0", "v1.3.0-rc.1"]);
        let withdrawn = published_versions(["1.2.3"]);
        let eligible = eligible(&published, &withdrawn);
        assert_eq!(holder("1.2", &eligible).unwrap().to_string(), "1.2.2");
        assert_eq!(holder("1", &eligible).unwrap().to_string(), "1.2.2");
        assert_eq!(holder("latest", &eligible).unwrap().to_string(), "2.0.0");
        // A re-run of 1.2.2 keeps 1.2; a 1.1.9 backport takes neither 1 nor latest.
        let rerun = plan_tags(&ReleaseVersion::parse("v1.2.2").unwrap(), &eligible, false);
        assert_eq!(rerun.floating_taken(), ["1.2", "1"]);
        let backport = plan_tags(&ReleaseVersion::parse("v1.1.9").unwrap(), &eligible, false);
        assert_eq!(backport.floating_taken(), ["1.1"]);
        let both = published_versions(["1.2.3", "2.0.0"]);
        let eligible = super::eligible(&published, &both);
        assert_eq!(holder("latest", &eligible).unwrap().to_string(), "1.2.2");
        assert_eq!(holder("2", &eligible), None);
    }

    #[test]
    fn holder_is_the_highest_stable_release_in_scope() {
        let published = published_versions(["v1.9.1", "v2.0.1", "v2.1.0-rc.1", "v1.8.0"]);
        assert_eq!(holder("latest", &published).unwrap().to_string(), "2.0.1");
        assert_eq!(holder("1", &published).unwrap().to_string(), "1.9.1");
        assert_eq!(holder("1.8", &published).unwrap().to_string(), "1.8.0");
        assert_eq!(holder("2.1", &published), None);
    }
}
