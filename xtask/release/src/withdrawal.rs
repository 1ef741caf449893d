//! A withdrawn release: nothing is deleted (a cluster that pinned the digest keeps pulling it);
//! instead the index and the chart carry a signed in-toto statement saying that the release is
//! withdrawn, why, and what to use instead, and every floating tag treats the version as absent.
//! The latest statement (by its time) wins, so an undo is one more statement. Pure.

use std::collections::BTreeMap;
use std::fmt;

use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::provenance::STATEMENT_V1;

/// The predicate type of a withdrawal statement: a URI of this project.
pub const PREDICATE_TYPE: &str = "https://github.com/alto9/kube9-operator/withdrawal/v1";

/// The exit code of `verify-release` for a release that verifies but is withdrawn: an admin's
/// automation tells it from a broken release (1) by this code alone.
pub const EXIT_WITHDRAWN: u8 = 3;

/// The predicate of one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// The plain version (`1.2.3`).
    pub version: String,
    pub reason: String,
    /// The plain version to use instead, if any.
    #[serde(default)]
    pub replacement: Option<String>,
    /// `false`: the withdrawal is lifted (`withdraw --undo`).
    pub withdrawn: bool,
    /// RFC 3339; the latest statement wins.
    pub time: String,
}

impl Withdrawal {
    /// Whether `other` says the same thing (a re-run need not say it again).
    pub fn same_state(&self, other: &Withdrawal) -> bool {
        self.version == other.version
            && self.withdrawn == other.withdrawn
            && (!self.withdrawn
                || (self.reason == other.reason && self.replacement == other.replacement))
    }

    /// `withdrawn: <reason>; use <replacement>`, what `verify-release` reports.
    pub fn summary(&self) -> String {
        if !self.withdrawn {
            return format!("not withdrawn (the withdrawal was lifted at {})", self.time);
        }
        let reason = crate::text::one_line(&self.reason);
        match &self.replacement {
            Some(r) => format!("withdrawn: {reason}; use {r}"),
            None => format!("withdrawn: {reason}; no replacement named"),
        }
    }

    fn timestamp(&self) -> Option<jiff::Timestamp> {
        self.time.parse().ok()
    }
}

/// The statement about `subjects` (`(name, sha256:<hex>)`): the index and the chart.
pub fn statement(subjects: &[(String, String)], withdrawal: &Withdrawal) -> Value {
    let subject: Vec<Value> = subjects
        .iter()
        .map(|(name, digest)| {
            json!({"name": name, "digest": {"sha256": digest.trim_start_matches("sha256:")}})
        })
        .collect();
    json!({
        "_type": STATEMENT_V1,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": withdrawal,
    })
}

/// The withdrawal in an in-toto statement, if it is one.
pub fn from_statement(statement: &Value) -> Option<Withdrawal> {
    if statement["predicateType"].as_str() != Some(PREDICATE_TYPE) {
        return None;
    }
    serde_json::from_value(statement["predicate"].clone()).ok()
}

/// The latest of several statements (by time; one whose time does not parse never wins).
pub fn latest(all: impl IntoIterator<Item = Withdrawal>) -> Option<Withdrawal> {
    all.into_iter()
        .filter(|w| w.timestamp().is_some())
        .max_by_key(|w| w.timestamp())
}

/// What keeps a published release from a floating tag: the latest withdrawal statement of
/// each version that has one, and the versions published as GitHub pre-releases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withdrawals {
    pub statements: BTreeMap<Version, Withdrawal>,
    /// Versions without a pre-release part that were published as GitHub pre-releases (their
    /// index says `io.artifacthub.package.prerelease: "true"`): they took no floating tag
    /// then, and no withdrawal or later release hands them one.
    pub marked_prereleases: Vec<Version>,
}

impl Withdrawals {
    /// The versions withdrawn now.
    pub fn withdrawn(&self) -> Vec<Version> {
        self.statements
            .iter()
            .filter(|(_, w)| w.withdrawn)
            .map(|(v, _)| v.clone())
            .collect()
    }

    /// The published versions no floating tag may name: the withdrawn ones and the GitHub
    /// pre-releases.
    pub fn not_floating(&self) -> Vec<Version> {
        let mut all = self.withdrawn();
        all.extend(self.marked_prereleases.iter().cloned());
        all
    }

    pub fn get(&self, version: &Version) -> Option<&Withdrawal> {
        self.statements.get(version)
    }

    pub fn is_withdrawn(&self, version: &Version) -> bool {
        self.get(version).is_some_and(|w| w.withdrawn)
    }
}

/// `verify-release`'s outcome for a release that verified and is withdrawn: the binaries map
/// it to `EXIT_WITHDRAWN`.
#[derive(Debug, Clone)]
pub struct WithdrawnRelease(pub Withdrawal);

impl fmt::Display for WithdrawnRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {} (exit code {EXIT_WITHDRAWN}: the release verifies, but do not install it)",
            self.0.version,
            self.0.summary()
        )
    }
}

impl std::error::Error for WithdrawnRelease {}

/// The exit code for the error a command ended with.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<WithdrawnRelease>().is_some() {
        EXIT_WITHDRAWN
    } else {
        1
    }
}

/// The marker of a withdrawn release's title on GitHub.
pub const TITLE_MARK: &str = "[WITHDRAWN] ";
pub const PAGE_BEGIN: &str = "<!-- kube9-release:withdrawn:begin -->";
pub const PAGE_END: &str = "<!-- kube9-release:withdrawn:end -->";

/// The GitHub release's title with (`summary` given) or without the withdrawn mark; an empty
/// title is GitHub's default, the tag.
pub fn release_title(name: Option<&str>, tag: &str, withdrawn: bool) -> String {
    let name = name.filter(|n| !n.trim().is_empty()).unwrap_or(tag);
    let bare = name.strip_prefix(TITLE_MARK).unwrap_or(name);
    if withdrawn {
        format!("{TITLE_MARK}{bare}")
    } else {
        bare.to_string()
    }
}

/// The release's notes with the withdrawal notice at the top (`summary` given), or without it;
/// everything else stays as it was (immutable releases allow editing the title and notes).
pub fn release_notes(body: &str, summary: Option<&str>) -> String {
    let rest = match (body.find(PAGE_BEGIN), body.find(PAGE_END)) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{}", &body[..start], &body[end + PAGE_END.len()..])
        }
        _ => body.to_string(),
    };
    let rest = rest.trim_start();
    match summary {
        Some(s) => format!(
            "{PAGE_BEGIN}\n> [!CAUTION]\n> **This release is withdrawn.** {s}. Nothing was \
             deleted: clusters that pinned it keep pulling it.\n{PAGE_END}\n\n{rest}"
        ),
        None => rest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(time: &str, withdrawn: bool) -> Withdrawal {
        Withdrawal {
            version: "1.2.3".into(),
            reason: "leaks a debug flag".into(),
            replacement: Some("1.2.2".into()),
            withdrawn,
            time: time.into(),
        }
    }

    #[test]
    fn the_statement_is_v1_about_the_index_and_the_chart() {
        let s = statement(
            &[
                ("ghcr.io/a/op".into(), "sha256:aa".into()),
                ("ghcr.io/a/charts/op".into(), "sha256:bb".into()),
            ],
            &w("2026-12-07T01:00:00Z", true),
        );
        assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(s["predicateType"], PREDICATE_TYPE);
        assert_eq!(s["subject"][1]["digest"]["sha256"], "bb");
        assert_eq!(s["predicate"]["replacement"], "1.2.2");
        assert_eq!(from_statement(&s), Some(w("2026-12-07T01:00:00Z", true)));
        let mut other = s.clone();
        other["predicateType"] = "https://slsa.dev/provenance/v1".into();
        assert_eq!(from_statement(&other), None);
    }

    #[test]
    fn the_latest_statement_wins() {
        let undo = w("2026-12-07T02:00:00Z", false);
        let all = vec![
            w("2026-12-07T01:00:00Z", true),
            undo.clone(),
            w("not a time", true),
        ];
        assert_eq!(latest(all), Some(undo));
        assert_eq!(
            w("2026-12-07T01:00:00Z", true).summary(),
            "withdrawn: leaks a debug flag; use 1.2.2"
        );
    }

    #[test]
    fn the_github_release_is_marked_in_its_title_and_notes_and_unmarked_by_an_undo() {
        assert_eq!(
            release_title(Some("v1.2.3"), "v1.2.3", true),
            "[WITHDRAWN] v1.2.3"
        );
        assert_eq!(release_title(None, "v1.2.3", true), "[WITHDRAWN] v1.2.3");
        assert_eq!(
            release_title(Some("[WITHDRAWN] Fast"), "v1.2.3", true),
            "[WITHDRAWN] Fast"
        );
        assert_eq!(
            release_title(Some("[WITHDRAWN] Fast"), "v1.2.3", false),
            "Fast"
        );
        let notes = "The changes.\n";
        let marked = release_notes(notes, Some("withdrawn: bad; use 1.2.4"));
        assert!(marked.starts_with(PAGE_BEGIN), "{marked}");
        assert!(marked.contains("withdrawn: bad; use 1.2.4."), "{marked}");
        assert!(marked.ends_with("The changes.\n"), "{marked}");
        // Marked twice is marked once; an undo gives the notes back.
        assert_eq!(
            release_notes(&marked, Some("withdrawn: bad; use 1.2.4")),
            marked
        );
        assert_eq!(release_notes(&marked, None), notes);
    }

    #[test]
    fn a_withdrawn_release_has_its_own_exit_code() {
        let e = anyhow::Error::new(WithdrawnRelease(w("2026-12-07T01:00:00Z", true)));
        assert_eq!(exit_code(&e), EXIT_WITHDRAWN);
        assert_eq!(exit_code(&anyhow::anyhow!("broken")), 1);
        assert!(e
            .to_string()
            .contains("withdrawn: leaks a debug flag; use 1.2.2"));
    }
}
