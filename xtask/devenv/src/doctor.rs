//! The programs the release runs, their minimum versions and how to get them (`cargo xtask
//! doctor`). Tools are looked for where a release finds them (the directory `cargo xtask setup`
//! installs into, then `PATH`), and the engine is the one the local environment started when
//! the default one does not answer.

use crate::{disk, docker, localenv};
use kube9_release::cmd::Cmd;
use kube9_release::plan::samples;
use kube9_release::step::Tool;
use kube9_release::{validate, workspace};

/// One check: what was found and, when it falls short, the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub found: Option<String>,
    pub problem: Option<String>,
    pub fix: &'static str,
    /// Needed to publish (as opposed to only testing, like skopeo and ctr).
    pub required: bool,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.found.is_some() && self.problem.is_none()
    }
}

const SETUP: &str = "cargo xtask setup (Debian), or see the README's setup section";

fn first_line(out: &str) -> String {
    out.lines().next().unwrap_or("").trim().to_string()
}

/// Parses the first `MAJOR.MINOR[.PATCH]` in a tool's version output.
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let mut parts = rest[..end]
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u64>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    // A bare number like "26" after text is not a version unless followed by a dot.
    if !rest[..end].contains('.') {
        return parse_version(&rest[end..]);
    }
    Some((major, minor, patch))
}

fn at_least(found: Option<(u64, u64, u64)>, min: (u64, u64, u64), name: &str) -> Option<String> {
    match found {
        Some(v) if v >= min => None,
        Some(v) => Some(format!(
            "{name} {}.{}.{} is older than the {}.{}.{} the release needs",
            v.0, v.1, v.2, min.0, min.1, min.2
        )),
        None => Some(format!("cannot read the version of {name}")),
    }
}

fn probe(cmd: Cmd) -> Result<String, String> {
    match cmd.output() {
        Ok(out) if out.success => Ok(out.stdout + &out.stderr),
        Ok(out) => Err(first_line(&(out.stderr + &out.stdout))),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The builder must build several platforms into an OCI layout with `rewrite-timestamp`
/// (BuildKit 0.13): the `docker` driver on the containerd image store, or a container driver.
pub fn check_buildx(docker: &dyn Fn() -> Cmd) -> Check {
    let fix = "Debian: cargo xtask setup; elsewhere Docker Desktop with \"Use containerd for pulling and storing images\", or `docker buildx create --use` (docker-container driver)";
    let mut check = Check {
        name: "docker buildx",
        found: None,
        problem: None,
        fix,
        required: true,
    };
    let version = match probe(docker().args(["buildx", "version"])) {
        Ok(v) => v,
        Err(e) => {
            check.problem = Some(e);
            return check;
        }
    };
    check.found = Some(first_line(&version));
    if let Some(p) = at_least(
        parse_version(&version.replace("github.com/docker/buildx", "")),
        (0, 13, 0),
        "buildx",
    ) {
        check.problem = Some(p);
        return check;
    }
    let inspect = match probe(docker().args(["buildx", "inspect", "--bootstrap"])) {
        Ok(inspect) => inspect,
        Err(e) => {
            check.problem = Some(format!("no running builder: {e}"));
            return check;
        }
    };
    let field = |name| inspect.lines().find_map(|l| l.trim().strip_prefix(name));
    let (driver, platforms) = (field("Driver:"), field("Platforms:"));
    let (driver, platforms) = (driver.unwrap_or("").trim(), platforms.unwrap_or("").trim());
    let buildkit = field("BuildKit version:").map(str::trim);
    if let Some(v) = buildkit {
        let version = first_line(&version);
        check.found = Some(format!("{version} (driver {driver}, BuildKit {v})"));
    }
    // Docker's embedded BuildKit reports v0.0.0+unknown; the daemon version decides.
    let old_buildkit = buildkit
        .filter(|v| !v.contains("unknown"))
        .and_then(|v| at_least(parse_version(v), (0, 13, 0), "BuildKit"));
    check.problem = if platforms.is_empty() {
        Some(
            "the builder is not running: is the Docker engine up? (Debian: cargo xtask env up)"
                .into(),
        )
    } else if let Some(p) = old_buildkit {
        Some(format!("{p} (rewrite-timestamp)"))
    } else if !(platforms.contains("linux/amd64") && platforms.contains("linux/arm64")) {
        Some(format!(
            "the builder cannot build linux/arm64 (platforms: {platforms}): register QEMU binfmt (apt-get install qemu-user-static binfmt-support) or use a cross-compiling builder"
        ))
    } else if driver == "docker" {
        docker_store_problem(docker)
    } else {
        None
    };
    check
}

/// The classic docker image store can neither hold a multi-platform index nor export cache.
fn docker_store_problem(docker: &dyn Fn() -> Cmd) -> Option<String> {
    let info = probe(docker().args([
        "info",
        "--format",
        "{{json .DriverStatus}} {{.ServerVersion}}",
    ]));
    match info {
        Err(e) => Some(format!("the Docker engine does not answer: {e}")),
        Ok(text) if text.contains("io.containerd.snapshotter") => {
            at_least(parse_version(text.rsplit(' ').next().unwrap_or("")), (24, 0, 0), "dockerd")
        }
        Ok(_) => Some(
            "the docker driver uses the classic image store, which cannot build multi-platform OCI images: enable the containerd image store (\"features\": {\"containerd-snapshotter\": true}) or `docker buildx create --use`".into(),
        ),
    }
}

fn simple(
    name: &'static str,
    cmd: Cmd,
    min: (u64, u64, u64),
    fix: &'static str,
    required: bool,
) -> Check {
    let (found, problem) = match probe(cmd) {
        Ok(out) => (
            Some(first_line(&out)),
            at_least(parse_version(&out), min, name),
        ),
        Err(e) => (None, Some(e)),
    };
    Check {
        name,
        found,
        problem,
        fix,
        required,
    }
}

/// `simple` for `name` run as itself with `args` (words separated by spaces).
fn program(
    name: &'static str,
    args: &str,
    min: (u64, u64, u64),
    fix: &'static str,
    required: bool,
) -> Check {
    simple(
        name,
        Cmd::new(name).args(args.split(' ')),
        min,
        fix,
        required,
    )
}

/// The Docker engine's version question, asked by `docker` (the client alone answers nothing).
pub fn server_version(docker: Cmd) -> Cmd {
    docker.args(["version", "--format", "{{.Server.Version}}"])
}

/// Whether `cmd` prints a version of at least `min`.
pub fn version_at_least(cmd: Cmd, min: (u64, u64, u64)) -> bool {
    cmd.read()
        .ok()
        .and_then(|v| parse_version(&v))
        .is_some_and(|v| v >= min)
}

/// cosign's Debian build reports its version as `devel`; the package knows it.
fn cosign_version() -> Cmd {
    let reports = Cmd::new("cosign").arg("version").read().unwrap_or_default();
    if reports.contains("GitVersion:    devel") || reports.contains("GitVersion: devel") {
        Cmd::new("dpkg-query").args(["-W", "-f=cosign ${Version}", "cosign"])
    } else {
        Cmd::new("cosign").arg("version")
    }
}

/// The engine: the caller's (`DOCKER_HOST` or the default socket), else the one the local
/// environment started.
fn docker_command() -> impl Fn() -> Cmd {
    let default_answers = probe(server_version(docker(None))).is_ok();
    let host = if default_answers {
        None
    } else {
        localenv::running_docker_host()
    };
    move || docker(host.as_deref())
}

/// The engine: one that answers; one that is installed but not running (started by `env up`,
/// not by `setup`); or none installed.
fn check_docker(docker: &dyn Fn() -> Cmd) -> Check {
    let check = simple("docker", server_version(docker()), (24, 0, 0), SETUP, true);
    if check.found.is_some() {
        return check;
    }
    let client = probe(Cmd::new("docker").arg("--version"));
    let engine = kube9_release::tools::which("dockerd");
    match (client, engine) {
        (Ok(client), Some(dockerd)) => Check {
            found: Some(format!(
                "{}; {} installed, not running",
                first_line(&client),
                dockerd.display()
            )),
            problem: Some("the Docker engine is installed but does not answer".into()),
            fix: ENV_UP,
            ..check
        },
        _ => check,
    }
}

const ENV_UP: &str =
    "cargo xtask env up (starts the environments' engine), or start your own engine";

/// An installed program that does not answer because the engine it needs is stopped.
fn is_not_running(check: &Check) -> bool {
    check
        .found
        .as_deref()
        .is_some_and(|f| f.ends_with("not running"))
}

/// buildx is a client of the engine: with the engine stopped it is not missing, it waits.
fn buildx_without_engine() -> Check {
    Check {
        name: "docker buildx",
        found: Some("its builder runs in the Docker engine, which is not running".into()),
        problem: Some("the Docker engine does not answer".into()),
        fix: ENV_UP,
        required: true,
    }
}

/// The table's word for a check.
fn status(c: &Check) -> &'static str {
    if c.ok() {
        "ok"
    } else if is_not_running(c) {
        "NOT RUNNING"
    } else if c.required {
        "MISSING"
    } else {
        "missing (not required)"
    }
}

/// Room for the test suite's builds on the workspace's filesystem.
fn check_disk() -> Check {
    let fix = "cargo xtask env prune (empties the build cache), or remove old clones' target/";
    let (found, problem) = match disk::free_bytes(&workspace::root()) {
        Ok(free) => (
            Some(format!("{} free", disk::show(free))),
            disk::require_ci_room(&workspace::root(), None).err(),
        ),
        Err(e) => (None, Some(e)),
    };
    Check {
        name: "disk space",
        found,
        problem: problem.map(|e| format!("{e:#}")),
        fix,
        required: false,
    }
}

/// Every program the release's plans declare (`samples::tools`), each with its check, then
/// the tests' own tools and the disk.
pub fn check_all() -> Vec<Check> {
    let docker = docker_command();
    let mut checks: Vec<Check> = samples::tools()
        .into_iter()
        .flat_map(|tool| check_tool(tool, &docker))
        .collect();
    checks.extend(test_tools());
    checks.push(check_disk());
    checks
}

/// How one program a step declares is checked: its version, the least that serves, the fix.
fn check_tool(tool: Tool, docker: &dyn Fn() -> Cmd) -> Vec<Check> {
    let check = match tool {
        Tool::Git => program("git", "--version", (2, 0, 0), "apt-get install git", true),
        Tool::Tar => program("tar", "--version", (1, 0, 0), "apt-get install tar", true),
        Tool::Docker => {
            let engine = check_docker(docker);
            let buildx = if is_not_running(&engine) {
                buildx_without_engine()
            } else {
                check_buildx(docker)
            };
            return vec![engine, buildx];
        }
        Tool::Trivy => program("trivy", "--version", (0, 50, 0), SETUP, true),
        // Helm 4.1.4: its `helm package` keeps only the files' own times (which the release
        // sets to the commit's), and it fixes GHSA-hr2v-4r36-88hr.
        Tool::Helm => program("helm", "version --short", (4, 1, 4), SETUP, true),
        // Optional: without it the verification says its Helm 3 rendering was skipped.
        Tool::Helm3 => program(
            "helm3",
            "version --short",
            (3, 19, 0),
            "cargo xtask setup (Helm 3.19 as `helm3`, for the chart's compatibility check)",
            false,
        ),
        Tool::Cosign => simple("cosign", cosign_version(), (2, 0, 0), SETUP, true),
        // Only a keyless verification runs it, on GitHub's runners, which have it.
        Tool::Gh => program(
            "gh",
            "--version",
            (2, 0, 0),
            "GitHub's runners have it; elsewhere only a keyless verification needs it (apt-get install gh)",
            false,
        ),
        Tool::NodeSkopeo => program(
            "skopeo-sigstore",
            "--version",
            (1, 18, 0),
            "cargo xtask setup (trixie's skopeo, for checking signatures as CRI-O does)",
            false,
        ),
        // The standards' validators: the release checks its SBOMs, provenance and VEX
        // documents with them before it publishes anything.
        Tool::Validators => simple(
            "validators",
            validate::python_versions(),
            // The first cyclonedx-python-lib that knows CycloneDX 1.7, which Trivy writes.
            (11, 12, 0),
            "cargo xtask setup (in-toto-attestation, cyclonedx-python-lib, jsonschema from PyPI)",
            true,
        ),
    };
    vec![check]
}

/// What only the tests run: the SARIF validator (the release writes SARIF, the tests judge
/// it), the registry and node clients, and the workflow simulation.
fn test_tools() -> Vec<Check> {
    let sarif = simple(
        "sarif-multitool",
        validate::sarif_version(),
        (5, 7, 0),
        "cargo xtask setup (@microsoft/sarif-multitool from npm; tests only)",
        false,
    );
    let programs = [
        ("skopeo", (1, 0, 0), "apt-get install skopeo (tests only)"),
        ("ctr", (1, 6, 0), "apt-get install containerd (tests only)"),
        (
            "act",
            (0, 2, 89),
            "cargo xtask setup (workflow simulation and its tests)",
        ),
    ];
    let programs = programs.map(|(name, min, fix)| program(name, "--version", min, fix, false));
    [sarif].into_iter().chain(programs).collect()
}

/// Prints the table; fails when a release cannot run here.
pub fn run() -> anyhow::Result<()> {
    let checks = check_all();
    let mut ready = true;
    for c in &checks {
        println!(
            "{:<14} {:<22} {}",
            c.name,
            status(c),
            c.found.as_deref().unwrap_or("-")
        );
        if let Some(problem) = &c.problem {
            println!("{:<14} problem: {problem}", "");
            println!("{:<14} fix: {}", "", c.fix);
        }
        ready &= c.ok() || !c.required;
    }
    println!();
    if !ready {
        anyhow::bail!("a release cannot run here until the problems above are fixed");
    }
    println!("A release can run here.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions_from_tool_output() {
        assert_eq!(parse_version("Version: 0.76.0"), Some((0, 76, 0)));
        assert_eq!(parse_version("v3.17.2+gcc0bbbd"), Some((3, 17, 2)));
        assert_eq!(
            parse_version("github.com/docker/buildx 0.13.1 0.13.1+ds1"),
            Some((0, 13, 1))
        );
        assert_eq!(parse_version("skopeo version 1.9.3"), Some((1, 9, 3)));
        assert_eq!(parse_version("26.1.5+dfsg1"), Some((26, 1, 5)));
        assert_eq!(parse_version("nothing"), None);
    }

    #[test]
    fn a_stopped_engine_is_not_running_and_a_missing_tool_is_missing() {
        let stopped = Check {
            name: "docker",
            found: Some("Docker version 26.1.5; /usr/sbin/dockerd installed, not running".into()),
            problem: Some("the Docker engine is installed but does not answer".into()),
            fix: ENV_UP,
            required: true,
        };
        assert_eq!(status(&stopped), "NOT RUNNING");
        let buildx = buildx_without_engine();
        assert_eq!(status(&buildx), "NOT RUNNING");
        assert!(
            buildx.fix.starts_with("cargo xtask env up"),
            "{}",
            buildx.fix
        );
        let missing = Check {
            name: "trivy",
            found: None,
            problem: Some("No such file or directory".into()),
            fix: SETUP,
            required: true,
        };
        assert_eq!(status(&missing), "MISSING");
        assert!(missing.fix.starts_with("cargo xtask setup"));
    }

    #[test]
    fn minimums_are_enforced() {
        assert!(at_least(Some((3, 7, 9)), (3, 8, 0), "helm")
            .unwrap()
            .contains("older"));
        assert!(at_least(Some((3, 8, 0)), (3, 8, 0), "helm").is_none());
    }
}
