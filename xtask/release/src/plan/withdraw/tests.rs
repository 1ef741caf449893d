use super::*;
use crate::secret::Secret;

fn inputs(
    version: &str,
    reason: Option<&str>,
    replacement: Option<&str>,
    undo: bool,
) -> WithdrawInputs {
    WithdrawInputs {
        release: ReleaseVersion::parse(version).unwrap(),
        reason: reason.map(String::from),
        replacement: replacement.map(|r| ReleaseVersion::parse(r).unwrap()),
        undo,
        repository: Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
        chart: Repository::parse("ghcr.io/alto9/charts/kube9-operator").unwrap(),
        signer: Signer::Key {
            key: Secret::new("k"),
            password: Secret::new("p"),
            from: "COSIGN_PRIVATE_KEY".into(),
        },
        credentials: None,
        out_dir: PathBuf::from("/out"),
        github: None,
    }
}

fn statement(version: &str, withdrawn: bool) -> Withdrawal {
    Withdrawal {
        version: version.into(),
        reason: "bad".into(),
        replacement: None,
        withdrawn,
        time: "2026-12-07T01:00:00Z".into(),
    }
}

/// 1.2.2, 1.2.3, 2.0.0 and 1.3.0-rc.1, the floating tags where the releases put them, and
/// the given versions withdrawn.
fn facts(version: &str, withdrawn: &[&str]) -> WithdrawFacts {
    let releases = [
        ("1.2.2", "a"),
        ("1.2.3", "b"),
        ("2.0.0", "c"),
        ("1.3.0-rc.1", "d"),
    ];
    let mut digests: BTreeMap<String, String> = releases
        .iter()
        .map(|(v, d)| (v.to_string(), format!("sha256:{d}")))
        .collect();
    let mut withdrawals = Withdrawals::default();
    for w in withdrawn {
        withdrawals
            .statements
            .insert(Version::parse(w).unwrap(), statement(w, true));
    }
    let eligible: Vec<Version> = version::eligible(
        &releases
            .iter()
            .map(|(v, _)| Version::parse(v).unwrap())
            .collect::<Vec<_>>(),
        &withdrawals.withdrawn(),
    );
    for tag in ["1.2", "1", "latest", "2", "2.0"] {
        let holder = version::holder(tag, &eligible).map(ToString::to_string);
        // A tag with no eligible holder stays on its last release (2.0.0 for 2 and 2.0).
        let holder = holder.unwrap_or_else(|| "2.0.0".into());
        let d = digests[&holder].clone();
        digests.insert(tag.into(), d);
    }
    let mut tags: Vec<String> = releases.iter().map(|(v, _)| v.to_string()).collect();
    tags.extend(["1.2", "1", "latest", "2", "2.0"].map(String::from));
    WithdrawFacts {
        index: digests.get(version).cloned(),
        chart: Some("sha256:chart".into()),
        tags: Some(tags),
        withdrawals,
        digests,
    }
}

#[test]
fn withdrawing_steps_each_floating_tag_back_and_says_so() {
    // With a later patch released, 1.2 and 1 step to it instead.
    let mut later = facts("1.2.3", &[]);
    later.tags.as_mut().unwrap().push("1.2.4".into());
    later.digests.insert("1.2.4".into(), "sha256:e".into());
    let shown = plan(&inputs("v1.2.3", Some("x"), Some("v1.2.4"), false), &later)
        .unwrap()
        .to_string();
    assert!(
        shown.contains("tags       withdrawal move: 1.2 1.2.3 -> 1.2.4"),
        "{shown}"
    );
    assert!(shown.contains("use        1.2.4"), "{shown}");

    let plan = super::plan(
        &inputs("v1.2.3", Some("leaks a debug flag"), Some("v2.0.0"), false),
        &facts("1.2.3", &[]),
    )
    .unwrap();
    assert_eq!(plan.kinds(), ["attest-withdrawal", "move-withdrawn-tags"]);
    let shown = plan.to_string();
    assert!(
        shown.contains("tags       withdrawal move: 1.2 1.2.3 -> 1.2.2"),
        "{shown}"
    );
    assert!(
        shown.contains("tags       withdrawal move: 1 1.2.3 -> 1.2.2"),
        "{shown}"
    );
    assert!(
        shown.contains("tags       latest stays on 2.0.0"),
        "{shown}"
    );
    assert!(shown.contains("use        2.0.0"), "{shown}");
    // Signed and attached (index and chart) before any tag moves.
    assert!(shown.contains("cosign sign-blob"), "{shown}");
    assert!(
        shown.contains("ghcr.io/alto9/kube9-operator@sha256:b"),
        "{shown}"
    );
    assert!(
        shown.contains("ghcr.io/alto9/charts/kube9-operator@sha256:chart"),
        "{shown}"
    );
    assert!(shown.contains(crate::withdrawal::PREDICATE_TYPE), "{shown}");
}

#[test]
fn a_tag_with_no_eligible_release_stays_and_the_plan_says_so() {
    let plan = plan(
        &inputs("v2.0.0", Some("regression"), None, false),
        &facts("2.0.0", &["1.2.3"]),
    )
    .unwrap();
    let shown = plan.to_string();
    assert!(
        shown.contains("tags       withdrawal move: latest 2.0.0 -> 1.2.2"),
        "{shown}"
    );
    assert!(
        shown.contains("tags       2.0 stays on 2.0.0: no release is eligible for it"),
        "{shown}"
    );
    assert!(
        shown.contains("tags       2 stays on 2.0.0: no release is eligible for it"),
        "{shown}"
    );
}

#[test]
fn a_rerun_signs_nothing_again_and_moves_nothing_that_is_right() {
    let mut f = facts("1.2.3", &["1.2.3"]);
    f.withdrawals
        .statements
        .get_mut(&Version::parse("1.2.3").unwrap())
        .unwrap()
        .reason = "bad".into();
    let plan = plan(&inputs("1.2.3", Some("bad"), None, false), &f).unwrap();
    assert_eq!(plan.kinds(), ["move-withdrawn-tags"]);
    let shown = plan.to_string();
    assert!(shown.contains("statement  already attached"), "{shown}");
    assert!(shown.contains("tags       1.2 stays on 1.2.2"), "{shown}");
    assert!(!shown.contains("withdrawal move"), "{shown}");
    // A different reason is a new statement (the latest wins).
    let plan = super::plan(&inputs("1.2.3", Some("worse"), None, false), &f).unwrap();
    assert_eq!(plan.kinds(), ["attest-withdrawal", "move-withdrawn-tags"]);
}

#[test]
fn an_undo_returns_the_tags_to_what_the_normal_rules_give() {
    let plan = plan(
        &inputs("v2.0.0", None, None, true),
        &facts("2.0.0", &["2.0.0"]),
    )
    .unwrap();
    let shown = plan.to_string();
    assert_eq!(plan.kinds(), ["attest-withdrawal", "move-withdrawn-tags"]);
    assert!(
        shown.contains("tags       return: latest 1.2.3 -> 2.0.0"),
        "{shown}"
    );
    // Undoing what is not withdrawn signs nothing.
    let plan = super::plan(&inputs("v2.0.0", None, None, true), &facts("2.0.0", &[])).unwrap();
    assert_eq!(plan.kinds(), ["move-withdrawn-tags"]);
}

#[test]
fn bad_inputs_stop_before_anything_is_signed_or_moved() {
    let err = |i: WithdrawInputs, f: &WithdrawFacts| plan(&i, f).unwrap_err().to_string();
    let f = facts("1.2.3", &[]);
    let e = err(inputs("v1.2.3", None, None, false), &f);
    assert!(
        e.contains("no reason given") && e.contains("--reason"),
        "{e}"
    );
    let e = err(inputs("v1.2.3", Some("  "), None, false), &f);
    assert!(e.contains("no reason given"), "{e}");
    let e = err(inputs("v1.2.3", Some("x"), Some("v1.2.2"), false), &f);
    assert!(e.contains("not higher than the withdrawn"), "{e}");
    let e = err(inputs("v1.2.3", Some("x"), Some("v1.2.3"), false), &f);
    assert!(e.contains("not higher than the withdrawn"), "{e}");
    let e = err(inputs("v1.2.3", Some("x"), Some("v1.2.9"), false), &f);
    assert!(e.contains("v1.2.9 was never released"), "{e}");
    let e = err(
        inputs("v1.2.3", Some("x"), Some("v2.0.0"), false),
        &facts("1.2.3", &["2.0.0"]),
    );
    assert!(e.contains("is itself withdrawn"), "{e}");
    let e = err(
        inputs("v1.2.7", Some("x"), None, false),
        &facts("1.2.7", &[]),
    );
    assert!(e.contains("v1.2.7 was never released"), "{e}");
    let e = err(inputs("v1.2.3", None, Some("v2.0.0"), true), &f);
    assert!(e.contains("--use"), "{e}");
}

#[test]
fn a_dry_run_plans_without_the_registry_and_still_checks_the_inputs() {
    let plan = plan(
        &inputs("v1.2.3", Some("bad"), Some("v1.2.4"), false),
        &WithdrawFacts::default(),
    )
    .unwrap();
    let shown = plan.to_string();
    assert!(shown.contains("the registry was not asked"), "{shown}");
    assert!(
        shown.contains("<index-digest>") && shown.contains("<chart-digest>"),
        "{shown}"
    );
    assert!(super::plan(
        &inputs("v1.2.3", None, None, false),
        &WithdrawFacts::default()
    )
    .is_err());
}

#[test]
fn a_prerelease_has_no_floating_tag_to_move() {
    let plan = plan(
        &inputs("1.3.0-rc.1", Some("bad"), None, false),
        &facts("1.3.0-rc.1", &[]),
    )
    .unwrap();
    assert_eq!(plan.kinds(), ["attest-withdrawal"]);
}

#[test]
fn with_a_token_the_github_release_is_marked_last() {
    let mut i = inputs("v1.2.3", Some("leaks a debug flag"), Some("v2.0.0"), false);
    i.github = Some(GithubApi {
        url: "https://api.github.com".into(),
        repository: "alto9/kube9-operator".into(),
        token: Some(Secret::new("ghs_x")),
    });
    let plan = plan(&i, &facts("1.2.3", &[])).unwrap();
    assert_eq!(
        plan.kinds(),
        [
            "attest-withdrawal",
            "move-withdrawn-tags",
            "mark-github-release"
        ]
    );
    let Step::MarkGithubRelease(mark) = &plan.steps[2] else {
        panic!()
    };
    assert_eq!(
        mark.summary.as_deref(),
        Some("withdrawn: leaks a debug flag; use 2.0.0")
    );
    assert!(!plan.to_string().contains("ghs_x"));
    let without = plan_without_token();
    assert!(without.contains("github     the GitHub release of v1.2.3 is not marked"));
}

fn plan_without_token() -> String {
    plan(
        &inputs("v1.2.3", Some("x"), None, false),
        &facts("1.2.3", &[]),
    )
    .unwrap()
    .to_string()
}
