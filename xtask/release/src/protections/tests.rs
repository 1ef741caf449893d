use serde_json::json;

use super::*;

fn all_protected() -> Answers {
    let image = Package::of_repository("ghcr.io/alto9/kube9-operator").unwrap();
    let chart = Package::of_repository("oci://ghcr.io/alto9/charts/kube9-operator").unwrap();
    Answers {
        repository: "alto9/kube9-operator".into(),
        rulesets: Answer::Found(json!([{"id": 7, "target": "tag"}])),
        ruleset_details: vec![Answer::Found(json!({
            "id": 7, "name": "release tags", "target": "tag", "enforcement": "active",
            "conditions": {"ref_name": {"include": ["refs/tags/v*"], "exclude": []}},
            "rules": [{"type": "creation"}, {"type": "update"}, {"type": "deletion"},
                      {"type": "non_fast_forward"}],
        }))],
        immutable_releases: Answer::Found(json!({"enabled": true, "enforced_by_owner": false})),
        environment: Answer::Found(json!({"name": "release", "deployment_branch_policy":
            {"protected_branches": false, "custom_branch_policies": true}})),
        branch_policies: Some(Answer::Found(json!({"total_count": 1, "branch_policies":
            [{"id": 1, "name": "v*", "type": "tag"}]}))),
        workflow_permissions: Answer::Found(json!({"default_workflow_permissions": "read"})),
        packages: vec![
            (image, Answer::Found(json!({"visibility": "public"}))),
            (chart, Answer::Found(json!({"visibility": "public"}))),
        ],
    }
}

fn states(a: &Answers) -> Vec<State> {
    judge(a).into_iter().map(|v| v.state).collect()
}

/// The verdict of protection `i`, which must be missing: its line.
fn missing_line(a: &Answers, i: usize) -> String {
    let verdicts = judge(a);
    for (j, v) in verdicts.iter().enumerate() {
        assert_eq!(
            matches!(v.state, State::Missing { .. }),
            i == j,
            "{}",
            v.line()
        );
    }
    verdicts[i].line()
}

#[test]
fn a_protected_repository_has_every_verdict_protected() {
    let a = all_protected();
    assert_eq!(states(&a), vec![State::Protected; 6]);
    assert_eq!(
        judge(&a)[4].protection,
        "package ghcr.io/alto9/kube9-operator public"
    );
    assert_eq!(
        judge(&a)[5].protection,
        "package ghcr.io/alto9/charts/kube9-operator public"
    );
}

#[test]
fn tags_need_an_active_tag_ruleset_over_v_tags_with_every_rule() {
    let mut a = all_protected();
    a.rulesets = Answer::Found(json!([]));
    a.ruleset_details.clear();
    let line = missing_line(&a, 0);
    assert!(
        line.contains("no active tag ruleset covers refs/tags/v*"),
        "{line}"
    );
    assert!(
        line.contains("Settings > Rules > Rulesets > New ruleset > New tag ruleset"),
        "{line}"
    );
    assert!(
        line.contains("gh api -X POST repos/alto9/kube9-operator/rulesets"),
        "{line}"
    );

    let mut a = all_protected();
    let Answer::Found(r) = &mut a.ruleset_details[0] else {
        unreachable!()
    };
    r["rules"] = json!([{"type": "deletion"}, {"type": "non_fast_forward"}]);
    let line = missing_line(&a, 0);
    assert!(
        line.contains("`release tags` lacks creation, update"),
        "{line}"
    );

    for (field, value) in [
        ("enforcement", json!("evaluate")),
        ("target", json!("branch")),
        (
            "conditions",
            json!({"ref_name": {"include": ["refs/tags/release-*"]}}),
        ),
    ] {
        let mut a = all_protected();
        let Answer::Found(r) = &mut a.ruleset_details[0] else {
            unreachable!()
        };
        r[field] = value;
        assert!(
            missing_line(&a, 0).contains("no active tag ruleset"),
            "{field}"
        );
    }

    // Rules spread over two active rulesets together protect the tags.
    let mut a = all_protected();
    let Answer::Found(r) = &a.ruleset_details[0] else {
        unreachable!()
    };
    let (mut first, mut second) = (r.clone(), r.clone());
    first["rules"] = json!([{"type": "creation"}, {"type": "update"}]);
    second["rules"] = json!([{"type": "deletion"}, {"type": "non_fast_forward"}]);
    second["conditions"]["ref_name"]["include"] = json!(["~ALL"]);
    a.ruleset_details = vec![Answer::Found(first), Answer::Found(second)];
    assert_eq!(states(&a)[0], State::Protected);
}

#[test]
fn releases_must_be_immutable() {
    for answer in [
        Answer::Found(json!({"enabled": false, "enforced_by_owner": false})),
        Answer::NotFound,
    ] {
        let mut a = all_protected();
        a.immutable_releases = answer;
        let line = missing_line(&a, 1);
        assert!(
            line.contains("Settings > General > Releases > Enable release immutability"),
            "{line}"
        );
        assert!(
            line.contains("gh api -X PUT repos/alto9/kube9-operator/immutable-releases"),
            "{line}"
        );
    }
}

#[test]
fn the_release_environment_admits_only_v_tags() {
    let cases: Vec<(Answer, Option<Answer>, &str)> = vec![
        (Answer::NotFound, None, "no `release` environment"),
        (
            Answer::Found(json!({"deployment_branch_policy": null})),
            None,
            "every branch and tag",
        ),
        (
            Answer::Found(json!({"deployment_branch_policy":
                {"protected_branches": true, "custom_branch_policies": false}})),
            None,
            "protected branches",
        ),
        (
            all_protected().environment,
            Some(Answer::Found(json!({"branch_policies": [
                {"name": "v*", "type": "tag"}, {"name": "main", "type": "branch"}]}))),
            "also admits branch `main`",
        ),
        (
            all_protected().environment,
            Some(Answer::Found(
                json!({"branch_policies": [{"name": "*", "type": "tag"}]}),
            )),
            "also admits tag `*`",
        ),
        (
            all_protected().environment,
            Some(Answer::Found(json!({"branch_policies": []}))),
            "no deployment rule",
        ),
    ];
    for (environment, policies, expected) in cases {
        let mut a = all_protected();
        a.environment = environment;
        a.branch_policies = policies;
        let line = missing_line(&a, 2);
        assert!(line.contains(expected), "{line}");
        assert!(
            line.contains("Settings > Environments > `release`"),
            "{line}"
        );
        assert!(
            line.contains("deployment-branch-policies -f name='v*' -f type=tag"),
            "{line}"
        );
    }
}

#[test]
fn the_default_workflow_token_must_be_read_only() {
    let mut a = all_protected();
    a.workflow_permissions = Answer::Found(json!({"default_workflow_permissions": "write"}));
    let line = missing_line(&a, 3);
    assert!(line.contains("is `write`"), "{line}");
    assert!(
        line.contains("Settings > Actions > General > Workflow permissions"),
        "{line}"
    );
    assert!(line.contains("default_workflow_permissions=read"), "{line}");
}

#[test]
fn packages_must_be_public() {
    let mut a = all_protected();
    a.packages[1].1 = Answer::Found(json!({"visibility": "private"}));
    let line = missing_line(&a, 5);
    assert!(
        line.contains("charts/kube9-operator public: its visibility is `private`"),
        "{line}"
    );
    assert!(line.contains("Change visibility > Public"), "{line}");
    assert!(
        line.contains("orgs/alto9/packages/container/charts%2Fkube9-operator/settings"),
        "{line}"
    );
    a.packages[1].1 = Answer::NotFound;
    assert!(missing_line(&a, 5).contains("not published yet"));
}

#[test]
fn a_refusal_names_the_permission_and_is_no_verdict() {
    let mut a = all_protected();
    a.rulesets = Answer::Refused(403);
    a.immutable_releases = Answer::Refused(403);
    a.environment = Answer::Refused(403);
    a.workflow_permissions = Answer::Failed("GitHub answered 500".into());
    a.packages[0].1 = Answer::Refused(403);
    let verdicts = judge(&a);
    for v in &verdicts[..4] {
        let State::Unreadable { permission } = &v.state else {
            panic!("{}", v.line())
        };
        assert!(permission.contains("Administration: read"), "{}", v.line());
        assert!(v.line().contains("not readable with this token"));
    }
    let State::Unreadable { permission } = &verdicts[4].state else {
        panic!("{}", verdicts[4].line())
    };
    assert!(permission.contains("packages: read"));
    assert_eq!(verdicts[5].state, State::Protected);
    // A refused ruleset read is no verdict either, whatever the list said.
    let mut a = all_protected();
    a.ruleset_details[0] = Answer::Refused(403);
    assert!(matches!(judge(&a)[0].state, State::Unreadable { .. }));
}

#[test]
fn only_ghcr_repositories_are_packages_github_can_describe() {
    assert_eq!(
        Package::of_repository("oci://ghcr.io/me/charts/kube9-operator"),
        Some(Package {
            owner: "me".into(),
            name: "charts/kube9-operator".into()
        })
    );
    assert_eq!(Package::of_repository("registry.example.com/me/x"), None);
    assert_eq!(Package::of_repository("ghcr.io/me"), None);
}
