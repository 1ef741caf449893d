//! Hand-written fakes, each named as one, for what the real programs cannot be made to do
//! here: a registry proxy that pages tag lists the way GHCR does, a registry whose answers a
//! test scripts (for the chart step's wait), and a proxy answering GHCR's referrers refusals.
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
    let mut request = reqwest::Client::new().request(method, url).body(body);
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
