//! A stand-in, named as such, for GHCR's authorization in front of the local registry that
//! holds the packages: a job's `GITHUB_TOKEN` may read with `packages: read` and write with
//! `packages: write`, and is refused as GHCR refuses it otherwise; anyone may read a public
//! package without a login, and a private one (every new package) only with a token. The
//! package's visibility is the GitHub stand-in's state. The registry behind it is
//! the real one (distribution); only the decision who may do what is GHCR's, played here,
//! and GHCR's lack of the OCI 1.1 referrers API: `/v2/<name>/referrers/<digest>` answers 404
//! and a manifest with a `subject` gets no `OCI-Subject` header (as GHCR answers; see
//! actions/attest-build-provenance#91), so the referrers tag `sha256-<hex>` is the only list
//! of an image's referrers, whatever the registry behind it can do.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine as _;

use super::github::GithubStandin;
use super::grants::Access;

#[derive(Clone)]
struct Proxy {
    /// `127.0.0.1:PORT` of the registry behind it.
    upstream: String,
    /// The registry's own login, which only this stand-in holds.
    upstream_auth: String,
    github: GithubStandin,
    /// One client for every forwarded request; redirects are the workflow's to follow.
    client: reqwest::Client,
}

/// Starts the stand-in in front of `upstream` (reached with `user`/`password`); returns its
/// address, `127.0.0.1:PORT`, where the workflows find "GHCR".
pub fn start(upstream: &str, user: &str, password: &str, github: &GithubStandin) -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let proxy = Proxy {
        upstream: upstream.to_string(),
        upstream_auth: format!("Basic {basic}"),
        github: github.clone(),
        client: kube9_release::net::http_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
    };
    // Layers are larger than axum's default body limit (2 MB).
    let router = Router::new()
        .fallback(any(forward))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(proxy);
    super::serve::serve(router)
}

/// What a request needs: reads need `packages: read`, anything else `packages: write`.
fn needed(method: &Method) -> Access {
    if matches!(*method, Method::GET | Method::HEAD) {
        Access::Read
    } else {
        Access::Write
    }
}

async fn forward(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&p, &headers, &method, uri.path()) {
        return refused;
    }
    if is_referrers_api(uri.path()) {
        return no_referrers_api();
    }
    let path = uri.path_and_query().map_or("", |x| x.as_str()).to_string();
    let url = format!("http://{}{path}", p.upstream);
    let mut request = p
        .client
        .request(method, url)
        .header("authorization", &p.upstream_auth)
        .body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "authorization" | "host" | "content-length") {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return (
            StatusCode::BAD_GATEWAY,
            "the registry behind the stand-in is down",
        )
            .into_response();
    };
    let status = answer.status();
    let mut out = HeaderMap::new();
    // The address the client reached this stand-in at.
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    for (name, value) in answer.headers() {
        if name == "location" {
            // Upload sessions continue through the stand-in, never around it.
            let moved = value
                .to_str()
                .unwrap_or_default()
                .replace(&p.upstream, &host);
            if let Ok(v) = HeaderValue::from_str(&moved) {
                out.insert(name, v);
            }
        } else if !matches!(
            name.as_str(),
            "transfer-encoding" | "connection" | "www-authenticate" | "oci-subject"
        ) {
            out.append(name, value.clone());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    (status, out, bytes).into_response()
}

/// GHCR's answers, unless the request may go on: a read of a public package needs no login;
/// otherwise no login asks for one; a token GitHub did not issue is unauthorized; a token
/// without the permission is denied.
fn refusal(p: &Proxy, headers: &HeaderMap, method: &Method, path: &str) -> Option<Response> {
    let Some(token) = basic_password(headers) else {
        let public = package_of(path).is_some_and(|package| p.github.package_is_public(package));
        if needed(method) == Access::Read && public {
            return None;
        }
        return Some(challenge("authentication required"));
    };
    match p.github.permissions_of(&token) {
        None => Some(challenge("the token is not one GitHub issued to a job")),
        Some(granted) if granted.allows("packages", needed(method)) => None,
        Some(_) => {
            let what = match needed(method) {
                Access::Read => "read_package",
                Access::Write => "write_package",
            };
            Some(denied(&format!("permission_denied: {what}")))
        }
    }
}

/// The package (`owner/name`) a registry API path reads or writes: the name before its
/// `/manifests/`, `/blobs/`, `/tags/` or `/referrers/`; `None` for the API root.
fn package_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/")?;
    ["/manifests/", "/blobs/", "/tags/", "/referrers/"]
        .iter()
        .filter_map(|marker| rest.rfind(marker))
        .min()
        .map(|end| &rest[..end])
        .filter(|name| !name.is_empty())
}

/// `/v2/<name>/referrers/<digest>`: the OCI 1.1 referrers API, which GHCR does not have.
fn is_referrers_api(path: &str) -> bool {
    package_of(path).is_some_and(|package| {
        path.strip_prefix("/v2/")
            .and_then(|rest| rest.strip_prefix(package))
            .is_some_and(|rest| rest.starts_with("/referrers/"))
    })
}

fn no_referrers_api() -> Response {
    let body = errors("NOT_FOUND", "404 page not found");
    (StatusCode::NOT_FOUND, [JSON], body).into_response()
}

fn basic_password(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split_once(':')?.1.to_string())
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// A registry's error body.
fn errors(code: &str, message: &str) -> String {
    format!(r#"{{"errors":[{{"code":"{code}","message":"{message}"}}]}}"#)
}

fn challenge(message: &str) -> Response {
    let basic = ("www-authenticate", "Basic realm=\"ghcr stand-in\"");
    let body = errors("UNAUTHORIZED", message);
    (StatusCode::UNAUTHORIZED, [basic, JSON], body).into_response()
}

fn denied(message: &str) -> Response {
    (StatusCode::FORBIDDEN, [JSON], errors("DENIED", message)).into_response()
}
