//! The stand-in actions refuse what the real actions refuse, in their words: each stand-in's
//! script run as its `action.yml` runs it, against GitHub's API stand-in, with a job's token
//! that has (or lacks) the permission the real action needs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use kube9_devenv::workflow_sim::grants::{Access, Grant, Permissions};
use kube9_devenv::workflow_sim::GithubStandin;
use support::*;

fn standin(action: &str, script: &str) -> PathBuf {
    fixtures().join("actions").join(action).join(script)
}

/// A job's runner files: its outbox, GITHUB_ENV, a home without a docker login.
struct Job {
    dir: PathBuf,
}

impl Job {
    fn new() -> Job {
        let dir = temp_dir("standin-job");
        std::fs::create_dir_all(dir.join("outbox")).unwrap();
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::fs::write(dir.join("github-env"), "").unwrap();
        Job { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    fn command(&self, script: &Path, github: &GithubStandin) -> Command {
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.home())
            .env("GITHUB_API_URL", github.url())
            .env("GITHUB_REPOSITORY", "alto9/kube9-operator")
            .env("GITHUB_REF", "refs/tags/v1.2.3")
            .env("GITHUB_SHA", "c0ffee")
            .env("GITHUB_JOB", "image")
            .env("GITHUB_ENV", self.dir.join("github-env"))
            .env("KUBE9_SIM_OUTBOX", self.dir.join("outbox"))
            .current_dir(&self.dir);
        cmd
    }
}

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// A job with `permissions`, its OIDC identity only with `id-token: write`.
fn grant(github: &GithubStandin, permissions: &[(&str, Access)]) -> Grant {
    let grant = Grant {
        job: "image".into(),
        permissions: Permissions(
            permissions
                .iter()
                .map(|(s, a)| (s.to_string(), *a))
                .collect(),
        ),
        token: format!("ghs_{}", unique("token")),
        oidc_request: Some(unique("oidc")),
    };
    let workflow_ref = "alto9/kube9-operator/.github/workflows/release.yml@refs/tags/v1.2.3";
    github.issue(
        &grant,
        serde_json::json!({
            "ref": "refs/tags/v1.2.3", "sha": "c0ffee", "repository": "alto9/kube9-operator",
            "event_name": "release", "workflow_ref": workflow_ref, "job_workflow_ref": workflow_ref,
        }),
    );
    grant
}

fn attest(job: &Job, github: &GithubStandin, grant: &Grant, oidc: bool) -> std::process::Output {
    let script = standin("actions/attest-build-provenance", "attest.py");
    let mut cmd = job.command(&script, github);
    cmd.env("SUBJECT_PATH", "")
        .env("NAME", "127.0.0.1:5000/alto9/kube9-operator")
        .env("DIGEST", DIGEST)
        .env("CHECKSUMS", "")
        .env("PUSH", "true")
        .env("TOKEN", &grant.token);
    if oidc {
        cmd.env("ACTIONS_ID_TOKEN_REQUEST_URL", github.oidc_url())
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                grant.oidc_request.as_ref().unwrap(),
            );
    }
    run(&mut cmd)
}

#[test]
fn the_provenance_stand_in_needs_id_token_attestations_and_a_docker_login_in_home() {
    let github = GithubStandin::start();
    let job = Job::new();
    let all = grant(
        &github,
        &[("id-token", Access::Write), ("attestations", Access::Write)],
    );
    let out = attest(&job, &github, &all, false);
    assert!(!out.status.success());
    assert!(
        text(&out).contains(
            r#"missing "id-token" permission. Please add "permissions: id-token: write" to your workflow."#
        ),
        "{}",
        text(&out)
    );

    let without = grant(&github, &[("id-token", Access::Write)]);
    let out = attest(&job, &github, &without, true);
    assert!(!out.status.success());
    assert!(
        text(&out)
            .contains("Failed to persist attestation: Resource not accessible by integration"),
        "{}",
        text(&out)
    );
    assert!(github.attestations().is_empty());

    // Stored with GitHub, then the push needs the login where actions/attest reads it.
    let out = attest(&job, &github, &all, true);
    assert!(!out.status.success());
    let config = job.home().join(".docker/config.json");
    assert!(
        text(&out).contains(&format!("No credential file found at {}", config.display())),
        "{}",
        text(&out)
    );
    assert_eq!(
        github.attestations().len(),
        1,
        "stored before the push, as the real one"
    );
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, r#"{"auths": {"ghcr.io": {"auth": "eDp5"}}}"#).unwrap();
    let out = attest(&job, &github, &all, true);
    assert!(
        text(&out).contains("No credentials found for registry 127.0.0.1:5000"),
        "{}",
        text(&out)
    );
    // A login a credential store keeps leaves an empty entry, which @sigstore/oci cannot read.
    std::fs::write(&config, r#"{"auths": {"127.0.0.1:5000": {}}}"#).unwrap();
    let out = attest(&job, &github, &all, true);
    assert!(
        text(&out).contains("must be of type string or an instance of Buffer"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_provenance_stand_in_checks_its_subject_as_v4_1_0_does() {
    let github = GithubStandin::start();
    let job = Job::new();
    let all = grant(
        &github,
        &[("id-token", Access::Write), ("attestations", Access::Write)],
    );
    let script = standin("actions/attest-build-provenance", "attest.py");
    let with = |name: &str, digest: &str| {
        run(job
            .command(&script, &github)
            .env("SUBJECT_PATH", "")
            .env("NAME", name)
            .env("DIGEST", digest)
            .env("CHECKSUMS", "")
            .env("PUSH", "true")
            .env("TOKEN", &all.token)
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", github.oidc_url())
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                all.oidc_request.as_ref().unwrap(),
            ))
    };
    let out = with("127.0.0.1:5000/alto9/kube9-operator", "sha256:abc");
    assert!(
        text(&out).contains(r#"subject-digest must be in the format "sha256:<hex-digest>""#),
        "{}",
        text(&out)
    );
    let out = with("127.0.0.1:5000/alto9/kube9-operator:1.2.3", DIGEST);
    assert!(
        text(&out).contains("Invalid image name: 127.0.0.1:5000/alto9/kube9-operator:1.2.3"),
        "{}",
        text(&out)
    );
}

fn sarif(dir: &Path) -> PathBuf {
    let file = dir.join("trivy.sarif");
    std::fs::write(
        &file,
        r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Trivy"}}, "results": []}]}"#,
    )
    .unwrap();
    file
}

#[test]
fn the_sarif_stand_in_needs_security_events_write_and_one_category_per_upload() {
    let github = GithubStandin::start();
    let job = Job::new();
    let script = standin("github/codeql-action/upload-sarif", "upload.py");
    let file = sarif(&job.dir);
    let upload = |token: &str| {
        run(job
            .command(&script, &github)
            .env("SARIF", &file)
            .env("CATEGORY", "trivy-linux-amd64")
            .env("TOKEN", token))
    };
    let read_only = github.token("read-only", &[("contents", Access::Read)]);
    let out = upload(&read_only);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("Resource not accessible by integration"),
        "{}",
        text(&out)
    );
    let out = upload("");
    assert!(text(&out).contains("Input required and not supplied: token"));
    let writer = github.token("image", &[("security-events", Access::Write)]);
    ok(Command::new("git")
        .arg("init")
        .arg("-q")
        .current_dir(&job.dir));
    let out = upload(&writer);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(github.analyses().len(), 1);
    assert_eq!(github.analyses()[0]["category"], "trivy-linux-amd64");
    // The same category twice in one job (GITHUB_ENV carries the sentinel) is refused.
    let env_file = std::fs::read_to_string(job.dir.join("github-env")).unwrap();
    let (key, value) = env_file.trim().split_once('=').unwrap();
    let out = run(job
        .command(&script, &github)
        .env("SARIF", &file)
        .env("CATEGORY", "trivy-linux-amd64")
        .env("TOKEN", &writer)
        .env(key, value));
    assert!(
        text(&out).contains("Aborting upload: only one run"),
        "{}",
        text(&out)
    );
}

/// Runs the first step of a composite stand-in, as the runner would: its `run:` script under
/// `bash -eo pipefail`, with `env` standing in for the step's `env:` (its inputs).
fn composite(action: &str, env: &[(&str, &str)]) -> std::process::Output {
    let text = std::fs::read_to_string(standin(action, "action.yml")).unwrap();
    let parsed: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let script = parsed["runs"]["steps"][0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    let job = Job::new();
    std::fs::create_dir_all(job.dir.join("outbox")).unwrap();
    std::fs::create_dir_all(job.dir.join("workspace")).unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
        .env("KUBE9_SIM_OUTBOX", job.dir.join("outbox"))
        .env("GITHUB_ENV", job.dir.join("github-env"))
        .env("GITHUB_PATH", job.dir.join("github-path"))
        .env("GITHUB_WORKSPACE", job.dir.join("workspace"))
        .current_dir(&job.dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

#[test]
fn the_setup_stand_ins_refuse_the_inputs_their_pinned_actions_refuse() {
    // dtolnay/rust-toolchain@master: no toolchain, or a component rustup does not have.
    let out = composite("dtolnay/rust-toolchain", &[("TOOLCHAIN", "")]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("'toolchain' is a required input"),
        "{}",
        text(&out)
    );
    let out = composite(
        "dtolnay/rust-toolchain",
        &[
            ("TOOLCHAIN", "stable"),
            ("COMPONENTS", "rustfmt, no-such-tool"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("does not contain component 'no-such-tool'"),
        "{}",
        text(&out)
    );
    let out = composite(
        "dtolnay/rust-toolchain",
        &[("TOOLCHAIN", "stable"), ("COMPONENTS", "rustfmt, clippy")],
    );
    assert!(out.status.success(), "{}", text(&out));

    // docker/setup-buildx-action v4.3.0: a boolean that is not YAML 1.2's, a version that is
    // no buildx release.
    let buildx = |cache: &str, version: &str| {
        composite(
            "docker/setup-buildx-action",
            &[("CACHE_BINARY", cache), ("VERSION", version), ("OPTS", "")],
        )
    };
    let out = buildx("yes", "v0.36.1");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("specification: cache-binary"),
        "{}",
        text(&out)
    );
    let out = buildx("false", "0.36");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("Cannot find Buildx release 0.36 in releases JSON"),
        "{}",
        text(&out)
    );

    // Azure/setup-helm v5.0.1: the version is required and must be a release.
    let helm = |version: &str| composite("Azure/setup-helm", &[("REQUESTED", version)]);
    let out = helm("");
    assert!(
        text(&out).contains("Input required and not supplied: version"),
        "{}",
        text(&out)
    );
    let out = helm("3.17");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("https://get.helm.sh/helm-v3.17-linux-amd64.tar.gz"),
        "{}",
        text(&out)
    );
    let out = composite(
        "Azure/setup-helm",
        &[("REQUESTED", "v3.17.2"), ("KUBE9_SIM_TOOLS", "/nowhere")],
    );
    assert!(out.status.success(), "{}", text(&out));

    // sigstore/cosign-installer v4.1.2: below 2.0.0, or not a version, is refused.
    let cosign = |release: &str| {
        composite(
            "sigstore/cosign-installer",
            &[("REQUESTED", release), ("KUBE9_SIM_TOOLS", "/nowhere")],
        )
    };
    let out = cosign("v1.13.1");
    assert!(
        text(&out).contains("cosign versions below v2.0.0 are no longer supported"),
        "{}",
        text(&out)
    );
    let out = cosign("2.6.4");
    assert!(
        text(&out).contains("Unable to validate requested cosign version: '2.6.4'"),
        "{}",
        text(&out)
    );
    assert!(cosign("v2.6.4").status.success());

    // docker/login-action v4.1.0 reads its inputs before it checks the credentials.
    let out = composite(
        "docker/login-action",
        &[("LOGOUT", "yes"), ("USERNAME", ""), ("PASSWORD", "")],
    );
    assert!(
        text(&out).contains("specification: logout"),
        "{}",
        text(&out)
    );
    let out = composite(
        "docker/login-action",
        &[
            ("LOGOUT", "true"),
            ("USERNAME", "octocat"),
            ("PASSWORD", ""),
        ],
    );
    assert!(
        text(&out).contains("::error::Password required"),
        "{}",
        text(&out)
    );

    // aquasecurity/setup-trivy v0.3.1: trivy's install script wants an exact tag.
    let out = composite(
        "aquasecurity/setup-trivy",
        &[
            ("TOKEN", "ghs_x"),
            ("REQUESTED", "0.76.0"),
            ("CACHE", "false"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("unable to find '0.76.0'"),
        "{}",
        text(&out)
    );

    // actions/checkout v7.0.1: a tag the repository does not have fails in git's words.
    let repo = git_repo("checkout-standin", &[("README.md", "x\n")]);
    let repo = repo.display().to_string();
    let checkout = |git_ref: &str| {
        composite(
            "actions/checkout",
            &[
                ("KUBE9_SIM_REPOSITORY", repo.as_str()),
                ("REF", git_ref),
                ("TOKEN", "ghs_x"),
                ("PERSIST", "false"),
            ],
        )
    };
    let out = checkout("refs/tags/v9.9.9");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("fatal: couldn't find remote ref refs/tags/v9.9.9"),
        "{}",
        text(&out)
    );
    let out = checkout("no-such-branch");
    assert!(
        text(&out).contains("A branch or tag with the name 'no-such-branch' could not be found"),
        "{}",
        text(&out)
    );
    let out = checkout("main");
    assert!(out.status.success(), "{}", text(&out));
}
