//! The act command of one simulated run: the event, the repository variables, the runner's
//! environment and secrets (in files of the run, never on the command line), and a stand-in
//! for every action the workflow uses.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{Event, RunOptions, Sim};
use kube9_release::cmd::Cmd;
use kube9_release::{tools, workspace};

/// Where the stand-in actions live.
pub fn standins_dir() -> PathBuf {
    workspace::root().join("xtask/tests/fixtures/actions")
}

/// `owner/repo[/path]@sha` of every `uses:` in a workflow file.
fn uses(workflow: &str) -> Vec<(String, String)> {
    workflow
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses:")
        })
        .filter_map(|spec| {
            let spec = spec.split('#').next()?.trim();
            let (action, sha) = spec.split_once('@')?;
            Some((action.to_string(), sha.to_string()))
        })
        .collect()
}

/// `--local-repository owner/repo@sha=<stand-in>` for every action of the workflow; an action
/// without a stand-in is refused by name.
fn local_repositories(workflow: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(workflow)?;
    let mut args = Vec::new();
    for (action, sha) in uses(&text) {
        let mut parts = action.splitn(3, '/');
        let (owner, repo) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let subpath = parts.next().unwrap_or("");
        let dir = standins_dir().join(owner).join(repo);
        if !dir.join(subpath).join("action.yml").is_file() {
            bail!(
                "{} uses {action}, which has no stand-in: add {}/action.yml that does its local \
                 equivalent (see the README there)",
                workflow.display(),
                dir.join(subpath).display()
            );
        }
        let arg = format!("{owner}/{repo}@{sha}={}", dir.display());
        if !args.contains(&arg) {
            args.push(arg);
        }
    }
    Ok(args)
}

/// A file only root can read, for the runner's environment and secrets.
fn write_private(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// `KEY="value"` with newlines escaped, as act's env files read them.
fn env_line(key: &str, value: &str) -> String {
    format!(
        "{key}=\"{}\"\n",
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

fn runner_env(sim: &Sim, run_dir: &Path, extra: &[(&str, &str)]) -> String {
    let e = &sim.env;
    let tool_path = tools::tool_dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let mut pairs: Vec<(String, String)> = vec![
        (
            "KUBE9_SIM_REPOSITORY".into(),
            sim.repo.display().to_string(),
        ),
        (
            "KUBE9_SIM_OUTBOX".into(),
            run_dir.join("outbox").display().to_string(),
        ),
        (
            "KUBE9_SIM_DOCKER_HOST".into(),
            e.docker_host.clone().unwrap_or_default(),
        ),
        ("KUBE9_SIM_TOOLS".into(), tool_path),
        (
            "CARGO_TARGET_DIR".into(),
            sim.target_dir.display().to_string(),
        ),
        ("KUBE9_BUILD_CONTEXTS".into(), e.build_contexts.join(" ")),
        // The environment's database is a fixture: judged at any age, in its own cache.
        ("KUBE9_ALLOW_STALE_DB".into(), "true".into()),
        (
            "TRIVY_CACHE_DIR".into(),
            run_dir.join("trivy-cache").display().to_string(),
        ),
        // GitHub signs with the workflow's OIDC identity, which act cannot give: the
        // environment's key pair stands in.
        ("COSIGN_PRIVATE_KEY".into(), e.cosign_key()),
        ("COSIGN_PASSWORD".into(), e.cosign_password()),
        (
            "KUBE9_COSIGN_PUBLIC_KEY".into(),
            e.cosign.public_key.display().to_string(),
        ),
        ("GITHUB_API_URL".into(), sim.github_api.clone()),
        ("GITHUB_REPOSITORY".into(), "alto9/kube9-operator".into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    pairs.iter().map(|(k, v)| env_line(k, v)).collect()
}

/// The act command of one run; its files go to `run_dir`.
pub fn command(sim: &Sim, run_dir: &Path, event: &Event, options: &RunOptions) -> Result<Cmd> {
    let workflow = sim.repo.join(".github/workflows").join(event.workflow());
    let event_file = run_dir.join("event.json");
    std::fs::write(&event_file, serde_json::to_vec_pretty(&event.payload())?)?;
    let env_file = run_dir.join("runner.env");
    write_private(&env_file, &runner_env(sim, run_dir, options.env))?;
    let secret_file = run_dir.join("secrets.env");
    write_private(
        &secret_file,
        &env_line("GITHUB_TOKEN", &sim.env.auth_password()),
    )?;
    let mut cmd = Cmd::new("act")
        .arg(event.name())
        .opt("--directory", sim.repo.display().to_string())
        .opt("--workflows", workflow.display().to_string())
        .opt("--eventpath", event_file.display().to_string())
        // Host mode: the steps run on this machine, no runner image is needed.
        .opt("--platform", "ubuntu-latest=-self-hosted")
        .arg("--no-cache-server")
        .opt("--actor", &sim.env.auth_user)
        .opt("--env-file", env_file.display().to_string())
        .opt("--secret-file", secret_file.display().to_string());
    for (k, v) in options.vars {
        cmd = cmd.opt("--var", format!("{k}={v}"));
    }
    for repo in local_repositories(&workflow).context("the workflow cannot run here")? {
        cmd = cmd.opt("--local-repository", repo);
    }
    if let Some(job) = options.job {
        cmd = cmd.opt("--job", job);
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_of_the_workflows_has_a_stand_in() {
        for workflow in ["release.yml", "ci.yml", "rescan.yml"] {
            let path = workspace::root().join(".github/workflows").join(workflow);
            let repos = local_repositories(&path).unwrap();
            assert!(
                repos.iter().any(|r| r.starts_with("actions/checkout@")),
                "{workflow}"
            );
        }
    }

    #[test]
    fn an_action_without_a_stand_in_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let workflow = dir.path().join("w.yml");
        std::fs::write(&workflow, "jobs:\n  a:\n    steps:\n      - uses: example/new-action@0123456789abcdef0123456789abcdef01234567 # v1\n").unwrap();
        let err = local_repositories(&workflow).unwrap_err().to_string();
        assert!(
            err.contains("uses example/new-action, which has no stand-in"),
            "{err}"
        );
    }

    #[test]
    fn multi_line_values_are_escaped_for_acts_env_files() {
        assert_eq!(env_line("K", "a\n\"b\""), "K=\"a\\n\\\"b\\\"\"\n");
    }
}
