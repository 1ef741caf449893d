//! Everything said to a registry, through `oci-client`, behind a blocking facade: the xtask is
//! synchronous, and this module is its one async boundary (one runtime, entered only here).
//! Transient failures (5xx, 429, a dropped connection) are retried with backoff; a refusal is
//! explained.

mod name;
mod publish;

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, Result};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

pub use name::Repository;
pub use publish::{Artifact, PushReport};

use crate::net::block_on;

use crate::credentials::Credentials;
use crate::layout::{INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};

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

/// What a failure means for the caller, in the order it is told from several codes: a
/// registry that says it is busy is busy, whatever else it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Failure {
    Transient,
    Denied,
    NotFound,
    Other,
}

fn classify_codes(codes: &[&OciErrorCode]) -> Failure {
    let failure = |code: &&OciErrorCode| match code {
        OciErrorCode::Toomanyrequests => Failure::Transient,
        OciErrorCode::Denied | OciErrorCode::Unauthorized => Failure::Denied,
        OciErrorCode::NameUnknown
        | OciErrorCode::ManifestUnknown
        | OciErrorCode::BlobUnknown
        | OciErrorCode::NotFound => Failure::NotFound,
        _ => Failure::Other,
    };
    codes.iter().map(failure).min().unwrap_or(Failure::Other)
}

fn classify(err: &OciDistributionError) -> Failure {
    if busy(err) {
        return Failure::Transient;
    }
    match err {
        OciDistributionError::ServerError { code, .. } => match code {
            401 | 403 => Failure::Denied,
            404 => Failure::NotFound,
            500..=599 => Failure::Transient,
            _ => Failure::Other,
        },
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => Failure::Denied,
        OciDistributionError::ImageManifestNotFoundError(_) => Failure::NotFound,
        OciDistributionError::RegistryError { envelope, .. } => {
            classify_codes(&envelope.errors.iter().map(|e| &e.code).collect::<Vec<_>>())
        }
        _ => Failure::Other,
    }
}

/// Whether a failure is the registry or the way to it being busy or away (429, 408, 502-504,
/// a connection or a timeout), as opposed to the registry failing on its own (a 500 with its
/// reason, such as a full disk), which a retry will not cure and which no one should be told
/// is "rate-limiting".
fn busy(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::ServerError { code, .. } => {
            matches!(code, 408 | 429 | 502 | 503 | 504)
        }
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Toomanyrequests)),
        OciDistributionError::RequestError(e) => {
            e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
        }
        _ => false,
    }
}

/// The errors of a distribution-spec error body (`{"errors":[{"code","message","detail"}]}`),
/// read leniently: registries use codes the spec does not list (`UNKNOWN`, for a full disk).
#[derive(serde::Deserialize)]
struct ErrorBody {
    errors: Vec<ErrorEntry>,
}

#[derive(serde::Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: serde_json::Value,
    #[serde(default)]
    message: String,
    #[serde(default)]
    detail: serde_json::Value,
}

/// A detail in words. Distribution sends a Go error it could not put in words as its fields:
/// `{"DriverName":"filesystem","Enclosed":{"Op":"write","Path":"...","Err":28}}` when its disk
/// is full as an upload starts; that one is read as `write <path>: <what errno 28 means>`.
fn detail_words(detail: &serde_json::Value) -> String {
    use serde_json::Value;
    fn path_error(v: &Value) -> Option<String> {
        let (op, path, errno) = (
            v.get("Op")?.as_str()?,
            v.get("Path")?.as_str()?,
            v.get("Err")?,
        );
        let what = match errno.as_i64().and_then(|n| i32::try_from(n).ok()) {
            // The registry's errno, named as this (Linux) machine names it.
            Some(n) => {
                let text = std::io::Error::from_raw_os_error(n).to_string();
                let text = text
                    .split(" (os error")
                    .next()
                    .unwrap_or(&text)
                    .to_lowercase();
                format!("{text} (errno {n})")
            }
            None => errno.to_string(),
        };
        Some(format!("{op} {path}: {what}"))
    }
    match detail {
        Value::Null => String::new(),
        Value::String(s) => s.trim().to_string(),
        other => other
            .get("Enclosed")
            .and_then(path_error)
            .or_else(|| path_error(other))
            .unwrap_or_else(|| other.to_string()),
    }
}

/// Each error as `CODE: message: detail`, whole: the detail is where a registry says why
/// (`write .../data: no space left on device`).
fn reasons(entries: impl Iterator<Item = (String, String, serde_json::Value)>) -> String {
    entries
        .map(|(code, message, detail)| {
            [code, message.trim().to_string(), detail_words(&detail)]
                .into_iter()
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(": ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How much of a body that is no error document (an HTML page from a proxy) is shown.
const BODY_SHOWN: usize = 500;

/// The registry's own words, whole when it sent an error document, without request URLs'
/// query strings; escaped, because a registry's text is not ours.
pub(crate) fn short(err: &OciDistributionError) -> String {
    let text = match err {
        OciDistributionError::ServerError { code, message, .. } => {
            match serde_json::from_str::<ErrorBody>(message.trim()) {
                Ok(body) if !body.errors.is_empty() => {
                    let code_name = |v: &serde_json::Value| match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    let entries = body
                        .errors
                        .into_iter()
                        .map(|e| (code_name(&e.code), e.message, e.detail));
                    format!("HTTP {code} {}", reasons(entries))
                }
                _ => {
                    let message = message.trim();
                    let mut shown: String = message.chars().take(BODY_SHOWN).collect();
                    if shown.len() < message.len() {
                        shown
                            .push_str(&format!("... ({} more bytes)", message.len() - shown.len()));
                    }
                    format!("HTTP {code} {shown}")
                }
            }
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let entries = envelope.errors.iter().map(|e| {
                let code = serde_json::to_value(&e.code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{:?}", e.code));
                (code, e.message.clone(), e.detail.clone())
            });
            reasons(entries)
        }
        other => other.to_string(),
    };
    crate::text::one_line(&text)
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
        // oci-client makes its reqwest client here.
        crate::net::install_tls();
        let tls_certs_only = crate::net::system_roots()
            .iter()
            .map(|der| Certificate {
                encoding: CertificateEncoding::Der,
                data: der.clone(),
            })
            .collect();
        let client = Client::new(ClientConfig {
            protocol,
            tls_certs_only,
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
        let base = anyhow!("{what} failed: {}", short(&err));
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
            Failure::Transient if busy(&err) => format!(
                "{} kept failing after {} attempts: the registry may be down or rate-limiting; try again later",
                self.repository.host, self.retry.attempts
            ),
            Failure::Transient => format!(
                "{} failed on its own side {} times, with the reason at the end of this message: \
                 a retry does not cure that (a full disk, a broken storage backend); have the \
                 registry fixed, then run again",
                self.repository.host, self.retry.attempts
            ),
            Failure::NotFound | Failure::Other => return base,
        };
        base.context(hint)
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
        // Only a busy or absent registry is called that.
        for code in [408, 429, 502, 503, 504] {
            assert!(busy(&server(code)), "{code}");
        }
        for code in [500, 501, 507, 400, 403] {
            assert!(!busy(&server(code)), "{code}");
        }
    }

    /// What distribution answers when its storage is full, as the issue quotes it.
    const DISK_FULL: &str = r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"write /var/lib/registry/docker/registry/v2/repositories/kube9/_uploads/5f0e/data: no space left on device"}]}"#;

    #[test]
    fn the_registry_s_reason_is_shown_whole() {
        let full = OciDistributionError::ServerError {
            code: 500,
            url: "http://127.0.0.1:5000/v2/kube9/blobs/uploads/5f0e?_state=secret".into(),
            message: format!("{DISK_FULL}\n"),
        };
        assert_eq!(
            short(&full),
            "HTTP 500 UNKNOWN: unknown error: write /var/lib/registry/docker/registry/v2/\
             repositories/kube9/_uploads/5f0e/data: no space left on device"
        );
        let registry = Registry::anonymous(&Repository::parse("127.0.0.1:5000/kube9").unwrap());
        let shown = format!("{:#}", registry.explain("uploading blob sha256:ab", full));
        assert!(shown.ends_with("no space left on device"), "{shown}");
        assert!(!shown.contains("rate-limiting"), "{shown}");
        assert!(shown.contains("a retry does not cure that"), "{shown}");
        assert!(!shown.contains("_state"), "{shown}");

        let busy = OciDistributionError::ServerError {
            code: 503,
            url: "u".into(),
            message: "<html>Service Unavailable</html>".into(),
        };
        let shown = format!("{:#}", registry.explain("reading", busy));
        assert!(shown.contains("down or rate-limiting"), "{shown}");
        assert!(
            shown.ends_with("HTTP 503 <html>Service Unavailable</html>"),
            "{shown}"
        );

        // A detail that is an object is shown as JSON; several errors, each; a long page is
        // cut and says so; a registry's text cannot drive the terminal.
        let odd = OciDistributionError::ServerError {
            code: 500,
            url: "u".into(),
            message: r#"{"errors":[{"code":"A","message":"m","detail":{"k":1}},{"code":"B","message":"n\u001b[2J"}]}"#.into(),
        };
        assert_eq!(short(&odd), "HTTP 500 A: m: {\"k\":1}; B: n\\u{1b}[2J");
        let page = OciDistributionError::ServerError {
            code: 500,
            url: "u".into(),
            message: "x".repeat(2000),
        };
        assert!(short(&page).ends_with("... (1500 more bytes)"));
        let envelope = OciDistributionError::RegistryError {
            envelope: serde_json::from_str(DISK_FULL).unwrap(),
            url: "u".into(),
        };
        assert!(short(&envelope).starts_with("UNKNOWN: unknown error: write /var/"));
        // What distribution sends when the disk is already full as an upload starts.
        let starting = OciDistributionError::ServerError {
            code: 500,
            url: "u".into(),
            message: r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{"DriverName":"filesystem","Enclosed":{"Err":28,"Op":"write","Path":"/r/_uploads/1/startedat"}}}]}"#.into(),
        };
        assert_eq!(
            short(&starting),
            "HTTP 500 UNKNOWN: unknown error: write /r/_uploads/1/startedat: no space left on \
             device (errno 28)"
        );
    }
}
