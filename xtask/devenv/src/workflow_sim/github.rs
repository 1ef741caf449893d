//! A stand-in, named as such, for the parts of GitHub's API the workflows use (these machines
//! cannot reach GitHub): issues, attestations, code scanning uploads, releases, and the OIDC
//! token endpoint of a job with `id-token: write`, and the repository settings `check-repo`
//! reads (rulesets, immutable releases, the `release` environment, the default workflow
//! token, package visibility). Each request carries a job's token, and is
//! refused as GitHub refuses it when the job's `permissions:` do not grant the scope.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use super::grants::{Access, Grant, Permissions};

/// The stand-in's state: the tokens it issued and what the workflows did with them.
#[derive(Debug, Default)]
struct Records {
    grants: Vec<Grant>,
    /// The claims of each job's OIDC token, by its request token.
    claims: Vec<(String, Value)>,
    issues: Vec<Value>,
    /// Every write to an issue, in order: `POST 3` (opened #3), `PATCH 1` (updated #1).
    issue_writes: Vec<String>,
    attestations: Vec<Value>,
    analyses: Vec<Value>,
    /// Code scanning's alerts, made from the uploaded results as GitHub makes them.
    alerts: Vec<Value>,
    releases: Vec<Value>,
    /// The `Authorization` value of every API request, in order.
    authorizations: Vec<String>,
    settings: RepoSettings,
}

/// The repository's settings as GitHub's API reports them, which a test sets: by default
/// those of a new repository (no ruleset, mutable releases, no `release` environment, a
/// read-only default token, no package).
#[derive(Debug, Clone)]
pub struct RepoSettings {
    /// Whole rulesets, as GET rulesets/{id} answers (each with its `id`).
    pub rulesets: Vec<Value>,
    pub immutable_releases: bool,
    /// The `release` environment's `deployment_branch_policy` (`null`: every ref); `None`:
    /// there is no such environment.
    pub release_environment: Option<Value>,
    /// Its deployment rules: `{"name": "v*", "type": "tag"}`.
    pub branch_policies: Vec<Value>,
    /// `read` or `write`.
    pub default_workflow_permissions: String,
    pub packages: Vec<PackageSetting>,
}

/// A container package on GHCR.
#[derive(Debug, Clone)]
pub struct PackageSetting {
    /// Served under /orgs/{owner}/... (else /users/{owner}/...).
    pub organisation: bool,
    pub owner: String,
    /// `kube9-operator`, `charts/kube9-operator`.
    pub name: String,
    /// `public`, `private` or `internal`.
    pub visibility: String,
}

impl Default for RepoSettings {
    fn default() -> Self {
        RepoSettings {
            rulesets: Vec::new(),
            immutable_releases: false,
            release_environment: None,
            branch_policies: Vec::new(),
            default_workflow_permissions: "read".into(),
            packages: Vec::new(),
        }
    }
}

impl RepoSettings {
    /// Every protection `check-repo` asks for, with `owner`'s public image and chart packages.
    pub fn protected(owner: &str) -> RepoSettings {
        RepoSettings {
            rulesets: vec![json!({
                "id": 1, "name": "release tags", "target": "tag", "enforcement": "active",
                "source_type": "Repository",
                "conditions": {"ref_name": {"include": ["refs/tags/v*"], "exclude": []}},
                "rules": [{"type": "creation"}, {"type": "update"}, {"type": "deletion"},
                          {"type": "non_fast_forward"}],
                "bypass_actors": [{"actor_type": "RepositoryRole", "actor_id": 5,
                                   "bypass_mode": "always"}],
            })],
            immutable_releases: true,
            release_environment: Some(
                json!({"protected_branches": false, "custom_branch_policies": true}),
            ),
            branch_policies: vec![json!({"name": "v*", "type": "tag"})],
            default_workflow_permissions: "read".into(),
            packages: ["kube9-operator", "charts/kube9-operator"]
                .iter()
                .map(|name| PackageSetting {
                    organisation: true,
                    owner: owner.into(),
                    name: name.to_string(),
                    visibility: "public".into(),
                })
                .collect(),
        }
    }
}

/// Started once per simulation (or per test); lives as long as the process.
#[derive(Clone, Default)]
pub struct GithubStandin {
    records: Arc<Mutex<Records>>,
    url: String,
}

impl GithubStandin {
    pub fn start() -> GithubStandin {
        // The handlers' copy must know the address: GitHub's `Link` headers are absolute URLs.
        let (listener, address) = super::serve::bind();
        let standin = GithubStandin {
            url: format!("http://{address}"),
            ..GithubStandin::default()
        };
        // Every route of a repository: its handlers extract `owner` and `repo` from the prefix.
        let repository = Router::new()
            .route("/issues", get(list_issues).post(open_issue))
            .route("/issues/{number}", get(issue_by_number).patch(update_issue))
            .route("/attestations", post(attest))
            .route("/code-scanning/analysis", put(upload))
            .route("/code-scanning/alerts", get(list_alerts))
            .route("/releases/tags/{tag}", get(release_by_tag))
            .route("/releases/{id}", patch(edit_release))
            .route("/rulesets", get(list_rulesets))
            .route("/rulesets/{id}", get(ruleset))
            .route("/immutable-releases", get(immutable_releases))
            .route("/environments/{name}", get(environment))
            .route(
                "/environments/{name}/deployment-branch-policies",
                get(branch_policies),
            )
            .route("/actions/permissions/workflow", get(workflow_permissions));
        let router = Router::new()
            .nest("/repos/{owner}/{repo}", repository)
            .route(
                "/orgs/{owner}/packages/container/{package}",
                container_package(true),
            )
            .route(
                "/users/{owner}/packages/container/{package}",
                container_package(false),
            )
            .route("/oidc/token", get(oidc_token))
            .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
            .with_state(standin.clone());
        super::serve::serve_on(listener, router);
        standin
    }

    /// What the stand-in has recorded, for a handler or a test.
    fn records(&self) -> MutexGuard<'_, Records> {
        self.records.lock().expect("not poisoned")
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
        let mut r = self.records();
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
        let mut r = self.records();
        let id = 1000 + r.releases.len() as u64;
        r.releases.push(json!({
            "id": id, "tag_name": tag, "prerelease": prerelease, "draft": false, "body": "",
        }));
        id
    }

    /// The repository's settings from now on.
    pub fn set_repo_settings(&self, settings: RepoSettings) {
        self.records().settings = settings;
    }

    /// Every issue, open or closed, in the order they were opened.
    pub fn issues(&self) -> Vec<Value> {
        self.records().issues.clone()
    }

    /// Every write to an issue so far: `POST n` opened #n, `PATCH n` updated #n.
    pub fn issue_writes(&self) -> Vec<String> {
        self.records().issue_writes.clone()
    }

    /// An issue as someone on GitHub left it (another version's report, a closed duplicate,
    /// an edited body): the state a test starts from. Returns its number.
    pub fn put_issue(&self, title: &str, body: &str, labels: &[&str], state: &str) -> u64 {
        let mut r = self.records();
        let number = r.issues.len() as u64 + 1;
        r.issues.push(json!({
            "number": number, "title": title, "body": body, "labels": labels, "state": state,
            "html_url": format!("https://github.com/alto9/kube9-operator/issues/{number}"),
        }));
        number
    }

    /// Sets an issue's body, as a maintainer's edit on GitHub would.
    pub fn edit_issue_body(&self, number: u64, body: &str) {
        let mut r = self.records();
        let issue = r
            .issues
            .iter_mut()
            .find(|i| i["number"] == number)
            .expect("the issue exists");
        issue["body"] = body.into();
    }

    pub fn attestations(&self) -> Vec<Value> {
        self.records().attestations.clone()
    }

    pub fn analyses(&self) -> Vec<Value> {
        self.records().analyses.clone()
    }

    /// Code scanning's alerts: one per rule and fingerprint, each with where it was seen.
    pub fn alerts(&self) -> Vec<Value> {
        self.records().alerts.clone()
    }

    pub fn releases(&self) -> Vec<Value> {
        self.records().releases.clone()
    }

    /// The `Authorization` header of every API request so far.
    pub fn authorizations(&self) -> Vec<String> {
        self.records().authorizations.clone()
    }

    /// Sets `package`'s (`owner/name`) visibility, as a maintainer does in the package's
    /// settings; GHCR then serves anonymous reads of a public package.
    pub fn set_package_public(&self, package: &str, public: bool) {
        let (owner, name) = package.split_once('/').unwrap_or(("", package));
        let visibility = if public { "public" } else { "private" };
        let mut r = self.records();
        let packages = &mut r.settings.packages;
        match packages
            .iter_mut()
            .find(|p| p.owner == owner && p.name == name)
        {
            Some(p) => p.visibility = visibility.into(),
            None => packages.push(PackageSetting {
                organisation: true,
                owner: owner.into(),
                name: name.into(),
                visibility: visibility.into(),
            }),
        }
    }

    /// Whether `package` (`owner/name`) is public (the one visibility the packages API and
    /// the registry both answer from); new packages are private.
    pub fn package_is_public(&self, package: &str) -> bool {
        let (owner, name) = package.split_once('/').unwrap_or(("", package));
        let r = self.records();
        r.settings
            .packages
            .iter()
            .any(|p| p.owner == owner && p.name == name && p.visibility == "public")
    }

    /// The permissions GitHub granted with `token`: `None` for a token it never issued.
    pub fn permissions_of(&self, token: &str) -> Option<Permissions> {
        let r = self.records();
        let grant = r.grants.iter().find(|g| g.token == token)?;
        Some(grant.permissions.clone())
    }

    /// GitHub's refusal (`Err`), unless the request's token may `access` `scope`.
    fn check(&self, headers: &HeaderMap, scope: &str, access: Access) -> Result<(), Refusal> {
        let mut r = self.records();
        let authorization = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        r.authorizations.push(authorization.to_string());
        let token = bearer(headers).ok_or(Refusal(401, "Requires authentication"))?;
        let grant = r.grants.iter().find(|g| g.token == token);
        let grant = grant.ok_or(Refusal(401, "Bad credentials"))?;
        if grant.permissions.allows(scope, access) {
            Ok(())
        } else {
            Err(Refusal(403, "Resource not accessible by integration"))
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (kind, token) = value.split_once(' ')?;
    matches!(kind.to_ascii_lowercase().as_str(), "bearer" | "token").then(|| token.to_string())
}

/// GitHub's refusal: its status and message.
struct Refusal(u16, &'static str);

const NOT_FOUND: Refusal = Refusal(404, "Not Found");

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0).expect("a valid status");
        let body = json!({"message": self.1, "documentation_url": "https://docs.github.com/rest"});
        (status, Json(body)).into_response()
    }
}

/// A handler's answer: GitHub's refusal, or what it serves.
type Reply = Result<Response, Refusal>;

/// What was asked for, or GitHub's 404.
fn found(item: Option<impl serde::Serialize>) -> Reply {
    Ok(Json(item.ok_or(NOT_FOUND)?).into_response())
}

/// The list parameters GitHub's "list repository issues" takes that the stand-in honours.
#[derive(serde::Deserialize)]
struct ListQuery {
    labels: Option<String>,
    /// `open` (GitHub's default), `closed` or `all`.
    state: Option<String>,
    /// GitHub's default is 30, its maximum 100.
    per_page: Option<usize>,
    page: Option<usize>,
    /// `desc` (GitHub's default: newest first) or `asc`; the sort is by creation.
    direction: Option<String>,
}

/// Issues as GitHub lists them: filtered by state (open unless asked) and by labels (an issue
/// must carry every label named), newest first, one page with a `Link` header to the others.
fn list(
    issues: Vec<Value>,
    q: &ListQuery,
    url: &str,
) -> Result<(Vec<Value>, Option<String>), &'static str> {
    let state = q.state.as_deref().unwrap_or("open");
    if !["open", "closed", "all"].contains(&state) {
        return Err("Validation Failed");
    }
    let labels: Vec<&str> = q
        .labels
        .iter()
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut matching: Vec<Value> = issues
        .into_iter()
        .filter(|i| state == "all" || i["state"] == state)
        .filter(|i| {
            labels.iter().all(|wanted| {
                i["labels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| x == *wanted || x["name"] == *wanted)
            })
        })
        .collect();
    if q.direction.as_deref() != Some("asc") {
        matching.reverse();
    }
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let page = q.page.unwrap_or(1).max(1);
    let last = matching.len().div_ceil(per_page).max(1);
    let shown: Vec<Value> = matching
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut rest = format!("&state={state}");
    for (name, value) in [("labels", &q.labels), ("direction", &q.direction)] {
        if let Some(value) = value {
            rest.push_str(&format!("&{name}={value}"));
        }
    }
    let link =
        |p: usize, rel: &str| format!("<{url}?per_page={per_page}&page={p}{rest}>; rel=\"{rel}\"");
    // As GitHub: `prev`/`first` after the first page, `next`/`last` before the last; no
    // header when everything fits on one page.
    let mut rels = Vec::new();
    if page > 1 {
        rels.push(link(page - 1, "prev"));
    }
    if page < last {
        rels.push(link(page + 1, "next"));
        rels.push(link(last, "last"));
    }
    if page > 1 {
        rels.push(link(1, "first"));
    }
    Ok((shown, (!rels.is_empty()).then(|| rels.join(", "))))
}

async fn list_issues(
    State(g): State<GithubStandin>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Reply {
    g.check(&headers, "issues", Access::Read)?;
    let url = format!("{}/repos/{owner}/{repo}/issues", g.url);
    Ok(match list(g.issues(), &q, &url) {
        Ok((shown, None)) => Json(Value::Array(shown)).into_response(),
        Ok((shown, Some(link))) => ([("link", link)], Json(Value::Array(shown))).into_response(),
        Err(message) => Refusal(422, message).into_response(),
    })
}

async fn issue_by_number(
    State(g): State<GithubStandin>,
    Path((_, _, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Reply {
    g.check(&headers, "issues", Access::Read)?;
    found(g.issues().into_iter().find(|i| i["number"] == number))
}

async fn open_issue(
    State(g): State<GithubStandin>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Reply {
    g.check(&headers, "issues", Access::Write)?;
    let mut r = g.records();
    let number = r.issues.len() + 1;
    let issue = json!({
        "number": number,
        "title": body["title"],
        "body": body["body"],
        "labels": body["labels"],
        "state": "open",
        "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}"),
    });
    r.issues.push(issue.clone());
    r.issue_writes.push(format!("POST {number}"));
    Ok((StatusCode::CREATED, Json(issue)).into_response())
}

/// What is sent of `fields` changes; what is left out stays, as GitHub's PATCH does.
fn patch_fields(item: &mut Value, body: &Value, fields: &[&str]) -> Response {
    for field in fields {
        if let Some(value) = body.get(field) {
            item[field] = value.clone();
        }
    }
    Json(item.clone()).into_response()
}

async fn update_issue(
    State(g): State<GithubStandin>,
    Path((_, _, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Reply {
    g.check(&headers, "issues", Access::Write)?;
    let mut r = g.records();
    let issue = r.issues.iter_mut().find(|i| i["number"] == number);
    let updated = patch_fields(
        issue.ok_or(NOT_FOUND)?,
        &body,
        &["title", "body", "state", "labels"],
    );
    r.issue_writes.push(format!("PATCH {number}"));
    Ok(updated)
}

async fn attest(
    State(g): State<GithubStandin>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Reply {
    g.check(&headers, "attestations", Access::Write)?;
    let mut r = g.records();
    let id = r.attestations.len() + 1;
    r.attestations.push(body);
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

async fn upload(
    State(g): State<GithubStandin>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Reply {
    g.check(&headers, "security-events", Access::Write)?;
    let sarif = decode_sarif(&body["sarif"]).ok_or(Refusal(
        400,
        "Invalid SARIF: not a gzip-compressed, base64-encoded SARIF file",
    ))?;
    let mut r = g.records();
    let instance = json!({"ref": body["ref"], "category": body["category"]});
    for run in sarif["runs"].as_array().into_iter().flatten() {
        let tool = run["tool"]["driver"]["name"].clone();
        for result in run["results"].as_array().into_iter().flatten() {
            raise_alert(&mut r.alerts, &tool, result, &instance);
        }
    }
    let id = format!("sarif-{}", r.analyses.len() + 1);
    r.analyses.push(body);
    Ok((StatusCode::ACCEPTED, Json(json!({"id": id}))).into_response())
}

/// The `sarif` field of an upload: gzip, then base64, as upload-sarif sends it.
fn decode_sarif(field: &Value) -> Option<Value> {
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

async fn list_alerts(State(g): State<GithubStandin>, headers: HeaderMap) -> Reply {
    g.check(&headers, "security-events", Access::Read)?;
    Ok(Json(g.alerts()).into_response())
}

async fn release_by_tag(
    State(g): State<GithubStandin>,
    Path((_, _, tag)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Reply {
    g.check(&headers, "contents", Access::Read)?;
    // Only published releases are found by tag, as on GitHub.
    found(
        g.releases()
            .into_iter()
            .find(|r| r["tag_name"] == tag.as_str()),
    )
}

async fn edit_release(
    State(g): State<GithubStandin>,
    Path((_, _, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Reply {
    g.check(&headers, "contents", Access::Write)?;
    let mut r = g.records();
    let release = r.releases.iter_mut().find(|r| r["id"] == id);
    Ok(patch_fields(
        release.ok_or(NOT_FOUND)?,
        &body,
        &["body", "name"],
    ))
}

// Repository settings: a GITHUB_TOKEN can never be granted `administration`, so a workflow's
// token is refused them all, as on GitHub; a maintainer's token (a test's) may read them.

/// The repository's settings, to a token that may read them.
fn settings(g: &GithubStandin, headers: &HeaderMap) -> Result<RepoSettings, Refusal> {
    g.check(headers, "administration", Access::Read)?;
    Ok(g.records().settings.clone())
}

async fn list_rulesets(State(g): State<GithubStandin>, headers: HeaderMap) -> Reply {
    // The list holds each ruleset's summary, not its conditions or rules.
    let summaries: Vec<Value> = settings(&g, &headers)?
        .rulesets
        .iter()
        .map(|r| {
            json!({"id": r["id"], "name": r["name"], "target": r["target"],
                   "enforcement": r["enforcement"], "source_type": r["source_type"]})
        })
        .collect();
    Ok(Json(summaries).into_response())
}

async fn ruleset(
    State(g): State<GithubStandin>,
    Path((_, _, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Reply {
    found(
        settings(&g, &headers)?
            .rulesets
            .into_iter()
            .find(|r| r["id"] == id),
    )
}

async fn immutable_releases(State(g): State<GithubStandin>, headers: HeaderMap) -> Reply {
    let enabled = settings(&g, &headers)?.immutable_releases;
    Ok(Json(json!({"enabled": enabled, "enforced_by_owner": false})).into_response())
}

async fn environment(
    State(g): State<GithubStandin>,
    Path((_, _, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Reply {
    let policy = settings(&g, &headers)?
        .release_environment
        .filter(|_| name == "release");
    found(policy.map(|policy| json!({"name": name, "deployment_branch_policy": policy})))
}

async fn branch_policies(
    State(g): State<GithubStandin>,
    Path((_, _, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Reply {
    let settings = settings(&g, &headers)?;
    if name != "release" || settings.release_environment.is_none() {
        return Err(NOT_FOUND);
    }
    let policies: Vec<Value> = settings
        .branch_policies
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"id": i + 1, "name": p["name"], "type": p["type"]}))
        .collect();
    Ok(Json(json!({"total_count": policies.len(), "branch_policies": policies})).into_response())
}

async fn workflow_permissions(State(g): State<GithubStandin>, headers: HeaderMap) -> Reply {
    let value = settings(&g, &headers)?.default_workflow_permissions;
    Ok(Json(
        json!({"default_workflow_permissions": value, "can_approve_pull_request_reviews": false}),
    )
    .into_response())
}

/// GET /orgs/{owner}/... (`organisation`) or /users/{owner}/packages/container/{package}.
fn container_package(organisation: bool) -> axum::routing::MethodRouter<GithubStandin> {
    get(
        move |State(g): State<GithubStandin>,
              Path((owner, package)): Path<(String, String)>,
              headers: HeaderMap| async move {
            g.check(&headers, "packages", Access::Read)?;
            let setting =
                g.records().settings.packages.clone().into_iter().find(|p| {
                    p.organisation == organisation && p.owner == owner && p.name == package
                });
            found(setting.map(|p| {
                json!({
                    "name": p.name, "package_type": "container", "visibility": p.visibility,
                    "owner": {"login": p.owner},
                })
            }))
        },
    )
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
) -> Reply {
    let request = bearer(&headers).ok_or(Refusal(401, "Requires authentication"))?;
    let r = g.records();
    let claims = r.claims.iter().find(|(t, _)| *t == request);
    let (_, claims) = claims.ok_or(Refusal(401, "Bad credentials"))?;
    let mut claims = claims.clone();
    claims["aud"] = q.audience.unwrap_or_default().into();
    let jwt = format!(
        "{}.{}.",
        base64url(br#"{"alg":"none","typ":"JWT"}"#),
        base64url(claims.to_string().as_bytes())
    );
    Ok(Json(json!({"count": jwt.len(), "value": jwt})).into_response())
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> ListQuery {
        serde_json::from_value(serde_json::Value::Object(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    let v = if ["per_page", "page"].contains(&k) {
                        json!(v.parse::<usize>().unwrap())
                    } else {
                        json!(v)
                    };
                    (k.to_string(), v)
                })
                .collect(),
        ))
        .unwrap()
    }

    fn issues(n: u64) -> Vec<Value> {
        (1..=n)
            .map(|i| {
                json!({"number": i, "title": format!("t{i}"), "state": if i % 5 == 0 { "closed" } else { "open" },
                       "labels": if i % 2 == 0 { json!(["a", "b"]) } else { json!(["a"]) }})
            })
            .collect()
    }

    fn numbers(shown: &[Value]) -> Vec<u64> {
        shown
            .iter()
            .map(|i| i["number"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn open_issues_newest_first_thirty_to_a_page_by_default() {
        let (shown, link) = list(issues(50), &query(""), "u").unwrap();
        assert_eq!(shown.len(), 30);
        assert_eq!(numbers(&shown)[..4], [49, 48, 47, 46], "50 is closed");
        assert_eq!(
            link.unwrap(),
            "<u?per_page=30&page=2&state=open>; rel=\"next\", <u?per_page=30&page=2&state=open>; rel=\"last\""
        );
    }

    #[test]
    fn pages_follow_per_page_and_the_link_header_ends_on_the_last() {
        let q = query("state=all&per_page=20&page=3&direction=asc");
        let (shown, link) = list(issues(45), &q, "u").unwrap();
        assert_eq!(numbers(&shown), [41, 42, 43, 44, 45]);
        let link = link.unwrap();
        assert!(
            link.contains("page=2&state=all&direction=asc>; rel=\"prev\""),
            "{link}"
        );
        assert!(
            link.contains("page=1&state=all&direction=asc>; rel=\"first\""),
            "{link}"
        );
        assert!(!link.contains("rel=\"next\""), "{link}");
        let (beyond, _) = list(issues(45), &query("state=all&per_page=20&page=4"), "u").unwrap();
        assert!(beyond.is_empty());
        let (all, none) = list(issues(45), &query("state=all&per_page=100"), "u").unwrap();
        assert_eq!((all.len(), none), (45, None));
        let (capped, _) = list(issues(150), &query("state=all&per_page=500"), "u").unwrap();
        assert_eq!(capped.len(), 100, "GitHub's maximum");
    }

    #[test]
    fn the_link_header_served_names_the_standins_own_address_as_githubs_does() {
        use std::io::{Read, Write};
        let g = GithubStandin::start();
        let token = g.token("t", &[("issues", Access::Read)]);
        for i in 1..=31 {
            g.put_issue(&format!("t{i}"), "", &[], "open");
        }
        let address = g.url().trim_start_matches("http://").to_string();
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "GET /repos/o/r/issues HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let link = response
            .lines()
            .find_map(|l| l.strip_prefix("link: "))
            .unwrap_or_else(|| panic!("no Link header: {response}"));
        let next = format!("<http://{address}/repos/o/r/issues?per_page=30&page=2&state=open>");
        assert!(link.starts_with(&next), "{link}");
    }

    #[test]
    fn state_and_every_label_filter() {
        let (closed, _) = list(issues(20), &query("state=closed&per_page=100"), "u").unwrap();
        assert_eq!(numbers(&closed), [20, 15, 10, 5]);
        let (both, _) = list(issues(8), &query("labels=a,b&per_page=100"), "u").unwrap();
        assert_eq!(numbers(&both), [8, 6, 4, 2]);
        assert!(list(issues(3), &query("state=opened"), "u").is_err());
    }
}
