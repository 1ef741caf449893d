//! `withdraw.yml`: dispatched by hand from main only, the release tool built in a job without
//! a write permission and checked by sha256 where it runs, the job that signs and moves tags
//! with exactly the permissions it needs, the inputs passed as environment variables, and a
//! command line the tool accepts.

mod support;

use serde_json::{json, Value};
use support::*;

fn withdraw_workflow() -> Value {
    let text =
        std::fs::read_to_string(project_root().join(".github/workflows/withdraw.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn uses(step: &Value, action: &str) -> bool {
    step["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with(&format!("{action}@")))
}

#[test]
fn withdrawals_are_dispatched_from_main_one_at_a_time() {
    let w = withdraw_workflow();
    let on = w["on"].as_object().unwrap();
    assert_eq!(on.keys().collect::<Vec<_>>(), ["workflow_dispatch"]);
    let inputs = &w["on"]["workflow_dispatch"]["inputs"];
    assert_eq!(inputs["version"]["required"], true);
    assert_eq!(inputs["undo"]["type"], "boolean");
    assert_eq!(w["permissions"], json!({}));
    // The release workflow's own queue: a withdrawal never moves tags while a release does.
    let text =
        std::fs::read_to_string(project_root().join(".github/workflows/release.yml")).unwrap();
    let release: Value = serde_saphyr::from_str(&text).unwrap();
    assert!(release["concurrency"]["group"]
        .as_str()
        .unwrap()
        .ends_with("|| 'release' }}"));
    assert_eq!(w["concurrency"]["group"], "release");
    assert_eq!(w["concurrency"]["queue"], "max");
    assert_eq!(w["concurrency"]["cancel-in-progress"], false);
    for job in ["tool", "withdraw"] {
        assert_eq!(
            w["jobs"][job]["if"], "github.ref == 'refs/heads/main'",
            "{job}"
        );
        assert!(w["jobs"][job]["timeout-minutes"].as_u64().unwrap() <= 30);
    }
}

#[test]
fn the_tool_is_built_without_write_permission_and_checked_where_it_runs() {
    let w = withdraw_workflow();
    let tool = &w["jobs"]["tool"];
    assert_eq!(tool["permissions"], json!({"contents": "read"}));
    let build = tool["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "build")
        .unwrap();
    let run = build["run"].as_str().unwrap();
    assert!(run.contains("cargo build --locked --package kube9-release-cli"));
    assert!(run.contains("sha256=$(sha256sum"));
    assert_eq!(
        tool["outputs"]["sha256"],
        "${{ steps.build.outputs.sha256 }}"
    );

    let job = &w["jobs"]["withdraw"];
    assert_eq!(
        job["permissions"],
        json!({"contents": "write", "packages": "write", "id-token": "write"})
    );
    assert_eq!(job["needs"], "tool");
    let steps = job["steps"].as_array().unwrap();
    // No cargo and no build cache where a token can write.
    for step in steps {
        assert!(!uses(step, "Swatinem/rust-cache"), "{step}");
        assert!(!uses(step, "dtolnay/rust-toolchain"), "{step}");
        assert!(
            !step["run"].as_str().unwrap_or_default().contains("cargo "),
            "{step}"
        );
    }
    let at = |found: &dyn Fn(&Value) -> bool| steps.iter().position(found).unwrap();
    let download = at(&|s| uses(s, "actions/download-artifact"));
    let check = at(&|s| {
        s["run"]
            .as_str()
            .is_some_and(|r| r.contains("sha256sum --check --strict"))
    });
    let runs = at(&|s| s["env"]["GITHUB_TOKEN"].is_string());
    assert!(download < check && check < runs);
    assert_eq!(
        steps[check]["env"]["TOOL_SHA256"],
        "${{ needs.tool.outputs.sha256 }}"
    );
    // The token reaches the built tool's step alone, and no input is spliced into a script.
    let token_steps = steps
        .iter()
        .filter(|s| s["env"]["GITHUB_TOKEN"].is_string())
        .count();
    assert_eq!(token_steps, 1);
    for step in steps {
        let run = step["run"].as_str().unwrap_or_default();
        assert!(!run.contains("${{"), "{step}");
    }
    let run = steps[runs]["run"].as_str().unwrap();
    assert!(
        run.starts_with("\"$RUNNER_TEMP/tool/kube9-release\" withdraw "),
        "{run}"
    );
    assert_eq!(
        steps[runs]["env"]["WITHDRAW_REASON"],
        "${{ inputs.reason }}"
    );
}

#[test]
fn the_workflows_command_line_is_one_the_tool_accepts() {
    let w = withdraw_workflow();
    let steps = w["jobs"]["withdraw"]["steps"].as_array().unwrap();
    let run = steps
        .iter()
        .find_map(|s| s["run"].as_str().filter(|r| r.contains(" withdraw ")))
        .unwrap();
    let line = run.split_once("kube9-release\" ").unwrap().1;
    // What a dispatch gives: a withdrawal with its reason and no replacement, and an undo.
    for (version, reason, replacement, undo, title) in [
        ("v1.2.3", "regression", "", "false", "Withdraw v1.2.3"),
        ("v1.2.3", "", "", "true", "Lift the withdrawal of v1.2.3"),
        ("v1.2.3", "regression", "v1.2.4", "false", "Withdraw v1.2.3"),
    ] {
        let mut cmd = xtask();
        for word in line.split_whitespace() {
            let word = word.trim_matches('"');
            cmd.arg(match word {
                "$RELEASE_VERSION" => version,
                "$WITHDRAW_REASON" => reason,
                "$WITHDRAW_USE" => replacement,
                "$WITHDRAW_UNDO" => undo,
                "$IMAGE_REPOSITORY" => "ghcr.io/alto9/kube9-operator",
                "$CHART_REPOSITORY" => "oci://ghcr.io/alto9/charts",
                other => {
                    assert!(!other.contains('$'), "no sample for {other}");
                    other
                }
            });
        }
        cmd.arg("--dry-run");
        outside_actions(&mut cmd);
        let out = ok(&mut cmd);
        assert!(out.starts_with(title), "{out}");
    }
}
