//! Withdrawing a release against the local registry and the real cosign: fixture releases
//! (tiny one-platform images pushed with skopeo, no build), `cargo xtask withdraw` signing with
//! the environment's key, the floating tags' one step back, re-runs, a backport, a race, the
//! statement checked with cosign (and refused with another key), and an undo.

mod support;

use std::path::Path;

use kube9_devenv::workflow_sim::grants::Access;
use kube9_devenv::workflow_sim::GithubStandin;
use kube9_release::registry::Repository;
use kube9_release::sign::{Cosign, Verifier};
use kube9_release::step::{
    Action, Bound, CheckFloatingTags, CheckWithdrawal, Cx, MoveFloatingTags, MoveWithdrawnTags,
    Subject,
};
use support::*;

struct Fixture {
    repo: String,
    charts: String,
    out: std::path::PathBuf,
    /// GitHub's API, stood in for: the releases of the tags withdrawn are marked there.
    github: GithubStandin,
    token: String,
}

impl Fixture {
    /// A release: a tiny image of its own under `v<version>` and `<version>`, and (for a
    /// stable one) a chart stand-in under the chart's tag.
    fn publish(&self, version: &str, extra_tags: &[&str]) -> String {
        self.publish_from(None, version, extra_tags)
    }

    /// The same, on top of a fixture root file system (one with a HIGH finding, for the rescan).
    fn publish_from(&self, base: Option<&str>, version: &str, extra_tags: &[&str]) -> String {
        let rootfs = temp_dir("withdraw-rootfs").join("rootfs");
        match base {
            Some(base) => copy_tree(&fixtures().join("trivy-db").join(base), &rootfs),
            None => std::fs::create_dir(&rootfs).unwrap(),
        }
        std::fs::write(rootfs.join("version"), version).unwrap();
        let layout = temp_dir("withdraw-layout");
        let digest = layout_from_rootfs(&rootfs, &[("linux", "amd64")], &layout);
        let push = |repo: &str, tag: &str| {
            ok(skopeo()
                .args(["copy", "--all", "--dest-tls-verify=false"])
                .arg(format!("oci:{}", layout.display()))
                .arg(format!("docker://{repo}:{tag}")));
        };
        let v = format!("v{version}");
        for tag in [v.as_str(), version].iter().chain(extra_tags) {
            push(&self.repo, tag);
        }
        // What the statement is attached to besides the index; cosign takes any manifest.
        push(&format!("{}/kube9-operator", self.charts), version);
        digest
    }

    fn withdraw(&self, args: &[&str]) -> std::process::Output {
        run(&mut self.withdraw_cmd(args))
    }

    fn withdraw_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = xtask();
        cmd.arg("withdraw")
            .args(args)
            .args([
                "--repository",
                &self.repo,
                "--chart-repository",
                &self.charts,
            ])
            .arg("--out-dir")
            .arg(&self.out);
        outside_actions(&mut cmd);
        signing(&mut cmd, &env());
        cmd.env("GITHUB_API_URL", self.github.url())
            .env("GITHUB_REPOSITORY", "alto9/kube9-operator")
            .env("GITHUB_TOKEN", &self.token);
        cmd
    }

    fn withdraw_ok(&self, args: &[&str]) -> String {
        let out = self.withdraw(args);
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    }

    fn withdraw_refused(&self, args: &[&str], says: &str) {
        let before = tags(&self.repo);
        let out = self.withdraw(args);
        assert!(!out.status.success(), "{args:?} was not refused");
        assert!(text(&out).contains(says), "{}", text(&out));
        assert!(text(&out).contains("error:"), "{}", text(&out));
        assert_eq!(tags(&self.repo), before, "{args:?} changed a tag");
    }

    /// The release each floating tag names.
    fn floating(&self, digests: &[(&str, &String)]) -> Vec<(String, String)> {
        ["1.2", "1", "latest", "2.0", "2"]
            .iter()
            .map(|tag| {
                let d = digest_of(&format!("{}:{tag}", self.repo));
                let name = digests
                    .iter()
                    .find(|(_, x)| **x == d)
                    .map_or("?".into(), |(v, _)| v.to_string());
                (tag.to_string(), name)
            })
            .collect()
    }

    /// The GitHub release of `tag`: its title and notes.
    fn github_release(&self, tag: &str) -> (String, String) {
        let r = self
            .github
            .releases()
            .into_iter()
            .find(|r| r["tag_name"] == tag)
            .unwrap();
        let field = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        (field("name"), field("body"))
    }

    fn repository(&self) -> Repository {
        Repository::parse(&self.repo).unwrap()
    }

    fn check_withdrawal(&self, index: &str, key: &Path) -> anyhow::Result<Cx> {
        let repository = self.repository();
        let step = CheckWithdrawal {
            cosign: Cosign::for_repository(&repository, false),
            verifier: Verifier::Key {
                public_key: key.to_path_buf(),
            },
            subject: Subject::new(&repository, Bound::Given(index.into())),
        };
        let mut cx = Cx::new(None, None);
        step.run(&mut cx).map(|()| cx)
    }

    fn check_floating(&self, release: &str) {
        CheckFloatingTags {
            repository: self.repository(),
            release: release.into(),
            prerelease: false,
        }
        .run(&mut Cx::new(None, None))
        .unwrap_or_else(|e| panic!("{release}: {e:#}"));
    }
}

/// The printed plan's line of step `n` (`  1. ...`).
fn plan_line(shown: &str, n: usize) -> String {
    shown
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{n}. ")))
        .unwrap_or_default()
        .to_string()
}

fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn a_withdrawal_steps_floating_tags_back_is_signed_and_can_be_undone() {
    let env = env();
    let github = GithubStandin::start();
    let token = github.token("withdraw", &[("contents", Access::Write)]);
    for tag in ["v1.2.2", "v1.2.3", "v2.0.0"] {
        github.publish_release(tag, false);
    }
    let f = Fixture {
        repo: env.repository("withdraw"),
        charts: env.repository("withdraw-charts"),
        out: temp_dir("withdraw-out"),
        github,
        token,
    };
    // 1.2.2, 1.2.3 (then holding 1.2 and 1), 2.0.0 (latest, 2, 2.0) and a pre-release.
    let d122 = f.publish("1.2.2", &[]);
    let d123 = f.publish("1.2.3", &["1.2", "1"]);
    // 2.0.0 has a HIGH finding: a rescan would report it, were it not withdrawn.
    let d200 = f.publish_from(Some("rootfs-high"), "2.0.0", &["latest", "2", "2.0"]);
    let drc = f.publish("1.3.0-rc.1", &[]);
    let mut names = vec![
        ("1.2.2", &d122),
        ("1.2.3", &d123),
        ("2.0.0", &d200),
        ("1.3.0-rc.1", &drc),
    ];
    let start = expect(&[
        ("1.2", "1.2.3"),
        ("1", "1.2.3"),
        ("latest", "2.0.0"),
        ("2.0", "2.0.0"),
        ("2", "2.0.0"),
    ]);
    assert_eq!(f.floating(&names), start);

    // Bad input stops before anything is signed or moved.
    f.withdraw_refused(
        &["--version", "v1.2.7", "--reason", "x"],
        "v1.2.7 was never released",
    );
    f.withdraw_refused(&["--version", "v1.2.3"], "no reason given");
    f.withdraw_refused(
        &["--version", "v1.2.3", "--reason", "x", "--use", "v1.2.2"],
        "is not higher than the withdrawn",
    );
    f.withdraw_refused(
        &["--version", "v1.2.3", "--reason", "x", "--use", "v1.2.3"],
        "is not higher than the withdrawn",
    );
    f.withdraw_refused(
        &["--version", "v1.2.3", "--reason", "x", "--use", "v1.2.9"],
        "v1.2.9 was never released",
    );
    assert!(
        !tags(&f.repo).iter().any(|t| t.ends_with(".att")),
        "nothing was attested"
    );
    // A signature that fails stops before any tag moves; the GitHub release stays unmarked.
    let before = tags(&f.repo);
    let out = run(f
        .withdraw_cmd(&["--version", "v1.2.3", "--reason", "leaks a debug flag"])
        .env("COSIGN_PASSWORD", "not the password"));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("the withdrawal of 1.2.3 could not be signed or attached"),
        "{}",
        text(&out)
    );
    assert_eq!(tags(&f.repo), before);
    assert_eq!(f.floating(&names), start);
    assert_eq!(f.github_release("v1.2.3").0, "");

    // Withdraw 1.2.3: 1.2 and 1 step back to 1.2.2, latest stays on 2.0.0.
    let shown = f.withdraw_ok(&[
        "--version",
        "v1.2.3",
        "--reason",
        "leaks a debug flag",
        "--use",
        "v2.0.0",
    ]);
    assert!(
        shown.contains("withdrawal move: 1.2 1.2.3 -> 1.2.2"),
        "{shown}"
    );
    assert!(
        shown.contains("withdrawal move: 1 1.2.3 -> 1.2.2"),
        "{shown}"
    );
    assert!(shown.contains("latest stays on 2.0.0"), "{shown}");
    let after_123 = expect(&[
        ("1.2", "1.2.2"),
        ("1", "1.2.2"),
        ("latest", "2.0.0"),
        ("2.0", "2.0.0"),
        ("2", "2.0.0"),
    ]);
    assert_eq!(f.floating(&names), after_123);
    // The GitHub release is marked: its title, and a notice at the top of its notes.
    let (title, notes) = f.github_release("v1.2.3");
    assert_eq!(title, "[WITHDRAWN] v1.2.3");
    assert!(
        notes.contains("**This release is withdrawn.** withdrawn: leaks a debug flag; use 2.0.0."),
        "{notes}"
    );
    assert_eq!(f.github_release("v1.2.2").0, "");
    // Nothing deleted: the version tags still name the withdrawn build.
    assert_eq!(digest_of(&format!("{}:v1.2.3", f.repo)), d123);
    assert_eq!(digest_of(&format!("{}:1.2.3", f.repo)), d123);
    // The statement is a valid in-toto Statement v1 and on the chart too.
    let statement: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.out.join("withdrawal/withdrawal.json")).unwrap())
            .unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["subject"].as_array().unwrap().len(), 2);
    assert!(tags(&format!("{}/kube9-operator", f.charts))
        .iter()
        .any(|t| t.ends_with(".att")));

    // A re-run signs nothing again and moves nothing.
    let att = format!("{}:{}", f.repo, d123.replace(':', "-") + ".att");
    let attestations = digest_of(&att);
    let shown = f.withdraw_ok(&[
        "--version",
        "v1.2.3",
        "--reason",
        "leaks a debug flag",
        "--use",
        "v2.0.0",
    ]);
    assert!(shown.contains("statement  already attached"), "{shown}");
    assert!(!shown.contains("withdrawal move"), "{shown}");
    assert_eq!(digest_of(&att), attestations);
    assert_eq!(f.floating(&names), after_123);

    // A replacement that is itself withdrawn is refused.
    f.withdraw_refused(
        &["--version", "v1.2.2", "--reason", "x", "--use", "1.2.3"],
        "the replacement 1.2.3 is itself withdrawn",
    );

    // Withdraw 2.0.0: latest steps back to 1.2.2; 2 and 2.0 have no eligible release and stay.
    // The run executes the steps its printed plan lists, in order (`--timings`).
    let timings = temp_dir("withdraw-timings").join("timings.json");
    let shown = f.withdraw_ok(&[
        "--version",
        "v2.0.0",
        "--reason",
        "regression",
        "--timings",
        timings.to_str().unwrap(),
    ]);
    let executed: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&timings).unwrap()).unwrap();
    let executed: Vec<&str> = executed
        .iter()
        .map(|t| t["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        executed,
        [
            "attest-withdrawal",
            "move-withdrawn-tags",
            "mark-github-release"
        ]
    );
    for (i, step) in executed.iter().enumerate() {
        let what = plan_line(&shown, i + 1);
        assert!(
            !what.is_empty(),
            "step {step} not in the printed plan: {shown}"
        );
    }
    assert!(
        shown.contains("withdrawal move: latest 2.0.0 -> 1.2.2"),
        "{shown}"
    );
    assert!(
        shown.contains("2.0 stays on 2.0.0: no release is eligible for it"),
        "{shown}"
    );
    assert!(
        shown.contains("2 stays on 2.0.0: no release is eligible for it"),
        "{shown}"
    );
    let after_200 = expect(&[
        ("1.2", "1.2.2"),
        ("1", "1.2.2"),
        ("latest", "1.2.2"),
        ("2.0", "2.0.0"),
        ("2", "2.0.0"),
    ]);
    assert_eq!(f.floating(&names), after_200);
    let shown = f.withdraw_ok(&["--version", "v2.0.0", "--reason", "regression"]);
    assert!(shown.contains("statement  already attached"), "{shown}");
    assert_eq!(f.floating(&names), after_200);
    f.withdraw_refused(
        &["--version", "v1.2.2", "--reason", "x", "--use", "v2.0.0"],
        "is itself withdrawn",
    );

    // The weekly rescan lists both as withdrawn, scans neither and files no issue.
    let issues_token = f.github.token("rescan", &[("issues", Access::Write)]);
    let rescan = || {
        let rescan_out = temp_dir("withdraw-rescan");
        let mut rescan = xtask();
        rescan
            .args(["rescan", "--repository", &f.repo, "--minors", "2"])
            .args(trivy_args(&env, &rescan_out))
            .arg("--out-dir")
            .arg(&rescan_out);
        outside_actions(&mut rescan);
        rescan
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", f.github.url())
            .env("GITHUB_REPOSITORY", "alto9/kube9-operator")
            .env("GITHUB_TOKEN", &issues_token);
        ok(&mut rescan)
    };
    let shown = rescan();
    assert!(
        shown.contains(
            "withdrawn  2.0.0: withdrawn: regression; no replacement named (not scanned, no issue)"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("withdrawn  1.2.3: withdrawn: leaks a debug flag; use 2.0.0"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("image      1.2.2 {d122}")),
        "{shown}"
    );
    assert!(!shown.contains("image      2.0.0"), "{shown}");
    assert!(f.github.issues().is_empty(), "{:?}", f.github.issues());

    // verify-release's checks: the withdrawal verifies with the key, the floating tags follow
    // the rules for every release.
    let key = env.cosign.public_key.clone();
    let cx = f.check_withdrawal(&d123, &key).unwrap();
    let w = cx.bindings.withdrawal.clone().unwrap();
    assert_eq!(w.summary(), "withdrawn: leaks a debug flag; use 2.0.0");
    assert!(f
        .check_withdrawal(&d122, &key)
        .unwrap()
        .bindings
        .withdrawal
        .is_none());
    for release in ["v1.2.2", "v1.2.3", "v2.0.0"] {
        f.check_floating(release);
    }
    // The statement verifies with cosign and the release's key, and is refused with another.
    let cosign_verify = |key: &Path| {
        run(tool("cosign")
            .args([
                "verify-attestation",
                "--type",
                kube9_release::withdrawal::PREDICATE_TYPE,
            ])
            .arg("--key")
            .arg(key)
            .args(["--insecure-ignore-tlog=true", "--allow-insecure-registry"])
            .arg(format!("{}@{d123}", f.repo)))
    };
    let verified = cosign_verify(&key);
    assert!(verified.status.success(), "{}", text(&verified));
    // What the registry serves, checked by in-toto's own Statement v1 validator: each
    // envelope cosign verified carries the statement.
    let served = temp_dir("withdrawal-served");
    let mut checked = 0;
    for line in String::from_utf8_lossy(&verified.stdout).lines() {
        let envelope: serde_json::Value = serde_json::from_str(line).unwrap();
        let payload = envelope["payload"].as_str().unwrap();
        let statement =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, payload).unwrap();
        let file = served.join(format!("statement-{checked}.json"));
        std::fs::write(&file, statement).unwrap();
        kube9_release::validate::check(kube9_release::validate::Standard::InTotoStatement, &file)
            .unwrap();
        checked += 1;
    }
    assert!(
        checked >= 1,
        "cosign printed no envelope: {}",
        text(&verified)
    );
    let other = temp_dir("other-key");
    ok(tool("cosign")
        .args(["generate-key-pair"])
        .current_dir(&other)
        .env("COSIGN_PASSWORD", "other"));
    let refused = cosign_verify(&other.join("cosign.pub"));
    assert!(!refused.status.success(), "{}", text(&refused));
    let err = f
        .check_withdrawal(&d123, &other.join("cosign.pub"))
        .err()
        .expect("another key is refused");
    assert!(!format!("{err:#}").is_empty());

    // A backport 1.2.4 takes 1.2 and 1 (and latest, since 2.0.0 is withdrawn); a re-run of
    // 1.2.2 or of the withdrawn 1.2.3 never moves a tag back.
    let d124 = f.publish("1.2.4", &[]);
    names.push(("1.2.4", &d124));
    let move_step = |version: &str| MoveFloatingTags {
        repository: f.repository(),
        version: version.into(),
        release_tag: format!("v{version}"),
        candidates: vec!["1.2".into(), "1".into(), "latest".into()],
        provenance: None,
    };
    move_step("1.2.4").run(&mut Cx::new(None, None)).unwrap();
    move_step("1.2.2").run(&mut Cx::new(None, None)).unwrap();
    move_step("1.2.3").run(&mut Cx::new(None, None)).unwrap();
    let after_backport = expect(&[
        ("1.2", "1.2.4"),
        ("1", "1.2.4"),
        ("latest", "1.2.4"),
        ("2.0", "2.0.0"),
        ("2", "2.0.0"),
    ]);
    assert_eq!(f.floating(&names), after_backport);
    f.check_floating("v1.2.4");

    // A withdrawal racing a release: the tags end where the rules put them.
    let d125 = f.publish("1.2.5", &[]);
    names.push(("1.2.5", &d125));
    std::thread::scope(|s| {
        s.spawn(|| {
            MoveWithdrawnTags {
                repository: f.repository(),
                version: "1.2.3".into(),
                undo: false,
                tags: vec!["1.2".into(), "1".into(), "latest".into()],
            }
            .run(&mut Cx::new(None, None))
            .unwrap()
        });
        s.spawn(|| move_step("1.2.5").run(&mut Cx::new(None, None)).unwrap());
    });
    let after_race = expect(&[
        ("1.2", "1.2.5"),
        ("1", "1.2.5"),
        ("latest", "1.2.5"),
        ("2.0", "2.0.0"),
        ("2", "2.0.0"),
    ]);
    assert_eq!(f.floating(&names), after_race);

    // Undo 2.0.0: the latest statement lifts it, and latest returns.
    let shown = f.withdraw_ok(&["--version", "v2.0.0", "--undo"]);
    assert!(shown.contains("return: latest 1.2.5 -> 2.0.0"), "{shown}");
    assert_eq!(
        f.floating(&names),
        expect(&[
            ("1.2", "1.2.5"),
            ("1", "1.2.5"),
            ("latest", "2.0.0"),
            ("2.0", "2.0.0"),
            ("2", "2.0.0"),
        ])
    );
    let cx = f.check_withdrawal(&d200, &key).unwrap();
    assert!(!cx.bindings.withdrawal.unwrap().withdrawn);
    assert_eq!(
        f.github_release("v2.0.0"),
        ("v2.0.0".to_string(), String::new())
    );
    for release in ["v1.2.5", "v2.0.0", "v1.2.3"] {
        f.check_floating(release);
    }
    let shown = f.withdraw_ok(&["--version", "v2.0.0", "--undo"]);
    assert!(shown.contains("statement  already attached"), "{shown}");
    // Lifted, 2.0.0 is scanned again, and its HIGH finding is reported.
    let shown = rescan();
    assert!(
        shown.contains(&format!("image      2.0.0 {d200}")),
        "{shown}"
    );
    let issues = f.github.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0]["title"].as_str().unwrap().contains("2.0.0"),
        "{issues:?}"
    );
}

/// On GitHub the statement is signed keylessly with `cosign attest --type <predicate type>`
/// (the step's keyless command); the same command with the environment's key shows that cosign
/// takes the project's URI as the type, that the registry facts read the statement it writes
/// (a layer annotated with its type) and that `verify-release`'s check verifies it.
#[test]
fn a_statement_written_by_cosign_attest_is_read_and_verified() {
    let env = env();
    let github = GithubStandin::start();
    let token = github.token("withdraw", &[("contents", Access::Write)]);
    github.publish_release("1.0.0", false);
    let f = Fixture {
        repo: env.repository("withdraw-attest"),
        charts: env.repository("withdraw-attest-charts"),
        out: temp_dir("withdraw-attest-out"),
        github,
        token,
    };
    let digest = f.publish("1.0.0", &["1.0", "1", "latest"]);
    let predicate = f.out.join("predicate.json");
    let statement = kube9_release::withdrawal::Withdrawal {
        version: "1.0.0".into(),
        reason: "regression".into(),
        replacement: None,
        withdrawn: true,
        time: "2026-12-07T01:00:00Z".into(),
    };
    std::fs::write(&predicate, serde_json::to_vec(&statement).unwrap()).unwrap();
    let repository = f.repository();
    let signer = kube9_release::sign::Signer::Key {
        key: kube9_release::secret::Secret::new(env.cosign_key()),
        password: kube9_release::secret::Secret::new(env.cosign_password()),
        from: "the environment".into(),
    };
    Cosign::for_repository(&repository, false)
        .attest(
            &signer,
            kube9_release::sign::AttestationType::Withdrawal,
            &predicate,
            &format!("{}@{digest}", f.repo),
            None,
        )
        .run()
        .unwrap();
    let registry = kube9_release::registry::Registry::new(repository, None, Default::default());
    let tags = registry.tags().unwrap();
    let read = kube9_release::attached::withdrawal_of(&registry, &digest, &tags).unwrap();
    assert_eq!(read, Some(statement.clone()));
    let cx = f.check_withdrawal(&digest, &env.cosign.public_key).unwrap();
    assert_eq!(cx.bindings.withdrawal, Some(statement));
    // Floating tags treat it as withdrawn: with no other 1.x release, they stay.
    let shown = f.withdraw_ok(&["--version", "1.0.0", "--reason", "regression"]);
    assert!(shown.contains("statement  already attached"), "{shown}");
    assert!(
        shown.contains("latest stays on 1.0.0: no release is eligible for it"),
        "{shown}"
    );
}
