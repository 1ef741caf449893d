//! The repository's protections, as `check-repo` reads them from GitHub's REST API: whether
//! `v*` tags are protected by a ruleset, releases are immutable, the `release` environment
//! admits only `v*` tags, the default workflow token is read-only and the packages are
//! public. The release's identity (`release.yml@refs/tags/vX`) is only as safe as these: anyone
//! who can push a `v*` tag can otherwise sign as the release.
//!
//! `gather` is the only place that talks to GitHub; `judge` turns its answers into verdicts
//! and is pure, so each verdict is tested without a network.

use anyhow::Result;
use serde_json::Value;

use crate::config::GithubApi;
use crate::net::block_on;
use crate::releases;
use crate::secret::Secret;

/// What GitHub answered one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Found(Value),
    NotFound,
    /// 401/403: the token may not read it.
    Refused(u16),
    /// Anything else (a 5xx, a network error): the verdict cannot be read either.
    Failed(String),
}

/// A package the release publishes to GHCR: `owner` and its name there (`charts/kube9-operator`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub owner: String,
    pub name: String,
}

impl Package {
    /// The GHCR package of a repository such as `ghcr.io/alto9/kube9-operator` (`oci://` or
    /// not); `None` for another registry, whose visibility GitHub cannot say.
    pub fn of_repository(repository: &str) -> Option<Package> {
        let path = repository.trim_start_matches("oci://");
        let rest = path.strip_prefix("ghcr.io/")?;
        let (owner, name) = rest.split_once('/')?;
        (!owner.is_empty() && !name.is_empty()).then(|| Package {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    /// Its path in GitHub's API under `owners` (`orgs` or `users`): the name's `/` escaped.
    fn api_path(&self, owners: &str) -> String {
        let name = self.name.replace('/', "%2F");
        format!("{owners}/{}/packages/container/{name}", self.owner)
    }
}

/// Every answer `judge` needs.
#[derive(Debug, Clone)]
pub struct Answers {
    /// `owner/name`.
    pub repository: String,
    /// GET rulesets?includes_parents=true.
    pub rulesets: Answer,
    /// GET rulesets/{id} of each tag ruleset the list names.
    pub ruleset_details: Vec<Answer>,
    /// GET immutable-releases.
    pub immutable_releases: Answer,
    /// GET environments/release.
    pub environment: Answer,
    /// GET environments/release/deployment-branch-policies (`None`: not asked, since the
    /// environment does not use custom policies).
    pub branch_policies: Option<Answer>,
    /// GET actions/permissions/workflow.
    pub workflow_permissions: Answer,
    /// GET {orgs,users}/{owner}/packages/container/{name}, per package.
    pub packages: Vec<(Package, Answer)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Protected,
    /// What is wrong, and the exact setting that fixes it.
    Missing {
        fix: String,
    },
    /// The token may not read it: the permission that can.
    Unreadable {
        permission: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub protection: String,
    pub state: State,
    /// What GitHub said, in a few words.
    pub detail: String,
}

impl Verdict {
    pub fn line(&self) -> String {
        let (word, tail) = match &self.state {
            State::Protected => ("protected", String::new()),
            State::Missing { fix } => ("MISSING", format!("\n    fix: {fix}")),
            State::Unreadable { permission } => (
                "UNKNOWN",
                format!("\n    not readable with this token: it needs {permission}"),
            ),
        };
        format!("{word:<9} {}: {}{tail}", self.protection, self.detail)
    }
}

const ADMINISTRATION: &str = "the repository's `Administration: read` (a fine-grained token, or \
    a classic one with `repo`; a workflow's GITHUB_TOKEN can never have it: run `cargo xtask \
    check-repo` as a maintainer)";
const PACKAGES: &str = "`packages: read` (a fine-grained token's `Packages: read`, a classic \
    one's `read:packages`)";

const TAG_RULES: [&str; 4] = ["creation", "update", "deletion", "non_fast_forward"];

fn missing(protection: &str, detail: String, fix: String) -> Verdict {
    Verdict {
        protection: protection.into(),
        state: State::Missing { fix },
        detail,
    }
}

fn protected(protection: &str, detail: String) -> Verdict {
    Verdict {
        protection: protection.into(),
        state: State::Protected,
        detail,
    }
}

/// An answer that is no verdict: the one that says why.
fn unread(protection: &str, answer: &Answer, permission: &str) -> Option<Verdict> {
    let detail = match answer {
        Answer::Refused(status) => format!("GitHub answered {status}"),
        Answer::Failed(why) => format!("cannot be read ({why})"),
        _ => return None,
    };
    Some(Verdict {
        protection: protection.into(),
        state: State::Unreadable {
            permission: permission.into(),
        },
        detail,
    })
}

/// One verdict per protection, packages one each, in the order `check-repo` prints them.
pub fn judge(a: &Answers) -> Vec<Verdict> {
    let mut verdicts = vec![tags(a), immutable(a), environment(a), workflow_token(a)];
    verdicts.extend(a.packages.iter().map(|(p, answer)| package(p, answer)));
    verdicts
}

/// Whether `pattern` (fnmatch, as rulesets match refs) covers every `refs/tags/v*`.
fn covers_v_tags(pattern: &str) -> bool {
    ["~ALL", "refs/tags/*", "refs/tags/**/*", "refs/tags/v*"].contains(&pattern)
}

/// The strings of a JSON array (none when it is not one).
fn strings(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn tags(a: &Answers) -> Verdict {
    const P: &str = "`v*` tags protected by a ruleset";
    if let Some(v) = unread(P, &a.rulesets, ADMINISTRATION) {
        return v;
    }
    let mut rules: Vec<&str> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for detail in &a.ruleset_details {
        if let Some(v) = unread(P, detail, ADMINISTRATION) {
            return v;
        }
        let Answer::Found(r) = detail else { continue };
        let patterns = |key: &str| strings(&r["conditions"]["ref_name"][key]);
        // An exclusion of any `v` tag leaves some release tags unprotected.
        let includes = patterns("include").any(covers_v_tags)
            && !patterns("exclude").any(|p| covers_v_tags(p) || p.starts_with("refs/tags/v"));
        if r["target"] != "tag" || r["enforcement"] != "active" || !includes {
            continue;
        }
        names.push(format!("`{}`", r["name"].as_str().unwrap_or("?")));
        let kinds = r["rules"].as_array().into_iter().flatten();
        rules.extend(kinds.filter_map(|rule| rule["type"].as_str()));
    }
    let lacking: Vec<&str> = TAG_RULES
        .iter()
        .copied()
        .filter(|want| !rules.contains(want))
        .collect();
    if lacking.is_empty() {
        return protected(
            P,
            format!(
                "{} restricts creation, update and deletion, and blocks force pushes",
                names.join(", ")
            ),
        );
    }
    let detail = if names.is_empty() {
        "no active tag ruleset covers refs/tags/v*".to_string()
    } else {
        format!("{} lacks {}", names.join(", "), lacking.join(", "))
    };
    let fix = format!(
        "Settings > Rules > Rulesets > New ruleset > New tag ruleset: Ruleset name `release \
         tags`, Enforcement status Active, Bypass list: the maintainers who release, Target \
         tags > Add target > Include by pattern `v*`, Rules: Restrict creations, Restrict \
         updates, Restrict deletions, Block force pushes; or `gh api -X POST \
         repos/{}/rulesets --input -` with {{\"name\":\"release tags\",\"target\":\"tag\",\
         \"enforcement\":\"active\",\"conditions\":{{\"ref_name\":{{\"include\":[\"refs/tags/v*\"],\
         \"exclude\":[]}}}},\"rules\":[{{\"type\":\"creation\"}},{{\"type\":\"update\"}},\
         {{\"type\":\"deletion\"}},{{\"type\":\"non_fast_forward\"}}]}} (and a bypass_actors entry \
         for the maintainers' role)",
        a.repository
    );
    missing(P, detail, fix)
}

fn immutable(a: &Answers) -> Verdict {
    const P: &str = "releases immutable";
    if let Some(v) = unread(P, &a.immutable_releases, ADMINISTRATION) {
        return v;
    }
    if let Answer::Found(v) = &a.immutable_releases {
        if v["enabled"] == true {
            let by = if v["enforced_by_owner"] == true {
                " (enforced by the owner)"
            } else {
                ""
            };
            return protected(P, format!("release immutability is enabled{by}"));
        }
    }
    missing(
        P,
        "release immutability is not enabled: a release's assets and tag can still change".into(),
        format!(
            "Settings > General > Releases > Enable release immutability (it applies to later \
             releases only); or `gh api -X PUT repos/{}/immutable-releases`",
            a.repository
        ),
    )
}

fn environment(a: &Answers) -> Verdict {
    const P: &str = "`release` environment admits only `v*` tags";
    let fix = format!(
        "Settings > Environments > `release` (New environment if absent) > Deployment branches \
         and tags: Selected branches and tags > Add deployment branch or tag rule > Ref type: \
         Tag, Name pattern `v*`, and remove every other rule; or `gh api -X PUT \
         repos/{r}/environments/release --input -` with {{\"deployment_branch_policy\":\
         {{\"protected_branches\":false,\"custom_branch_policies\":true}}}}, then `gh api -X POST \
         repos/{r}/environments/release/deployment-branch-policies -f name='v*' -f type=tag`",
        r = a.repository
    );
    if let Some(v) = unread(P, &a.environment, ADMINISTRATION) {
        return v;
    }
    let Answer::Found(env) = &a.environment else {
        return missing(P, "the repository has no `release` environment".into(), fix);
    };
    let policy = &env["deployment_branch_policy"];
    if policy.is_null() {
        return missing(P, "it admits every branch and tag".into(), fix);
    }
    if policy["custom_branch_policies"] != true {
        return missing(
            P,
            "it admits protected branches, not selected tags".into(),
            fix,
        );
    }
    let Some(answer) = &a.branch_policies else {
        return missing(P, "its deployment rules were not read".into(), fix);
    };
    if let Some(v) = unread(P, answer, ADMINISTRATION) {
        return v;
    }
    let entries: Vec<&Value> = match answer {
        Answer::Found(v) => v["branch_policies"]
            .as_array()
            .into_iter()
            .flatten()
            .collect(),
        _ => Vec::new(),
    };
    let others: Vec<String> = entries
        .iter()
        .filter(|e| !(e["type"] == "tag" && e["name"] == "v*"))
        .map(|e| {
            format!(
                "{} `{}`",
                e["type"].as_str().unwrap_or("branch"),
                e["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    if entries.is_empty() {
        return missing(
            P,
            "it has no deployment rule: nothing may deploy".into(),
            fix,
        );
    }
    if !others.is_empty() {
        return missing(P, format!("it also admits {}", others.join(", ")), fix);
    }
    protected(P, "its only deployment rule is tag `v*`".into())
}

fn workflow_token(a: &Answers) -> Verdict {
    const P: &str = "default workflow token read-only";
    if let Some(v) = unread(P, &a.workflow_permissions, ADMINISTRATION) {
        return v;
    }
    let value = match &a.workflow_permissions {
        Answer::Found(v) => v["default_workflow_permissions"].as_str(),
        _ => None,
    }
    .unwrap_or("?");
    if value == "read" {
        return protected(P, "default_workflow_permissions is `read`".into());
    }
    missing(
        P,
        format!(
            "default_workflow_permissions is `{value}`: a job without `permissions:` can write"
        ),
        format!(
            "Settings > Actions > General > Workflow permissions: Read repository contents and \
             packages permissions; or `gh api -X PUT repos/{}/actions/permissions/workflow -f \
             default_workflow_permissions=read`",
            a.repository
        ),
    )
}

fn package(p: &Package, answer: &Answer) -> Verdict {
    let protection = format!("package ghcr.io/{}/{} public", p.owner, p.name);
    if let Some(v) = unread(&protection, answer, PACKAGES) {
        return v;
    }
    let fix = format!(
        "once the release has published it: Package settings \
         (https://github.com/orgs/{o}/packages/container/{e}/settings, or \
         https://github.com/users/{o}/packages/container/{e}/settings for a user's package) > \
         Danger Zone > Change visibility > Public; GitHub's API cannot change a package's \
         visibility",
        o = p.owner,
        e = p.name.replace('/', "%2F"),
    );
    match answer {
        Answer::Found(v) if v["visibility"] == "public" => {
            protected(&protection, "its visibility is public".into())
        }
        Answer::Found(v) => missing(
            &protection,
            format!(
                "its visibility is `{}`: users cannot pull it",
                v["visibility"].as_str().unwrap_or("?")
            ),
            fix,
        ),
        _ => missing(
            &protection,
            "not published yet (a first release creates it private)".into(),
            fix,
        ),
    }
}

/// The requests `gather` makes, for `--dry-run` (each ruleset the list names is read too, and a
/// package not found under the organisation is looked for under the user).
pub fn requests(repository: &str, packages: &[Package]) -> Vec<String> {
    let mut paths: Vec<String> = [
        "rulesets?includes_parents=true",
        "rulesets/{id}",
        "immutable-releases",
        "environments/release",
        "environments/release/deployment-branch-policies?per_page=100",
        "actions/permissions/workflow",
    ]
    .iter()
    .map(|p| format!("repos/{repository}/{p}"))
    .collect();
    paths.extend(packages.iter().map(|p| p.api_path("orgs")));
    paths
}

/// Asks GitHub for every answer `judge` needs. The token goes only into the request's header.
pub fn gather(api: &GithubApi, packages: &[Package]) -> Result<Answers> {
    let token = releases::token(api)?;
    let repo = |path: &str| format!("repos/{}/{path}", api.repository);
    Ok(block_on(async {
        let client = crate::net::http_client();
        let get = |path: String| fetch(&client, api, token, path);
        let rulesets = get(repo("rulesets?includes_parents=true")).await;
        let mut ruleset_details = Vec::new();
        if let Answer::Found(list) = &rulesets {
            for r in list.as_array().into_iter().flatten() {
                // The list says each ruleset's target; only tag rulesets are read whole.
                if r.get("target").is_some_and(|t| t != "tag") {
                    continue;
                }
                if let Some(id) = r["id"].as_u64() {
                    ruleset_details.push(get(repo(&format!("rulesets/{id}"))).await);
                }
            }
        }
        let immutable_releases = get(repo("immutable-releases")).await;
        let environment = get(repo("environments/release")).await;
        let branch_policies = match &environment {
            Answer::Found(e) if e["deployment_branch_policy"]["custom_branch_policies"] == true => {
                Some(
                    get(repo(
                        "environments/release/deployment-branch-policies?per_page=100",
                    ))
                    .await,
                )
            }
            _ => None,
        };
        let workflow_permissions = get(repo("actions/permissions/workflow")).await;
        let mut found = Vec::new();
        for p in packages {
            // An organisation's package, else a user's: the API has one path for each.
            let mut answer = get(p.api_path("orgs")).await;
            if answer == Answer::NotFound {
                answer = get(p.api_path("users")).await;
            }
            found.push((p.clone(), answer));
        }
        Answers {
            repository: api.repository.clone(),
            rulesets,
            ruleset_details,
            immutable_releases,
            environment,
            branch_policies,
            workflow_permissions,
            packages: found,
        }
    }))
}

async fn fetch(client: &reqwest::Client, api: &GithubApi, token: &Secret, path: String) -> Answer {
    let response = client
        .get(format!("{}/{path}", api.url.trim_end_matches('/')))
        .bearer_auth(token.expose())
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header("User-Agent", "kube9-release")
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return Answer::Failed(crate::text::one_line(&e.to_string())),
    };
    let status = response.status();
    match status.as_u16() {
        200..=299 => match response.json().await {
            Ok(v) => Answer::Found(v),
            Err(e) => Answer::Failed(format!("GitHub's answer is not JSON: {e}")),
        },
        404 => Answer::NotFound,
        401 | 403 => Answer::Refused(status.as_u16()),
        _ => Answer::Failed(format!("GitHub answered {status}")),
    }
}

#[cfg(test)]
mod tests;
