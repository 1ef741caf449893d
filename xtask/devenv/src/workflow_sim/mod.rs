//! The GitHub workflows, run here by act (nektos/act, host mode: no runner image) against the
//! local environment, before GitHub ever runs them: job order, `needs`, outputs, `if:`
//! conditions, `env:` expressions, event payloads and inputs all execute for real.
//!
//! Each job gets what GitHub gives it and no more (`grants`): a `GITHUB_TOKEN` with its own
//! `permissions:`, which the GHCR stand-in (`ghcr`) and GitHub's API stand-in (`github`)
//! honour as GitHub does; an OIDC identity only with `id-token: write` (the environment's
//! key pair standing in for what Sigstore would certify); `GITHUB_REF`, `GITHUB_SHA` and
//! `GITHUB_WORKFLOW_REF` as GitHub sets them for the event. The runner's environment starts
//! empty but for the machine's paths. Every `uses:` is served by a stand-in from
//! `xtask/tests/fixtures/actions` that refuses what the real action refuses.

mod act;
pub mod ghcr;
pub mod github;
pub mod grants;
mod outcome;
pub mod serve;
mod wheels;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use github::GithubStandin;
pub use outcome::{Outbox, SimRun};

use crate::localenv::EnvState;
use kube9_release::cmd::Cmd;
use kube9_release::workspace;

/// The GitHub repository the simulated workflows run in.
pub const REPOSITORY: &str = "alto9/kube9-operator";

/// The event a workflow runs for.
#[derive(Debug, Clone)]
pub enum Event {
    /// A published GitHub release of `tag`.
    Release {
        tag: String,
        prerelease: bool,
    },
    /// `workflow_dispatch` of `version`, started from `git_ref` (`refs/heads/main`, or the tag
    /// itself: `gh workflow run release.yml --ref v1.2.3`).
    Dispatch {
        version: String,
        git_ref: String,
    },
    PullRequest,
    /// `workflow_dispatch` of withdraw.yml from `refs/heads/main` (where it must run): withdraw
    /// `version` for `reason`, or lift its withdrawal with `undo`.
    Withdraw {
        version: String,
        reason: String,
        undo: bool,
    },
}

impl Event {
    fn name(&self) -> &'static str {
        match self {
            Event::Release { .. } => "release",
            Event::Dispatch { .. } | Event::Withdraw { .. } => "workflow_dispatch",
            Event::PullRequest => "pull_request",
        }
    }

    fn workflow(&self) -> &'static str {
        match self {
            Event::PullRequest => "ci.yml",
            Event::Withdraw { .. } => "withdraw.yml",
            _ => "release.yml",
        }
    }

    /// `GITHUB_REF` as GitHub sets it for the event (act reads it from the payload).
    fn git_ref(&self) -> String {
        match self {
            Event::Release { tag, .. } => kube9_release::version::tag_ref(tag),
            Event::Dispatch { git_ref, .. } => git_ref.clone(),
            Event::PullRequest => "refs/pull/1/merge".into(),
            Event::Withdraw { .. } => "refs/heads/main".into(),
        }
    }

    /// `GITHUB_WORKFLOW_REF`: the workflow file at the event's ref.
    fn workflow_ref(&self) -> String {
        format!(
            "{REPOSITORY}/.github/workflows/{}@{}",
            self.workflow(),
            self.git_ref()
        )
    }

    fn payload(&self, release_id: Option<u64>) -> serde_json::Value {
        let repository = serde_json::json!({"full_name": REPOSITORY, "visibility": "public"});
        match self {
            Event::Release { tag, prerelease } => serde_json::json!({
                "action": "published",
                "release": {"id": release_id, "tag_name": tag, "prerelease": prerelease, "draft": false},
                "repository": repository,
            }),
            Event::Dispatch { version, git_ref } => serde_json::json!({
                "inputs": {"version": version}, "ref": git_ref, "repository": repository,
            }),
            Event::PullRequest => serde_json::json!({
                "number": 1, "pull_request": {"number": 1}, "repository": repository,
            }),
            Event::Withdraw {
                version,
                reason,
                undo,
            } => serde_json::json!({
                "inputs": {"version": version, "reason": reason, "use": "", "undo": undo},
                "ref": "refs/heads/main", "repository": repository,
            }),
        }
    }
}

/// How one run differs: the repository variables, only one job, more runner environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions<'a> {
    pub vars: &'a [(&'a str, &'a str)],
    pub job: Option<&'a str>,
    pub env: &'a [(&'a str, &'a str)],
}

/// A simulation: a clone of the commit under test, in which workflows run against a local
/// environment, with GitHub's API and GHCR stood in for.
pub struct Sim {
    pub dir: PathBuf,
    pub repo: PathBuf,
    env: EnvState,
    github: GithubStandin,
    /// `127.0.0.1:PORT` of the GHCR stand-in, in front of the environment's registry behind a
    /// login.
    ghcr: String,
    /// Where the workflows' `cargo build` goes (`runner_target_dir`).
    target_dir: PathBuf,
    /// Where pip in the workflows finds the wheels the commit pins (`wheels::wheelhouse`).
    wheels: PathBuf,
    /// The commit under test's time (seconds): what the checkout stand-in dates every file.
    source_time: String,
    runs: std::cell::Cell<usize>,
}

fn git(repo: &Path) -> Cmd {
    Cmd::new("git")
        .opt("-C", repo.display().to_string())
        .env("GIT_AUTHOR_NAME", "workflow-sim")
        .env("GIT_AUTHOR_EMAIL", "workflow-sim@localhost")
        .env("GIT_COMMITTER_NAME", "workflow-sim")
        .env("GIT_COMMITTER_EMAIL", "workflow-sim@localhost")
}

impl Sim {
    /// Clones this repository's HEAD (the commit under test) into `dir/repo`.
    pub fn new(dir: &Path, env: &EnvState) -> Result<Sim> {
        Self::at(dir, env, "HEAD")
    }

    /// A simulation of `revision`'s workflows and code (the stand-ins are this checkout's).
    pub fn at(dir: &Path, env: &EnvState, revision: &str) -> Result<Sim> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        let repo = dir.join("repo");
        Cmd::new("git")
            .args(["clone", "--quiet"])
            .arg(workspace::root().display().to_string())
            .arg(repo.display().to_string())
            .read()
            .context("cannot clone the commit under test")?;
        let commit = workspace_commit(revision)?;
        git(&repo)
            .args(["checkout", "--quiet", "-B", "main", &commit])
            .read()
            .with_context(|| format!("cannot check out {revision} in the simulation"))?;
        let source_time = read_line(git(&repo).args(["log", "-1", "--format=%ct", &commit]))?;
        let wheels = wheels::wheelhouse(&repo)?;
        let github = GithubStandin::start();
        let ghcr = ghcr::start(
            &env.auth_registry.address(),
            &env.auth_user,
            &env.auth_password(),
            &github,
        );
        Ok(Sim {
            dir: dir.to_path_buf(),
            repo,
            env: env.clone(),
            github,
            ghcr,
            target_dir: runner_target_dir(&commit)?,
            wheels,
            source_time,
            runs: std::cell::Cell::new(0),
        })
    }

    /// GitHub's API, as the simulated workflows saw it: issues, attestations, uploads, releases.
    pub fn github(&self) -> &GithubStandin {
        &self.github
    }

    /// Where the simulated workflows find "GHCR": `127.0.0.1:PORT`.
    pub fn ghcr(&self) -> &str {
        &self.ghcr
    }

    /// The same repository in the registry behind the GHCR stand-in, for reading what the
    /// workflows published with the environment's own login.
    pub fn behind_ghcr(&self, repository: &str) -> String {
        repository.replacen(&self.ghcr, &self.env.auth_registry.address(), 1)
    }

    /// Commits a fast fixture in place of the operator's Dockerfile: the fixture app, built
    /// with cargo-auditable like the operator, its crate at the version with the fixture
    /// database's CRITICAL advisory (`vulnerable`) or the fixed one.
    pub fn use_fixture_app(&self, vulnerable: bool) -> Result<()> {
        let app = self.repo.join("fixture-app");
        let fixture = workspace::root().join("xtask/tests/fixtures/trivy-db-cargo/app");
        crate::cp("-a", &fixture, &app).read()?;
        if !vulnerable {
            fix_the_crate(&app)?;
        }
        std::fs::write(
            self.repo.join("Dockerfile"),
            fixture_dockerfile(&rust_base()?, "fixture-app"),
        )?;
        std::fs::write(self.repo.join(".dockerignore"), "target\n")?;
        git(&self.repo).args(["add", "-A"]).read()?;
        let what = if vulnerable { "vulnerable" } else { "fixed" };
        self.commit(
            "-m",
            &format!("workflow-sim: the {what} fixture app instead of the operator"),
        )
    }

    /// `git commit` in the clone at the time of the commit under test: a simulation's own
    /// commits (the fixture app, a changelog entry) are then the same commits in every run, and
    /// so are the images built from them. Dated now, each run's tag commit was new, and the
    /// image job compiled the operator again for the commit it embeds (12 s of CPU a run).
    fn commit(&self, flags: &str, message: &str) -> Result<()> {
        let date = format!("@{} +0000", self.source_time);
        git(&self.repo)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", date)
            .args(["commit", "--quiet", flags, message])
            .read()?;
        Ok(())
    }

    /// A release tag, as a maintainer makes one: a stable version's CHANGELOG.md entry
    /// committed first (when the clone has a changelog without one; a pre-release lists its
    /// changes under Unreleased), then a lightweight tag at the clone's HEAD.
    pub fn tag(&self, tag: &str) -> Result<()> {
        self.add_changelog_entry(tag)?;
        git(&self.repo).args(["tag", "--force", tag]).read()?;
        Ok(())
    }

    fn add_changelog_entry(&self, tag: &str) -> Result<()> {
        let path = self.repo.join("CHANGELOG.md");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let version = tag.trim_start_matches('v');
        let stable = semver::Version::parse(version).is_ok_and(|v| v.pre.is_empty());
        if !stable || text.contains(&format!("## [{version}]")) {
            return Ok(());
        }
        std::fs::write(&path, with_entry(&text, version))?;
        self.commit(
            "-am",
            &format!("workflow-sim: CHANGELOG.md entry for {version}"),
        )
    }

    pub fn head(&self) -> Result<String> {
        read_line(git(&self.repo).args(["rev-parse", "HEAD"]))
    }

    /// Runs the event's workflow.
    pub fn run(&self, event: &Event, options: &RunOptions) -> Result<SimRun> {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let run_dir = self.dir.join(format!("run-{n}"));
        for sub in ["outbox", "home", "artifacts"] {
            std::fs::create_dir_all(run_dir.join(sub))?;
        }
        let cmd = act::command(self, &run_dir, event, options)?;
        eprintln!("==> act {} {} ({})", event.name(), event.workflow(), cmd);
        let out = cmd.output()?;
        let log = format!("{}{}", out.stdout, out.stderr);
        eprintln!("{log}");
        Ok(SimRun {
            success: out.success,
            log,
            outbox: Outbox::read(&run_dir.join("outbox"))?,
        })
    }
}

/// The changelog with a section for `version` before its first released one (after
/// Unreleased).
fn with_entry(text: &str, version: &str) -> String {
    let entry = format!(
        "## [{version}] - 2026-12-02\n\n### Added\n\n- The simulated release {version}.\n\n"
    );
    let released = text
        .match_indices("\n## [")
        .map(|(i, _)| i + 1)
        .find(|&i| !text[i..].starts_with("## [Unreleased]"));
    // Else before the link references at the bottom (`[unreleased]: https://...`).
    let links = || {
        text.match_indices("\n[")
            .map(|(i, _)| i + 1)
            .find(|&i| text[i..].lines().next().is_some_and(|l| l.contains("]: ")))
    };
    match released.or_else(links) {
        Some(i) => format!("{}{entry}{}", &text[..i], &text[i..]),
        None => format!("{}\n\n{}\n", text.trim_end(), entry.trim_end()),
    }
}

/// The commit `revision` names in this checkout.
fn workspace_commit(revision: &str) -> Result<String> {
    let verify = format!("{revision}^{{commit}}");
    read_line(git(&workspace::root()).args(["rev-parse", "--verify", &verify]))
        .with_context(|| format!("{revision} is not a commit of this checkout"))
}

/// The one line `cmd` prints.
fn read_line(cmd: Cmd) -> Result<String> {
    Ok(cmd.read()?.trim().to_string())
}

/// The target directory the simulated runners build the release tool in, one per commit under
/// test: a directory of its own (so that their builds never replace the binary the tests run),
/// seeded once from `target/debug`'s dependencies (not the workspace's own
/// crates, which each commit compiles from its own sources). The checkout stand-in gives
/// every file its commit's time, so the first job's build of a commit serves every later job
/// of that commit, and a directory never holds another commit's build.
pub fn runner_target_dir(commit: &str) -> Result<PathBuf> {
    let target = workspace::root().join("target");
    let dir = target.join("workflow-sim-target").join(commit);
    let was_there = crate::staging::made_once(&dir, |staging| {
        std::fs::create_dir_all(staging.join("debug"))?;
        // The compiled crates by hard link (rustc replaces an output by renaming a new file
        // onto it); the build scripts' outputs and the fingerprints by copy (12 and 34 MB),
        // because cargo rewrites those in place: linked, a runner's rebuild rewrote
        // `target/debug`'s own and made the next `cargo test` rebuild ring and what depends
        // on it.
        for (part, how) in [("deps", "-al"), ("build", "-a"), (".fingerprint", "-a")] {
            let from = target.join("debug").join(part);
            if from.is_dir() {
                crate::cp(how, &from, &staging.join("debug"))
                    .read()
                    .context("cannot seed the simulated runners' target directory")?;
            }
            forget_workspace_crates(&staging.join("debug").join(part))?;
        }
        Ok(())
    })?;
    if was_there {
        // Used now: `forget_old_commits` keeps it.
        let _ =
            std::fs::File::open(&dir).and_then(|d| d.set_modified(std::time::SystemTime::now()));
    } else {
        forget_old_commits(dir.parent().expect("under workflow-sim-target"));
    }
    Ok(dir)
}

/// Each commit's directory holds a build of the workspace (a gigabyte or more): those no
/// simulation has used for a day go, and of the rest only the most recently used
/// `KEPT_COMMITS` stay (the commit under test, the old one the strictness test runs, and
/// the one before), so that a day of commits does not fill the disk.
fn forget_old_commits(parent: &Path) {
    let dirs: Vec<(PathBuf, std::time::Duration)> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let age = entry.metadata().ok()?.modified().ok()?.elapsed().ok()?;
            Some((entry.path(), age))
        })
        .collect();
    for dir in commits_to_forget(dirs) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

const KEPT_COMMITS: usize = 3;

/// Which of `dirs` (each with the time since a simulation last used it) go. A staging
/// directory (`<commit>.<pid>`, another process seeding it right now) is judged by its age
/// alone.
fn commits_to_forget(mut dirs: Vec<(PathBuf, std::time::Duration)>) -> Vec<PathBuf> {
    let day = std::time::Duration::from_secs(24 * 3600);
    dirs.sort_by_key(|(_, age)| *age);
    let mut kept = 0;
    let mut forget = Vec::new();
    for (dir, age) in dirs {
        let staging = dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains('.'));
        if age > day || (!staging && kept >= KEPT_COMMITS) {
            forget.push(dir);
        } else if !staging {
            kept += 1;
        }
    }
    forget
}

/// The workspace's crates, as their artifacts and fingerprints are named.
const WORKSPACE_CRATES: [&str; 5] = [
    "kube9_release",
    "kube9_devenv",
    "kube9_operator",
    "xtask",
    "kube9_release_cli",
];

/// Removes what `target/debug` built of the workspace's own crates from a seeded directory:
/// they come from the working tree, which need not be the commit under test.
fn forget_workspace_crates(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().replace('-', "_");
        let name = name.trim_start_matches("lib");
        if WORKSPACE_CRATES.iter().any(|c| {
            name.strip_prefix(c)
                .is_some_and(|rest| rest.starts_with('_') || rest.starts_with('.'))
        }) {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

/// The Rust base image the project's Dockerfile names (fixtures build from the same one).
pub fn rust_base() -> Result<String> {
    let dockerfile = std::fs::read_to_string(workspace::root().join("Dockerfile"))?;
    crate::localenv::external_bases(&dockerfile)
        .into_iter()
        .find(|image| image.contains("/rust:"))
        .context("the Dockerfile names no Rust base image")
}

/// A Dockerfile that builds the fixture app in `app_dir` with cargo-auditable (the same
/// stages as the operator's, so BuildKit shares them) and puts it in an empty image. Both
/// platforms carry the same build-machine binary: the gate reads the crate list it embeds,
/// nothing runs it.
pub fn fixture_dockerfile(rust_base: &str, app_dir: &str) -> String {
    format!(
        "FROM --platform=$BUILDPLATFORM {rust_base} AS rust\n\
         FROM rust AS auditable\n\
         RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry \\\n    \
         CARGO_PROFILE_DEV_DEBUG=0 cargo install cargo-auditable --locked --version 0.7.7 --debug --root /opt/cargo-auditable\n\
         FROM rust AS build\n\
         COPY --from=auditable /opt/cargo-auditable/bin/cargo-auditable /usr/local/cargo/bin/\n\
         WORKDIR /app\n\
         COPY {app_dir}/ ./\n\
         RUN cargo auditable build --release --locked --offline\n\
         FROM scratch\n\
         COPY --from=build /app/target/release/fixture-app /usr/local/bin/fixture-app\n"
    )
}

/// The fixture crate at 1.0.1, which the fixture database's advisory spares.
fn fix_the_crate(app: &Path) -> Result<()> {
    for (file, before, after) in [
        ("kube9-fixture-vulnerable/Cargo.toml", "version = \"", "\""),
        (
            "Cargo.lock",
            "name = \"kube9-fixture-vulnerable\"\nversion = \"",
            "\"",
        ),
        ("Cargo.toml", "version = \"", "\" }"),
    ] {
        let path = app.join(file);
        let text = std::fs::read_to_string(&path)?;
        let [old, new] = ["1.0.0", "1.0.1"].map(|v| format!("{before}{v}{after}"));
        std::fs::write(&path, text.replace(&old, &new))?;
    }
    Ok(())
}

#[cfg(test)]
mod changelog_tests {
    #[test]
    fn a_simulated_release_gets_its_section_after_unreleased() {
        let project = include_str!("../../../../CHANGELOG.md");
        let text = super::with_entry(project, "1.2.3");
        let log = kube9_release::changelog::parse("CHANGELOG.md", &text).unwrap();
        let v = semver::Version::parse("1.2.3").unwrap();
        assert_eq!(log.entry_for(&v).unwrap().changes.len(), 1);
        let older = super::with_entry(&text, "1.2.4");
        let log = kube9_release::changelog::parse("CHANGELOG.md", &older).unwrap();
        assert!(log
            .entry_for(&semver::Version::parse("1.2.4").unwrap())
            .is_ok());
        assert!(log.entry_for(&v).is_ok());
    }
}

#[cfg(test)]
mod runner_target_tests {
    use std::path::PathBuf;
    use std::time::Duration;

    fn dir(name: &str, minutes: u64) -> (PathBuf, Duration) {
        (PathBuf::from(name), Duration::from_secs(minutes * 60))
    }

    #[test]
    fn the_three_most_recently_used_commits_stay_and_a_day_old_one_goes() {
        let forget = super::commits_to_forget(vec![
            dir("old", 25 * 60),
            dir("d", 40),
            dir("a", 1),
            dir("b", 5),
            dir("c", 30),
            dir("c.1234", 0),
            dir("b.99", 25 * 60),
        ]);
        assert_eq!(
            forget,
            [
                PathBuf::from("d"),
                PathBuf::from("old"),
                PathBuf::from("b.99")
            ]
        );
    }
}
