//! Telling developers about vulnerabilities, beyond the Security tab: one GitHub issue per
//! image version, opened or updated (never duplicated) when a release's gate fails or a rescan
//! finds a CRITICAL or HIGH finding in a published image. Off GitHub the same text goes to a
//! file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::net::block_on;
use crate::scan::Verdict;
use crate::secret::Secret;

/// The label that marks the issues this tool keeps.
pub const LABEL: &str = "vulnerability-report";

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notify {
    /// The image repository and version the issue is about.
    pub image: String,
    pub version: String,
    /// The issue text, always written.
    pub file: PathBuf,
    /// On GitHub, the repository's issues.
    pub github: Option<GithubIssues>,
}

impl Notify {
    /// What telling developers needs of the workflow's token: on GitHub, its issues.
    pub fn permissions(&self) -> Option<crate::actions::Permission> {
        self.github
            .as_ref()
            .map(|_| crate::actions::Permission::IssuesWrite)
    }

    /// Writes the issue text, and on GitHub opens or updates the issue. A notification that
    /// cannot be sent is a warning: it must not hide the failure it reports.
    pub fn send(&self, issue: &IssueText) {
        let text = format!("# {}\n\n{}", issue.title, issue.body);
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match std::fs::write(&self.file, text) {
            Ok(()) => eprintln!("    issue text in {}", self.file.display()),
            Err(e) => crate::github::warning(&format!("cannot write {}: {e}", self.file.display())),
        }
        if let Some(github) = &self.github {
            match github.upsert(issue) {
                Ok(url) => eprintln!("    issue {url}"),
                Err(e) => crate::github::warning(&format!("{e:#}")),
            }
        }
    }
}

/// A repository's issues through GitHub's REST API, with the workflow's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GithubIssues {
    pub api_url: String,
    /// `owner/name`.
    pub repository: String,
    pub token: Secret,
}

/// One issue's title and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueText {
    pub title: String,
    pub body: String,
}

/// The issue for one image version: every finding of every platform, with the fix.
pub fn findings_issue(image: &str, version: &str, verdicts: &[Verdict], why: &str) -> IssueText {
    let mut body = format!(
        "{why}\n\nImage: `{image}:{version}`\n\n| platform | vulnerability | severity | package | installed | fixed in |\n|---|---|---|---|---|---|\n"
    );
    for v in verdicts {
        for f in &v.findings {
            body.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                v.platform,
                f.id,
                f.severity,
                f.package,
                f.installed,
                if f.fixed.is_empty() {
                    "(no fix yet)"
                } else {
                    &f.fixed
                }
            ));
        }
    }
    body.push_str(
        "\nRebuild with the fixed versions (`cargo update -p <crate>` for a Rust crate, a newer \
         base image for an OS package) and release a new patch version.\n\n\
         _Kept up to date by `cargo xtask` (release gate and weekly rescan); it updates this \
         issue instead of opening another._\n",
    );
    IssueText {
        title: format!("Vulnerabilities in {image} {version}"),
        body,
    }
}

#[derive(Debug, Deserialize)]
struct Issue {
    number: u64,
    title: String,
    html_url: String,
}

impl GithubIssues {
    /// The repository's issues, when there is a token for GitHub's API.
    pub fn from_config(api: &crate::config::GithubApi) -> Option<GithubIssues> {
        Some(GithubIssues {
            api_url: api.url.clone(),
            repository: api.repository.clone(),
            token: api.token.clone()?,
        })
    }

    fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        client
            .request(
                method,
                format!("{}/repos/{}/{path}", self.api_url, self.repository),
            )
            .bearer_auth(self.token.expose())
            .header("Accept", "application/vnd.github+json")
            .header("User-Agent", "kube9-xtask")
    }

    /// The open issue with this exact title among the labelled ones, following the pages.
    async fn find(&self, client: &reqwest::Client, title: &str) -> Result<Option<Issue>> {
        for page in 1..=100 {
            let path = format!("issues?state=open&labels={LABEL}&per_page=100&page={page}");
            let response = self
                .request(client, reqwest::Method::GET, &path)
                .send()
                .await?;
            let issues: Vec<Issue> = crate::releases::checked(response, None)
                .await?
                .json()
                .await?;
            if issues.is_empty() {
                return Ok(None);
            }
            if let Some(found) = issues.into_iter().find(|i| i.title == title) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Opens the issue, or updates the open one with the same title; returns its address.
    pub fn upsert(&self, issue: &IssueText) -> Result<String> {
        block_on(async {
            let client = crate::net::http_client();
            let existing = self.find(&client, &issue.title).await?;
            let request = match &existing {
                Some(found) => {
                    let path = format!("issues/{}", found.number);
                    self.request(&client, reqwest::Method::PATCH, &path)
                        .json(&serde_json::json!({"body": issue.body}))
                }
                None => self
                    .request(&client, reqwest::Method::POST, "issues")
                    .json(&serde_json::json!({
                        "title": issue.title, "body": issue.body, "labels": [LABEL]})),
            };
            let response = request.send().await?;
            let saved: Issue = crate::releases::checked(response, None)
                .await?
                .json()
                .await?;
            Ok::<_, anyhow::Error>(saved.html_url)
        })
        .with_context(|| {
            format!(
                "cannot open or update the issue in {}: the job needs `permissions: issues: write`",
                self.repository
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{Finding, Severity};

    #[test]
    fn one_issue_per_version_lists_every_finding_with_its_fix() {
        let verdict = Verdict {
            platform: "linux/arm64".into(),
            os_packages: 0,
            rust_packages: 2,
            counts: Default::default(),
            blocking: Vec::new(),
            findings: vec![Finding {
                id: "CVE-2099-0003".into(),
                package: "kube9-fixture-vulnerable".into(),
                installed: "1.0.0".into(),
                fixed: "1.0.1".into(),
                severity: Severity::Critical,
            }],
            suppressed: Vec::new(),
            problems: Vec::new(),
        };
        let issue = findings_issue("ghcr.io/alto9/kube9-operator", "1.2.3", &[verdict], "why");
        assert_eq!(
            issue.title,
            "Vulnerabilities in ghcr.io/alto9/kube9-operator 1.2.3"
        );
        assert!(issue.body.contains(
            "| linux/arm64 | CVE-2099-0003 | CRITICAL | kube9-fixture-vulnerable | 1.0.0 | 1.0.1 |"
        ));
    }
}
