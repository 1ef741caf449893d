//! External commands as values: built first, then printed (`--dry-run`), inspected (tests) or
//! run. This is the one way the xtask starts a process, so that one place decides which
//! secrets a child sees: none, unless the command names them.

use std::fmt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::secret::Secret;

/// Variables that carry credentials. A child process inherits none of them; a command that
/// needs one names it in `secret_env`.
pub const SECRET_VARS: &[&str] = &[
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "REGISTRY_PASSWORD",
    "COSIGN_PASSWORD",
    "COSIGN_PRIVATE_KEY",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "SIGSTORE_ID_TOKEN",
];

/// One external program invocation. Secrets travel only in `secret_env` or `stdin`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<(String, Secret)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Start from an empty environment (a simulated runner), not the caller's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub clean_env: bool,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            ..Cmd::default()
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `--flag value` pairs, a common shape for tool options.
    pub fn opt(self, flag: &str, value: impl Into<String>) -> Self {
        self.arg(flag).arg(value)
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn secret_env(mut self, key: impl Into<String>, value: Secret) -> Self {
        self.secret_env.push((key.into(), value));
        self
    }

    pub fn stdin_secret(mut self, value: Secret) -> Self {
        self.stdin = Some(value);
        self
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Nothing of the caller's environment reaches the program: only what the command names.
    pub fn clean_env(mut self) -> Self {
        self.clean_env = true;
        self
    }

    /// The first words, e.g. `docker buildx build`, for messages.
    pub fn short_name(&self) -> String {
        let mut words = vec![self.program.clone()];
        words.extend(
            self.args
                .iter()
                .take_while(|a| !a.starts_with('-'))
                .take(2)
                .cloned(),
        );
        words.join(" ")
    }

    fn command(&self) -> Result<Command> {
        let path = crate::tools::search_path();
        let program = crate::tools::which_in(&self.program, &path).with_context(|| {
            format!(
                "`{}` is not installed or not on PATH: `cargo xtask doctor` shows how to get it",
                self.program
            )
        })?;
        let mut command = Command::new(program);
        command.args(&self.args);
        if self.clean_env {
            command.env_clear();
        }
        for var in SECRET_VARS {
            command.env_remove(var);
        }
        command.env("PATH", &path);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command.envs(self.secret_env.iter().map(|(k, v)| (k, v.expose())));
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        Ok(command)
    }

    /// Runs with output shown (grouped in GitHub Actions); fails on a non-zero exit. In
    /// Actions the output is fenced (`run_fenced`): a tool's output is not ours, and an
    /// advisory title that reads `::error::...` must be printed, not obeyed.
    pub fn run(&self) -> Result<()> {
        let status = if crate::config::Config::get().in_actions() {
            let token = crate::github::stop_token()?;
            crate::github::group(&self.short_name(), || {
                self.run_fenced(&mut std::io::stdout(), &token)
            })?
        } else {
            crate::github::group(&self.short_name(), || {
                Ok(self.spawn(Stdio::inherit(), Stdio::inherit())?.wait()?)
            })?
        };
        if !status.success() {
            bail!("`{}` failed ({status})", self.short_name());
        }
        Ok(())
    }

    /// Runs with standard output and error both copied to `out` as the program writes them
    /// (line by line, the two streams' lines in the order they arrive), between
    /// `::stop-commands::<token>` and `::<token>::`: the Actions runner takes nothing in
    /// between for a workflow command. `token` must be one the program cannot guess.
    pub fn run_fenced(
        &self,
        out: &mut (dyn std::io::Write + Send),
        token: &str,
    ) -> Result<std::process::ExitStatus> {
        use std::io::{BufRead, Read};
        use std::sync::Mutex;
        let mut child = self.spawn(Stdio::piped(), Stdio::piped())?;
        writeln!(out, "::stop-commands::{token}")?;
        out.flush()?;
        let out = Mutex::new(out);
        // Line by line, so that the two streams never meet inside a line; a last line
        // without its newline gets one, or it would swallow the resume command.
        let copy = |from: Box<dyn Read + Send>| -> std::io::Result<()> {
            let mut from = std::io::BufReader::new(from);
            let mut line = Vec::new();
            loop {
                line.clear();
                if from.read_until(b'\n', &mut line)? == 0 {
                    return Ok(());
                }
                if line.last() != Some(&b'\n') {
                    line.push(b'\n');
                }
                let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                out.write_all(&line)?;
                out.flush()?;
            }
        };
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped"));
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped"));
        let copied = std::thread::scope(|s| {
            let errors = s.spawn(|| copy(stderr));
            let outs = copy(stdout);
            outs.and(errors.join().unwrap_or(Ok(())))
        });
        let status = child.wait()?;
        let out = out.into_inner().unwrap_or_else(|e| e.into_inner());
        writeln!(out, "::{token}::")?;
        out.flush()?;
        copied?;
        Ok(status)
    }

    /// Runs and captures standard output and error; the exit status is the caller's to judge.
    pub fn output(&self) -> Result<Output> {
        let child = self.spawn(Stdio::piped(), Stdio::piped())?;
        let out = child.wait_with_output()?;
        Ok(Output {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs and returns standard output; a failure carries the tool's own error text.
    pub fn read(&self) -> Result<String> {
        let out = self.output()?;
        if !out.success {
            bail!(
                "`{}` failed ({}): {}",
                self.short_name(),
                out.code
                    .map_or("signal".to_string(), |c| format!("exit {c}")),
                out.stderr.trim()
            );
        }
        Ok(out.stdout)
    }

    /// Starts a long-running process (a daemon) with its output in `log`; returns its pid.
    pub fn spawn_logged(&self, log: &std::path::Path) -> Result<u32> {
        let out = std::fs::File::create(log)
            .with_context(|| format!("cannot write {}", log.display()))?;
        let child = self.spawn(Stdio::from(out.try_clone()?), Stdio::from(out))?;
        Ok(child.id())
    }

    /// Starts a process to talk to over its standard input and output; its standard error is
    /// the caller's.
    pub fn spawn_piped(&self) -> Result<std::process::Child> {
        let mut command = self.command()?;
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        command
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.program))
    }

    /// Starts the process with the given output streams; the caller waits for it.
    pub fn spawn(&self, stdout: Stdio, stderr: Stdio) -> Result<std::process::Child> {
        let mut command = self.command()?;
        command.stdout(stdout).stderr(stderr);
        command.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.program))?;
        if let Some(secret) = &self.stdin {
            use std::io::Write;
            let mut input = child.stdin.take().expect("stdin is piped");
            input.write_all(secret.expose().as_bytes())?;
        }
        Ok(child)
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Shell-like rendering for `--dry-run` and logs: secrets appear only as `***`.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", quote(v))?;
        }
        for (k, _) in &self.secret_env {
            write!(f, "{k}=*** ")?;
        }
        write!(f, "{}", quote(&self.program))?;
        for a in &self.args {
            write!(f, " {}", quote(a))?;
        }
        if self.stdin.is_some() {
            write!(f, " <<< ***")?;
        }
        Ok(())
    }
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%^<>".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_hides_secrets_and_quotes_spaces() {
        let cmd = Cmd::new("helm")
            .args(["registry", "login", "ghcr.io"])
            .opt("--username", "octo cat")
            .arg("--password-stdin")
            .env("HELM_EXPERIMENTAL_OCI", "1")
            .secret_env("TOKEN", Secret::new("s3cr3t"))
            .stdin_secret(Secret::new("s3cr3t"));
        let shown = cmd.to_string();
        assert_eq!(
            shown,
            "HELM_EXPERIMENTAL_OCI=1 TOKEN=*** helm registry login ghcr.io --username 'octo cat' --password-stdin <<< ***"
        );
        assert!(!format!("{cmd:?}").contains("s3cr3t"));
        assert!(!serde_json::to_string(&cmd).unwrap().contains("s3cr3t"));
    }

    #[test]
    fn short_name_stops_at_first_flag() {
        let cmd = Cmd::new("docker").args(["buildx", "build", "--platform", "x", "."]);
        assert_eq!(cmd.short_name(), "docker buildx build");
    }

    #[test]
    fn a_tools_output_is_fenced_from_workflow_commands() {
        let token = "0123456789abcdef0123456789abcdef";
        let mut out = Vec::new();
        let status = Cmd::new("sh")
            .args([
                "-c",
                "echo '::error::from stdout'; echo '::warning::from stderr' >&2; printf tail",
            ])
            .run_fenced(&mut out, token)
            .unwrap();
        assert!(status.success());
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], format!("::stop-commands::{token}"), "{out}");
        assert_eq!(lines[lines.len() - 1], format!("::{token}::"), "{out}");
        let mut inside = lines[1..lines.len() - 1].to_vec();
        inside.sort();
        assert_eq!(
            inside,
            ["::error::from stdout", "::warning::from stderr", "tail"],
            "both streams, inside the fence: {out}"
        );
        let mut out = Vec::new();
        let status = Cmd::new("sh")
            .args(["-c", "exit 4"])
            .run_fenced(&mut out, token)
            .unwrap();
        assert_eq!(status.code(), Some(4));
    }

    #[test]
    fn read_reports_the_tools_error() {
        let err = Cmd::new("sh")
            .args(["-c", "echo broken >&2; exit 3"])
            .read()
            .unwrap_err();
        assert_eq!(err.to_string(), "`sh` failed (exit 3): broken");
    }

    #[test]
    fn secret_reaches_the_program_on_stdin() {
        let out = Cmd::new("cat")
            .stdin_secret(Secret::new("tok"))
            .read()
            .unwrap();
        assert_eq!(out, "tok");
    }

    #[test]
    fn children_see_only_the_secrets_they_are_given() {
        // The test process itself may hold a token; the child must not inherit it.
        std::env::set_var("GH_TOKEN", "inherited-secret");
        let env = Cmd::new("env").read().unwrap();
        assert!(!env.contains("inherited-secret"), "{env}");
        let given = Cmd::new("env")
            .secret_env("GH_TOKEN", Secret::new("given"))
            .read()
            .unwrap();
        assert!(given.contains("GH_TOKEN=given"));
    }

    #[test]
    fn a_missing_program_says_how_to_get_it() {
        let err = Cmd::new("kube9-no-such-tool")
            .read()
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo xtask doctor"), "{err}");
    }
}
