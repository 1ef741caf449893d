//! Everything said to a registry, through `oci-client`: credentials, tags, pushing the exact
//! bytes of a layout by digest, reading back, and the anonymous check. Transient failures
//! (5xx, 429, a dropped connection) are retried with backoff; a refusal is explained.

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::cmd::Secret;
use crate::layout::{Descriptor, Image, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};

/// Who pushes. The password is a GitHub token on GitHub, and only ever read from the environment.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl Credentials {
    /// `REGISTRY_USERNAME`/`REGISTRY_PASSWORD`, else `GITHUB_ACTOR`/`GITHUB_TOKEN`.
    pub fn from_env() -> Option<Credentials> {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Credentials> {
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

/// A repository such as `ghcr.io/alto9/kube9-operator`, split into host and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub host: String,
    pub path: String,
}

impl Repository {
    pub fn parse(full: &str) -> Result<Repository> {
        let (host, path) = full
            .split_once('/')
            .filter(|(h, p)| (h.contains('.') || h.contains(':') || *h == "localhost") && !p.is_empty())
            .ok_or_else(|| anyhow!("`{full}` is not a repository with a registry host, e.g. ghcr.io/alto9/kube9-operator"))?;
        let valid = path.split('/').all(|c| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
        });
        if !valid {
            bail!("`{path}` is not a valid repository path: lowercase letters, digits, `.`, `_`, `-` and `/` only");
        }
        Ok(Repository {
            host: host.to_string(),
            path: path.to_string(),
        })
    }

    pub fn tag(&self, tag: &str) -> Reference {
        Reference::with_tag(self.host.clone(), self.path.clone(), tag.to_string())
    }

    pub fn digest(&self, digest: &str) -> Reference {
        Reference::with_digest(self.host.clone(), self.path.clone(), digest.to_string())
    }

    /// Loopback registries speak plain HTTP, as Docker assumes for 127.0.0.0/8.
    pub fn is_loopback(&self) -> bool {
        let host = self
            .host
            .rsplit_once(':')
            .map_or(self.host.as_str(), |(h, _)| h);
        host == "localhost" || host.starts_with("127.") || host == "[::1]"
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.host, self.path)
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
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Toomanyrequests))
            {
                Failure::Transient
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Denied | OciErrorCode::Unauthorized))
            {
                Failure::Denied
            } else if codes.iter().any(|c| {
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
        OciDistributionError::RequestError(e) => {
            if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() {
                Failure::Transient
            } else {
                Failure::Other
            }
        }
        _ => Failure::Other,
    }
}

pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    pub repository: Repository,
    retry: Retry,
    authenticated: bool,
}

/// What a push did: a re-run of the same release uploads nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
    pub blobs_present: usize,
    pub tags: Vec<String>,
}

impl Registry {
    pub fn new(
        repository: Repository,
        credentials: Option<&Credentials>,
        retry: Retry,
    ) -> Registry {
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

    /// Every tag of the repository; none when the repository does not exist yet.
    pub async fn tags(&self) -> Result<Vec<String>> {
        let reference = self.repository.tag("latest");
        let result = self
            .retrying("listing tags", || {
                self.client.list_tags(&reference, &self.auth, None, None)
            })
            .await;
        match result {
            Ok(r) => Ok(r.tags),
            Err(e) if classify(&e) == Failure::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.explain(&format!("listing the tags of {}", self.repository), e)),
        }
    }

    /// The digest a tag points to, or `None` when the tag does not exist.
    pub async fn digest_of(&self, tag: &str) -> Result<Option<String>> {
        self.digest_at(&self.repository.tag(tag)).await
    }

    /// The digest of what a tag or digest reference names, or `None` when it does not exist.
    pub async fn digest_at(&self, reference: &Reference) -> Result<Option<String>> {
        let result = self
            .retrying("reading a manifest digest", || {
                self.client.fetch_manifest_digest(reference, &self.auth)
            })
            .await;
        match result {
            Ok(d) => Ok(Some(d)),
            Err(e) if classify(&e) == Failure::NotFound => Ok(None),
            Err(e) => Err(self.explain(&format!("reading {reference}"), e)),
        }
    }

    /// Raw manifest bytes by tag or digest; `None` when absent.
    pub async fn manifest(&self, reference: &Reference) -> Result<Option<(Vec<u8>, String)>> {
        let accepted = [INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE];
        let result = self
            .retrying("reading a manifest", || {
                self.client
                    .pull_manifest_raw(reference, &self.auth, &accepted)
            })
            .await;
        match result {
            Ok((bytes, digest)) => Ok(Some((bytes.to_vec(), digest))),
            Err(e) if classify(&e) == Failure::NotFound => Ok(None),
            Err(e) => Err(self.explain(&format!("reading {reference}"), e)),
        }
    }

    /// A blob's bytes (configs are small; this is for checking labels after a push).
    pub async fn blob(&self, digest: &str) -> Result<Vec<u8>> {
        let reference = self.repository.digest(digest);
        self.retrying("reading a blob", || async {
            let mut out = Vec::new();
            self.client.pull_blob(&reference, digest, &mut out).await?;
            Ok(out)
        })
        .await
        .map_err(|e| self.explain(&format!("reading blob {digest}"), e))
    }

    async fn push_blob_once(
        &self,
        image: &Image,
        blob: &Descriptor,
        report: &mut PushReport,
    ) -> Result<()> {
        let reference = self.repository.digest(&blob.digest);
        let exists = self
            .retrying("checking a blob", || {
                self.client.blob_exists(&reference, &blob.digest)
            })
            .await
            .map_err(|e| self.explain(&format!("checking blob {}", blob.digest), e))?;
        if exists {
            report.blobs_present += 1;
            return Ok(());
        }
        let bytes = bytes::Bytes::from(image.blob(&blob.digest)?);
        self.retrying("uploading a blob", || {
            self.client
                .push_blob(&reference, bytes.clone(), &blob.digest)
        })
        .await
        .map_err(|e| self.explain(&format!("uploading blob {}", blob.digest), e))?;
        report.blobs_uploaded += 1;
        report.bytes_uploaded += blob.size;
        Ok(())
    }

    async fn put_manifest(
        &self,
        reference: &Reference,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<()> {
        let content_type = http::HeaderValue::from_str(media_type)?;
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.retrying("writing a manifest", || {
            self.client
                .push_manifest_raw(reference, body.clone(), content_type.clone())
        })
        .await
        .map_err(|e| self.explain(&format!("writing {reference}"), e))?;
        Ok(())
    }

    /// Uploads the layout's blobs the registry lacks, its manifests by digest, then `tags` in
    /// order. The index goes last, so a tag never points at something incomplete.
    pub async fn push(&self, image: &Image, tags: &[String]) -> Result<PushReport> {
        self.client
            .store_auth_if_needed(&self.repository.host, &self.auth)
            .await;
        let mut report = PushReport::default();
        let index = image.blob(&image.index.digest)?;
        // A registry accepts a manifest only once everything it references is there, so an index
        // it already holds is complete: a re-run then writes nothing but moved tags.
        let complete = self
            .digest_at(&self.repository.digest(&image.index.digest))
            .await?
            .is_some();
        if complete {
            report.blobs_present = image.platforms.iter().map(|p| 1 + p.layers.len()).sum();
        } else {
            for platform in image.platforms.iter().chain(&image.attestations) {
                for blob in std::iter::once(&platform.config).chain(&platform.layers) {
                    self.push_blob_once(image, blob, &mut report).await?;
                }
                let bytes = image.blob(&platform.manifest.digest)?;
                self.put_manifest(
                    &self.repository.digest(&platform.manifest.digest),
                    &bytes,
                    MANIFEST_MEDIA_TYPE,
                )
                .await?;
            }
            self.put_manifest(
                &self.repository.digest(&image.index.digest),
                &index,
                INDEX_MEDIA_TYPE,
            )
            .await?;
        }
        for tag in tags {
            let current = self.digest_of(tag).await?;
            if current.as_deref() != Some(image.index.digest.as_str()) {
                self.put_manifest(&self.repository.tag(tag), &index, INDEX_MEDIA_TYPE)
                    .await?;
                eprintln!("    {}:{tag} -> {}", self.repository, image.index.digest);
            }
            report.tags.push(tag.clone());
        }
        Ok(report)
    }
}

/// Pushes a single-layer artifact (e.g. the Trivy database, as a mirror serves it).
pub async fn push_artifact(
    repository: &Repository,
    tag: &str,
    config_type: &str,
    config: &[u8],
    layer_type: &str,
    layer: &[u8],
    layer_title: &str,
) -> Result<String> {
    let registry = Registry::new(
        repository.clone(),
        Credentials::from_env().as_ref(),
        Retry::default(),
    );
    let (config_digest, layer_digest) =
        (crate::layout::sha256(config), crate::layout::sha256(layer));
    for (bytes, digest) in [(config, &config_digest), (layer, &layer_digest)] {
        let reference = repository.digest(digest);
        let body = bytes::Bytes::copy_from_slice(bytes);
        registry
            .retrying("uploading a blob", || {
                registry.client.push_blob(&reference, body.clone(), digest)
            })
            .await
            .map_err(|e| registry.explain("uploading an artifact blob", e))?;
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config.len()},
        "layers": [{
            "mediaType": layer_type, "digest": layer_digest, "size": layer.len(),
            "annotations": {"org.opencontainers.image.title": layer_title},
        }],
    });
    let bytes = serde_json::to_vec(&manifest)?;
    registry
        .put_manifest(&repository.tag(tag), &bytes, MANIFEST_MEDIA_TYPE)
        .await?;
    Ok(crate::layout::sha256(&bytes))
}

/// The registry's own words, without request URLs' query strings or bodies.
fn short(err: &OciDistributionError) -> String {
    match err {
        OciDistributionError::ServerError { code, message, .. } => {
            let message: String = message.trim().chars().take(200).collect();
            format!("HTTP {code} {message}")
        }
        other => other.to_string(),
    }
}

/// An anonymous client's view: GHCR packages are private until made public once.
pub async fn check_anonymous_pull(repository: &Repository, digest: &str) -> Result<()> {
    let registry = Registry::new(repository.clone(), None, Retry::default());
    match registry.manifest(&repository.digest(digest)).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => bail!("{repository}@{digest} is not visible without a login"),
        Err(e) => Err(e).context(format!(
            "{repository} cannot be pulled without a login: make the package public once, in its \
             package settings (on GitHub: Packages > kube9-operator > Package settings > Change \
             visibility > Public)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_needs_a_host_and_a_lowercase_path() {
        let r = Repository::parse("ghcr.io/alto9/kube9-operator").unwrap();
        assert_eq!(
            (r.host.as_str(), r.path.as_str()),
            ("ghcr.io", "alto9/kube9-operator")
        );
        assert!(!r.is_loopback());
        assert!(Repository::parse("127.0.0.1:5000/x/y")
            .unwrap()
            .is_loopback());
        assert!(Repository::parse("localhost:5000/x").unwrap().is_loopback());
        assert!(Repository::parse("alto9/kube9-operator").is_err());
        assert!(Repository::parse("ghcr.io/Alto9/kube9").is_err());
        assert!(Repository::parse("ghcr.io/").is_err());
    }

    #[test]
    fn credentials_prefer_generic_then_github() {
        let vars = |k: &str| match k {
            "GITHUB_ACTOR" => Some("octocat".to_string()),
            "GITHUB_TOKEN" => Some("ghs_token".to_string()),
            _ => None,
        };
        let c = Credentials::from_vars(vars).unwrap();
        assert_eq!(c.username, "octocat");
        assert!(!format!("{c:?}").contains("ghs_token"));
        assert!(Credentials::from_vars(|_| None).is_none());
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
    }
}
