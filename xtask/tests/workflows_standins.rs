//! The stand-in actions refuse what the real actions refuse, in their words, and do what the
//! real ones do: each stand-in's script run as its `action.yml` runs it, against GitHub's API
//! stand-in, with a job's token that has (or lacks) the permission the real action needs.
//!
//! Every run is judged first by its exit status, then by its effect (what reached GitHub's API
//! stand-in, what the job's outbox, GITHUB_ENV, GITHUB_OUTPUT, GITHUB_PATH and $HOME/.docker
//! hold); a message is checked only where it is the real action's own text at its pin (each
//! check says where that text comes from), never a line only the stand-in prints.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kube9_devenv::workflow_sim::grants::Access;
use kube9_devenv::workflow_sim::GithubStandin;
use support::standins::*;
use support::*;

#[test]
fn the_provenance_stand_in_needs_id_token_attestations_and_a_docker_login_in_home() {
    let github = GithubStandin::start();
    let all = grant(
        &github,
        &[("id-token", Access::Write), ("attestations", Access::Write)],
    );

    // No `id-token: write`: refused before GitHub is asked anything. The message is
    // actions/attest v4.1.0's own (src/main.ts).
    let job = Job::new();
    let out = refused(&attest(&job, &github, &all, false, IMAGE, DIGEST, true));
    assert!(
        out.contains(
            r#"missing "id-token" permission. Please add "permissions: id-token: write" to your workflow."#
        ),
        "{out}"
    );
    assert!(github.authorizations().is_empty(), "GitHub was asked");
    assert!(github.attestations().is_empty());
    job.assert_untouched();

    // No `attestations: write`: GitHub itself refuses the write, so it must have been asked
    // with the job's token. "Failed to persist attestation" is @actions/attest's wording,
    // "Resource not accessible by integration" GitHub's.
    let without = grant(&github, &[("id-token", Access::Write)]);
    let job = Job::new();
    let out = refused(&attest(&job, &github, &without, true, IMAGE, DIGEST, true));
    assert!(
        out.contains("Failed to persist attestation: Resource not accessible by integration"),
        "{out}"
    );
    assert_eq!(
        github.authorizations(),
        [format!("Bearer {}", without.token)]
    );
    assert!(github.attestations().is_empty());
    job.assert_only_bundle_path();

    // Stored with GitHub, then the push needs the login where @sigstore/oci reads it: the
    // failure comes after the store, as the real one's does, and records nothing.
    let job = Job::new();
    let out = refused(&attest(&job, &github, &all, true, IMAGE, DIGEST, true));
    let config = job.home().join(".docker/config.json");
    // @sigstore/oci's getRegistryCredentials, in its words.
    assert!(
        out.contains(&format!("No credential file found at {}", config.display())),
        "{out}"
    );
    assert_eq!(github.attestations().len(), 1, "stored before the push");
    job.assert_only_bundle_path();
    assert!(!job.home().join(".docker").exists());

    // Each refusal below adds its own `bundle-path` and nothing else.
    let outbox_empty = |job: &Job| {
        assert!(job.records("attestations").is_empty());
        let output = job.read("github-output");
        assert!(
            output.lines().all(|l| l.starts_with("bundle-path=")),
            "refused, yet wrote {output:?}"
        );
        for file in ["github-env", "github-path"] {
            assert_eq!(job.read(file), "", "refused, yet wrote {file}");
        }
    };
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, r#"{"auths": {"ghcr.io": {"auth": "eDp5"}}}"#).unwrap();
    let out = refused(&attest(&job, &github, &all, true, IMAGE, DIGEST, true));
    assert!(
        out.contains("No credentials found for registry 127.0.0.1:5000"),
        "{out}"
    );
    assert_eq!(github.attestations().len(), 2);
    outbox_empty(&job);
    // A login a credential store keeps leaves an empty entry, which @sigstore/oci cannot
    // read; the message is Node's Buffer.from.
    std::fs::write(&config, r#"{"auths": {"127.0.0.1:5000": {}}}"#).unwrap();
    let out = refused(&attest(&job, &github, &all, true, IMAGE, DIGEST, true));
    assert!(
        out.contains("must be of type string or an instance of Buffer"),
        "{out}"
    );
    assert_eq!(github.attestations().len(), 3);
    outbox_empty(&job);

    // With both permissions and no push, the attestation GitHub stores names the subject
    // and the job's workflow as its builder (the push itself needs a registry: the act
    // group's release run covers it).
    let job = Job::new();
    accepted(&attest(&job, &github, &all, true, IMAGE, DIGEST, false));
    let stored = github.attestations();
    assert_eq!(stored.len(), 4);
    // What @actions/attest stores is the signed Sigstore bundle: v0.3, one DSSE signature (the
    // stand-in's key where the real one has Fulcio's certificate).
    let bundle = &stored[3]["bundle"];
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(bundle["verificationMaterial"]["publicKey"]["hint"].is_string());
    assert_eq!(
        bundle["dsseEnvelope"]["signatures"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let statement = statement(&stored[3]);
    assert_eq!(
        statement["subject"],
        serde_json::json!([{"name": IMAGE, "digest": {"sha256": &DIGEST[7..]}}])
    );
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(
        statement["predicate"]["runDetails"]["builder"]["id"],
        "https://github.com/alto9/kube9-operator/.github/workflows/release.yml@refs/tags/v1.2.3"
    );
    assert_eq!(
        github.authorizations().last().unwrap(),
        &format!("Bearer {}", all.token)
    );
    assert_eq!(
        job.records("attestations"),
        [format!("provenance\t{IMAGE}\t{DIGEST}\tfalse")]
    );
    // Its outputs, as src/main.ts sets them: the bundle's path (the file holds the bundle
    // GitHub stored), then the attestation's id and URL, which the release's floating-tags
    // step takes as the word that the provenance exists.
    let output = job.read("github-output");
    let value = |key: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {output:?}"))
            .to_string()
    };
    let written = std::fs::read_to_string(value("bundle-path")).unwrap();
    let written: serde_json::Value = serde_json::from_str(written.trim_end()).unwrap();
    assert_eq!(&written, bundle);
    assert_eq!(value("attestation-id"), "4");
    assert_eq!(
        value("attestation-url"),
        "https://github.com/alto9/kube9-operator/attestations/4"
    );
}

#[test]
fn the_provenance_stand_in_checks_its_subject_as_v4_1_0_does() {
    let github = GithubStandin::start();
    let all = grant(
        &github,
        &[("id-token", Access::Write), ("attestations", Access::Write)],
    );
    // A digest that is not sha256 hex is refused before anything is signed or stored; the
    // message is actions/attest v4.1.0's (src/subject.ts).
    let job = Job::new();
    let out = refused(&attest(
        &job,
        &github,
        &all,
        true,
        IMAGE,
        "sha256:abc",
        true,
    ));
    assert!(
        out.contains(r#"subject-digest must be in the format "sha256:<hex-digest>""#),
        "{out}"
    );
    assert!(github.authorizations().is_empty(), "GitHub was asked");
    assert!(github.attestations().is_empty());
    job.assert_untouched();

    // A tagged name cannot take the attestation in the registry: @sigstore/oci refuses it
    // when the push starts, after GitHub stored the attestation (as the real one orders it).
    let tagged = format!("{IMAGE}:1.2.3");
    let out = refused(&attest(&job, &github, &all, true, &tagged, DIGEST, true));
    assert!(
        out.contains(&format!("Invalid image name: {tagged}")),
        "{out}"
    );
    let stored = github.attestations();
    assert_eq!(stored.len(), 1);
    assert_eq!(statement(&stored[0])["subject"][0]["name"], tagged.as_str());
    job.assert_only_bundle_path();

    // Without a push the same digest is a valid subject.
    let job = Job::new();
    accepted(&attest(&job, &github, &all, true, IMAGE, DIGEST, false));
    assert_eq!(github.attestations().len(), 2);
    assert_eq!(
        statement(&github.attestations()[1])["subject"][0]["digest"]["sha256"],
        &DIGEST[7..]
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
    let script = standin("github/codeql-action/upload-sarif", "upload.py");
    let upload = |job: &Job, token: &str, sentinel: Option<(&str, &str)>| {
        let file = sarif(&job.dir);
        let mut cmd = job.command(&script, &github);
        cmd.env("SARIF", &file)
            .env("CATEGORY", "trivy-linux-amd64")
            .env("TOKEN", token);
        if let Some((key, value)) = sentinel {
            cmd.env(key, value);
        }
        run(&mut cmd)
    };

    // No token: the runner's required-input message (@actions/core), before GitHub is asked.
    let job = Job::new();
    let out = refused(&upload(&job, "", None));
    assert!(
        out.contains("Input required and not supplied: token"),
        "{out}"
    );
    assert!(github.authorizations().is_empty(), "GitHub was asked");
    job.assert_untouched();

    // No `security-events: write`: GitHub refuses the upload (its message), so it was asked.
    // The category's sentinel is not checked here: upload-sarif exports it before it uploads.
    let job = Job::new();
    let read_only = github.token("read-only", &[("contents", Access::Read)]);
    let out = refused(&upload(&job, &read_only, None));
    assert!(
        out.contains("Resource not accessible by integration"),
        "{out}"
    );
    assert_eq!(github.authorizations(), [format!("token {read_only}")]);
    assert!(github.analyses().is_empty());
    assert!(job.records("sarif").is_empty());

    // Accepted: GitHub holds the analysis under its category, for the checked-out commit,
    // with the report gzipped and base64-encoded as the API takes it.
    let job = Job::new();
    let writer = github.token("image", &[("security-events", Access::Write)]);
    ok(Command::new("git")
        .args(["init", "-q"])
        .current_dir(&job.dir));
    ok(Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ])
        .current_dir(&job.dir));
    let head = rev_parse(&job.dir, "HEAD");
    accepted(&upload(&job, &writer, None));
    let analyses = github.analyses();
    assert_eq!(analyses.len(), 1);
    assert_eq!(analyses[0]["category"], "trivy-linux-amd64");
    assert_eq!(analyses[0]["commit_oid"], head);
    assert_eq!(analyses[0]["ref"], "refs/tags/v1.2.3");
    let report: serde_json::Value = {
        use base64::Engine;
        use std::io::Read;
        let gz = base64::engine::general_purpose::STANDARD
            .decode(analyses[0]["sarif"].as_str().unwrap())
            .unwrap();
        let mut json = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut json)
            .unwrap();
        serde_json::from_str(&json).unwrap()
    };
    assert_eq!(report["runs"][0]["tool"]["driver"]["name"], "Trivy");
    assert_eq!(job.records("sarif").len(), 1);

    // The same category twice in one job (GITHUB_ENV carries the sentinel the first upload
    // exported) is refused, in upload-sarif's words, and nothing more reaches GitHub.
    let exported = job.read("github-env");
    let lines: Vec<_> = exported.lines().collect();
    assert_eq!(lines.len(), 1, "one sentinel exported: {exported}");
    let (key, value) = lines[0].split_once('=').unwrap();
    // upload-sarif names it after its prefix (src/analyses.ts) and the category
    // (src/upload-lib.ts validateUniqueCategory).
    assert!(
        key.starts_with("CODEQL_UPLOAD_SARIF_TRIVY_LINUX_AMD64"),
        "{key}"
    );
    let asked = github.authorizations().len();
    let out = refused(&upload(&job, &writer, Some((key, value))));
    assert!(
        out.contains("Aborting upload: only one run of the codeql/analyze or codeql/upload-sarif actions is allowed per job per tool/category"),
        "{out}"
    );
    assert_eq!(github.analyses().len(), 1);
    assert_eq!(github.authorizations().len(), asked, "GitHub was asked");
    assert_eq!(job.records("sarif").len(), 1);
    assert_eq!(job.read("github-env"), exported);
}

/// Runs the first step of a composite stand-in in a fresh job, as the runner would: its
/// `run:` script under `bash -eo pipefail`, with `env` standing in for the step's `env:`
/// (its inputs).
fn composite(action: &str, env: &[(&str, &str)]) -> (Job, Output) {
    let text = std::fs::read_to_string(standin(action, "action.yml")).unwrap();
    let parsed: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let script = parsed["runs"]["steps"][0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    let job = Job::new();
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
        .env_remove("DOCKER_CONFIG")
        .env("HOME", job.home())
        .env("KUBE9_SIM_OUTBOX", job.dir.join("outbox"))
        .env("GITHUB_ENV", job.dir.join("github-env"))
        .env("GITHUB_OUTPUT", job.dir.join("github-output"))
        .env("GITHUB_PATH", job.dir.join("github-path"))
        .env("GITHUB_WORKSPACE", job.dir.join("workspace"))
        .env("GITHUB_SHA", "c0ffee")
        .env(
            "GITHUB_ACTION_PATH",
            standin(action, "action.yml").parent().unwrap(),
        )
        .current_dir(&job.dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    (job, out)
}

/// A composite stand-in's run that must be refused without leaving anything behind; its output.
fn composite_refused(action: &str, env: &[(&str, &str)]) -> String {
    let (job, out) = composite(action, env);
    let out = refused(&out);
    job.assert_untouched();
    out
}

#[test]
fn the_rust_toolchain_stand_in_wants_a_toolchain_and_components_rustup_has() {
    // dtolnay/rust-toolchain@master's own message (its action.yml).
    let out = composite_refused("dtolnay/rust-toolchain", &[("TOOLCHAIN", "")]);
    assert!(out.contains("'toolchain' is a required input"), "{out}");
    // rustup's words for a component the toolchain lacks.
    let out = composite_refused(
        "dtolnay/rust-toolchain",
        &[
            ("TOOLCHAIN", "stable"),
            ("COMPONENTS", "rustfmt, no-such-tool"),
        ],
    );
    assert!(
        out.contains("does not contain component 'no-such-tool'"),
        "{out}"
    );
    let (job, out) = composite(
        "dtolnay/rust-toolchain",
        &[("TOOLCHAIN", "stable"), ("COMPONENTS", "rustfmt, clippy")],
    );
    accepted(&out);
    assert_eq!(job.records("setup"), ["rust-toolchain\tstable"]);
}

#[test]
fn the_setup_buildx_stand_in_refuses_a_bad_boolean_and_an_unknown_version() {
    // docker/setup-buildx-action v4.3.0 reads cache-binary with core.getBooleanInput
    // (src/context.ts), whose message this is.
    let buildx = |cache: &str, version: &str| {
        composite(
            "docker/setup-buildx-action",
            &[
                ("CACHE_BINARY", cache),
                ("VERSION", version),
                ("OPTS", ""),
                ("KUBE9_SIM_DOCKER_HOST", "unix:///nowhere/docker.sock"),
            ],
        )
    };
    for bad in ["yes", "1", "on"] {
        let (job, out) = buildx(bad, "v0.36.1");
        let out = refused(&out);
        job.assert_untouched();
        assert!(
            out.contains(
                "Input does not meet YAML 1.2 \"Core Schema\" specification: cache-binary"
            ),
            "{out}"
        );
    }
    // actions-toolkit's message for a version missing from buildx's releases JSON.
    let (job, out) = buildx("false", "0.36");
    let out = refused(&out);
    job.assert_untouched();
    assert!(
        out.contains("Cannot find Buildx release 0.36 in releases JSON"),
        "{out}"
    );
    // Accepted: later steps build with the local environment's builder.
    let (job, out) = buildx("False", "v0.36.1");
    accepted(&out);
    assert_eq!(
        job.read("github-env"),
        "DOCKER_HOST=unix:///nowhere/docker.sock\n"
    );
    assert_eq!(job.records("setup"), ["setup-buildx\tv0.36.1\t \tFalse"]);
}

#[test]
fn the_setup_helm_stand_in_wants_a_released_version() {
    // Azure/setup-helm v5.0.1 (src/run.ts): @actions/core's required-input message, and its
    // own download failure for a version that is no release.
    let helm = |version: &str| {
        composite(
            "Azure/setup-helm",
            &[("REQUESTED", version), ("KUBE9_SIM_TOOLS", "/nowhere")],
        )
    };
    let (job, out) = helm("");
    let out = refused(&out);
    job.assert_untouched();
    assert!(
        out.contains("Input required and not supplied: version"),
        "{out}"
    );
    let (job, out) = helm("3.17");
    let out = refused(&out);
    job.assert_untouched();
    assert!(
        out.contains("Failed to download Helm from location https://get.helm.sh/helm-v3.17-linux-amd64.tar.gz"),
        "{out}"
    );
    // Accepted: the tools on PATH, the version `v`-prefixed as the real one does.
    let (job, out) = helm("3.17.2");
    accepted(&out);
    assert_eq!(job.read("github-path"), "/nowhere\n");
    assert_eq!(job.records("setup"), ["setup-helm\tv3.17.2"]);
}

#[test]
fn the_cosign_installer_stand_in_refuses_old_and_malformed_releases() {
    let cosign = |release: &str| {
        composite(
            "sigstore/cosign-installer",
            &[("REQUESTED", release), ("KUBE9_SIM_TOOLS", "/nowhere")],
        )
    };
    // sigstore/cosign-installer v4.1.2's own messages (its action.yml).
    for old in ["v1.13.1", "v0.6.0"] {
        let (job, out) = cosign(old);
        let out = refused(&out);
        job.assert_untouched();
        assert!(
            out.contains("cosign versions below v2.0.0 are no longer supported"),
            "{out}"
        );
    }
    let (job, out) = cosign("2.6.4");
    let out = refused(&out);
    job.assert_untouched();
    assert!(
        out.contains("Unable to validate requested cosign version: '2.6.4'"),
        "{out}"
    );
    let (job, out) = cosign("v2.6.4");
    accepted(&out);
    assert_eq!(job.read("github-path"), "/nowhere\n");
    assert_eq!(job.records("setup"), ["cosign-installer\tv2.6.4"]);
}

#[test]
fn the_login_stand_in_reads_its_inputs_before_the_credentials_and_needs_both() {
    // docker/login-action v4.1.0 reads `logout` with core.getBooleanInput first
    // (src/context.ts, from src/main.ts), then src/docker.ts wants both credentials; the
    // messages are those. A refusal leaves no login in $HOME/.docker.
    let out = composite_refused(
        "docker/login-action",
        &[
            ("LOGOUT", "yes"),
            ("USERNAME", "octocat"),
            ("PASSWORD", "p"),
        ],
    );
    assert!(out.contains("specification: logout"), "{out}");
    let out = composite_refused(
        "docker/login-action",
        &[("LOGOUT", "yes"), ("USERNAME", ""), ("PASSWORD", "")],
    );
    assert!(out.contains("specification: logout"), "{out}");
    for (user, password, message) in [
        ("", "", "::error::Username and password required"),
        ("", "p", "::error::Username required"),
        ("octocat", "", "::error::Password required"),
    ] {
        let out = composite_refused(
            "docker/login-action",
            &[
                ("LOGOUT", "true"),
                ("REGISTRY", "127.0.0.1:1"),
                ("USERNAME", user),
                ("PASSWORD", password),
            ],
        );
        assert!(out.contains(message), "{out}");
    }
}

#[test]
fn the_setup_trivy_stand_in_wants_a_token_and_an_exact_release_tag() {
    let trivy = |token: &str, version: &str| {
        composite(
            "aquasecurity/setup-trivy",
            &[
                ("TOKEN", token),
                ("REQUESTED", version),
                ("CACHE", "false"),
                ("KUBE9_SIM_TOOLS", "/nowhere"),
            ],
        )
    };
    // @actions/core's required-input message (setup-trivy v0.3.1 checks trivy out with it).
    let (job, out) = trivy("", "v0.76.0");
    let out = refused(&out);
    job.assert_untouched();
    assert!(
        out.contains("Input required and not supplied: token"),
        "{out}"
    );
    // trivy's install script (contrib/install.sh) wants an exact tag, in its words.
    for loose in ["0.76.0", "v0.76"] {
        let (job, out) = trivy("ghs_x", loose);
        let out = refused(&out);
        job.assert_untouched();
        assert!(out.contains(&format!("unable to find '{loose}'")), "{out}");
    }
    let (job, out) = trivy("ghs_x", "v0.76.0");
    accepted(&out);
    assert_eq!(job.read("github-path"), "/nowhere\n");
    assert_eq!(job.records("setup"), ["setup-trivy\tv0.76.0\tfalse"]);
}

#[test]
fn the_checkout_stand_in_refuses_a_ref_the_repository_lacks() {
    let repo = git_repo("checkout-standin", &[("README.md", "x\n")]);
    let head = rev_parse(&repo, "HEAD");
    let repo = repo.display().to_string();
    let checkout_at_depth = |git_ref: &str, token: &str, depth: &str| {
        composite(
            "actions/checkout",
            &[
                ("KUBE9_SIM_REPOSITORY", repo.as_str()),
                ("REF", git_ref),
                ("TOKEN", token),
                ("PERSIST", "false"),
                ("FETCH_DEPTH", depth),
            ],
        )
    };
    let checkout = |git_ref: &str, token: &str| checkout_at_depth(git_ref, token, "1");
    // A refused checkout leaves no files of the commit in the workspace and no record.
    let nothing_checked_out = |job: &Job| {
        assert!(!job.dir.join("workspace/README.md").exists());
        assert!(job.records("checkout").is_empty());
        for file in ["github-env", "github-output", "github-path"] {
            assert_eq!(job.read(file), "", "refused, yet wrote {file}");
        }
    };
    // @actions/core's required-input message.
    let (job, out) = checkout("main", "");
    let out = refused(&out);
    nothing_checked_out(&job);
    assert!(
        out.contains("Input required and not supplied: token"),
        "{out}"
    );
    // actions/checkout v7.0.1 fetches a qualified ref as it is: git's words.
    let (job, out) = checkout("refs/tags/v9.9.9", "ghs_x");
    let out = refused(&out);
    nothing_checked_out(&job);
    assert!(
        out.contains("fatal: couldn't find remote ref refs/tags/v9.9.9"),
        "{out}"
    );
    // An unqualified name at the default depth: its refspecs are patterns that match
    // nothing, and `git fetch --depth=1` of nothing fails with 1 and no words of its own.
    let (job, out) = checkout("no-such-branch", "ghs_x");
    let out = refused(&out);
    nothing_checked_out(&job);
    assert!(
        out.contains("The process '/usr/bin/git' failed with exit code 1"),
        "{out}"
    );
    // With the full history the fetch succeeds and the action's own message follows
    // (src/ref-helper.ts).
    let (job, out) = checkout_at_depth("no-such-branch", "ghs_x", "0");
    let out = refused(&out);
    nothing_checked_out(&job);
    assert!(
        out.contains("A branch or tag with the name 'no-such-branch' could not be found"),
        "{out}"
    );
    // Accepted: the commit's files at the ref, and (persist-credentials false) no token left
    // in the checkout's git config.
    let (job, out) = checkout("main", "ghs_x");
    accepted(&out);
    let workspace = job.dir.join("workspace");
    assert_eq!(
        std::fs::read_to_string(workspace.join("README.md")).unwrap(),
        "x\n"
    );
    let checked_out = rev_parse(&workspace, "HEAD");
    assert_eq!(checked_out, head);
    let config = std::fs::read_to_string(workspace.join(".git/config")).unwrap();
    assert!(!config.contains("extraheader"), "{config}");
    assert_eq!(job.records("checkout"), ["checkout\tmain\tfalse"]);
}

#[test]
fn the_checkout_stand_in_without_a_ref_takes_the_events_ref_and_commit_as_v7_0_1_does() {
    let (repo, tagged) = repo_with_history();
    let repo = repo.display().to_string();
    let head = rev_parse(&repo, "main");
    let default_checkout = |git_ref: &str, sha: &str, depth: &str| {
        composite(
            "actions/checkout",
            &[
                ("KUBE9_SIM_REPOSITORY", repo.as_str()),
                ("REF", ""),
                ("GITHUB_REF", git_ref),
                ("GITHUB_SHA", sha),
                ("TOKEN", "ghs_x"),
                ("PERSIST", "false"),
                ("FETCH_DEPTH", depth),
            ],
        )
    };
    // src/ref-helper.ts: with neither, refused in its words before anything is fetched.
    let (job, out) = default_checkout("", "", "1");
    let out = refused(&out);
    assert!(
        out.contains("Args ref and commit cannot both be empty"),
        "{out}"
    );
    assert!(job.records("checkout").is_empty());
    // A commit the repository lacks: git's refusal, as the action reports it.
    let (job, out) = default_checkout("refs/heads/main", &"0".repeat(40), "1");
    let out = refused(&out);
    assert!(
        out.contains("The process '/usr/bin/git' failed with exit code 128"),
        "{out}"
    );
    assert!(!job.dir.join("workspace/README.md").exists());
    // A pull request (ci.yml): the event's commit under refs/remotes/pull/, nothing else.
    let (job, out) = default_checkout("refs/pull/1/merge", &tagged, "1");
    accepted(&out);
    let workspace = job.dir.join("workspace");
    let git = |args: &[&str]| ok(Command::new("git").args(args).current_dir(&workspace));
    assert_eq!(git(&["rev-parse", "HEAD"]).trim(), tagged);
    assert_eq!(
        git(&["for-each-ref", "--format=%(refname)"]).trim(),
        "refs/remotes/pull/1/merge"
    );
    // A dispatch from main (withdraw.yml): on the branch, at the event's commit. A depth that
    // is no number is the whole history (Math.floor(Number(...)) is NaN).
    let (job, out) = default_checkout("refs/heads/main", &head, "all");
    accepted(&out);
    let workspace = job.dir.join("workspace");
    let git = |args: &[&str]| ok(Command::new("git").args(args).current_dir(&workspace));
    assert_eq!(git(&["rev-parse", "HEAD"]).trim(), head);
    assert_eq!(git(&["branch", "--show-current"]).trim(), "main");
    assert!(!workspace.join(".git/shallow").exists());
    // main moved on after the event: all history, then main again at the event's commit
    // (src/git-source-provider.ts, testRef), so the job builds what the event named.
    let (job, out) = default_checkout("refs/heads/main", &tagged, "0");
    accepted(&out);
    let workspace = job.dir.join("workspace");
    let git = |args: &[&str]| ok(Command::new("git").args(args).current_dir(&workspace));
    assert_eq!(git(&["rev-parse", "HEAD"]).trim(), tagged);
    assert_eq!(git(&["branch", "--show-current"]).trim(), "main");
    // A tag moved after its event: refused in the action's words, nothing checked out.
    let (job, out) = default_checkout("refs/tags/v1.1.0", &head, "1");
    let out = refused(&out);
    assert!(
        out.contains(&format!(
            "The ref 'refs/tags/v1.1.0' does not point to the expected commit '{head}'"
        )),
        "{out}"
    );
    assert!(!job.dir.join("workspace/README.md").exists());
    // fetch-depth is read with JavaScript's Number: `0x2` is 2.
    let (job, out) = default_checkout("refs/heads/main", &head, "0x2");
    accepted(&out);
    let count = ok(Command::new("git")
        .args(["rev-list", "--count", "HEAD"])
        .current_dir(job.dir.join("workspace")));
    assert_eq!(count.trim(), "2");
}

#[test]
fn the_checkout_stand_in_trims_a_ref_as_core_get_input_does_and_tests_shas_ascii_trimmed() {
    let (repo, _) = repo_with_history();
    let repo = repo.display().to_string();
    let tag = rev_parse(&repo, "v1.2.0^{commit}");
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
    // core.getInput's trim strips a no-break space: the tag is found.
    let (job, out) = checkout("\u{a0}v1.2.0\u{a0}");
    accepted(&out);
    let head = rev_parse(job.dir.join("workspace"), "HEAD");
    assert_eq!(head, tag);
    // The commit's SHA checks it out; behind a byte-order mark it is no SHA to the action
    // (which tests the ASCII-trimmed ref) but a branch or tag name, and git finds none.
    let (job, out) = checkout(&tag);
    accepted(&out);
    let head = rev_parse(job.dir.join("workspace"), "HEAD");
    assert_eq!(head, tag);
    let out = refused(&checkout(&format!("\u{feff}{tag}")).1);
    assert!(
        out.contains("The process '/usr/bin/git' failed with exit code 1"),
        "{out}"
    );
}

/// A repository with history and several tags: `v1.0.0`, then `v1.1.0` (annotated, with
/// `security/vex.json`), then `v1.2.0` and a later commit on main.
fn repo_with_history() -> (PathBuf, String) {
    let repo = git_repo("checkout-history", &[("README.md", "1\n")]);
    let git = |args: &[&str]| ok(Command::new("git").args(args).current_dir(&repo));
    git(&["tag", "v1.0.0"]);
    std::fs::create_dir_all(repo.join("security")).unwrap();
    std::fs::write(repo.join("security/vex.json"), "{}\n").unwrap();
    commit_all(&repo, "second");
    git(&[
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.com",
        "tag",
        "-a",
        "-m",
        "v1.1.0",
        "v1.1.0",
    ]);
    let tagged = git(&["rev-parse", "HEAD"]).trim().to_string();
    std::fs::write(repo.join("README.md"), "3\n").unwrap();
    commit_all(&repo, "third");
    git(&["tag", "v1.2.0"]);
    std::fs::write(repo.join("README.md"), "4\n").unwrap();
    commit_all(&repo, "fourth");
    (repo, tagged)
}

#[test]
fn the_checkout_stand_in_fetches_only_the_tag_at_depth_one_as_v7_0_1_does() {
    let (repo, tagged) = repo_with_history();
    let repo = repo.display().to_string();
    // `ref: refs/tags/...` as the release jobs pass it, and no ref on a release event (the
    // event's ref and commit), as the notes job checks out.
    let runs = [
        vec![("REF", "refs/tags/v1.1.0")],
        vec![
            ("REF", ""),
            ("GITHUB_REF", "refs/tags/v1.1.0"),
            ("GITHUB_SHA", tagged.as_str()),
        ],
    ];
    for extra in runs {
        let mut env = vec![
            ("KUBE9_SIM_REPOSITORY", repo.as_str()),
            ("TOKEN", "ghs_x"),
            ("PERSIST", "false"),
        ];
        env.extend(extra.iter().copied());
        let (job, out) = composite("actions/checkout", &env);
        accepted(&out);
        let workspace = job.dir.join("workspace");
        let git = |args: &[&str]| ok(Command::new("git").args(args).current_dir(&workspace));
        assert_eq!(git(&["rev-parse", "HEAD"]).trim(), tagged, "{extra:?}");
        // One commit, no history: `git describe` of an older tag has nothing to walk.
        assert_eq!(
            git(&["rev-list", "--all", "--count"]).trim(),
            "1",
            "{extra:?}"
        );
        assert!(workspace.join(".git/shallow").exists(), "{extra:?}");
        // The one tag, and no other ref (no branches, no other tags).
        assert_eq!(
            git(&["for-each-ref", "--format=%(refname)"]).trim(),
            "refs/tags/v1.1.0",
            "{extra:?}"
        );

        // What the release tool reads from such a checkout is all there: the tag's commit,
        // its tree for `git archive`, and (verify-release) security/vex.json at that commit.
        let source = kube9_release::source::read(&workspace).unwrap();
        assert!(source.clean, "{extra:?}");
        kube9_release::source::require_release_commit(&source, "v1.1.0", Some(&tagged)).unwrap();
        let archive = job.dir.join("source.tar");
        kube9_release::source::archive_cmd(&source, &archive)
            .run()
            .unwrap();
        assert!(std::fs::metadata(&archive).unwrap().len() > 0);
        git(&["cat-file", "-e", &format!("{tagged}^{{commit}}")]);
        assert_eq!(
            git(&[
                "show",
                &format!("{tagged}:{}", kube9_release::vex::VEX_PATH)
            ]),
            "{}\n"
        );
    }
}

/// One simulated run's artifact store, and a composite run of an artifact stand-in in it.
fn artifact_step(store: &Path, action: &str, env: &[(&str, &str)]) -> (Job, Output) {
    let dir = standin(action, "");
    let mut all: Vec<(&str, &str)> = vec![
        ("GITHUB_ACTION_PATH", dir.to_str().unwrap()),
        ("KUBE9_SIM_ARTIFACTS", store.to_str().unwrap()),
        ("GITHUB_JOB", "tool"),
    ];
    all.extend_from_slice(env);
    composite(action, &all)
}

/// The release workflow's own check of the tool it downloaded (release.yml, image job).
fn tool_check_script() -> String {
    let text =
        std::fs::read_to_string(project_root().join(".github/workflows/release.yml")).unwrap();
    let w: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    w["jobs"]["image"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Check the release tool's sha256")
        .unwrap()["run"]
        .as_str()
        .unwrap()
        .to_string()
}

fn sha256_hex(path: &Path) -> String {
    let digest = kube9_release::layout::sha256(&std::fs::read(path).unwrap());
    digest.trim_start_matches("sha256:").to_string()
}

#[test]
fn the_artifact_stand_ins_move_files_as_the_real_ones_and_the_release_checks_what_it_got() {
    use std::os::unix::fs::PermissionsExt;
    let store = temp_dir("artifact-store");
    // A runner's temp directory may be inside a hidden one (act's is in ~/.cache): only the
    // names from the search path down decide what is hidden, as @actions/glob walks them.
    let built = temp_dir("artifact-built").join(".cache/tmp");
    std::fs::create_dir_all(&built).unwrap();
    let tool = built.join("kube9-release");
    std::fs::write(&tool, "#!/bin/sh\necho the release tool\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let digest = sha256_hex(&tool);
    let upload = |path: &Path, extra: &[(&str, &str)]| {
        let mut env = vec![
            ("NAME", "kube9-release-linux-x86_64"),
            ("SEARCH_PATH", path.to_str().unwrap()),
            ("IF_NO_FILES_FOUND", "error"),
        ];
        env.extend_from_slice(extra);
        artifact_step(&store, "actions/upload-artifact", &env)
    };

    // upload-artifact's own input checks (src/upload/input-helper.ts, src/upload/upload-artifact.ts).
    let (_, out) = upload(&tool, &[("IF_NO_FILES_FOUND", "fail")]);
    let out = refused(&out);
    assert!(out.contains("Unrecognized if-no-files-found input. Provided: fail. Available options: warn,error,ignore"), "{out}");
    let (_, out) = upload(&built.join("missing"), &[]);
    let out = refused(&out);
    assert!(
        out.contains("No files were found with the provided path:"),
        "{out}"
    );
    let (_, out) = upload(&tool, &[("OVERWRITE", "yes")]);
    refused(&out);

    // Hidden files inside the search path are left out unless asked for.
    let dir = built.join("dir");
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(dir.join(".env"), "TOKEN=x\n").unwrap();
    std::fs::write(dir.join(".git/config"), "").unwrap();
    std::fs::write(dir.join("seen"), "").unwrap();
    let (_, out) = artifact_step(
        &store,
        "actions/upload-artifact",
        &[("NAME", "dir"), ("SEARCH_PATH", dir.to_str().unwrap())],
    );
    accepted(&out);
    let listing = accepted(&run(Command::new("python3")
        .arg("-c")
        .arg("import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).namelist())")
        .arg(store.join("dir/content"))));
    assert_eq!(listing.trim(), "['seen']");

    let (job, out) = upload(&tool, &[]);
    accepted(&out);
    assert!(job.read("github-output").contains("artifact-id=2\n"));
    // A name is uploaded once per run unless `overwrite` says otherwise (the service's 409).
    let (_, out) = upload(&tool, &[]);
    refused(&out);

    // compression-level and retention-days as input-helper.ts reads them, with JavaScript's
    // parseInt: no leading number is refused, and so is a level outside 0-9; `1.5` is level 1
    // and `3 days` is 3, as on GitHub.
    let named = |name: &'static str, input: &'static str, value: &'static str| {
        upload(&tool, &[("NAME", name), (input, value)])
    };
    let out = refused(&named("level", "COMPRESSION_LEVEL", "fast").1);
    assert!(
        out.contains("::error::Invalid compression-level") && !out.contains("0-9"),
        "{out}"
    );
    let out = refused(&named("level", "COMPRESSION_LEVEL", "10").1);
    assert!(
        out.contains("Invalid compression-level. Valid values are 0-9"),
        "{out}"
    );
    let out = refused(&named("level", "RETENTION_DAYS", "a week").1);
    assert!(out.contains("::error::Invalid retention-days"), "{out}");
    accepted(&named("level", "COMPRESSION_LEVEL", "1.5").1);
    accepted(&named("days", "RETENTION_DAYS", "3 days").1);
    // Without a radix, parseInt reads `0x` as hexadecimal: `0x9` is 9, `0xa` is 10 (outside
    // 0-9), and `0x` alone is NaN.
    accepted(&named("hex", "COMPRESSION_LEVEL", "0x9").1);
    let out = refused(&named("hex", "COMPRESSION_LEVEL", "0xa").1);
    assert!(
        out.contains("Invalid compression-level. Valid values are 0-9"),
        "{out}"
    );
    let out = refused(&named("hex", "COMPRESSION_LEVEL", "0x").1);
    assert!(
        out.contains("::error::Invalid compression-level") && !out.contains("0-9"),
        "{out}"
    );

    // download-artifact's own checks (src/download-artifact.ts), each refused before anything
    // is written.
    let into = temp_dir("artifact-into");
    let download = |extra: &[(&str, &str)]| {
        let mut env = vec![
            ("NAME", "kube9-release-linux-x86_64"),
            ("DOWNLOAD_PATH", into.to_str().unwrap()),
        ];
        env.extend_from_slice(extra);
        artifact_step(&store, "actions/download-artifact", &env)
    };
    let (_, out) = download(&[("ARTIFACT_IDS", "1")]);
    let out = refused(&out);
    assert!(out.contains("Unable to download artifact(s): Inputs 'name' and 'artifact-ids' cannot be used together."), "{out}");
    let (_, out) = download(&[("DIGEST_MISMATCH", "fatal")]);
    let out = refused(&out);
    assert!(
        out.contains("Invalid value for 'digest-mismatch': 'fatal'"),
        "{out}"
    );
    let (_, out) = download(&[("NAME", "kube9-release-linux-riscv64")]);
    refused(&out);
    assert!(!into.join("kube9-release").exists());

    // What arrives is the file without its permissions ("all files will have 644", the
    // README's "Permission Loss"): the workflow's check makes it executable after checking it.
    let (job, out) = download(&[]);
    accepted(&out);
    let got = into.join("kube9-release");
    assert_eq!(std::fs::read(&got).unwrap(), std::fs::read(&tool).unwrap());
    assert_eq!(
        std::fs::metadata(&got).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(
        job.records("artifacts").len(),
        1,
        "{:?}",
        job.records("artifacts")
    );
    let check = |expected: &str| {
        let runner_temp = into.parent().unwrap().join("runner-temp");
        let _ = std::fs::remove_dir_all(&runner_temp);
        std::fs::create_dir_all(runner_temp.join("tool")).unwrap();
        std::fs::copy(&got, runner_temp.join("tool/kube9-release")).unwrap();
        std::fs::set_permissions(
            runner_temp.join("tool/kube9-release"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let out = run(Command::new("bash")
            .args([
                "--noprofile",
                "--norc",
                "-eo",
                "pipefail",
                "-c",
                &tool_check_script(),
            ])
            .env("RUNNER_TEMP", &runner_temp)
            .env("TOOL_SHA256", expected));
        let mode = std::fs::metadata(runner_temp.join("tool/kube9-release"))
            .unwrap()
            .permissions()
            .mode();
        (out, mode & 0o111 != 0)
    };
    let (out, executable) = check(&digest);
    accepted(&out);
    assert!(executable, "the checked tool is made executable");
    // No digest (the building job failed to state one) and a wrong one both stop the job,
    // and the file is not made executable.
    for expected in ["", &"0".repeat(64)] {
        let (out, executable) = check(expected);
        refused(&out);
        assert!(!executable);
    }

    // Any job of the run can replace the artifact (`overwrite: true`): the download's own
    // digest check passes, since the service recorded the replacement's digest. Only the
    // release's check against the digest the building job stated catches it.
    std::fs::write(&tool, "#!/bin/sh\necho something else\n").unwrap();
    let (_, out) = upload(&tool, &[("OVERWRITE", "true")]);
    accepted(&out);
    let (_, out) = download(&[]);
    accepted(&out);
    let (out, executable) = check(&digest);
    refused(&out);
    assert!(!executable);

    // Bytes changed in the store after the upload fail the download's own digest check
    // (files extracted first, failed at the end, as v8.0.1 does).
    let content = store.join("kube9-release-linux-x86_64/content");
    accepted(&run(Command::new("python3").arg("-c").arg(
        "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w').writestr('kube9-release', 'changed')",
    ).arg(&content)));
    let (_, out) = download(&[]);
    let out = refused(&out);
    assert!(out.contains("Digest validation failed for artifact(s): kube9-release-linux-x86_64. Use 'digest-mismatch: warn' to continue on mismatch."), "{out}");
}

/// What `rev` names in the repository at `dir`: its commit, as `git rev-parse` prints it.
fn rev_parse(dir: impl AsRef<std::path::Path>, rev: &str) -> String {
    ok(Command::new("git")
        .args(["rev-parse", rev])
        .current_dir(dir))
    .trim()
    .to_string()
}
