//! What a node does with a release: pull one platform's image by tag and run it. Its
//! `--version` names the version, the commit and the platform the binary was built for; on a
//! machine of that architecture this proves the image runs there natively, elsewhere it runs
//! under QEMU and the check says so.

use crate::verifiers::Checker;
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;

use std::path::{Path, PathBuf};

use super::needs::{Access, Needs, Tool};
use super::{Action, Cx, Placeholders, Status, Values};
use crate::cmd::Cmd;
use crate::registry::Repository;
use crate::tools::node_skopeo;

/// The platform of this machine, as OCI names it.
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

/// One platform's image, pulled by tag and run with `--version`.
#[derive(Debug, Clone, Serialize)]
pub struct RunImage {
    pub repository: Repository,
    pub tag: String,
    pub platform: String,
    pub version: String,
    /// Pull with the run's registry login (a package that is still private); else without one.
    pub logged_in: bool,
    /// Emulation is a failure: a GitHub-hosted runner of this architecture was asked for.
    pub native_only: bool,
    /// The engine that pulls and runs it (a local environment's); `None`: docker's own.
    pub docker_host: Option<String>,
}

impl RunImage {
    fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// docker's configuration: the run's login directory, or an empty one (no login).
    fn docker(&self, values: &mut dyn Values, empty: &str) -> Result<Cmd> {
        let config = if self.logged_in {
            values.login_dir()?
        } else {
            empty.to_string()
        };
        let cmd = Cmd::new("docker").env("DOCKER_CONFIG", config);
        Ok(match &self.docker_host {
            Some(host) => cmd.env("DOCKER_HOST", host),
            None => cmd,
        })
    }

    pub fn pull(&self, values: &mut dyn Values, empty: &str) -> Result<Cmd> {
        Ok(self
            .docker(values, empty)?
            .args(["pull", "--quiet"])
            .opt("--platform", &self.platform)
            .arg(self.reference()))
    }

    pub fn run_version(&self, values: &mut dyn Values, empty: &str) -> Result<Cmd> {
        Ok(self
            .docker(values, empty)?
            .args(["run", "--rm", "--pull", "never"])
            .opt("--platform", &self.platform)
            .arg(self.reference())
            .arg("--version"))
    }

    fn how(&self) -> String {
        let host = host_platform();
        if host == self.platform {
            format!("natively on this {host} machine")
        } else {
            format!("under QEMU emulation on this {host} machine")
        }
    }

    /// What `--version` must print: `kube9-operator 1.2.3 (commit <sha>, linux/arm64)`.
    fn check_output(&self, printed: &str, commit: &str) -> Result<()> {
        let expected = format!(
            "kube9-operator {} (commit {commit}, {})",
            self.version, self.platform
        );
        ensure!(
            printed.trim() == expected,
            "{} for {} printed `{}`, not `{expected}`",
            self.reference(),
            self.platform,
            printed.trim()
        );
        Ok(())
    }
}

impl Action for RunImage {
    fn needs(&self) -> Needs {
        Needs::new().tools([Tool::Docker]).registry(Access::Read)
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::Docker)
    }

    fn describe(&self) -> String {
        let login = if self.logged_in {
            "with the run's login"
        } else {
            "without a login"
        };
        let cmd = self
            .run_version(&mut super::Placeholders, "<empty-dir>")
            .expect("placeholders");
        format!(
            "run the {} image as a node would, {login}, {}: {cmd}",
            self.platform,
            self.how()
        )
    }

    fn hint(&self) -> String {
        format!(
            "the {} image does not run as this release: if the pull failed, make the package \
             public (or pass --public-check warn with credentials); if it ran another build, \
             re-run the release",
            self.platform
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let host = host_platform();
        if self.native_only && host != self.platform {
            bail!(
                "this job runs on {host}, so {} would run under emulation, which proves nothing \
                 about {} hardware: run it on a runner of that architecture (runs-on: \
                 ubuntu-24.04-arm for linux/arm64)",
                self.platform,
                self.platform
            );
        }
        let commit = cx
            .bindings
            .revision
            .clone()
            .context("internal: no step before this one read the image's commit")?;
        let empty = tempfile::tempdir().context("cannot make an empty docker configuration")?;
        let empty = empty.path().display().to_string();
        self.pull(cx, &empty)?.read()?;
        let printed = self.run_version(cx, &empty)?.read()?;
        self.check_output(&printed, &commit)?;
        let what = format!("run the {} image", self.platform);
        cx.pass(&what, &format!("`{}`, {}", printed.trim(), self.how()));
        println!(
            "{}: {} ({})",
            self.platform,
            crate::text::one_line(printed.trim()),
            self.how()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(platform: &str) -> RunImage {
        RunImage {
            repository: Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
            tag: "1.2.3".into(),
            platform: platform.into(),
            version: "1.2.3".into(),
            logged_in: false,
            native_only: false,
            docker_host: None,
        }
    }

    #[test]
    fn it_pulls_by_tag_without_a_login_and_runs_the_version() {
        let s = step("linux/arm64");
        assert_eq!(
            s.pull(&mut super::super::Placeholders, "/tmp/empty")
                .unwrap()
                .to_string(),
            "DOCKER_CONFIG=/tmp/empty docker pull --quiet --platform linux/arm64 ghcr.io/alto9/kube9-operator:1.2.3"
        );
        assert!(s.describe().contains("without a login"), "{}", s.describe());
        let local = RunImage {
            docker_host: Some("unix:///run/kube9-env/docker.sock".into()),
            ..s
        };
        let run = local
            .run_version(&mut super::super::Placeholders, "/tmp/empty")
            .unwrap()
            .to_string();
        assert!(
            run.contains("DOCKER_HOST=unix:///run/kube9-env/docker.sock"),
            "a local release runs it on the environment's engine: {run}"
        );
    }

    #[test]
    fn the_binary_must_name_the_release_commit_and_platform() {
        let s = step("linux/arm64");
        let ok = "kube9-operator 1.2.3 (commit abc, linux/arm64)\n";
        assert!(s.check_output(ok, "abc").is_ok());
        let amd = "kube9-operator 1.2.3 (commit abc, linux/amd64)";
        let err = s.check_output(amd, "abc").unwrap_err().to_string();
        assert!(
            err.contains("not `kube9-operator 1.2.3 (commit abc, linux/arm64)`"),
            "{err}"
        );
        assert!(s.check_output(ok, "def").is_err(), "another commit");
    }

    #[test]
    fn another_architecture_is_emulated_and_says_so() {
        let other = if host_platform() == "linux/amd64" {
            "linux/arm64"
        } else {
            "linux/amd64"
        };
        assert!(step(other).how().starts_with("under QEMU emulation"));
        assert!(step(&host_platform()).how().starts_with("natively"));
    }
}

/// One platform pulled as a CRI-O or podman node that enforces signatures pulls it:
/// containers/image with a `sigstoreSigned` policy of the release's key, which reads the
/// signature of the platform manifest it pulls (not the index's). Keyless releases cannot be
/// checked so: containers/image matches Fulcio certificates by e-mail only.
#[derive(Debug, Clone, Serialize)]
pub struct PullAsNode {
    pub repository: Repository,
    pub tag: String,
    pub platform: String,
    pub public_key: PathBuf,
    /// The run's registry login (a private package), as a docker config.
    pub logged_in: bool,
}

impl PullAsNode {
    fn dir(&self, values: &mut dyn Values) -> Result<String> {
        Ok(format!(
            "{}/node-{}",
            values.login_dir()?,
            crate::text::platform_slug(&self.platform)
        ))
    }

    pub fn command(&self, values: &mut dyn Values) -> Result<Cmd> {
        let dir = self.dir(values)?;
        let (os, arch) = self.platform.split_once('/').unwrap_or(("linux", "amd64"));
        let mut cmd = Cmd::new(node_skopeo())
            .args(["--override-os", os, "--override-arch", arch])
            .args(["copy", "--quiet", "--remove-signatures"])
            .opt("--policy", format!("{dir}/policy.json"))
            .opt("--registries.d", format!("{dir}/registries.d"));
        if self.repository.is_loopback() {
            cmd = cmd.arg("--src-tls-verify=false");
        }
        if self.logged_in {
            cmd = cmd.opt(
                "--src-authfile",
                format!("{}/config.json", values.login_dir()?),
            );
        }
        Ok(cmd
            .arg(format!("docker://{}:{}", self.repository, self.tag))
            .arg(format!("oci:{dir}/pulled:pulled")))
    }

    fn what(&self) -> String {
        format!(
            "the {} image pulled by containers/image with a sigstoreSigned policy of the key",
            self.platform
        )
    }

    /// The policy a node keeps in `/etc/containers/policy.json`, and its registries.d entry.
    fn write_policy(&self, dir: &str) -> Result<()> {
        let policy = serde_json::json!({
            "default": [{"type": "reject"}],
            "transports": {"docker": {self.repository.to_string(): [{
                "type": "sigstoreSigned",
                "keyPath": self.public_key,
                "signedIdentity": {"type": "matchRepository"},
            }]}},
        });
        let dir = Path::new(dir);
        std::fs::create_dir_all(dir.join("registries.d"))?;
        std::fs::write(dir.join("policy.json"), policy.to_string())?;
        std::fs::write(
            dir.join("registries.d/kube9.yaml"),
            format!(
                "docker:\n  {}:\n    use-sigstore-attachments: true\n",
                self.repository
            ),
        )?;
        Ok(())
    }
}

impl Action for PullAsNode {
    fn needs(&self) -> Needs {
        Needs::new()
            .tools([Tool::NodeSkopeo])
            .registry(Access::Read)
    }

    fn checker(&self) -> Option<Checker> {
        Some(Checker::ContainersImage)
    }

    fn describe(&self) -> String {
        let cmd = self.command(&mut Placeholders).expect("placeholders");
        format!("{}: {cmd}", self.what())
    }

    fn hint(&self) -> String {
        format!(
            "a node that enforces the release key's signatures would refuse the {} image: \
             re-run the release (it signs each platform manifest a failed run left unsigned)",
            self.platform
        )
    }

    fn run(&self, cx: &mut Cx) -> Result<()> {
        let dir = self.dir(cx)?;
        self.write_policy(&dir)?;
        let out = self.command(cx)?.output()?;
        let said = format!("{}{}", out.stdout, out.stderr);
        if said.contains("sigstore disabled") {
            cx.record(
                &self.what(),
                Status::Skipped,
                "this skopeo has sigstore verification compiled out (Debian bookworm's): \
                 `cargo xtask setup` installs skopeo-sigstore",
            );
            return Ok(());
        }
        ensure!(out.success, "{}", said.trim());
        cx.pass(
            &self.what(),
            "accepted: the platform manifest is signed with the key",
        );
        Ok(())
    }
}
