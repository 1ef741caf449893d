//! The binary the release workflow builds and runs with the registry token: the release
//! commands, and nothing of the developer environment.

use std::process::Command;

fn kube9_release(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kube9-release"))
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

#[test]
fn it_holds_the_release_commands_only() {
    let help = String::from_utf8(kube9_release(&["--help"]).stdout).unwrap();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        [
            "release-image",
            "release-chart",
            "release",
            "verify-release",
            "verify-reproducible",
            "rescan",
            "release-notes",
            "check-repo",
            "withdraw",
            "help"
        ],
        "{help}"
    );
    for devenv in ["setup", "env", "doctor", "ci", "bench", "workflow-sim"] {
        let out = kube9_release(&[devenv]);
        assert!(!out.status.success(), "{devenv} is a release command");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"),
            "{devenv}"
        );
    }
    let out = kube9_release(&["release", "--local", "--dry-run", "--version", "v1.2.3"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--local'"),
        "a local release starts the developer environment: cargo xtask release --local"
    );
}

#[test]
fn the_release_library_depends_on_neither_the_command_line_nor_the_environment() {
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../release/Cargo.toml"
    ))
    .unwrap();
    for crate_name in ["kube9-release-cli", "kube9-devenv", "xtask"] {
        assert!(!manifest.contains(crate_name), "{crate_name}");
    }
    let own = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    assert!(!own.contains("kube9-devenv"));
}
