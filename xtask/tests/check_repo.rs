//! `check-repo` against GitHub's API stand-in: one verdict per protection, the exact setting
//! for each missing one, the permission a token lacks named, the exit status that a release
//! can rely on, and the token never shown.

mod support;

use std::process::Output;

use kube9_devenv::workflow_sim::github::{PackageSetting, RepoSettings};
use kube9_devenv::workflow_sim::grants::Access;
use kube9_devenv::workflow_sim::GithubStandin;
use serde_json::json;
use support::*;

/// A maintainer's token: it may read the repository's administration settings and packages.
fn maintainer(github: &GithubStandin) -> String {
    github.token(
        "maintainer",
        &[
            ("administration", Access::Read),
            ("packages", Access::Read),
            ("contents", Access::Read),
        ],
    )
}

fn check_repo(github: &GithubStandin, token: &str, extra: &[&str]) -> Output {
    let mut cmd = xtask();
    cmd.arg("check-repo").args(extra);
    outside_actions(&mut cmd);
    cmd.env("GITHUB_API_URL", github.url())
        .env("GITHUB_REPOSITORY", "alto9/kube9-operator")
        .env("GITHUB_TOKEN", token);
    let out = run(&mut cmd);
    assert!(
        !text(&out).contains(token),
        "the token was shown:\n{}",
        text(&out)
    );
    assert!(
        github
            .authorizations()
            .iter()
            .all(|a| a == &format!("Bearer {token}") || a.starts_with("Bearer ghs_test_")),
        "the token goes only into the Authorization header"
    );
    out
}

/// The line that begins with `word` and names `protection`.
fn line<'a>(out: &'a str, word: &str, protection: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(word) && l.contains(protection))
        .unwrap_or_else(|| panic!("no `{word} ... {protection}` line in:\n{out}"))
}

const PROTECTIONS: [&str; 6] = [
    "`v*` tags protected by a ruleset",
    "releases immutable",
    "`release` environment admits only `v*` tags",
    "default workflow token read-only",
    "package ghcr.io/alto9/kube9-operator public",
    "package ghcr.io/alto9/charts/kube9-operator public",
];

#[test]
fn a_protected_repository_passes_with_every_protection_named() {
    let github = GithubStandin::start();
    github.set_repo_settings(RepoSettings::protected("alto9"));
    let token = maintainer(&github);
    let out = check_repo(&github, &token, &[]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for p in PROTECTIONS {
        line(&all, "protected", p);
    }
    assert!(
        !all.contains("MISSING") && !all.contains("UNKNOWN"),
        "{all}"
    );
    assert!(all.contains("every protection is in place"), "{all}");
}

#[test]
fn each_missing_protection_fails_with_its_line_and_the_setting_to_change() {
    type Change = fn(&mut RepoSettings);
    let cases: [(usize, Change, &str, &str); 6] = [
        (
            0,
            |s| s.rulesets[0]["rules"] = json!([{"type": "deletion"}]),
            "lacks creation, update, non_fast_forward",
            "Settings > Rules > Rulesets > New ruleset > New tag ruleset",
        ),
        (
            1,
            |s| s.immutable_releases = false,
            "release immutability is not enabled",
            "Settings > General > Releases > Enable release immutability",
        ),
        (
            2,
            |s| {
                s.branch_policies
                    .push(json!({"name": "main", "type": "branch"}))
            },
            "also admits branch `main`",
            "Deployment branches and tags: Selected branches and tags",
        ),
        (
            3,
            |s| s.default_workflow_permissions = "write".into(),
            "default_workflow_permissions is `write`",
            "Settings > Actions > General > Workflow permissions",
        ),
        (
            4,
            |s| s.packages[0].visibility = "private".into(),
            "its visibility is `private`",
            "Change visibility > Public",
        ),
        (
            5,
            |s| s.packages.retain(|p| p.name != "charts/kube9-operator"),
            "not published yet",
            "packages/container/charts%2Fkube9-operator/settings",
        ),
    ];
    for (i, change, detail, fix) in cases {
        let github = GithubStandin::start();
        let mut settings = RepoSettings::protected("alto9");
        change(&mut settings);
        github.set_repo_settings(settings);
        let token = maintainer(&github);
        let out = check_repo(&github, &token, &[]);
        let all = text(&out);
        assert!(
            !out.status.success(),
            "{} missing, yet it passed:\n{all}",
            PROTECTIONS[i]
        );
        let missing = line(&all, "MISSING", PROTECTIONS[i]);
        assert!(missing.contains(detail), "{all}");
        let fix_line = all
            .lines()
            .skip_while(|l| *l != missing)
            .nth(1)
            .unwrap_or_default();
        assert!(
            fix_line.trim_start().starts_with("fix:") && fix_line.contains(fix),
            "{all}"
        );
        for (j, other) in PROTECTIONS.iter().enumerate() {
            if j != i {
                line(&all, "protected", other);
            }
        }
        assert!(all.contains("1 protection(s) of 6 missing"), "{all}");
    }
}

#[test]
fn a_user_package_is_found_under_the_user() {
    let github = GithubStandin::start();
    let mut settings = RepoSettings::protected("alto9");
    settings.packages = vec![PackageSetting {
        organisation: false,
        owner: "alto9".into(),
        name: "kube9-operator".into(),
        visibility: "public".into(),
    }];
    github.set_repo_settings(settings);
    let token = maintainer(&github);
    let all = text(&check_repo(&github, &token, &[]));
    line(&all, "protected", PROTECTIONS[4]);
    line(&all, "MISSING", PROTECTIONS[5]);
}

#[test]
fn warn_only_reports_a_new_repository_and_passes() {
    let github = GithubStandin::start();
    let token = maintainer(&github);
    let strict = check_repo(&github, &token, &[]);
    assert!(!strict.status.success(), "{}", text(&strict));
    let out = {
        let mut cmd = xtask();
        cmd.args(["check-repo", "--warn-only"]);
        outside_actions(&mut cmd);
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", github.url())
            .env("GITHUB_REPOSITORY", "alto9/kube9-operator")
            .env("GITHUB_TOKEN", &token);
        run(&mut cmd)
    };
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(!all.contains(&token), "{all}");
    for p in [0, 1, 2, 4, 5] {
        line(&all, "MISSING", PROTECTIONS[p]);
    }
    line(&all, "protected", PROTECTIONS[3]);
    assert!(
        all.contains("::warning::5 protection(s) of 6 missing, 0 not readable with this token"),
        "annotated in Actions: {all}"
    );
}

#[test]
fn a_token_without_the_permission_gets_it_named_not_a_guess() {
    let github = GithubStandin::start();
    github.set_repo_settings(RepoSettings::protected("alto9"));
    // The release workflow's image job: its token can read packages, never administration.
    let token = github.token(
        "image",
        &[
            ("contents", Access::Read),
            ("packages", Access::Write),
            ("attestations", Access::Write),
        ],
    );
    let out = check_repo(&github, &token, &[]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    for p in &PROTECTIONS[..4] {
        let unknown = line(&all, "UNKNOWN", p);
        assert!(unknown.contains("GitHub answered 403"), "{all}");
        assert!(!all.contains(&format!("MISSING   {p}")), "{all}");
    }
    assert!(
        all.contains(
            "not readable with this token: it needs the repository's `Administration: read`"
        ),
        "{all}"
    );
    line(&all, "protected", PROTECTIONS[4]);
    assert!(
        all.contains("0 protection(s) of 6 missing, 4 not readable"),
        "{all}"
    );
    assert!(check_repo(&github, &token, &["--warn-only"])
        .status
        .success());

    let no_packages = github.token("contents-only", &[("contents", Access::Read)]);
    let all = text(&check_repo(&github, &no_packages, &[]));
    assert!(
        line(&all, "UNKNOWN", PROTECTIONS[5]).contains("403"),
        "{all}"
    );
    assert!(all.contains("it needs `packages: read`"), "{all}");
}

#[test]
fn a_dry_run_names_every_request_and_makes_none() {
    let github = GithubStandin::start();
    let mut cmd = xtask();
    cmd.args(["check-repo", "--dry-run"]);
    outside_actions(&mut cmd);
    cmd.env("GITHUB_API_URL", github.url())
        .env("GITHUB_REPOSITORY", "alto9/kube9-operator");
    let out = run(&mut cmd);
    let all = text(&out);
    assert!(out.status.success(), "no token is needed: {all}");
    for path in [
        "/repos/alto9/kube9-operator/rulesets?includes_parents=true",
        "/repos/alto9/kube9-operator/immutable-releases",
        "/repos/alto9/kube9-operator/environments/release/deployment-branch-policies",
        "/repos/alto9/kube9-operator/actions/permissions/workflow",
        "/orgs/alto9/packages/container/charts%2Fkube9-operator",
    ] {
        assert!(
            all.contains(&format!("GET {}{path}", github.url())),
            "{path}: {all}"
        );
    }
    assert!(github.authorizations().is_empty(), "a request was made");
}
