//! The act command of one simulated run: the event, the repository variables, the runner's
//! environment and secrets (in files of the run, never on the command line), and a stand-in
//! for every action the workflow uses.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use serde_json::Value;

use super::grants::{self, Grant};
use super::{Event, RunOptions, Sim, REPOSITORY};
use crate::{random_hex, write_private};
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

/// What the runner's steps see besides what GitHub gives each job: where the simulation
/// keeps its files, the local environment's builder, tools, base images and database, and
/// the variables GitHub sets for the event.
fn runner_env(sim: &Sim, run_dir: &Path, event: &Event, extra: &[(&str, &str)]) -> String {
    let e = &sim.env;
    let path = |p: &Path| p.display().to_string();
    let in_run = |sub: &str| path(&run_dir.join(sub));
    let tool_path = tools::tool_dirs()
        .iter()
        .map(|d| path(d))
        .collect::<Vec<_>>();
    let docker_host = e.docker_host.clone().unwrap_or_default();
    let mut pairs: Vec<(&str, String)> = vec![
        ("KUBE9_SIM_REPOSITORY", path(&sim.repo)),
        ("KUBE9_SIM_SOURCE_TIME", sim.source_time.clone()),
        ("KUBE9_SIM_OUTBOX", in_run("outbox")),
        // The run's artifact store, shared by its jobs (the upload/download-artifact stand-ins).
        ("KUBE9_SIM_ARTIFACTS", in_run("artifacts")),
        ("KUBE9_SIM_DOCKER_HOST", docker_host.clone()),
        // A GitHub-hosted runner has a Docker engine; this machine's is the environment's.
        ("DOCKER_HOST", docker_host),
        ("KUBE9_SIM_TOOLS", tool_path.join(":")),
        ("CARGO_TARGET_DIR", path(&sim.target_dir)),
        ("KUBE9_BUILD_CONTEXTS", e.build_contexts.join(" ")),
        // The environment's database is a fixture: judged at any age, in its own cache.
        ("KUBE9_ALLOW_STALE_DB", "true".into()),
        ("TRIVY_CACHE_DIR", in_run("trivy-cache")),
        // The public half of the key that stands in for the workflow's OIDC identity: what a
        // user verifies against here.
        ("KUBE9_COSIGN_PUBLIC_KEY", path(&e.cosign.public_key)),
        ("GITHUB_API_URL", sim.github.url().to_string()),
        ("GITHUB_SERVER_URL", "https://github.com".into()),
        ("GITHUB_REPOSITORY", REPOSITORY.into()),
        ("GITHUB_REPOSITORY_OWNER", "alto9".into()),
        ("GITHUB_REF", event.git_ref()),
        ("GITHUB_WORKFLOW_REF", event.workflow_ref()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    pairs.iter().map(|(k, v)| env_line(k, v)).collect()
}

/// The inputs of the stand-in for `action` whose default is the job's token.
fn token_inputs(action: &str) -> Vec<String> {
    let path = standins_dir().join(action).join("action.yml");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let parsed: Value = serde_saphyr::from_str(&text).unwrap_or_default();
    parsed["inputs"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, i)| {
            i["default"]
                .as_str()
                .is_some_and(|d| d.contains("github.token"))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The job's OIDC claims, as GitHub's provider would state them for this run.
fn claims(event: &Event, job: &str, sha: &str) -> Value {
    let git_ref = event.git_ref();
    let workflow_ref = event.workflow_ref();
    serde_json::json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": format!("repo:{REPOSITORY}:ref:{git_ref}"),
        "ref": git_ref, "sha": sha, "repository": REPOSITORY,
        "repository_owner": "alto9", "event_name": event.name(), "job": job,
        "workflow_ref": workflow_ref, "job_workflow_ref": workflow_ref,
        "runner_environment": "github-hosted",
    })
}

/// The workflow as act runs it, each job with what GitHub gives it (`grants::for_act`);
/// returns its path and the secrets file's lines.
fn workflow_for_act(sim: &Sim, run_dir: &Path, event: &Event) -> Result<(PathBuf, String)> {
    let original = sim.repo.join(".github/workflows").join(event.workflow());
    let text = crate::read_text(&original)?;
    let workflow: Value = serde_saphyr::from_str(&text)
        .with_context(|| format!("{} is not YAML", original.display()))?;
    let sha = sim.head()?;
    let mut random = || random_hex(12).expect("/dev/urandom is readable");
    let grants: Vec<Grant> = workflow["jobs"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(job, _)| Grant::for_job(&workflow, job, &mut random))
        .collect();
    let mut secrets = env_line("GITHUB_TOKEN", &format!("ghs_unissued_{}", random()));
    for grant in &grants {
        sim.github.issue(grant, claims(event, &grant.job, &sha));
        secrets.push_str(&env_line(&grant.token_secret(), &grant.token));
        if let Some(request) = &grant.oidc_request {
            secrets.push_str(&env_line(&grant.oidc_secret(), request));
        }
    }
    secrets.push_str(&env_line(grants::SIGNING_KEY_SECRET, &sim.env.cosign_key()));
    secrets.push_str(&env_line(
        grants::SIGNING_PASSWORD_SECRET,
        &sim.env.cosign_password(),
    ));
    let copy = grants::for_act(&workflow, &grants, &sim.github.oidc_url(), &token_inputs);
    let path = run_dir.join(event.workflow());
    std::fs::write(&path, serde_json::to_vec_pretty(&copy)?)?;
    Ok((path, secrets))
}

/// A stand-in for a compromised build dependency: a `cargo` first on the runner's `PATH` that
/// records, before it runs the real one, whether the job handed it the means to mint an OIDC
/// token (GitHub gives `ACTIONS_ID_TOKEN_REQUEST_*` to every step of a job with
/// `id-token: write`, so every build script and proc-macro cargo runs could ask for one).
/// Returns the directory to put first on `PATH`.
fn build_canary(run_dir: &Path) -> Result<PathBuf> {
    let cargo = tools::which("cargo").context("no cargo on PATH: install Rust (rustup)")?;
    let dir = run_dir.join("canary");
    std::fs::create_dir_all(&dir)?;
    let script = format!(
        "#!/bin/bash\n\
         # workflow-sim: stands in for build code that reads the job's OIDC request token.\n\
         if [ -n \"${{ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}}\" ] || [ -n \"${{ACTIONS_ID_TOKEN_REQUEST_URL:-}}\" ]; then\n\
         \x20 printf 'cargo\\t%s\\t%s\\n' \"${{GITHUB_JOB:-}}\" \"$*\" >> \"$KUBE9_SIM_OUTBOX/oidc-seen-by-build.tsv\"\n\
         fi\n\
         exec {} \"$@\"\n",
        cargo.display()
    );
    let path = dir.join("cargo");
    std::fs::write(&path, script)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

/// The machine's own environment a runner needs (paths, certificates, proxies): nothing of
/// GitHub's, and no credential. `first` goes ahead of the tools on `PATH`.
fn machine_env(home: &Path, first: &Path, wheels: &Path) -> Vec<(&'static str, String)> {
    let path = std::env::join_paths(
        std::iter::once(first.to_path_buf()).chain(std::env::split_paths(&tools::search_path())),
    )
    .unwrap_or_else(|_| tools::search_path());
    let mut vars = vec![
        ("HOME", home.display().to_string()),
        ("PATH", path.to_string_lossy().into_owned()),
        ("LANG", "C.UTF-8".to_string()),
    ];
    let real_home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    // The machine's toolchains and package caches, as a runner's image has them: each job's
    // HOME is its own, but nothing is downloaded again for each job.
    for (key, default) in [
        ("RUSTUP_HOME", format!("{real_home}/.rustup")),
        ("CARGO_HOME", format!("{real_home}/.cargo")),
        ("PIP_CACHE_DIR", format!("{real_home}/.cache/pip")),
    ] {
        vars.push((key, std::env::var(key).unwrap_or(default)));
    }
    // PyPI for the runners: the commit's pinned wheels, fetched once (`wheels`).
    vars.push(("PIP_NO_INDEX", "1".into()));
    vars.push(("PIP_FIND_LINKS", wheels.display().to_string()));
    for key in [
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "GIT_SSL_CAINFO",
        "NODE_EXTRA_CA_CERTS",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "PYENV_ROOT",
    ] {
        if let Ok(v) = std::env::var(key) {
            vars.push((key, v));
        }
    }
    vars
}

/// The act command of one run; its files go to `run_dir`.
pub fn command(sim: &Sim, run_dir: &Path, event: &Event, options: &RunOptions) -> Result<Cmd> {
    let (workflow, secrets) = workflow_for_act(sim, run_dir, event)?;
    let release_id = match event {
        Event::Release { tag, prerelease } => Some(sim.github.publish_release(tag, *prerelease)),
        _ => None,
    };
    let event_file = run_dir.join("event.json");
    std::fs::write(
        &event_file,
        serde_json::to_vec_pretty(&event.payload(release_id))?,
    )?;
    let env_file = run_dir.join("runner.env");
    write_private(&env_file, &runner_env(sim, run_dir, event, options.env))?;
    let secret_file = run_dir.join("secrets.env");
    write_private(&secret_file, &secrets)?;
    let mut cmd = Cmd::new("act")
        .clean_env()
        .arg(event.name())
        .opt("--directory", sim.repo.display().to_string())
        .opt("--workflows", workflow.display().to_string())
        .opt("--eventpath", event_file.display().to_string())
        // Host mode: the steps run on this machine, no runner image is needed. The arm64
        // runner's jobs run here too, on x86_64: what they run for arm64 runs under QEMU, and
        // says so (RUNNER_ENVIRONMENT is not `github-hosted`, so emulation is allowed).
        .opt("--platform", "ubuntu-latest=-self-hosted")
        .opt("--platform", "ubuntu-24.04-arm=-self-hosted")
        .arg("--no-cache-server")
        // Else act copies the working directory for a checkout without `ref` (ci.yml's,
        // withdraw.yml's) instead of running the stand-in: nothing it refuses is checked, and
        // the copy, dated now, made each such job compile the release tool again.
        .arg("--no-skip-checkout")
        .opt("--actor", &sim.env.auth_user)
        .opt("--env-file", env_file.display().to_string())
        .opt("--secret-file", secret_file.display().to_string());
    let canary = build_canary(run_dir)?;
    for (k, v) in machine_env(&run_dir.join("home"), &canary, &sim.wheels) {
        cmd = cmd.env(k, v);
    }
    for (k, v) in options.vars {
        cmd = cmd.opt("--var", format!("{k}={v}"));
    }
    let original = sim.repo.join(".github/workflows").join(event.workflow());
    for repo in local_repositories(&original).context("the workflow cannot run here")? {
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
