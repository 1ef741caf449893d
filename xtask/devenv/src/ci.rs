//! `cargo xtask ci`: the whole suite on a fresh Debian machine or a prepared laptop. Installs
//! what is missing, starts the local environment, runs fmt, clippy and every test against it,
//! and stops what it started. `.ci/run` calls exactly this.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use crate::{disk, localenv, setup};
use kube9_release::cmd::Cmd;
use kube9_release::{tools, workspace};

/// Test groups, by the prefix of their file in `xtask/tests/`, and what they need.
pub const GROUPS: &[(&str, &str)] = &[
    ("registry", "two local registries, skopeo, cosign"),
    ("helm", "helm (Helm 4), helm3 (Helm 3.19) and a registry"),
    ("trivy", "trivy and the database served by the registry"),
    (
        "docker",
        "a Docker engine with buildx for linux/amd64 and linux/arm64, ctr, trivy, helm, cosign",
    ),
    (
        "workflows",
        "actionlint, zizmor and cosign (the attest stand-in signs)",
    ),
    (
        "act",
        "act, and the local environment's engine, registries, trivy, helm and cosign",
    ),
];

struct Phases(Vec<(String, f64, bool)>);

impl Phases {
    fn time<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.time_judged(name, f, |_| true)
    }

    /// Like `time`, for a phase that can end without an error and still have failed.
    fn time_judged<T>(
        &mut self,
        name: &str,
        f: impl FnOnce() -> Result<T>,
        passed: impl FnOnce(&T) -> bool,
    ) -> Result<T> {
        eprintln!("\n=== {name}");
        let start = Instant::now();
        let result = f();
        let secs = start.elapsed().as_secs_f64();
        let ok = result.as_ref().is_ok_and(passed);
        self.0.push((name.to_string(), secs, ok));
        eprintln!(
            "=== {name}: {} in {secs:.1}s",
            if ok { "ok" } else { "FAILED" }
        );
        result
    }
}

fn cargo(args: impl IntoIterator<Item = impl Into<String>>, vars: &[(String, String)]) -> Cmd {
    let cmd = Cmd::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let cmd = cmd.args(args).dir(workspace::root());
    vars.iter().fold(cmd, |cmd, (k, v)| cmd.env(k, v))
}

fn in_groups(target: &str, groups: &[String]) -> bool {
    groups.iter().any(|g| target.starts_with(g.as_str()))
}

/// The test targets (of `targets`, the workspace's) that belong to the skipped groups.
fn skipped_targets<'a>(targets: &'a [String], skip: &[String]) -> Vec<&'a String> {
    targets.iter().filter(|t| in_groups(t, skip)).collect()
}

/// The cargo invocation that lists, without running, the tests of the skipped targets: each
/// one counts as skipped in the suite's last line.
fn listing_invocation(skipped: &[&String]) -> Option<Vec<String>> {
    if skipped.is_empty() {
        return None;
    }
    let mut args = with_targets(vec!["test".into(), "--workspace".into()], skipped);
    args.extend(["--", "--list", "--format", "terse"].map(String::from));
    Some(args)
}

/// `args` and `--test NAME` for each of `targets`.
fn with_targets(mut args: Vec<String>, targets: &[impl ToString]) -> Vec<String> {
    for t in targets {
        args.push("--test".into());
        args.push(t.to_string());
    }
    args
}

/// A test named by `--list --format terse` (`name: test`), not a benchmark or a summary.
fn listed_test(line: &str) -> Option<&str> {
    line.strip_suffix(": test")
}

/// Counts the tests of the skipped targets, naming each on stderr.
fn count_skipped(targets: &[String], skip: &[String], vars: &[(String, String)]) -> Result<u64> {
    let Some(args) = listing_invocation(&skipped_targets(targets, skip)) else {
        return Ok(0);
    };
    let listing = cargo(&args, vars)
        .read()
        .context("listing the tests of the skipped groups failed: they must compile to be counted as skipped")?;
    let names: Vec<&str> = listing.lines().filter_map(listed_test).collect();
    for name in &names {
        eprintln!("skipped (group not run on request): {name}");
    }
    Ok(names.len() as u64)
}

/// The test binary of the workflow simulation, which runs beside the others.
const SIMULATION: &str = "act_workflows";

/// The test binaries that run after the simulation in its lane, so that the two lanes end
/// together: in a second run the simulation takes 115-125 s beside the other lane, these
/// about 36 s more, and the other lane about as long as all of them (docs/benchmarks.md).
const AFTER_SIMULATION: [&str; 3] = ["docker_release_chart", "docker_environments", "docker_vex"];

/// The cargo runs of the suite: one build of every test, then two lanes at once: the workflow
/// simulation and the binaries that follow it, and every other test binary, one after
/// another. The simulation often waits on its jobs, containers and registries. Every run
/// names the whole workspace, so each resolves features as the build did and none compiles
/// again.
#[derive(Debug, PartialEq)]
struct TestRuns {
    build: Vec<String>,
    simulation: Option<Vec<String>>,
    rest: Vec<Vec<String>>,
}

/// `targets` are the workspace's integration test targets; those of the skipped groups run
/// nowhere (they are listed as skipped).
fn test_runs(targets: &[String], skip: &[String]) -> TestRuns {
    let base = |extra: &[&str]| -> Vec<String> {
        ["test", "--workspace", "--no-fail-fast"]
            .iter()
            .chain(extra)
            .map(|a| a.to_string())
            .collect()
    };
    let run: Vec<&String> = targets.iter().filter(|t| !in_groups(t, skip)).collect();
    let simulated = run.iter().any(|t| *t == SIMULATION);
    let in_simulation_lane =
        |t: &&String| *t == SIMULATION || (simulated && AFTER_SIMULATION.contains(&t.as_str()));
    let (lane, others): (Vec<&String>, Vec<&String>) =
        run.into_iter().partition(in_simulation_lane);
    TestRuns {
        build: vec!["test".into(), "--workspace".into(), "--no-run".into()],
        // cargo runs a run's binaries by name: the simulation, the longest, first.
        simulation: simulated.then(|| with_targets(base(&[]), &lane)),
        rest: vec![
            with_targets(base(&["--lib", "--bins"]), &others),
            base(&["--doc"]),
        ],
    }
}

/// What the suite reads of the workspace, by one `cargo metadata`: the integration test
/// targets of every package, and the tests' scratch directory (`CARGO_TARGET_TMPDIR`, under
/// the target directory wherever `CARGO_TARGET_DIR` puts it).
struct Workspace {
    test_targets: Vec<String>,
    scratch: PathBuf,
}

fn read_workspace(vars: &[(String, String)]) -> Result<Workspace> {
    let json = cargo(["metadata", "--no-deps", "--format-version", "1"], vars).read()?;
    let metadata: serde_json::Value =
        serde_json::from_str(&json).context("cargo metadata printed no JSON")?;
    let mut test_targets = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_test = target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "test"));
            if let (true, Some(name)) = (is_test, target["name"].as_str()) {
                test_targets.push(name.to_string());
            }
        }
    }
    test_targets.sort();
    let target_dir = metadata["target_directory"]
        .as_str()
        .context("cargo metadata names no target directory")?;
    Ok(Workspace {
        test_targets,
        scratch: Path::new(target_dir).join("tmp"),
    })
}

/// Adds one `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line to the totals.
fn count(line: &str, totals: &mut (u64, u64, u64)) {
    let Some(rest) = line.strip_prefix("test result: ") else {
        return;
    };
    for part in rest.split([';', '.']) {
        let mut words = part.split_whitespace();
        if let (Some(n), Some(what)) = (words.next(), words.next()) {
            let n: u64 = n.parse().unwrap_or(0);
            match what {
                "passed" => totals.0 += n,
                "failed" => totals.1 += n,
                "ignored" => totals.2 += n,
                _ => {}
            }
        }
    }
}

/// A cargo run that failed without counting a failed test: a build failure or a crash, which
/// print no count of their own.
fn unreported_failure(success: bool, failed: u64) -> bool {
    !success && failed == 0
}

type Totals = (u64, u64, u64);

/// One cargo test run: its `test result:` lines added up, and each line handed to `echo`.
fn run_counted(
    args: &[String],
    vars: &[(String, String)],
    mut echo: impl FnMut(String),
) -> Result<Totals> {
    let mut totals = (0, 0, 0);
    let mut child = cargo(args, vars).spawn(Stdio::piped(), Stdio::inherit())?;
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        count(&line, &mut totals);
        echo(line);
    }
    let status = child.wait()?;
    if unreported_failure(status.success(), totals.1) {
        echo(format!(
            "cargo {} ended with {status} and reported no failed test: a compile error or a \
             crash (see above); counted as one failure",
            args.join(" ")
        ));
        totals.1 += 1;
    }
    Ok(totals)
}

fn add(totals: &mut Totals, more: Totals) {
    totals.0 += more.0;
    totals.1 += more.1;
    totals.2 += more.2;
}

/// Builds the tests, then runs the two lanes: the other binaries' output as it comes, the
/// simulation's (its jobs' whole logs) in one piece when it ends.
fn run_tests(targets: &[String], skip: &[String], vars: &[(String, String)]) -> Result<Totals> {
    let runs = test_runs(targets, skip);
    cargo(&runs.build, vars)
        .run()
        .context("the tests do not build")?;
    let simulation = runs.simulation.map(|args| {
        eprintln!(
            "the workflow simulation (and what follows it in its lane) runs beside the other tests: cargo {}",
            args.join(" ")
        );
        let vars = vars.to_vec();
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            let totals = run_counted(&args, &vars, |l| lines.push(l));
            (totals, lines)
        })
    });
    let mut totals = (0, 0, 0);
    for args in &runs.rest {
        add(&mut totals, run_counted(args, vars, |l| println!("{l}"))?);
    }
    if let Some(lane) = simulation {
        let (result, lines) = lane
            .join()
            .map_err(|_| anyhow::anyhow!("the simulation's lane panicked"))?;
        println!("\n=== the workflow simulation's lane's output");
        for line in lines {
            println!("{line}");
        }
        add(&mut totals, result?);
    }
    Ok(totals)
}

/// The suite, but for the test groups in `skip`; with `no_install`, nothing is installed (a
/// missing tool fails it).
pub fn run(skip: &[String], no_install: bool) -> Result<()> {
    check_groups(skip)?;
    forget_cargo_run_vars();
    let started = Instant::now();
    let mut phases = Phases(Vec::new());
    if no_install {
        eprintln!("installing nothing (--no-install)");
    } else {
        for line in phases.time("setup", setup::run)? {
            eprintln!("  {line}");
        }
    }
    let needs_env = GROUPS
        .iter()
        .any(|(g, _)| *g != "workflows" && !skip.iter().any(|s| s == g));
    let env_dir = super::ci_env_dir();
    let state = if needs_env {
        let docker = !skip.iter().any(|s| s == "docker");
        Some(phases.time("environment up", || localenv::up(&env_dir, docker))?)
    } else {
        None
    };
    let vars = test_vars(state.as_ref());
    let engine_dir = state.as_ref().and_then(localenv::EnvState::engine_data_dir);
    let result = checks_and_tests(&mut phases, skip, &vars, engine_dir);
    if state.is_some() {
        let _ = phases.time("environment down", || localenv::down(&env_dir));
    }
    summary(&phases, started, skip);
    let (passed, failed, ignored) = result?;
    println!("ci: {passed} passed, {failed} failed, {ignored} skipped");
    ensure!(failed == 0, "{failed} tests failed");
    Ok(())
}

/// What `cargo run` sets for the package it runs (`cargo xtask` is one), which this process
/// would pass to every cargo it starts.
fn set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || [
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
        ]
        .contains(&name)
}

/// A build script that declares one of them (ring declares CARGO_MANIFEST_DIR) reruns when
/// its value differs from the last build's: with xtask's values, the suite's clippy and
/// test builds rebuilt ring and the TLS stack after every plain `cargo build`, and back.
fn forget_cargo_run_vars() {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_run) {
            // At start-up, before this process starts any thread.
            std::env::remove_var(name);
        }
    }
}

fn check_groups(skip: &[String]) -> Result<()> {
    for g in skip {
        if !GROUPS.iter().any(|(name, _)| name == g) {
            bail!(
                "unknown test group `{g}`: the groups are {}",
                GROUPS.iter().map(|g| g.0).collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(())
}

/// Tests run at once in each test binary, unless `RUST_TEST_THREADS` says otherwise: one more
/// than the machine's cores (libtest's default is one per core). The tests spend much of
/// their time waiting (on registries, retries' backoff, containers, the simulation's jobs):
/// with one per core, the 2-core machine sat a fifth idle; with three, a second run took
/// about 8 s less (docs/benchmarks.md, "The test suite").
fn test_threads() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores + 1).to_string()
}

/// What the tests read: the environment's addresses, or without one the tools' PATH; and how
/// many tests run at once.
fn test_vars(state: Option<&localenv::EnvState>) -> Vec<(String, String)> {
    let path = || tools::search_path().to_string_lossy().into_owned();
    let mut vars = state.map_or_else(|| vec![("PATH".into(), path())], |s| s.exports());
    if std::env::var_os("RUST_TEST_THREADS").is_none() {
        vars.push(("RUST_TEST_THREADS".into(), test_threads()));
    }
    vars
}

fn checks_and_tests(
    phases: &mut Phases,
    skip: &[String],
    vars: &[(String, String)],
    engine_dir: Option<PathBuf>,
) -> Result<(u64, u64, u64)> {
    let metadata = read_workspace(vars)?;
    // After `up`, which may have emptied an over-grown build cache.
    phases.time("disk space", || {
        forget_last_scratch(&metadata.scratch)?;
        disk::require_ci_room(&workspace::root(), engine_dir.as_deref())
    })?;
    phases.time("cargo fmt --check", || {
        cargo(["fmt", "--all", "--check"], vars).run()
    })?;
    let clippy = [
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ];
    phases.time("cargo clippy", || cargo(clippy, vars).run())?;
    let mut totals = phases.time_judged(
        "tests",
        || run_tests(&metadata.test_targets, skip, vars),
        |t| t.1 == 0,
    )?;
    let targets = &metadata.test_targets;
    totals.2 += phases.time("list skipped tests", || count_skipped(targets, skip, vars))?;
    Ok(totals)
}

/// Empties the tests' scratch directory (cargo's `CARGO_TARGET_TMPDIR`): the tests keep
/// their files there for a look after a failure, until the next run, which would otherwise
/// pile up a gigabyte or more each time.
fn forget_last_scratch(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| {
            format!(
                "cannot empty the last run's test scratch in {}: remove it by hand",
                dir.display()
            )
        }),
        _ => Ok(()),
    }
}

fn summary(phases: &Phases, started: Instant, skip: &[String]) {
    eprintln!("\nphases:");
    for (name, secs, ok) in &phases.0 {
        eprintln!(
            "  {name:<22} {secs:>7.1}s {}",
            if *ok { "ok" } else { "FAILED" }
        );
    }
    eprintln!(
        "  {:<22} {:>7.1}s",
        "total",
        started.elapsed().as_secs_f64()
    );
    if skip.is_empty() {
        eprintln!("skipped groups: none");
    }
    for g in skip {
        let needs = GROUPS.iter().find(|(n, _)| n == g).map_or("", |(_, d)| d);
        eprintln!("skipped group on request: {g} (needs {needs})");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packages_own_variables_are_not_passed_on_but_cargos_settings_are() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_BIN_NAME",
        ] {
            assert!(set_by_cargo_run(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_TERM_COLOR",
            "PATH",
        ] {
            assert!(!set_by_cargo_run(name), "{name}");
        }
    }

    #[test]
    fn only_a_failure_without_a_count_is_added() {
        assert!(unreported_failure(false, 0), "a compile error or a crash");
        assert!(!unreported_failure(false, 1), "counted by cargo already");
        assert!(!unreported_failure(true, 0));
    }

    #[test]
    fn a_phase_with_failed_tests_is_marked_failed() {
        let mut phases = Phases(Vec::new());
        // The counts reach the caller unchanged: it prints them and fails the run on them.
        let totals = phases.time_judged("tests", || Ok((3, 1, 0)), |t| t.1 == 0);
        assert_eq!(totals.unwrap(), (3, 1, 0));
        phases
            .time_judged("more", || Ok((3, 0, 0)), |t| t.1 == 0)
            .unwrap();
        let error = phases.time_judged("broken", || bail!("no count"), |_: &()| true);
        assert!(error.is_err());
        let marks: Vec<bool> = phases.0.iter().map(|p| p.2).collect();
        assert_eq!(marks, [false, true, false]);
    }

    #[test]
    fn counts_cargo_result_lines() {
        let mut totals = (0, 0, 0);
        count("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s", &mut totals);
        count(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
            &mut totals,
        );
        count("running 3 tests", &mut totals);
        assert_eq!(totals, (15, 2, 1));
    }

    fn names(run: &[String]) -> Vec<&str> {
        run.windows(2)
            .filter(|w| w[0] == "--test")
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn the_simulation_and_what_follows_it_run_in_one_lane_and_every_other_test_in_the_other() {
        let targets: Vec<String> = [
            "act_workflows",
            "cli",
            "docker_release_chart",
            "docker_smoke",
            "status",
        ]
        .map(String::from)
        .to_vec();
        let runs = test_runs(&targets, &[]);
        assert_eq!(runs.build, ["test", "--workspace", "--no-run"]);
        let simulation = runs.simulation.unwrap();
        assert_eq!(
            names(&simulation),
            ["act_workflows", "docker_release_chart"]
        );
        assert_eq!(names(&runs.rest[0]), ["cli", "docker_smoke", "status"]);
        assert!(runs.rest[0].contains(&"--lib".into()) && runs.rest[0].contains(&"--bins".into()));
        assert_eq!(
            runs.rest[1],
            ["test", "--workspace", "--no-fail-fast", "--doc"]
        );
        // Each run names the whole workspace, as the build did: no run compiles again.
        for run in std::iter::once(&simulation).chain(&runs.rest) {
            assert_eq!(
                run[..3],
                ["test", "--workspace", "--no-fail-fast"],
                "{run:?}"
            );
        }

        let runs = test_runs(&targets, &["docker".into(), "act".into()]);
        assert_eq!(runs.simulation, None);
        assert_eq!(names(&runs.rest[0]), ["cli", "status"]);

        // Without the simulation, the binaries that would follow it run in the other lane.
        let runs = test_runs(&targets, &["act".into()]);
        assert_eq!(runs.simulation, None);
        assert_eq!(
            names(&runs.rest[0]),
            ["cli", "docker_release_chart", "docker_smoke", "status"]
        );
    }

    #[test]
    fn the_last_runs_scratch_is_emptied_and_a_missing_one_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join("tmp");
        std::fs::create_dir_all(scratch.join("sim-1/repo")).unwrap();
        std::fs::write(scratch.join("sim-1/repo/file"), "x").unwrap();
        forget_last_scratch(&scratch).unwrap();
        assert!(!scratch.exists());
        forget_last_scratch(&scratch).unwrap();
    }

    #[test]
    fn the_binaries_after_the_simulation_exist() {
        let targets = read_workspace(&[]).unwrap().test_targets;
        for t in AFTER_SIMULATION {
            assert!(targets.contains(&t.to_string()), "{t} in {targets:?}");
        }
    }

    #[test]
    fn the_workspace_test_targets_include_every_test_file() {
        let workspace = read_workspace(&[]).unwrap();
        // Where cargo tells the tests to keep their scratch: the target directory's tmp.
        assert!(
            workspace.scratch.ends_with("tmp"),
            "{:?}",
            workspace.scratch
        );
        let targets = workspace.test_targets;
        let files = std::fs::read_dir(workspace::root().join("xtask/tests")).unwrap();
        for path in files.map(|e| e.unwrap().path()) {
            if path.extension().is_some_and(|e| e == "rs") {
                let t = path.file_stem().unwrap().to_string_lossy().to_string();
                assert!(targets.contains(&t), "{t} in {targets:?}");
            }
        }
        assert!(
            targets.contains(&"status".to_string()),
            "the operator's tests"
        );
    }

    #[test]
    fn a_skipped_group_is_listed_not_run() {
        let skip = ["docker".to_string(), "act".to_string()];
        let all = read_workspace(&[]).unwrap().test_targets;
        let skipped = skipped_targets(&all, &skip);
        assert!(skipped.contains(&&"docker_release_image".to_string()));
        assert!(skipped.contains(&&"act_workflows".to_string()));
        // Every target is run or listed, never neither.
        let runs = test_runs(&all, &skip);
        let mut both: Vec<&str> = names(&runs.rest[0]);
        both.extend(skipped.iter().map(|s| s.as_str()));
        both.sort();
        assert_eq!(both, all);
        let args = listing_invocation(&skipped).unwrap();
        let at = args.iter().position(|a| a == "--").unwrap();
        assert_eq!(args[at + 1..], ["--list", "--format", "terse"]);
        assert_eq!(
            args.iter().filter(|a| *a == "--test").count(),
            skipped.len()
        );
        assert_eq!(listing_invocation(&[]), None);
    }

    #[test]
    fn the_listing_counts_tests_only() {
        let listing = "a_registry_that_is_down_fails: test\nsigned::everything: test\n\
                       some_bench: bench\n2 tests, 1 benchmark\n";
        let names: Vec<&str> = listing.lines().filter_map(listed_test).collect();
        assert_eq!(
            names,
            ["a_registry_that_is_down_fails", "signed::everything"]
        );
    }
}
