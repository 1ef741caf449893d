//! Environments share the machine's one engine and never break each other: a local
//! environment, the suite's own, and another one started and stopped beside them.

mod support;

use std::path::Path;

use support::*;

/// `cargo xtask` for the environment in `dir`, from a shell that names no engine (the
/// environment finds the environments' engine and shares it).
fn in_env(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = xtask();
    cmd.args(args)
        .env("KUBE9_LOCAL_ENV_DIR", dir)
        .env_remove("DOCKER_HOST");
    outside_actions(&mut cmd);
    cmd
}

/// Takes an environment down however the test ends, so that a failed run leaves no
/// environment that would keep the engine up.
struct Down(std::path::PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = run(&mut in_env(&self.0, &["env", "down"]));
    }
}

#[test]
fn another_environment_going_down_leaves_the_first_working() {
    let source = fixture_release_repo("rootfs-high", "shared-engine");
    let (first, second) = (temp_dir("env-first"), temp_dir("env-second"));
    let _guards = (Down(first.clone()), Down(second.clone()));
    let release = |version: &str| {
        let mut cmd = in_env(&first, &["release", "--local", "--version", version]);
        cmd.args(["--no-rust-binary", "--skip-changelog", "--source"])
            .arg(&source);
        cmd
    };
    ok(&mut release("v1.0.0"));
    // Another environment (a `cargo xtask ci` of another checkout) comes and goes.
    ok(&mut in_env(&second, &["env", "up"]));
    // `env down` speaks on stderr: the second one must have found the engine still in use.
    let down = run(&mut in_env(&second, &["env", "down"]));
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        text(&down).contains("the Docker engine stays up"),
        "the first environment still uses it: {}",
        text(&down)
    );
    // The first one still answers on every service, and releases again.
    let status = ok(&mut in_env(&first, &["env", "status"]));
    assert!(!status.contains("NOT ANSWERING"), "{status}");
    ok(&mut release("v1.0.1"));
    let down = run(&mut in_env(&first, &["env", "down"]));
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        text(&down).contains("the Docker engine stays up"),
        "the suite's own environment still uses it: {}",
        text(&down)
    );
    // The suite's environment too.
    ok(docker().args(["info", "--format", "{{.ServerVersion}}"]));
}
