//! Everything said to a registry, through `oci-client`, behind a blocking facade: the xtask is
//! synchronous, and this module is its one async boundary (one runtime, entered only here).
//! Transient failures (5xx, 429, a dropped connection) are retried with backoff; a refusal is
//! explained.

mod name;
mod publish;

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, Result};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

pub use name::Repository;
pub use publish::{Artifact, Converged, PushReport};

use crate::net::block_on;

use crate::cmd::Secret;
use crate::layout::{INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};

/// Who pushes. The password is a GitHub token on GitHub, and only ever read from the environment.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl Credentials {
    /// `REGISTRY_USERNAME`/`REGISTRY_PASSWORD`, else `GITHUB_ACTOR`/`GITHUB_TOKEN`, from the
    /// environment as `config` reads it.
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Option<Credentials> {
        let pair = |user: &str, pass: &str| {
            Some(Credentials {
                username: var(user)?,
                password: Secret::new(var(pass)?),
            })
        };
        pair("REGISTRY_USERNAME", "REGISTRY_PASSWORD")
            .or_else(|| pair("GITHUB_ACTOR", "GITHUB_TOKEN"))
    }
}

/// How often and how patiently to retry what may be a passing failure.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            first_delay: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Transient,
    Denied,
    NotFound,
    Other,
}

fn classify_codes(codes: &[&OciErrorCode]) -> Failure {
    let any = |f: &dyn Fn(&OciErrorCode) -> bool| codes.iter().any(|c| f(c));
    if any(&|c| matches!(c, OciErrorCode::Toomanyrequests)) {
        Failure::Transient
    } else if any(&|c| matches!(c, OciErrorCode::Denied | OciErrorCode::Unauthorized)) {
        Failure::Denied
    } else if any(&|c| {
        matches!(
            c,
            OciErrorCode::NameUnknown
                | OciErrorCode::ManifestUnknown
                | OciErrorCode::BlobUnknown
                | OciErrorCode::NotFound
        )
    }) {
        Failure::NotFound
    } else {
        Failure::Other
    }
}

fn classify(err: &OciDistributionError) -> Failure {
    match err {
        OciDistributionError::ServerError { code, .. } => match code {
            401 | 403 => Failure::Denied,
            404 => Failure::NotFound,
            408 | 429 | 500..=599 => Failure::Transient,
            _ => Failure::Other,
        },
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => Failure::Denied,
        OciDistributionError::ImageManifestNotFoundError(_) => Failure::NotFound,
        OciDistributionError::RegistryError { envelope, .. } => {
            classify_codes(&envelope.errors.iter().map(|e| &e.code).collect::<Vec<_>>())
        }
        OciDistributionError::RequestError(e)
            if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() =>
        {
            Failure::Transient
        }
        _ => Failure::Other,
    }
}

/// The registry's own words, without request URLs' query strings or bodies.
pub(crate) fn short(err: &OciDistributionError) -> String {
    match err {
        OciDistributionError::ServerError { code, message, .. } => {
            let message: String = message.trim().chars().take(200).collect();
            format!("HTTP {code} {message}")
        }
        other => other.to_string(),
    }
}

/// One repository of one registry, spoken to with or without credentials.
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    pub repository: Repository,
    retry: Retry,
    authenticated: bool,
}

impl Registry {
    pub fn new(
        repository: Repository,
        credentials: Option<&Credentials>,
        retry: Retry,
    ) -> Registry {
        // Plain HTTP only for loopback addresses: a token must never cross a network in clear.
        let protocol = if repository.is_loopback() {
            ClientProtocol::HttpsExcept(vec![repository.host.clone()])
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(120)),
            ..Default::default()
        });
        let auth = match credentials {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.expose().to_string()),
            None => RegistryAuth::Anonymous,
        };
        Registry {
            client,
            auth,
            repository,
            retry,
            authenticated: credentials.is_some(),
        }
    }

    /// The same registry, another repository (a chart beside its image, a referrers index).
    pub fn anonymous(repository: &Repository) -> Registry {
        Registry::new(repository.clone(), None, Retry::default())
    }

    /// Runs `op` until it succeeds, fails for good, or the attempts run out.
    async fn retrying<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, OciDistributionError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if classify(&e) == Failure::Transient && attempt < self.retry.attempts => {
                    eprintln!(
                        "    {what}: {} (attempt {attempt} of {}), retrying in {delay:?}",
                        short(&e),
                        self.retry.attempts
                    );
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Turns a failure into a message that says what to do.
    fn explain(&self, what: &str, err: OciDistributionError) -> anyhow::Error {
        let hint = match classify(&err) {
            Failure::Denied if self.authenticated => format!(
                "the registry refused the credentials for {}: the token needs the `packages: write` \
                 permission (in GitHub Actions: `permissions: packages: write`), and a personal token \
                 the `write:packages` scope",
                self.repository
            ),
            Failure::Denied => format!(
                "{} needs a login: set GITHUB_ACTOR and GITHUB_TOKEN (or REGISTRY_USERNAME and \
                 REGISTRY_PASSWORD) in the environment",
                self.repository.host
            ),
            Failure::Transient => format!(
                "{} kept failing after {} attempts: the registry may be down or rate-limiting; try again later",
                self.repository.host, self.retry.attempts
            ),
            Failure::NotFound | Failure::Other => String::new(),
        };
        let base = anyhow!("{what} failed: {}", short(&err));
        if hint.is_empty() {
            base
        } else {
            base.context(hint)
        }
    }

    /// A read that treats "not found" as `None`.
    fn optional<T>(
        &self,
        what: &str,
        result: Result<T, OciDistributionError>,
    ) -> Result<Option<T>> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) if classify(&e) == Failure::NotFound => Ok(None),
            Err(e) => Err(self.explain(what, e)),
        }
    }

    /// Every tag of the repository, following the registry's pages (GHCR pages its list);
    /// none when the repository does not exist yet.
    pub fn tags(&self) -> Result<Vec<String>> {
        block_on(async {
            let reference = self.repository.tag("latest");
            let mut tags: Vec<String> = Vec::new();
            let mut last: Option<String> = None;
            for _ in 0..10_000 {
                let page = self
                    .retrying("listing tags", || {
                        self.client
                            .list_tags(&reference, &self.auth, Some(1000), last.as_deref())
                    })
                    .await;
                let what = format!("listing the tags of {}", self.repository);
                let Some(page) = self.optional(&what, page)? else {
                    return Ok(tags);
                };
                // A registry that ignores `last` would serve the same page forever.
                let next = page.tags.last().cloned();
                if next.is_none() || next == last {
                    return Ok(tags);
                }
                tags.extend(page.tags);
                last = next;
            }
            Err(anyhow!(
                "{} lists more than 10 million tags",
                self.repository
            ))
        })
    }

    /// The digest a tag points to, or `None` when the tag does not exist.
    pub fn digest_of(&self, tag: &str) -> Result<Option<String>> {
        self.digest_at(&self.repository.tag(tag))
    }

    /// The digest of what a tag or digest reference names, or `None` when it does not exist.
    pub fn digest_at(&self, reference: &Reference) -> Result<Option<String>> {
        block_on(async {
            let result = self
                .retrying("reading a manifest digest", || {
                    self.client.fetch_manifest_digest(reference, &self.auth)
                })
                .await;
            self.optional(&format!("reading {reference}"), result)
        })
    }

    /// Raw manifest bytes and digest by tag or digest; `None` when absent.
    pub fn manifest(&self, reference: &Reference) -> Result<Option<(Vec<u8>, String)>> {
        let accepted = [INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE];
        block_on(async {
            let result = self
                .retrying("reading a manifest", || {
                    self.client
                        .pull_manifest_raw(reference, &self.auth, &accepted)
                })
                .await;
            let found = self.optional(&format!("reading {reference}"), result)?;
            Ok(found.map(|(bytes, digest)| (bytes.to_vec(), digest)))
        })
    }

    /// A blob's bytes.
    pub fn blob(&self, digest: &str) -> Result<Vec<u8>> {
        let reference = self.repository.digest(digest);
        block_on(async {
            self.retrying("reading a blob", || async {
                let mut out = Vec::new();
                self.client.pull_blob(&reference, digest, &mut out).await?;
                Ok(out)
            })
            .await
            .map_err(|e| self.explain(&format!("reading blob {digest}"), e))
        })
    }
}

impl Registry {
    /// The labels of one platform image (its config's `config.Labels`).
    pub fn labels(&self, manifest: &str) -> Result<std::collections::BTreeMap<String, String>> {
        #[derive(serde::Deserialize)]
        struct Config {
            #[serde(default)]
            config: Inner,
        }
        #[derive(serde::Deserialize, Default)]
        struct Inner {
            #[serde(rename = "Labels", default)]
            labels: Option<std::collections::BTreeMap<String, String>>,
        }
        let (bytes, _) = self
            .manifest(&self.repository.digest(manifest))?
            .ok_or_else(|| anyhow!("{}@{manifest} is missing", self.repository))?;
        let m: oci_client::manifest::OciImageManifest = serde_json::from_slice(&bytes)?;
        let config: Config = serde_json::from_slice(&self.blob(&m.config.digest)?)?;
        Ok(config.config.labels.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_prefer_generic_then_github() {
        let both = |k: &str| match k {
            "REGISTRY_USERNAME" => Some("robot".to_string()),
            "REGISTRY_PASSWORD" => Some("generic".to_string()),
            "GITHUB_ACTOR" => Some("octocat".to_string()),
            "GITHUB_TOKEN" => Some("ghs_token".to_string()),
            _ => None,
        };
        let c = Credentials::from_vars(&both).unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.expose()),
            ("robot", "generic")
        );
        let github = |k: &str| both(k).filter(|_| k.starts_with("GITHUB_"));
        let c = Credentials::from_vars(&github).unwrap();
        assert_eq!(c.username, "octocat");
        assert!(!format!("{c:?}").contains("ghs_token"));
        // A username without its password is no credential.
        let half = |k: &str| both(k).filter(|_| k == "REGISTRY_USERNAME");
        assert!(Credentials::from_vars(&half).is_none());
        assert!(Credentials::from_vars(&|_| None).is_none());
    }

    #[test]
    fn transient_and_refusals_are_told_apart() {
        let server = |code| OciDistributionError::ServerError {
            code,
            url: "u".into(),
            message: "m".into(),
        };
        assert_eq!(classify(&server(503)), Failure::Transient);
        assert_eq!(classify(&server(429)), Failure::Transient);
        assert_eq!(classify(&server(403)), Failure::Denied);
        assert_eq!(classify(&server(404)), Failure::NotFound);
        assert_eq!(classify(&server(400)), Failure::Other);
        assert_eq!(
            classify(&OciDistributionError::UnauthorizedError { url: "u".into() }),
            Failure::Denied
        );
        assert_eq!(
            classify_codes(&[&OciErrorCode::Toomanyrequests]),
            Failure::Transient
        );
        assert_eq!(
            classify_codes(&[&OciErrorCode::ManifestUnknown]),
            Failure::NotFound
        );
    }
}
