//! Hand-written fakes, each named as one, for what the real programs cannot be made to do
//! here: a registry proxy that pages tag lists the way GHCR does, a registry whose answers a
//! test scripts (for the chart step's wait), a proxy answering GHCR's referrers refusals, and
//! one answering the referrers API with an empty index.
//! Each runs in-process on a loopback port. (GitHub's API is the simulation's
//! `GithubStandin`, which checks each token's permissions.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Value};

use kube9_devenv::workflow_sim::serve::serve;

/// A fake, named as such: a proxy in front of the real registry that passes every request
/// through, except tag lists, which it serves `page` tags at a time with a `Link` header to
/// the next page (GHCR pages its tag lists; the local registry would answer in one piece).
/// Counts the tag-list requests it answers.
pub struct PagingProxy {
    pub address: String,
    pub tag_pages: Arc<Mutex<usize>>,
}

#[derive(Clone)]
struct Paging {
    upstream: String,
    page: usize,
    tag_pages: Arc<Mutex<usize>>,
}

pub fn paging_proxy(upstream: &str, page: usize) -> PagingProxy {
    let tag_pages = Arc::new(Mutex::new(0));
    let state = Paging {
        upstream: upstream.to_string(),
        page,
        tag_pages: tag_pages.clone(),
    };
    let router = Router::new().fallback(any(forward)).with_state(state);
    PagingProxy {
        address: serve(router),
        tag_pages,
    }
}

async fn forward(
    State(s): State<Paging>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path().ends_with("/tags/list") {
        return page_of_tags(&s, &uri).await;
    }
    pass_through(&s.upstream, method, &uri, &headers, body).await
}

/// The request, sent on to the real registry as it came; its answer, as it came.
async fn pass_through(
    upstream: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!(
        "http://{upstream}{}",
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    let mut request = kube9_release::net::http_client()
        .request(method, url)
        .body(body);
    for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
        request = request.header(k, v);
    }
    let Ok(upstream) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = upstream.status();
    let mut out = HeaderMap::new();
    for (k, v) in upstream.headers() {
        out.insert(k, v.clone());
    }
    let bytes = upstream.bytes().await.unwrap_or_default();
    (status, out, bytes).into_response()
}

async fn page_of_tags(s: &Paging, uri: &Uri) -> Response {
    *s.tag_pages.lock().unwrap() += 1;
    let query: BTreeMap<String, String> =
        uri.query().map(serde_urlencoded_pairs).unwrap_or_default();
    let url = format!("http://{}{}?n=100000", s.upstream, uri.path());
    let Ok(response) = reqwest::get(url).await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let full: Value = response.json().await.unwrap_or(json!({}));
    let mut tags: Vec<String> = full["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(String::from))
        .collect();
    tags.sort();
    let after: Vec<String> = match query.get("last") {
        Some(last) => tags.into_iter().filter(|t| t > last).collect(),
        None => tags,
    };
    let n = query
        .get("n")
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(s.page, |n| n.min(s.page));
    let page: Vec<String> = after.iter().take(n).cloned().collect();
    let mut headers = HeaderMap::new();
    if after.len() > page.len() {
        let next = format!(
            "<{}?n={n}&last={}>; rel=\"next\"",
            uri.path(),
            page.last().unwrap()
        );
        headers.insert("link", next.parse().unwrap());
    }
    (headers, Json(json!({"name": full["name"], "tags": page}))).into_response()
}

fn serde_urlencoded_pairs(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A fake, named as such: a registry that serves one manifest under one tag, as a test sets
/// it (absent, an index lacking a platform, the full index), so that the chart step's wait
/// can be watched through each state.
#[derive(Clone, Default)]
pub struct ScriptedRegistry {
    pub manifest: Arc<Mutex<Option<Vec<u8>>>>,
    pub requests: Arc<Mutex<usize>>,
}

impl ScriptedRegistry {
    pub fn start() -> (ScriptedRegistry, String) {
        let registry = ScriptedRegistry::default();
        let router = Router::new()
            .route("/v2/", get(|| async { StatusCode::OK }))
            .fallback(any(scripted_manifest))
            .with_state(registry.clone());
        (registry, serve(router))
    }

    pub fn set(&self, manifest: Option<Vec<u8>>) {
        *self.manifest.lock().unwrap() = manifest;
    }
}

async fn scripted_manifest(State(r): State<ScriptedRegistry>, method: Method) -> Response {
    *r.requests.lock().unwrap() += 1;
    let Some(bytes) = r.manifest.lock().unwrap().clone() else {
        let body = json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "not here (scripted fake)"}]});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let digest = kube9_release::layout::sha256(&bytes);
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        "application/vnd.oci.image.index.v1+json".parse().unwrap(),
    );
    headers.insert("docker-content-digest", digest.parse().unwrap());
    headers.insert("content-length", bytes.len().to_string().parse().unwrap());
    if method == Method::HEAD {
        return (StatusCode::OK, headers).into_response();
    }
    (StatusCode::OK, headers, bytes).into_response()
}

/// A fake, named as such: a proxy in front of the real registry that answers the referrers
/// API (`/v2/<name>/referrers/<digest>`) the way GHCR does at times, with a redirect (to a
/// port where nothing listens) and then a 429, in turn, and passes everything else through.
/// Counts the referrers requests it refused.
pub struct ReferrersProxy {
    pub address: String,
    pub refused: Arc<Mutex<usize>>,
}

#[derive(Clone)]
struct Referrers {
    upstream: String,
    refused: Arc<Mutex<usize>>,
}

pub fn ghcr_referrers_proxy(upstream: &str) -> ReferrersProxy {
    let refused = Arc::new(Mutex::new(0));
    let state = Referrers {
        upstream: upstream.to_string(),
        refused: refused.clone(),
    };
    let router = Router::new()
        .fallback(any(refuse_referrers))
        .with_state(state);
    ReferrersProxy {
        address: serve(router),
        refused,
    }
}

async fn refuse_referrers(
    State(s): State<Referrers>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !uri.path().contains("/referrers/") {
        return pass_through(&s.upstream, method, &uri, &headers, body).await;
    }
    let n = {
        let mut refused = s.refused.lock().unwrap();
        *refused += 1;
        *refused
    };
    if n % 2 == 1 {
        (
            StatusCode::SEE_OTHER,
            [("location", "http://127.0.0.1:9/referrers")],
        )
            .into_response()
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limited (test fake)"}]}"#,
        )
            .into_response()
    }
}

/// A fake, named as such: a proxy that answers the referrers API
/// (`/v2/<name>/referrers/<digest>`) with an empty index, as a registry that has the API does
/// for referrers a client listed under the referrers tag only, and passes everything else
/// through to `upstream`. Returns its address.
pub fn empty_referrers_proxy(upstream: &str) -> String {
    let router = Router::new()
        .fallback(any(empty_referrers))
        .with_state(upstream.to_string());
    serve(router)
}

async fn empty_referrers(
    State(upstream): State<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !uri.path().contains("/referrers/") {
        return pass_through(&upstream, method, &uri, &headers, body).await;
    }
    (
        StatusCode::OK,
        [("content-type", "application/vnd.oci.image.index.v1+json")],
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
    )
        .into_response()
}

/// A stand-in, named as such: a proxy in front of the real registry that passes everything
/// through and writes down every request that changes the registry (blob uploads, manifest and
/// tag PUTs, deletions), so that a test counts what reached the registry instead of reading the
/// release tool's own record of it. It can also hold a tag write until a condition on what
/// arrived and landed holds (to force two releases' tag writes to interleave one way).
#[derive(Clone)]
pub struct CountingRegistry {
    pub address: String,
    upstream: String,
    writes: Arc<Mutex<Vec<Write>>>,
    requests: Arc<Mutex<usize>>,
    /// Tags of the manifest PUTs that arrived (held or not), in order.
    arrived: Arc<Mutex<Vec<String>>>,
    holds: Arc<Mutex<Vec<Hold>>>,
}

/// What a hold's condition sees: the tag PUTs that arrived, and the writes that landed.
pub struct Seen<'a> {
    pub arrived: &'a [String],
    pub landed: &'a [Write],
}

impl Seen<'_> {
    /// Whether a PUT of `tag` landed (the registry accepted it).
    pub fn landed(&self, tag: &str) -> bool {
        self.landed
            .iter()
            .any(|w| w.tag() == Some(tag) && w.status < 400)
    }

    pub fn arrived(&self, tag: &str) -> bool {
        self.arrived.iter().any(|t| t == tag)
    }
}

type Condition = Arc<dyn Fn(&Seen) -> bool + Send + Sync>;

/// One request that changed (or tried to change) the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub method: String,
    /// `/v2/<name>/manifests/<reference>`, `/v2/<name>/blobs/uploads/...`.
    pub path: String,
    pub status: u16,
}

impl Write {
    /// A blob upload finished (`PUT .../blobs/uploads/<id>?digest=`), or a blob mounted from
    /// another repository (`POST .../blobs/uploads/?mount=`).
    pub fn is_blob(&self) -> bool {
        self.path.contains("/blobs/uploads/")
            && ((self.method == "PUT") || (self.method == "POST" && self.path.contains("mount=")))
    }

    /// The digest a finished upload or a mount wrote (as the client spelt it in the query).
    pub fn blob_digest(&self) -> Option<&str> {
        if !self.is_blob() {
            return None;
        }
        let query = self.path.split_once('?')?.1;
        query.split('&').find_map(|kv| {
            kv.strip_prefix("digest=")
                .or_else(|| kv.strip_prefix("mount="))
        })
    }

    pub fn is_manifest(&self) -> bool {
        self.method == "PUT" && self.path.contains("/manifests/")
    }

    /// A manifest PUT by tag (a tag written or moved), not by digest.
    pub fn tag(&self) -> Option<&str> {
        let reference = self.path.split("/manifests/").nth(1)?;
        (self.is_manifest() && !reference.starts_with("sha256:")).then_some(reference)
    }

    /// `test/x` of `/v2/test/x/manifests/...`.
    pub fn repository(&self) -> &str {
        let path = self.path.strip_prefix("/v2/").unwrap_or(&self.path);
        ["/manifests/", "/blobs/"]
            .iter()
            .find_map(|m| path.split_once(m).map(|(name, _)| name))
            .unwrap_or(path)
    }
}

/// The first PUT of `tag` waits until `until` holds.
struct Hold {
    tag: String,
    until: Condition,
    used: bool,
}

impl CountingRegistry {
    pub fn start(upstream: &str) -> CountingRegistry {
        let mut registry = CountingRegistry {
            address: String::new(),
            upstream: upstream.to_string(),
            writes: Arc::default(),
            requests: Arc::default(),
            arrived: Arc::default(),
            holds: Arc::default(),
        };
        let router = Router::new()
            .fallback(any(count_and_forward))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(registry.clone());
        registry.address = serve(router);
        // The state the router holds has no address yet: the address is only for Location.
        registry
    }

    /// How many requests of any kind it passed on (reads too): the proof a client used it.
    pub fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }

    /// Every write so far, in order.
    pub fn writes(&self) -> Vec<Write> {
        self.writes.lock().unwrap().clone()
    }

    /// Writes into repositories whose name contains `repository`, since `from` (an index
    /// into `writes()`), that the registry accepted.
    pub fn accepted_since(&self, from: usize, repository: &str) -> Vec<Write> {
        self.writes()[from..]
            .iter()
            .filter(|w| w.repository().contains(repository) && w.status < 400)
            .cloned()
            .collect()
    }

    /// The first PUT of `tag` from now on waits until `until` holds (checked every 50 ms; a
    /// test's deadlock ends with the test's own timeout).
    pub fn hold(&self, tag: &str, until: impl Fn(&Seen) -> bool + Send + Sync + 'static) {
        self.holds.lock().unwrap().push(Hold {
            tag: tag.into(),
            until: Arc::new(until),
            used: false,
        });
    }

    fn condition_met(&self, until: &Condition) -> bool {
        let arrived = self.arrived.lock().unwrap().clone();
        let landed = self.writes.lock().unwrap().clone();
        until(&Seen {
            arrived: &arrived,
            landed: &landed,
        })
    }
}

fn changes_registry(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

async fn count_and_forward(
    State(s): State<CountingRegistry>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("", |p| p.as_str()).to_string();
    *s.requests.lock().unwrap() += 1;
    let proxy = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let tag = path
        .split('?')
        .next()
        .and_then(|p| p.split("/manifests/").nth(1))
        .filter(|r| method == Method::PUT && !r.starts_with("sha256:"))
        .map(str::to_string);
    if let Some(tag) = &tag {
        s.arrived.lock().unwrap().push(tag.clone());
        let until = s
            .holds
            .lock()
            .unwrap()
            .iter_mut()
            .find(|h| !h.used && h.tag == *tag)
            .map(|h| {
                h.used = true;
                h.until.clone()
            });
        if let Some(until) = until {
            while !s.condition_met(&until) {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    let url = format!("http://{}{path}", s.upstream);
    let mut request = kube9_release::net::http_client()
        .request(method.clone(), url)
        .body(body);
    // The registry builds the upload Location from the forwarded host: the client's next
    // request comes back through this proxy and is counted too.
    for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
        request = request.header(k, v);
    }
    request = request
        .header("x-forwarded-host", &proxy)
        .header("x-forwarded-proto", "http");
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    if changes_registry(&method) {
        s.writes.lock().unwrap().push(Write {
            method: method.to_string(),
            path: path.clone(),
            status: status.as_u16(),
        });
    }
    let mut out = HeaderMap::new();
    for (k, v) in answer.headers() {
        let value = match (k.as_str(), v.to_str()) {
            ("location", Ok(l)) => l
                .replace(
                    &format!("http://{}", s.upstream),
                    &format!("http://{proxy}"),
                )
                .parse()
                .unwrap_or_else(|_| v.clone()),
            _ => v.clone(),
        };
        out.insert(k, value);
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    (status, out, bytes).into_response()
}
