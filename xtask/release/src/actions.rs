//! The GitHub Actions environment the release reads (as `config` reads it), and the files it
//! writes there: step outputs and the job summary. The environment is passed in so tests can
//! set it. Also the permissions a job's token can be granted (`Permission`), which steps and
//! `notify` declare.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::secret::Secret;

/// The parts of the Actions environment the release reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    pub output: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    /// The cache service's token, when the workflow exposes it to `run:` steps (needed by the
    /// `type=gha` cache).
    pub runtime_token: Option<Secret>,
    /// `v1.2.3` on a release event.
    pub ref_name: Option<String>,
    /// `refs/tags/v1.2.3` on a release, `refs/heads/main` on a dispatch from main.
    pub git_ref: Option<String>,
    /// `owner/repo/.github/workflows/release.yml@refs/tags/v1.2.3`: the identity a keyless
    /// signature carries.
    pub workflow_ref: Option<String>,
    pub event_name: Option<String>,
    /// The token that asks for the job's OIDC token, set only for a job with
    /// `permissions: id-token: write`: keyless signing works.
    pub oidc: Option<Secret>,
}

impl Actions {
    /// The Actions environment, when `var` (the environment, as `config` reads it) says the
    /// process runs in GitHub Actions.
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Option<Actions> {
        if var("GITHUB_ACTIONS").as_deref() != Some("true") {
            return None;
        }
        let cache_service = var("ACTIONS_RESULTS_URL").or_else(|| var("ACTIONS_CACHE_URL"));
        Some(Actions {
            output: var("GITHUB_OUTPUT").map(PathBuf::from),
            summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            runtime_token: cache_service
                .and(var("ACTIONS_RUNTIME_TOKEN"))
                .map(Secret::new),
            ref_name: var("GITHUB_REF_NAME"),
            git_ref: var("GITHUB_REF"),
            workflow_ref: var("GITHUB_WORKFLOW_REF"),
            event_name: var("GITHUB_EVENT_NAME"),
            oidc: var("ACTIONS_ID_TOKEN_REQUEST_URL")
                .and(var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
                .map(Secret::new),
        })
    }

    /// Appends `key=value` lines to `$GITHUB_OUTPUT`.
    pub fn set_outputs(&self, outputs: &BTreeMap<&str, String>) -> Result<()> {
        let text: String = outputs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        append(&self.output, &text)
    }

    /// A step output of several lines, in GitHub's `name<<DELIMITER` form; the delimiter
    /// never occurs in the value.
    pub fn set_multiline_output(&self, name: &str, value: &str) -> Result<()> {
        let mut delimiter = "KUBE9_EOF".to_string();
        while value.contains(&delimiter) {
            delimiter.push('_');
        }
        append(
            &self.output,
            &format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"),
        )
    }

    pub fn add_summary(&self, markdown: &str) -> Result<()> {
        append(&self.summary, markdown)
    }
}

/// A permission of the workflow's `GITHUB_TOKEN` (or its OIDC identity) a step needs when it
/// runs in GitHub Actions, as a job's `permissions:` spells it (`packages: write` in the plan's
/// JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    PackagesRead,
    PackagesWrite,
    /// An OIDC identity for keyless signing.
    IdTokenWrite,
    AttestationsRead,
    ContentsWrite,
    IssuesWrite,
}

impl Permission {
    /// `(scope, level)` as a job's `permissions:` writes it: `("packages", "write")`.
    pub fn grant(self) -> (&'static str, &'static str) {
        match self {
            Permission::PackagesRead => ("packages", "read"),
            Permission::PackagesWrite => ("packages", "write"),
            Permission::IdTokenWrite => ("id-token", "write"),
            Permission::AttestationsRead => ("attestations", "read"),
            Permission::ContentsWrite => ("contents", "write"),
            Permission::IssuesWrite => ("issues", "write"),
        }
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (scope, level) = self.grant();
        s.serialize_str(&format!("{scope}: {level}"))
    }
}

/// Appends to a file of the Actions environment; off Actions (no such file) nothing.
fn append(path: &Option<PathBuf>, text: &str) -> Result<()> {
    let Some(path) = path else {
        return Ok(());
    };
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_active_in_actions() {
        assert_eq!(Actions::from_vars(&|_| None), None);
        let vars = |k: &str| match k {
            "GITHUB_ACTIONS" => Some("true".to_string()),
            "ACTIONS_RUNTIME_TOKEN" => Some("x".to_string()),
            "ACTIONS_RESULTS_URL" => Some("https://results".to_string()),
            "GITHUB_REF_NAME" => Some("v1.2.3".to_string()),
            _ => None,
        };
        let actions = Actions::from_vars(&vars).unwrap();
        assert_eq!(actions.runtime_token, Some(Secret::new("x")));
        assert_eq!(actions.ref_name.as_deref(), Some("v1.2.3"));
        assert!(actions.oidc.is_none());
    }

    #[test]
    fn the_runtime_token_counts_only_with_the_cache_service() {
        let vars = |k: &str| match k {
            "GITHUB_ACTIONS" => Some("true".to_string()),
            "ACTIONS_RUNTIME_TOKEN" => Some("x".to_string()),
            _ => None,
        };
        assert_eq!(Actions::from_vars(&vars).unwrap().runtime_token, None);
    }

    #[test]
    fn outputs_append_key_value_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let actions = Actions {
            output: Some(path.clone()),
            ..Default::default()
        };
        actions
            .set_outputs(&BTreeMap::from([("digest", "sha256:ab".to_string())]))
            .unwrap();
        actions
            .set_outputs(&BTreeMap::from([("tags", "v1,1".to_string())]))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "digest=sha256:ab\ntags=v1,1\n"
        );
    }
}
