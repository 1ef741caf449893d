//! `withdraw` on the command line without any tool or network: `--dry-run` prints the plan and
//! every command, `--plan-json` its steps, and bad input is refused before anything is asked.

mod support;

use support::*;

fn withdraw(args: &[&str]) -> std::process::Output {
    let mut cmd = xtask();
    cmd.arg("withdraw").args(args);
    outside_actions(&mut cmd);
    // Nowhere to reach: a dry run must not need the registry.
    cmd.env("DOCKER_HOST", "unix:///nonexistent");
    run(&mut cmd)
}

#[test]
fn a_dry_run_prints_the_plan_and_every_command_without_the_registry() {
    let out = withdraw(&[
        "--version",
        "v1.2.3",
        "--reason",
        "leaks a debug flag",
        "--use",
        "v1.2.4",
        "--repository",
        "127.0.0.1:9/nowhere/kube9-operator",
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.starts_with("Withdraw v1.2.3 of 127.0.0.1:9/nowhere/kube9-operator"));
    assert!(shown.contains("reason     leaks a debug flag"), "{shown}");
    assert!(shown.contains("use        1.2.4"), "{shown}");
    assert!(shown.contains("the registry was not asked"), "{shown}");
    assert!(
        shown.contains(
            "cosign attest --yes --type https://github.com/alto9/kube9-operator/withdrawal/v1"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("127.0.0.1:9/nowhere/kube9-operator@<index-digest>"),
        "{shown}"
    );
    assert!(
        shown.contains("each steps back to the highest eligible release"),
        "{shown}"
    );

    let plan = withdraw(&[
        "--version",
        "v1.2.3",
        "--undo",
        "--plan-json",
        "-",
        "--repository",
        "127.0.0.1:9/nowhere/kube9-operator",
    ]);
    assert!(plan.status.success(), "{}", text(&plan));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let kinds: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["attest-withdrawal", "move-withdrawn-tags"]);
    assert_eq!(plan["steps"][0]["withdrawal"]["withdrawn"], false);
}

#[test]
fn bad_input_is_refused_with_a_hint_even_in_a_dry_run() {
    for (args, says) in [
        (
            vec!["--version", "v1.2.3"],
            "no reason given for withdrawing v1.2.3: pass --reason",
        ),
        (
            vec!["--version", "v1.2.3", "--reason", "x", "--use", "v1.2.3"],
            "is not higher than the withdrawn v1.2.3: name a later release",
        ),
        (
            vec!["--version", "v1.2.3", "--reason", "x", "--use", "latest"],
            "--use: `latest` is not a release version",
        ),
        (
            vec!["--version", "v1.2", "--reason", "x"],
            "--version: `v1.2` is not a release version",
        ),
        (
            vec!["--version", "v1.2.3", "--undo", "--use", "v1.2.4"],
            "leave --use out with --undo",
        ),
    ] {
        let mut all = args.clone();
        all.push("--dry-run");
        let out = withdraw(&all);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
}

#[test]
fn local_plans_against_the_local_environment_with_its_key() {
    let out = withdraw(&[
        "--version",
        "v1.2.3",
        "--reason",
        "x",
        "--local",
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("Withdraw v1.2.3 of 127.0.0.1:"), "{shown}");
    assert!(shown.contains("cosign sign-blob"), "{shown}");
}
