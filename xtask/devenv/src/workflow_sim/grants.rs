//! What GitHub gives each job, and only that job: a `GITHUB_TOKEN` with the job's
//! `permissions:`, and an OIDC identity only with `id-token: write`. act gives every job the
//! same secrets and no OIDC at all, so the simulation runs a copy of the workflow in which
//! each job reads its own token and gets its own runner variables, derived from its
//! `permissions:` here. Nothing else of the workflow changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A scope's access (`write` includes `read`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
}

/// A job's `GITHUB_TOKEN` permissions: scope to access; a scope not named is `none`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Permissions(pub BTreeMap<String, Access>);

/// Every scope GitHub documents, for `read-all` and `write-all`.
const SCOPES: &[&str] = &[
    "actions",
    "artifact-metadata",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "packages",
    "pages",
    "pull-requests",
    "security-events",
    "statuses",
];

impl Permissions {
    /// The job's own `permissions:`, else the workflow's, else GitHub's restricted default.
    pub fn of_job(workflow: &Value, job: &str) -> Permissions {
        let restricted = serde_json::json!({"contents": "read", "packages": "read"});
        let own = &workflow["jobs"][job]["permissions"];
        Self::parse(
            [own, &workflow["permissions"]]
                .into_iter()
                .find(|p| !p.is_null())
                .unwrap_or(&restricted),
        )
    }

    fn parse(value: &Value) -> Permissions {
        let all = |access| Permissions(SCOPES.iter().map(|s| (s.to_string(), access)).collect());
        match value {
            Value::String(s) if s == "read-all" => {
                let mut read = all(Access::Read);
                read.0.remove("id-token");
                read
            }
            Value::String(s) if s == "write-all" => all(Access::Write),
            Value::Object(map) => Permissions(
                map.iter()
                    .filter_map(|(scope, access)| {
                        // `none`, or anything else, grants nothing.
                        let access = Access::deserialize(access).ok()?;
                        Some((scope.clone(), access))
                    })
                    .collect(),
            ),
            _ => Permissions::default(),
        }
    }

    pub fn allows(&self, scope: &str, access: Access) -> bool {
        self.0.get(scope).is_some_and(|a| *a >= access)
    }
}

/// What one job of one run was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub job: String,
    pub permissions: Permissions,
    /// Its `GITHUB_TOKEN`.
    pub token: String,
    /// The token that asks for its OIDC token; only with `id-token: write`.
    pub oidc_request: Option<String>,
}

impl Grant {
    pub fn for_job(workflow: &Value, job: &str, random: &mut dyn FnMut() -> String) -> Grant {
        let permissions = Permissions::of_job(workflow, job);
        let oidc_request = permissions
            .allows("id-token", Access::Write)
            .then(|| format!("oidc-{}", random()));
        Grant {
            job: job.to_string(),
            token: format!("ghs_sim_{}", random()),
            oidc_request,
            permissions,
        }
    }

    /// The secret this job's token is read from in the simulation's copy of the workflow.
    pub fn token_secret(&self) -> String {
        format!("KUBE9_SIM_TOKEN_{}", secret_suffix(&self.job))
    }

    pub fn oidc_secret(&self) -> String {
        format!("KUBE9_SIM_OIDC_{}", secret_suffix(&self.job))
    }
}

/// act's secret names are upper case; a job id may hold `-`.
fn secret_suffix(job: &str) -> String {
    job.to_ascii_uppercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
}

/// The signing identity's secrets: the environment's key pair stands in for what GitHub's
/// OIDC identity lets a job sign with (Fulcio's certificate for it).
pub const SIGNING_KEY_SECRET: &str = "KUBE9_SIM_SIGNING_KEY";
pub const SIGNING_PASSWORD_SECRET: &str = "KUBE9_SIM_SIGNING_PASSWORD";

/// The copy of `workflow` act runs: each job's token expressions read that job's secret, an
/// action input that defaults to `github.token` gets it too, and a job with `id-token: write`
/// gets the OIDC request variables and the signing identity. `token_inputs` names an action's
/// inputs that default to `github.token`. `concurrency.queue` (GitHub, May 2026) is dropped:
/// act's schema refuses the key, and the simulation runs one workflow at a time anyway.
pub fn for_act(
    workflow: &Value,
    grants: &[Grant],
    oidc_url: &str,
    token_inputs: &dyn Fn(&str) -> Vec<String>,
) -> Value {
    let mut copy = workflow.clone();
    if let Some(c) = copy["concurrency"].as_object_mut() {
        c.remove("queue");
    }
    let secret = |name: &str| Value::from(format!("${{{{ secrets.{name} }}}}"));
    for grant in grants {
        let job = &mut copy["jobs"][&grant.job];
        if let Some(c) = job["concurrency"].as_object_mut() {
            c.remove("queue");
        }
        rewrite_tokens(job, &grant.token_secret());
        give_action_tokens(job, &secret(&grant.token_secret()), token_inputs);
        if grant.oidc_request.is_some() {
            let env = object(&mut job["env"]);
            for (key, value) in [
                ("ACTIONS_ID_TOKEN_REQUEST_URL", oidc_url.into()),
                (
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                    secret(&grant.oidc_secret()),
                ),
                ("COSIGN_PRIVATE_KEY", secret(SIGNING_KEY_SECRET)),
                ("COSIGN_PASSWORD", secret(SIGNING_PASSWORD_SECRET)),
            ] {
                env.insert(key.into(), value);
            }
        }
    }
    copy
}

/// `value` as an object, made one first if it is not.
fn object(value: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Default::default());
    }
    value.as_object_mut().expect("made an object above")
}

/// `secrets.GITHUB_TOKEN` and `github.token` in every string of the job, the job's own.
fn rewrite_tokens(value: &mut Value, secret: &str) {
    match value {
        Value::String(s) => {
            let own = format!("secrets.{secret}");
            *s = s
                .replace("secrets.GITHUB_TOKEN", &own)
                .replace("github.token", &own);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_tokens(v, secret)),
        Value::Object(map) => map.values_mut().for_each(|v| rewrite_tokens(v, secret)),
        _ => {}
    }
}

/// An action's inputs that default to `${{ github.token }}` get the job's token unless the
/// step sets them: GitHub evaluates that default with the job's own token.
fn give_action_tokens(job: &mut Value, token: &Value, token_inputs: &dyn Fn(&str) -> Vec<String>) {
    for step in job["steps"].as_array_mut().into_iter().flatten() {
        let action = step["uses"]
            .as_str()
            .map(|u| u.split('@').next().unwrap_or_default());
        for input in action.map(token_inputs).unwrap_or_default() {
            object(&mut step["with"])
                .entry(input)
                .or_insert_with(|| token.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workflow() -> Value {
        json!({
            "on": {"release": {}},
            "permissions": {},
            "concurrency": {"group": "release", "cancel-in-progress": false, "queue": "max"},
            "jobs": {
                "image": {
                    "permissions": {"contents": "read", "packages": "write", "id-token": "write", "attestations": "write"},
                    "steps": [
                        {"uses": "actions/attest-build-provenance@abc", "with": {"subject-name": "x"}},
                        {"run": "xtask", "env": {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"}}
                    ]
                },
                "verify": {
                    "permissions": {"contents": "read", "packages": "read"},
                    "steps": [{"run": "verify", "env": {"GITHUB_TOKEN": "${{ github.token }}"}}]
                },
                "pr": {"steps": []}
            }
        })
    }

    fn grants() -> Vec<Grant> {
        let w = workflow();
        let mut n = 0;
        let mut random = || {
            n += 1;
            n.to_string()
        };
        ["image", "verify", "pr"]
            .iter()
            .map(|j| Grant::for_job(&w, j, &mut random))
            .collect()
    }

    #[test]
    fn permissions_are_the_jobs_own_then_the_workflows() {
        let w = workflow();
        let image = Permissions::of_job(&w, "image");
        assert!(image.allows("packages", Access::Write) && image.allows("packages", Access::Read));
        assert!(image.allows("id-token", Access::Write));
        let verify = Permissions::of_job(&w, "verify");
        assert!(verify.allows("packages", Access::Read));
        assert!(!verify.allows("packages", Access::Write));
        // `permissions: {}` at the top: a job without its own gets nothing.
        assert_eq!(Permissions::of_job(&w, "pr"), Permissions::default());
        let default = Permissions::of_job(&json!({"jobs": {"a": {}}}), "a");
        assert!(
            default.allows("contents", Access::Read) && !default.allows("id-token", Access::Write)
        );
        let read_all = Permissions::parse(&json!("read-all"));
        assert!(
            read_all.allows("issues", Access::Read) && !read_all.allows("id-token", Access::Read)
        );
    }

    #[test]
    fn each_job_reads_its_own_token_and_only_an_id_token_job_can_sign() {
        let grants = grants();
        let inputs = |action: &str| {
            if action == "actions/attest-build-provenance" {
                vec!["github-token".to_string()]
            } else {
                Vec::new()
            }
        };
        let copy = for_act(&workflow(), &grants, "http://oidc", &inputs);
        let image = &copy["jobs"]["image"];
        assert_eq!(
            image["steps"][1]["env"]["GITHUB_TOKEN"],
            "${{ secrets.KUBE9_SIM_TOKEN_IMAGE }}"
        );
        assert_eq!(
            image["steps"][0]["with"]["github-token"],
            "${{ secrets.KUBE9_SIM_TOKEN_IMAGE }}"
        );
        assert_eq!(image["env"]["ACTIONS_ID_TOKEN_REQUEST_URL"], "http://oidc");
        assert_eq!(
            image["env"]["COSIGN_PRIVATE_KEY"],
            "${{ secrets.KUBE9_SIM_SIGNING_KEY }}"
        );
        let verify = &copy["jobs"]["verify"];
        assert_eq!(
            verify["steps"][0]["env"]["GITHUB_TOKEN"],
            "${{ secrets.KUBE9_SIM_TOKEN_VERIFY }}"
        );
        assert!(
            verify["env"].is_null(),
            "no signing identity without id-token: write"
        );
        assert!(grants[1].oidc_request.is_none());
        assert!(copy["concurrency"]["queue"].is_null());
        assert_eq!(copy["concurrency"]["group"], "release");
        assert!(grants.iter().all(|g| g.token.starts_with("ghs_sim_")));
    }
}
