//! Developers hear of vulnerabilities: a release whose gate fails, and a weekly rescan of the
//! published images that finds a HIGH or CRITICAL finding, open one GitHub issue per image
//! version (updated, never duplicated), against a stand-in for GitHub's issues API.

mod support;

use kube9_devenv::workflow_sim::grants::Access;
use kube9_devenv::workflow_sim::GithubStandin;
use support::*;

/// GitHub's API stand-in, and the token of a job with `issues: write` (as rescan.yml's and
/// the image job's), which it checks on every request.
fn github() -> (GithubStandin, String) {
    let github = GithubStandin::start();
    let token = github.token("issues", &[("issues", Access::Write)]);
    (github, token)
}

/// A command run as a GitHub Actions job would run it, with the stand-in's API.
fn in_actions(cmd: &mut std::process::Command, github: &(GithubStandin, String)) {
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_API_URL", github.0.url())
        .env("GITHUB_REPOSITORY", "alto9/kube9-operator")
        .env("GITHUB_TOKEN", &github.1);
}

fn rescan_cmd(repository: &str, out_dir: &std::path::Path) -> std::process::Command {
    let env = env();
    let mut cmd = xtask();
    cmd.args(["rescan", "--repository", repository, "--minors", "2"])
        .args([
            "--trivy-db-repository",
            &env.trivy_db_repository,
            "--allow-stale-db",
        ])
        .arg("--trivy-cache-dir")
        .arg(out_dir.join("trivy-cache"))
        .arg("--out-dir")
        .arg(out_dir);
    outside_actions(&mut cmd);
    cmd
}

#[test]
fn a_rescan_reports_each_supported_version_once_and_updates_its_issue() {
    let env = env();
    let repo = env.repository("rescan");
    // Three releases; with two supported minor lines, 1.2.0 is no longer scanned.
    for (version, payload) in [("v1.2.0", "old"), ("v1.3.0", "one"), ("v1.4.0", "two")] {
        let source = fixture_image_repo("rootfs-high", payload);
        ok(&mut release_image_cmd(&source, version, &repo));
    }
    let api = github();
    let github = &api.0;
    let out_dir = temp_dir("rescan");
    let mut cmd = rescan_cmd(&repo, &out_dir);
    in_actions(&mut cmd, &api);
    let first = ok(&mut cmd);
    assert!(
        first.contains("1.4.0") && first.contains("1.3.0") && !first.contains("1.2.0 sha256"),
        "{first}"
    );
    let titles: Vec<String> = github
        .issues()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        titles,
        [
            format!("Vulnerabilities in {repo} 1.4.0"),
            format!("Vulnerabilities in {repo} 1.3.0")
        ]
    );
    let body = github.issues()[0]["body"].as_str().unwrap().to_string();
    assert!(
        body.contains("| CVE-2099-0002 | HIGH | fixture-libhigh | 2.0.0-1 | 2.0.1-1 |"),
        "{body}"
    );
    let bearer = format!("Bearer {}", api.1);
    let seen = github.authorizations();
    assert!(
        !seen.is_empty() && seen.iter().all(|t| *t == bearer),
        "{seen:?}"
    );

    // Each report has a category of its own for the Security tab.
    let mut sarif: Vec<String> = std::fs::read_dir(out_dir.join("sarif"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    sarif.sort();
    assert_eq!(sarif.len(), 4, "{sarif:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("sarif").join(&sarif[0])).unwrap())
            .unwrap();
    assert_eq!(report["version"], "2.1.0");
    assert_eq!(
        report["runs"][0]["automationDetails"]["id"],
        "trivy-rescan-1.3.0-linux-amd64/"
    );

    assert_eq!(github.issue_writes(), ["POST 1", "POST 2"]);

    // Meanwhile on GitHub: a maintainer edits the 1.4.0 issue, a closed report of 1.3.0 with
    // the same title exists (newer, so listed first if closed issues were not filtered out),
    // and 120 newer reports of other versions push ours past the first page of 100.
    github.edit_issue_body(1, "edited by a maintainer");
    let closed = github.put_issue(
        &titles[1],
        "old, closed",
        &["vulnerability-report"],
        "closed",
    );
    for i in 0..120 {
        let title = format!("Vulnerabilities in {repo} 0.{i}.0");
        github.put_issue(&title, "other", &["vulnerability-report"], "open");
    }
    let planted = github.issues().len();

    // Next week: the same findings update the same issues, neither a new one nor the closed.
    let mut again = rescan_cmd(&repo, &out_dir);
    in_actions(&mut again, &api);
    ok(&mut again);
    let mut writes = github.issue_writes()[2..].to_vec();
    writes.sort();
    assert_eq!(
        writes,
        ["PATCH 1", "PATCH 2"],
        "both open issues updated, nothing opened"
    );
    let issues = github.issues();
    assert_eq!(issues.len(), planted, "no duplicate issue");
    for title in &titles {
        let open: Vec<&serde_json::Value> = issues
            .iter()
            .filter(|i| i["title"] == title.as_str() && i["state"] == "open")
            .collect();
        assert_eq!(open.len(), 1, "one open issue for {title}");
    }
    let updated = issues[0]["body"].as_str().unwrap();
    assert!(
        updated.contains("| CVE-2099-0002 | HIGH | fixture-libhigh | 2.0.0-1 | 2.0.1-1 |"),
        "the rescan's findings replaced the edit: {updated}"
    );
    assert_eq!(issues[closed as usize - 1]["body"], "old, closed");
}

#[test]
fn off_github_the_issue_text_goes_to_a_file() {
    let env = env();
    let repo = env.repository("rescan-local");
    let source = fixture_image_repo("rootfs-high", "local");
    ok(&mut release_image_cmd(&source, "v2.0.0", &repo));
    let out_dir = temp_dir("rescan-local");
    ok(&mut rescan_cmd(&repo, &out_dir));
    let issue = std::fs::read_to_string(out_dir.join("issue-2.0.0.md")).unwrap();
    assert!(
        issue.starts_with(&format!("# Vulnerabilities in {repo} 2.0.0")),
        "{issue}"
    );
    assert!(issue.contains("CVE-2099-0002"));
}

#[test]
fn a_release_stopped_by_its_gate_opens_an_issue_and_still_fails() {
    let env = env();
    let api = github();
    let github = &api.0;
    let source = fixture_image_repo("rootfs-critical", "gate-issue");
    let repo = env.repository("gate-issue");
    let mut cmd = release_image_cmd(&source, "v1.0.0", &repo);
    in_actions(&mut cmd, &api);
    let out = run(&mut cmd);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("::error::the image failed its checks"),
        "{}",
        text(&out)
    );
    let issues = github.issues();
    assert_eq!(issues.len(), 1, "{}", text(&out));
    assert_eq!(
        issues[0]["title"],
        format!("Vulnerabilities in {repo} 1.0.0")
    );
    assert!(issues[0]["body"]
        .as_str()
        .unwrap()
        .contains("CVE-2099-0001"));
    assert_eq!(
        issues[0]["labels"],
        serde_json::json!(["vulnerability-report"])
    );
}
