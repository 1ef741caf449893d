//! A stand-in, named as such, for the parts of GitHub's API the workflows use (these machines
//! cannot reach GitHub): issues, attestations, code scanning uploads, releases, and the OIDC
//! token endpoint of a job with `id-token: write`. Each request carries a job's token, and is
//! refused as GitHub refuses it when the job's `permissions:` do not grant the scope.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::grants::{Access, Grant, Permissions};

/// The stand-in's state: the tokens it issued and what the workflows did with them.
#[derive(Debug, Default)]
struct Records {
    grants: Vec<Grant>,
    /// The claims of each job's OIDC token, by its request token.
    claims: Vec<(String, Value)>,
    issues: Vec<Value>,
    attestations: Vec<Value>,
    analyses: Vec<Value>,
    /// Code scanning's alerts, made from the uploaded results as GitHub makes them.
    alerts: Vec<Value>,
    releases: Vec<Value>,
    /// The `Authorization` value of every API request, in order.
    authorizations: Vec<String>,
}

/// Started once per simulation (or per test); lives as long as the process.
#[derive(Clone, Default)]
pub struct GithubStandin {
    records: Arc<Mutex<Records>>,
    url: String,
}

impl GithubStandin {
    pub fn start() -> GithubStandin {
        let mut standin = GithubStandin::default();
        let router = Router::new()
            .route(
                "/repos/{owner}/{repo}/issues",
                get(list_issues).post(open_issue),
            )
            .route("/repos/{owner}/{repo}/issues/{number}", patch(update_issue))
            .route("/repos/{owner}/{repo}/attestations", post(attest))
            .route("/repos/{owner}/{repo}/code-scanning/analysis", put(upload))
            .route(
                "/repos/{owner}/{repo}/code-scanning/alerts",
                get(list_alerts),
            )
            .route(
                "/repos/{owner}/{repo}/releases/tags/{tag}",
                get(release_by_tag),
            )
            .route("/repos/{owner}/{repo}/releases/{id}", patch(edit_release))
            .route("/oidc/token", get(oidc_token))
            .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
            .with_state(standin.clone());
        standin.url = format!("http://{}", super::serve::serve(router));
        standin
    }

    /// `http://127.0.0.1:PORT`, for `GITHUB_API_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL a job's `ACTIONS_ID_TOKEN_REQUEST_URL` names.
    pub fn oidc_url(&self) -> String {
        format!("{}/oidc/token?", self.url)
    }

    /// Accepts `grant`'s tokens from now on; `claims` are what its OIDC token says.
    pub fn issue(&self, grant: &Grant, claims: Value) {
        let mut r = self.records.lock().expect("not poisoned");
        if let Some(request) = &grant.oidc_request {
            r.claims.push((request.clone(), claims));
        }
        r.grants.push(grant.clone());
    }

    /// A token with `permissions`, for a command run outside a workflow (a test).
    pub fn token(&self, job: &str, permissions: &[(&str, Access)]) -> String {
        let grant = Grant {
            job: job.into(),
            permissions: Permissions(
                permissions
                    .iter()
                    .map(|(s, a)| (s.to_string(), *a))
                    .collect(),
            ),
            token: format!("ghs_test_{job}"),
            oidc_request: None,
        };
        self.issue(&grant, Value::Null);
        grant.token
    }

    /// A published GitHub release of `tag`; returns its id.
    pub fn publish_release(&self, tag: &str, prerelease: bool) -> u64 {
        let mut r = self.records.lock().expect("not poisoned");
        let id = 1000 + r.releases.len() as u64;
        r.releases.push(json!({
            "id": id, "tag_name": tag, "prerelease": prerelease, "draft": false, "body": "",
        }));
        id
    }

    pub fn issues(&self) -> Vec<Value> {
        self.records.lock().expect("not poisoned").issues.clone()
    }

    pub fn attestations(&self) -> Vec<Value> {
        self.records
            .lock()
            .expect("not poisoned")
            .attestations
            .clone()
    }

    pub fn analyses(&self) -> Vec<Value> {
        self.records.lock().expect("not poisoned").analyses.clone()
    }

    /// Code scanning's alerts: one per rule and fingerprint, each with where it was seen.
    pub fn alerts(&self) -> Vec<Value> {
        self.records.lock().expect("not poisoned").alerts.clone()
    }

    pub fn releases(&self) -> Vec<Value> {
        self.records.lock().expect("not poisoned").releases.clone()
    }

    /// The `Authorization` header of every API request so far.
    pub fn authorizations(&self) -> Vec<String> {
        self.records
            .lock()
            .expect("not poisoned")
            .authorizations
            .clone()
    }

    /// The permissions GitHub granted with `token`: `None` for a token it never issued.
    pub fn permissions_of(&self, token: &str) -> Option<Permissions> {
        let r = self.records.lock().expect("not poisoned");
        let grant = r.grants.iter().find(|g| g.token == token)?;
        Some(grant.permissions.clone())
    }

    /// GitHub's refusal, unless the request's token may `access` `scope`.
    fn refusal(&self, headers: &HeaderMap, scope: &str, access: Access) -> Option<Response> {
        let mut r = self.records.lock().expect("not poisoned");
        let authorization = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        r.authorizations.push(authorization.to_string());
        let Some(token) = bearer(headers) else {
            return Some(refusal(401, "Requires authentication"));
        };
        let Some(grant) = r.grants.iter().find(|g| g.token == token) else {
            return Some(refusal(401, "Bad credentials"));
        };
        (!grant.permissions.allows(scope, access))
            .then(|| refusal(403, "Resource not accessible by integration"))
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (kind, token) = value.split_once(' ')?;
    matches!(kind.to_ascii_lowercase().as_str(), "bearer" | "token").then(|| token.to_string())
}

fn refusal(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("a valid status");
    let body = json!({"message": message, "documentation_url": "https://docs.github.com/rest"});
    (status, Json(body)).into_response()
}

#[derive(serde::Deserialize)]
struct ListQuery {
    labels: Option<String>,
    page: Option<usize>,
}

async fn list_issues(
    State(g): State<GithubStandin>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Some(refused) = g.refusal(&headers, "issues", Access::Read) {
        return refused;
    }
    // Thirty to a page, as GitHub does by default; the labels filter matches any label.
    let issues = g.issues();
    let matching: Vec<Value> = issues
        .into_iter()
        .filter(|i| {
            q.labels.as_ref().is_none_or(|l| {
                i["labels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| x == l.as_str())
            })
        })
        .collect();
    let page = q.page.unwrap_or(1).max(1);
    let shown: Vec<Value> = matching
        .into_iter()
        .skip((page - 1) * 30)
        .take(30)
        .collect();
    Json(Value::Array(shown)).into_response()
}

async fn open_issue(
    State(g): State<GithubStandin>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = g.refusal(&headers, "issues", Access::Write) {
        return refused;
    }
    let mut r = g.records.lock().expect("not poisoned");
    let number = r.issues.len() + 1;
    let issue = json!({
        "number": number,
        "title": body["title"],
        "body": body["body"],
        "labels": body["labels"],
        "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}"),
    });
    r.issues.push(issue.clone());
    (StatusCode::CREATED, Json(issue)).into_response()
}

async fn update_issue(
    State(g): State<GithubStandin>,
    Path((_, _, number)): Path<(String, String, usize)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = g.refusal(&headers, "issues", Access::Write) {
        return refused;
    }
    let mut r = g.records.lock().expect("not poisoned");
    let Some(issue) = r.issues.get_mut(number.wrapping_sub(1)) else {
        return refusal(404, "Not Found");
    };
    issue["body"] = body["body"].clone();
    Json(issue.clone()).into_response()
}

async fn attest(
    State(g): State<GithubStandin>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = g.refusal(&headers, "attestations", Access::Write) {
        return refused;
    }
    let mut r = g.records.lock().expect("not poisoned");
    let id = r.attestations.len() + 1;
    r.attestations.push(body);
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}

async fn upload(
    State(g): State<GithubStandin>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = g.refusal(&headers, "security-events", Access::Write) {
        return refused;
    }
    let Some(sarif) = decode_sarif(&body["sarif"]) else {
        return refusal(
            400,
            "Invalid SARIF: not a gzip-compressed, base64-encoded SARIF file",
        );
    };
    let mut r = g.records.lock().expect("not poisoned");
    let instance = json!({"ref": body["ref"], "category": body["category"]});
    for run in sarif["runs"].as_array().into_iter().flatten() {
        let tool = run["tool"]["driver"]["name"].clone();
        for result in run["results"].as_array().into_iter().flatten() {
            raise_alert(&mut r.alerts, &tool, result, &instance);
        }
    }
    let id = format!("sarif-{}", r.analyses.len() + 1);
    r.analyses.push(body);
    (StatusCode::ACCEPTED, Json(json!({"id": id}))).into_response()
}

/// The `sarif` field of an upload: gzip, then base64, as upload-sarif sends it.
fn decode_sarif(field: &Value) -> Option<Value> {
    use base64::Engine;
    use std::io::Read;
    let gz = base64::engine::general_purpose::STANDARD
        .decode(field.as_str()?)
        .ok()?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut json)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// As code scanning matches results across uploads: a result of the same tool and rule with
/// the same `partialFingerprints` is the alert already open, seen again; a result without
/// fingerprints cannot be matched and opens a new alert each time (GitHub: "users may see
/// duplicate alerts").
fn raise_alert(alerts: &mut Vec<Value>, tool: &Value, result: &Value, instance: &Value) {
    let rule = &result["ruleId"];
    let prints = result
        .get("partialFingerprints")
        .filter(|p| p.as_object().is_some_and(|m| !m.is_empty()));
    let existing = prints.and_then(|prints| {
        alerts.iter_mut().find(|a| {
            a["tool"]["name"] == *tool && a["rule"]["id"] == *rule && a["fingerprints"] == *prints
        })
    });
    match existing {
        Some(alert) => {
            if let Some(seen) = alert["instances"].as_array_mut() {
                seen.push(instance.clone());
            }
        }
        None => {
            let number = alerts.len() + 1;
            alerts.push(json!({
                "number": number,
                "state": if result.get("suppressions").is_some() { "dismissed" } else { "open" },
                "rule": {"id": rule},
                "tool": {"name": tool},
                "fingerprints": prints.cloned().unwrap_or(Value::Null),
                "instances": [instance],
            }));
        }
    }
}

async fn list_alerts(State(g): State<GithubStandin>, headers: HeaderMap) -> Response {
    if let Some(refused) = g.refusal(&headers, "security-events", Access::Read) {
        return refused;
    }
    Json(g.alerts()).into_response()
}

async fn release_by_tag(
    State(g): State<GithubStandin>,
    Path((_, _, tag)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = g.refusal(&headers, "contents", Access::Read) {
        return refused;
    }
    // Only published releases are found by tag, as on GitHub.
    match g
        .releases()
        .into_iter()
        .find(|r| r["tag_name"] == tag.as_str())
    {
        Some(release) => Json(release).into_response(),
        None => refusal(404, "Not Found"),
    }
}

async fn edit_release(
    State(g): State<GithubStandin>,
    Path((_, _, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = g.refusal(&headers, "contents", Access::Write) {
        return refused;
    }
    let mut r = g.records.lock().expect("not poisoned");
    let Some(release) = r.releases.iter_mut().find(|r| r["id"] == id) else {
        return refusal(404, "Not Found");
    };
    if let Some(text) = body.get("body") {
        release["body"] = text.clone();
    }
    Json(release.clone()).into_response()
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    audience: Option<String>,
}

/// What GitHub's OIDC provider answers a job with `id-token: write`: a JWT in `value` (here
/// unsigned: nothing in the simulation checks Sigstore's signature on it).
async fn oidc_token(
    State(g): State<GithubStandin>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let Some(request) = bearer(&headers) else {
        return refusal(401, "Requires authentication");
    };
    let r = g.records.lock().expect("not poisoned");
    let Some((_, claims)) = r.claims.iter().find(|(t, _)| *t == request) else {
        return refusal(401, "Bad credentials");
    };
    let mut claims = claims.clone();
    claims["aud"] = q.audience.unwrap_or_default().into();
    let jwt = format!(
        "{}.{}.",
        base64url(br#"{"alg":"none","typ":"JWT"}"#),
        base64url(claims.to_string().as_bytes())
    );
    Json(json!({"count": jwt.len(), "value": jwt})).into_response()
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
