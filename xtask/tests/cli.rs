//! The command line without any tool or network: `--dry-run` plans and input validation.

mod support;

use support::*;

fn dry_run(args: &[&str]) -> std::process::Output {
    let source = git_repo(
        "dry-run",
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("charts/kube9-operator/Chart.yaml.j2", ""),
        ],
    );
    // The fixture keeps no changelog: the named opt-out, where the command reads it.
    let changelog: &[&str] = if ["release", "release-image", "release-chart"].contains(&args[0]) {
        &["--skip-changelog"]
    } else {
        &[]
    };
    let mut all = args.to_vec();
    all.extend(changelog);
    without_tools(&source, &all)
}

/// The xtask on `source`, with no docker, no helm, no trivy and no registry: PATH holds git
/// only, DOCKER_HOST leads nowhere.
fn without_tools(source: &std::path::Path, args: &[&str]) -> std::process::Output {
    let git_dir = std::path::Path::new(
        &String::from_utf8(
            std::process::Command::new("sh")
                .args(["-c", "command -v git"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim(),
    )
    .parent()
    .unwrap()
    .to_path_buf();
    let empty = temp_dir("empty-path");
    std::os::unix::fs::symlink(git_dir.join("git"), empty.join("git")).unwrap();
    run(xtask()
        .args(args)
        .arg("--source")
        .arg(source)
        .env("PATH", &empty)
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .env_remove("GITHUB_ACTIONS"))
}

/// A release that would publish: no dry run, nothing signed (no key here).
const PUBLISH: &[&str] = &[
    "release-image",
    "--version",
    "v1.0.0",
    "--repository",
    "127.0.0.1:9/test/kube9-operator",
    "--no-sign",
];

const LOCK: &str =
    "version = 4\n\n[[package]]\nname = \"kube9-fixture-vulnerable\"\nversion = \"1.0.0\"\n";

#[test]
fn a_vex_file_that_breaks_a_rule_stops_the_release_before_anything_is_built() {
    let bad = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex", "author": "a", "timestamp": "2026-01-01T00:00:00Z",
  "version": 1,
  "statements": [
    {"vulnerability": {"name": "CVE-2099-0003"},
     "products": [{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}],
     "status": "not_affected", "justification": "because"}
  ]
}"#;
    let other_crate = bad
        .replace("\"because\"", "\"vulnerable_code_not_present\"")
        .replace("@1.0.0", "@1.0.2");
    for (file, wrong) in [
        (bad.to_string(), "security/vex.json:8: statements[0].justification: `because` is not a justification OpenVEX knows"),
        ("{ not json".to_string(), "security/vex.json:1:3:"),
        (other_crate, "security/vex.json:7: statements[0].products[0].@id: pkg:cargo/kube9-fixture-vulnerable@1.0.2: no crate kube9-fixture-vulnerable 1.0.2 in any Cargo.lock of the source; it has 1.0.0"),
    ] {
        let source = git_repo(
            "bad-vex",
            &[
                ("Dockerfile", "FROM scratch\n"),
                ("Cargo.lock", LOCK),
                ("security/vex.json", &file),
            ],
        );
        let mut args = PUBLISH.to_vec();
        args.push("--skip-changelog");
        let out = without_tools(&source, &args);
        assert!(!out.status.success());
        let log = text(&out);
        assert!(log.contains(wrong), "{wrong} in: {log}");
        assert!(!log.contains("-->"), "no step ran: {log}");
    }
}

#[test]
fn a_version_without_a_changelog_entry_is_refused_unless_skipped_and_the_plan_says_so() {
    let changelog = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Next thing.\n\n\
                     ## [0.9.0] - 2026-01-01\n\n### Fixed\n\n- Old fix.\n";
    let source = git_repo(
        "changelog",
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("CHANGELOG.md", changelog),
        ],
    );
    let out = without_tools(&source, PUBLISH);
    assert!(!out.status.success());
    let log = text(&out);
    assert!(
        log.contains("CHANGELOG.md has no section for 1.0.0, so nothing was built"),
        "{log}"
    );
    assert!(
        log.contains("--skip-changelog"),
        "the opt-out is named: {log}"
    );
    assert!(!log.contains("-->"), "no step ran: {log}");

    let dry = |extra: &[&str]| {
        let mut args = PUBLISH.to_vec();
        args.extend(extra);
        args.push("--dry-run");
        text(&without_tools(&source, &args))
    };
    let skipped = dry(&["--skip-changelog"]);
    assert!(
        skipped.contains("changelog  skipped (--skip-changelog): the chart lists no changes"),
        "{skipped}"
    );
    // A pre-release lists its changes under Unreleased.
    let mut pre = PUBLISH.to_vec();
    pre[2] = "v1.0.0-rc.1";
    pre.push("--dry-run");
    let planned = text(&without_tools(&source, &pre));
    assert!(
        planned.contains("changelog  Unreleased: 1 added"),
        "{planned}"
    );
}

#[test]
fn dry_run_prints_the_whole_plan_without_any_tool() {
    let out = dry_run(&["release", "--dry-run", "--version", "v1.2.3"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = text(&out);
    for expected in [
        "tags       v1.2.3 1.2.3 1.2 1 latest",
        "the registry was not asked: floating tags assume no higher release exists",
        " archive --format=tar --output ",
        "docker buildx build --file",
        "--platform linux/amd64,linux/arm64",
        "--annotation index:org.opencontainers.image.version=1.2.3",
        "rewrite-timestamp=true",
        "trivy image --download-db-only",
        "trivy image --input",
        "--list-all-pkgs",
        "trivy convert --format cyclonedx",
        "gate: no finding of severity CRITICAL or above",
        "tag ghcr.io/alto9/kube9-operator: v1.2.3, 1.2.3",
        "floating tags 1.2, 1, latest",
        "as a referrer",
        "cosign sign --yes ghcr.io/alto9/kube9-operator@<index-digest>",
        "cosign attest --yes --type cyclonedx",
        "helm lint --strict",
        "helm push",
        "oci://ghcr.io/alto9/charts",
        "the chart deploys ghcr.io/alto9/kube9-operator:1.2.3@<index-digest>",
        "cosign verify --output json --certificate-identity",
    ] {
        assert!(plan.contains(expected), "missing {expected:?} in:\n{plan}");
    }
}

#[test]
fn dry_run_of_a_prerelease_takes_no_floating_tag() {
    let out = dry_run(&["release-image", "--dry-run", "--version", "v1.0.0-beta.1"]);
    assert!(
        text(&out).contains("tags       v1.0.0-beta.1 1.0.0-beta.1\n"),
        "{}",
        text(&out)
    );
}

#[test]
fn invalid_versions_are_refused_with_a_hint() {
    // The hint is looked for in the error line minus the echoed input, which may itself hold
    // the hint's words (`v1.2.3+build` holds `v1.2.3`).
    let example = "such as v1.2.3 or v1.0.0-beta.1";
    for (bad, hint) in [
        ("v1.2", example),
        ("1.2.3.4", example),
        ("latest", example),
        ("01.2.3", example),
        ("v1.2.3+build", "release `v1.2.3` instead"),
    ] {
        let out = dry_run(&["release-image", "--dry-run", "--version", bad]);
        assert!(!out.status.success(), "{bad}");
        let error = text(&out)
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{bad}: no error line in {}", text(&out)))
            .replace(&format!("`{bad}`"), "<input>");
        assert!(error.contains(hint), "{bad}: no hint `{hint}` in {error}");
    }
}

#[test]
fn the_version_comes_from_the_release_tag_in_actions() {
    let source = git_repo("actions", &[("Dockerfile", "FROM scratch\n")]);
    let out = run(xtask()
        .args(["release-image", "--dry-run", "--skip-changelog", "--source"])
        .arg(&source)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF_NAME", "v4.5.6"));
    assert!(
        text(&out).contains("Release v4.5.6 of ghcr.io/alto9/kube9-operator"),
        "{}",
        text(&out)
    );
}

#[test]
fn two_dry_runs_print_the_same_bytes() {
    let args = ["release", "--dry-run", "--version", "v1.2.3"];
    let (a, b) = (dry_run(&args), dry_run(&args));
    assert!(a.status.success(), "{}", text(&a));
    // Each dry run has a source of its own; the plan differs only in that path.
    let strip = |o: &std::process::Output, from: &str| text(o).replace(from, "<source>");
    let source = |o: &std::process::Output| {
        let t = text(o);
        let start = t.find("git -C ").unwrap() + 7;
        t[start..].split_whitespace().next().unwrap().to_string()
    };
    assert_eq!(strip(&a, &source(&a)), strip(&b, &source(&b)));
}

#[test]
fn the_plan_is_readable_as_json() {
    let out = dry_run(&["release-image", "--plan-json", "-", "--version", "v1.2.3"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["mode"], "stop-at-first-failure");
    let kinds: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    let build = kinds.iter().position(|k| *k == "build").unwrap();
    let push = kinds.iter().position(|k| *k == "push-content").unwrap();
    let gate = kinds.iter().position(|k| *k == "gate").unwrap();
    assert!(build < gate && gate < push, "{kinds:?}");
}

#[test]
fn verify_reproducible_plans_two_builds_and_runs_none_in_a_dry_run() {
    let out = dry_run(&["verify-reproducible", "--dry-run", "--version", "v1.2.3"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = text(&out);
    assert_eq!(plan.matches("docker buildx build").count(), 2, "{plan}");
    assert_eq!(plan.matches("--no-cache").count(), 1, "{plan}");
    assert!(plan.contains("hold the same index digest"), "{plan}");
    assert!(!plan.contains("built sha256:"), "nothing ran: {plan}");
}

#[test]
fn no_command_accepts_a_flag_it_would_ignore() {
    for (command, flag) in [
        ("verify-reproducible", "--no-push"),
        ("verify-reproducible", "--public-check"),
        ("release-image", "--public-check"),
        ("release-image", "--image-digest"),
        ("release", "--image-digest"),
        ("verify-release", "--skip-changelog"),
        ("release-notes", "--source"),
    ] {
        let out = run(xtask().args([command, flag, "x", "--version", "v1.2.3", "--dry-run"]));
        assert!(!out.status.success(), "{command} accepted {flag}");
        assert!(text(&out).contains("unexpected argument"), "{}", text(&out));
    }
}

#[test]
fn input_that_cannot_work_is_refused_before_anything_runs() {
    for (args, expected) in [
        (
            vec!["--repository", "https://ghcr.io/alto9/x"],
            "has a scheme",
        ),
        (
            vec!["--repository", "user:tok@ghcr.io/alto9/x"],
            "credentials",
        ),
        (
            vec!["--repository", "ghcr.io/alto9/../x"],
            "not a valid repository path",
        ),
        (
            vec!["--platforms", "linux/s390x"],
            "not a platform the Dockerfile builds",
        ),
    ] {
        let mut all = vec!["release-image", "--dry-run", "--version", "v1.2.3"];
        all.extend(args.iter().copied());
        let out = dry_run(&all);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
    }
    let digest = dry_run(&[
        "release-chart",
        "--dry-run",
        "--version",
        "v1.2.3",
        "--image-digest",
        "sha256:abc",
    ]);
    assert!(!digest.status.success());
    assert!(
        text(&digest).contains("64 lowercase hex"),
        "{}",
        text(&digest)
    );
    let long = format!("v1.0.0-{}", "a".repeat(60));
    let out = dry_run(&["release-image", "--dry-run", "--version", &long]);
    assert!(text(&out).contains("63 characters"), "{}", text(&out));
}

#[test]
fn a_dry_run_checks_the_tag_and_the_tree_as_the_run_does() {
    let out = dry_run(&[
        "release-image",
        "--dry-run",
        "--version",
        "v3.0.0",
        "--require-tag",
    ]);
    assert!(
        !out.status.success(),
        "the real run would fail: no tag v3.0.0"
    );
    assert!(
        text(&out).contains("the checkout has no tag v3.0.0"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_chart_release_refuses_a_dirty_tree_even_in_a_dry_run() {
    let source = git_repo(
        "dirty-chart",
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("charts/kube9-operator/Chart.yaml.j2", ""),
        ],
    );
    // The chart is staged from the working tree: this edit would be published.
    std::fs::write(source.join("charts/kube9-operator/values.yaml"), "x: 1\n").unwrap();
    let digest = format!("sha256:{}", "a".repeat(64));
    let args = [
        "release-chart",
        "--dry-run",
        "--version",
        "v1.2.3",
        "--image-digest",
        &digest,
        "--skip-changelog",
    ];
    let out = without_tools(&source, &args);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("uncommitted changes") && text(&out).contains("--allow-dirty"),
        "{}",
        text(&out)
    );
    let mut allowed = args.to_vec();
    allowed.push("--allow-dirty");
    let out = without_tools(&source, &allowed);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn what_a_user_typed_is_echoed_escaped_on_one_line() {
    for bad in ["v1.2\n.3", "v1.2.3\u{1b}[2J", "\u{1b}]0;title\u{7}"] {
        let out = dry_run(&["release-image", "--dry-run", "--version", bad]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(error.len(), 1, "one line: {stderr:?}");
        assert_eq!(stderr.lines().count(), 1, "nothing else: {stderr:?}");
        assert!(
            !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
            "{stderr:?}"
        );
    }
    let out = dry_run(&[
        "release-image",
        "--dry-run",
        "--version",
        "v1.2.3",
        "--repository",
        "ghcr.io/alto9/\u{1b}[31mred",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`alto9/\\u{1b}[31mred` is not a valid repository path"),
        "{stderr:?}"
    );
}

#[test]
fn invisible_and_reordering_characters_are_escaped_in_errors_and_annotations() {
    let source = git_repo("bidi", &[("Dockerfile", "FROM scratch\n")]);
    // In Actions the error is also a `::error::` annotation; neither may carry the override,
    // which would reverse the rest of the line (`v1.2.3-<U+202E>rc1`).
    let out = run(xtask()
        .args(["release-image", "--dry-run", "--source"])
        .arg(&source)
        .args([
            "--version",
            "v1.2.3-\u{202e}1cr\u{200b}\u{feff}\u{a0}\u{2028}x",
        ])
        .env("GITHUB_ACTIONS", "true"));
    assert!(!out.status.success());
    let all = text(&out);
    for c in ['\u{202e}', '\u{200b}', '\u{feff}', '\u{a0}', '\u{2028}'] {
        assert!(
            !all.contains(c),
            "U+{:04X} reached the log: {all:?}",
            c as u32
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let annotation = stdout
        .lines()
        .find(|l| l.starts_with("::error::"))
        .unwrap_or_else(|| panic!("no annotation: {all}"));
    assert!(
        annotation.contains("`v1.2.3-\\u{202e}1cr\\u{200b}\\u{feff}\\u{a0}\\u{2028}x`"),
        "{annotation}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: `v1.2.3-\\u{202e}1cr\\u{200b}"),
        "{stderr}"
    );
}

#[test]
fn version_hints_name_what_to_type() {
    // Tags are the version as given: no `v` is added.
    let out = dry_run(&["release-image", "--dry-run", "--version", "1.1.2+meta"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("release `1.1.2` instead"),
        "{}",
        text(&out)
    );
    let out = dry_run(&["release-image", "--dry-run", "--version", "v1.1.2+meta"]);
    assert!(
        text(&out).contains("release `v1.1.2` instead"),
        "{}",
        text(&out)
    );
    // clap takes `-1.2.3` for a flag: the hint gives the form that reaches the version check.
    let out = dry_run(&["release-image", "--dry-run", "--version", "-1.2.3"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("give it as `--version=-1.2.3`"),
        "{}",
        text(&out)
    );
    let out = dry_run(&["release-image", "--dry-run", "--version=-1.2.3"]);
    assert!(
        text(&out).contains("`-1.2.3` is not a release version"),
        "{}",
        text(&out)
    );
}

/// `release --local` with input that needs no network to refuse: it must refuse before it
/// installs a tool or starts the environment, which takes minutes on a fresh machine.
#[test]
fn release_local_refuses_bad_input_before_setup_or_the_environment() {
    let source = git_repo(
        "local-input",
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("charts/kube9-operator/Chart.yaml.j2", ""),
        ],
    );
    for (args, expected) in [
        (vec![], "no release version: pass --version v1.2.3"),
        (vec!["--version", "1.1.2+meta"], "release `1.1.2` instead"),
        (
            vec!["--version", "v1.2.3", "--repository", "https://ghcr.io/a/b"],
            "has a scheme",
        ),
        (vec!["--version", "v1.2.3"], "CHANGELOG.md"),
    ] {
        let env_dir = temp_dir("local-env");
        let tools = temp_dir("local-tools");
        let home = temp_dir("local-home");
        let started = std::time::Instant::now();
        let out = run(xtask()
            .args(["release", "--local", "--source"])
            .arg(&source)
            .args(&args)
            .env("KUBE9_LOCAL_ENV_DIR", &env_dir)
            .env("KUBE9_TOOLS_DIR", &tools)
            .env("HOME", &home)
            .env("DOCKER_HOST", "unix:///nonexistent.sock")
            .env_remove("KUBE9_ENV")
            .env_remove("GITHUB_ACTIONS"));
        let took = started.elapsed();
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(error.len(), 1, "{stderr}");
        assert!(error[0].contains(expected), "{args:?}: {stderr}");
        // Nothing was installed, nothing started, no environment recorded.
        for dir in [&env_dir, &tools] {
            let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
            assert!(
                left.is_empty(),
                "{args:?} wrote {}: {left:?}",
                dir.display()
            );
        }
        assert!(
            !stderr.contains("==>") && !stderr.contains("  setup"),
            "{stderr}"
        );
        assert!(
            took < std::time::Duration::from_secs(5),
            "{args:?} took {took:?}"
        );
    }
}
