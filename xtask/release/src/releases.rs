//! A repository's GitHub releases, through GitHub's REST API with the job's token: what the
//! release page says about a tag (is it a pre-release?), and the release notes a release adds
//! to it.

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::config::GithubApi;
use crate::net::block_on;
use crate::secret::Secret;

/// One GitHub release, as the API returns it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct GithubRelease {
    pub id: u64,
    pub tag_name: String,
    pub prerelease: bool,
    #[serde(default)]
    pub body: Option<String>,
    /// The title (empty or absent: GitHub shows the tag).
    #[serde(default)]
    pub name: Option<String>,
}

fn request(
    api: &GithubApi,
    token: &Secret,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    crate::net::http_client()
        .request(
            method,
            format!("{}/repos/{}/{path}", api.url, api.repository),
        )
        .bearer_auth(token.expose())
        .header("Accept", "application/vnd.github+json")
        .header("User-Agent", "kube9-release")
}

pub(crate) fn token(api: &GithubApi) -> Result<&Secret> {
    api.token.as_ref().context(
        "GitHub's API needs a token: set GITHUB_TOKEN (in Actions: `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`)",
    )
}

/// The published release of `tag` (a draft has none: the API answers 404 for it).
pub fn release_of_tag(api: &GithubApi, tag: &str) -> Result<GithubRelease> {
    let token = token(api)?;
    block_on(async {
        let path = format!("releases/tags/{tag}");
        let response = request(api, token, reqwest::Method::GET, &path)
            .send()
            .await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            bail!(
                "{} has no published GitHub release for the tag {tag}: publish the release (a \
                 draft is not one), or pass --prerelease true|false",
                api.repository
            );
        }
        Ok(checked(response, Some("contents: read"))
            .await?
            .json()
            .await?)
    })
    .with_context(|| format!("cannot read the GitHub release of {tag}"))
}

/// Replaces the release's body.
pub fn set_body(api: &GithubApi, release: &GithubRelease, body: &str) -> Result<()> {
    update(api, release, serde_json::json!({ "body": body }))
}

/// Replaces the release's title and body (what an immutable release still allows).
pub fn set_title_and_body(
    api: &GithubApi,
    release: &GithubRelease,
    name: &str,
    body: &str,
) -> Result<()> {
    update(
        api,
        release,
        serde_json::json!({ "name": name, "body": body }),
    )
}

fn update(api: &GithubApi, release: &GithubRelease, fields: serde_json::Value) -> Result<()> {
    let token = token(api)?;
    block_on(async {
        let path = format!("releases/{}", release.id);
        let response = request(api, token, reqwest::Method::PATCH, &path)
            .json(&fields)
            .send()
            .await?;
        checked(response, Some("contents: write")).await?;
        Ok::<_, anyhow::Error>(())
    })
    .with_context(|| format!("cannot update the GitHub release of {}", release.tag_name))
}

/// The response, or an error with the start of GitHub's answer; a refusal names `permission`
/// when it is known.
pub(crate) async fn checked(
    response: reqwest::Response,
    permission: Option<&str>,
) -> Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let text: String = text.chars().take(200).collect();
    match permission {
        Some(p) if status == reqwest::StatusCode::FORBIDDEN => {
            bail!("GitHub answered {status}: {text}; the job needs `permissions: {p}`")
        }
        _ => bail!("GitHub answered {status}: {text}"),
    }
}
