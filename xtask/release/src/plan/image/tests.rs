use super::*;
use crate::plan::samples;
use crate::version::ReleaseVersion;

fn inputs() -> ImageInputs {
    samples::image_inputs()
}

fn facts(tags: &[&str]) -> ImageFacts {
    ImageFacts {
        tags: Some(tags.iter().map(|t| t.to_string()).collect()),
        published: None,
        withdrawals: Default::default(),
    }
}

const SCAN: [&str; 5] = ["split-platform", "scan", "convert", "convert", "convert"];

fn expected_fresh() -> Vec<String> {
    let mut kinds = vec![
        "fresh-dir",
        "archive-source",
        "fresh-dir",
        "unpack-source",
        "fresh-dir",
        "build",
        "check-build",
        "check-size",
        "fresh-dir",
        "fetch-database",
        "check-database",
    ];
    kinds.extend(SCAN);
    kinds.extend(SCAN);
    kinds.extend([
        "gate",
        "push-content",
        "login",
        "sign",
        "attest",
        "attest",
        "attach-sbom",
        "attach-sbom",
        "push-version-tags",
        "verify-image",
        "move-floating-tags",
        "record-image",
    ]);
    kinds.into_iter().map(String::from).collect()
}

#[test]
fn a_new_release_builds_scans_gates_pushes_signs_attaches_then_tags() {
    let plan = plan(&inputs(), &facts(&[])).unwrap();
    assert_eq!(plan.kinds(), expected_fresh());
    let text = plan.to_string();
    for expected in [
        "git -C /src archive --format=tar --output /src/target/release/source/c0ffee.tar c0ffee",
        "docker buildx build --file /src/target/release/context/Dockerfile",
        "tag ghcr.io/alto9/kube9-operator: v1.2.3, 1.2.3",
        "floating tags 1.2, 1, latest",
        "cosign login ghcr.io --username octocat --password-stdin <<< ***",
        "cosign sign --yes --key env://COSIGN_PRIVATE_KEY --tlog-upload=false ghcr.io/alto9/kube9-operator@<index-digest>",
        "--predicate /src/target/release/scan/sbom-linux-arm64.cdx.json ghcr.io/alto9/kube9-operator@<linux/arm64-digest>",
        "gate: no finding of severity CRITICAL or above, and Rust packages seen in every platform",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let json = serde_json::to_string(&plan).unwrap();
    for secret in ["k3y-s3cret", "pa55-s3cret", "t0ken-s3cret"] {
        assert!(!text.contains(secret) && !json.contains(secret), "{secret}");
    }
}

#[test]
fn no_push_builds_and_scans_only() {
    let no_push = ImageInputs {
        push: false,
        ..inputs()
    };
    let plan = plan(&no_push, &ImageFacts::default()).unwrap();
    let kinds = plan.kinds();
    assert_eq!(kinds.last().unwrap(), "record-image");
    assert_eq!(kinds[kinds.len() - 2], "gate");
    for absent in [
        "push-content",
        "push-version-tags",
        "attach-sbom",
        "login",
        "sign",
        "attest",
        "verify-image",
    ] {
        assert!(!plan.has(absent), "{absent} in {kinds:?}");
    }
}

#[test]
fn a_prerelease_takes_no_floating_tag() {
    let mut beta = inputs();
    beta.build.release = ReleaseVersion::parse("v1.3.0-beta.1").unwrap();
    assert!(!plan(&beta, &facts(&[])).unwrap().has("move-floating-tags"));
    let mut github_pre = inputs();
    github_pre.build.prerelease = true;
    let plan = plan(&github_pre, &facts(&[])).unwrap();
    assert!(!plan.has("move-floating-tags"));
    assert!(plan.to_string().contains("a pre-release on GitHub"));
}

#[test]
fn a_backport_plans_no_latest() {
    let plan = plan(&inputs(), &facts(&["v2.0.1", "latest", "sha256-ab.sig"])).unwrap();
    let text = plan.to_string();
    assert!(text.contains("floating tags 1.2, 1:"), "{text}");
    assert!(
        text.contains("not latest: held by the higher release 2.0.1"),
        "{text}"
    );
}

fn published(signed: bool, sboms: &[&str], attested: &[&str]) -> Published {
    Published {
        digest: format!("sha256:{}", "a".repeat(64)),
        platforms: vec![
            ("linux/amd64".into(), format!("sha256:{}", "b".repeat(64))),
            ("linux/arm64".into(), format!("sha256:{}", "c".repeat(64))),
        ],
        revision: "c0ffee".into(),
        signed,
        signed_platforms: if signed {
            vec!["linux/amd64".into(), "linux/arm64".into()]
        } else {
            Vec::new()
        },
        sboms: sboms.iter().map(|s| s.to_string()).collect(),
        attested: attested.iter().map(|s| s.to_string()).collect(),
        provenance: true,
        vex: None,
    }
}

#[test]
fn a_rerun_of_a_complete_release_builds_nothing_and_only_verifies() {
    let all = ["linux/amd64", "linux/arm64"];
    let facts = ImageFacts {
        tags: Some(vec!["v1.2.3".into(), "1.2.3".into()]),
        published: Some(published(true, &all, &all)),
        withdrawals: Default::default(),
    };
    let plan = plan(&inputs(), &facts).unwrap();
    assert_eq!(
        plan.kinds(),
        ["verify-image", "move-floating-tags", "record-image"]
    );
}

#[test]
fn a_rerun_waits_for_the_workflows_provenance_before_moving_floating_tags() {
    let all = ["linux/amd64", "linux/arm64"];
    let on_github = ImageInputs {
        provenance: ProvenanceSource::Workflow,
        ..inputs()
    };
    let mut without = published(true, &all, &all);
    without.provenance = false;
    let facts = |p: &Published| ImageFacts {
        tags: Some(vec!["v1.2.3".into(), "1.2.3".into()]),
        published: Some(p.clone()),
        withdrawals: Default::default(),
    };
    // Never left out quietly: the move waits for the provenance, and fails if it does not show.
    let waits = plan(&on_github, &facts(&without)).unwrap();
    assert_eq!(
        waits.kinds(),
        ["verify-image", "move-floating-tags", "record-image"]
    );
    let text = waits.to_string();
    assert!(
        text.contains(&format!(
            "floating tags 1.2, 1, latest: read the tags again, take those no higher release \
             holds, once ghcr.io/alto9/kube9-operator@sha256:{} shows its build provenance \
             (at most 120 s)",
            "a".repeat(64)
        )),
        "{text}"
    );
    assert!(
        text.contains("if it does not show, they stay and the run fails"),
        "{text}"
    );
    // Seen in the registry, or attested by the workflow's step: no wait.
    for (inputs, p) in [
        (on_github.clone(), published(true, &all, &all)),
        (
            ImageInputs {
                provenance_attested: true,
                ..on_github.clone()
            },
            without.clone(),
        ),
    ] {
        let moves = plan(&inputs, &facts(&p)).unwrap();
        assert_eq!(
            moves.kinds(),
            ["verify-image", "move-floating-tags", "record-image"]
        );
        assert!(!moves.to_string().contains("shows its build provenance"));
        // The plan says which of the two let them move.
        assert_eq!(
            moves
                .to_string()
                .contains("the workflow's attest step reported the build provenance"),
            inputs.provenance_attested
        );
    }
    // A first run on GitHub that does not hold its floating tags waits for provenance too.
    let fresh = plan(
        &ImageInputs {
            hold_floating: false,
            ..on_github
        },
        &self::facts(&[]),
    )
    .unwrap();
    assert!(
        fresh.to_string().contains(
            "once ghcr.io/alto9/kube9-operator@<index-digest> shows its build provenance"
        ),
        "{fresh}"
    );
}

#[test]
fn an_unpushed_build_of_a_published_version_builds_and_publishes_nothing() {
    let facts = ImageFacts {
        tags: Some(vec!["v1.2.3".into()]),
        published: Some(published(false, &[], &[])),
        withdrawals: Default::default(),
    };
    let local = ImageInputs {
        push: false,
        signer: None,
        ..inputs()
    };
    let plan = plan(&local, &facts).unwrap();
    assert!(plan.has("build") && plan.has("gate"), "{:?}", plan.kinds());
    for absent in [
        "push-content",
        "sign",
        "attest",
        "attach-sbom",
        "push-version-tags",
        "push-repo-metadata",
        "move-floating-tags",
        "verify-image",
    ] {
        assert!(!plan.has(absent), "{absent}: {:?}", plan.kinds());
    }
}

#[test]
fn a_rerun_of_a_release_tagged_before_it_was_signed_reads_it_back_and_signs_it() {
    let all = ["linux/amd64", "linux/arm64"];
    let facts = ImageFacts {
        tags: Some(vec!["v1.2.3".into()]),
        published: Some(published(false, &all, &[])),
        withdrawals: Default::default(),
    };
    let plan = plan(&inputs(), &facts).unwrap();
    let kinds = plan.kinds();
    assert!(!plan.has("build") && !plan.has("push-content") && !plan.has("attach-sbom"));
    assert!(kinds.contains(&"pull-published".to_string()));
    let signing = ["login", "sign", "attest"];
    // The login, one cosign run signing the index and both platforms, both SBOMs attested.
    assert_eq!(
        kinds
            .iter()
            .filter(|k| signing.contains(&k.as_str()))
            .count(),
        4,
        "{kinds:?}"
    );
    assert!(
        plan.to_string()
            .contains("sign the index, the linux/amd64 image and the linux/arm64 image: "),
        "{plan}"
    );
    let floating = kinds
        .iter()
        .position(|k| k == "move-floating-tags")
        .unwrap();
    let last_signature = kinds.iter().rposition(|k| k == "attest").unwrap();
    assert!(last_signature < floating, "{kinds:?}");
    let gate = plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Gate(gate) => Some(gate),
            _ => None,
        })
        .unwrap();
    assert!(!gate.enforce);
}

#[test]
fn another_commit_under_a_published_version_is_refused_before_building() {
    let mut other = published(true, &[], &[]);
    other.revision = "deadbeef".into();
    let facts = ImageFacts {
        tags: Some(vec!["v1.2.3".into()]),
        published: Some(other),
        withdrawals: Default::default(),
    };
    let err = plan(&inputs(), &facts).unwrap_err().to_string();
    assert!(
        err.contains("never overwritten") && err.contains("deadbeef"),
        "{err}"
    );
}

#[test]
fn without_signing_nothing_is_signed() {
    let unsigned = ImageInputs {
        signer: None,
        ..inputs()
    };
    let plan = plan(&unsigned, &facts(&[])).unwrap();
    assert!(!plan.has("sign") && !plan.has("attest") && !plan.has("login"));
    assert!(plan.to_string().contains("signing    none"));
}

#[test]
fn planning_twice_gives_the_same_bytes() {
    let a = plan(&inputs(), &facts(&["v1.0.0"])).unwrap();
    let b = plan(&inputs(), &facts(&["v1.0.0"])).unwrap();
    assert_eq!(a.to_string(), b.to_string());
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn nothing_is_tagged_before_every_signature_and_attachment() {
    let plan = plan(&inputs(), &facts(&[])).unwrap();
    let kinds = plan.kinds();
    let first_tag = kinds.iter().position(|k| k == "push-version-tags").unwrap();
    for kind in ["sign", "attest", "attach-sbom", "push-content"] {
        let last = kinds.iter().rposition(|k| k == kind).unwrap();
        assert!(last < first_tag, "{kind} after a tag: {kinds:?}");
    }
    assert_eq!(
        kinds[kinds.len() - 2],
        "move-floating-tags",
        "floating tags last"
    );
    let text = plan.to_string();
    assert!(
        text.contains("sign the index, the linux/amd64 image and the linux/arm64 image: ")
            && text.contains(
                "ghcr.io/alto9/kube9-operator@<index-digest> \
             ghcr.io/alto9/kube9-operator@<linux/amd64-digest> \
             ghcr.io/alto9/kube9-operator@<linux/arm64-digest>"
            ),
        "{text}"
    );
}

#[test]
fn held_floating_tags_are_moved_by_a_rerun() {
    let held = ImageInputs {
        hold_floating: true,
        ..inputs()
    };
    let first = plan(&held, &facts(&[])).unwrap();
    assert!(!first.has("move-floating-tags"));
    assert!(first
        .to_string()
        .contains("floating tags held: a re-run moves them"));
    let all = ["linux/amd64", "linux/arm64"];
    let published = ImageFacts {
        tags: Some(vec!["v1.2.3".into(), "1.2.3".into()]),
        published: Some(published(true, &all, &all)),
        withdrawals: Default::default(),
    };
    let rerun = plan(&inputs(), &published).unwrap();
    assert_eq!(
        rerun.kinds(),
        ["verify-image", "move-floating-tags", "record-image"]
    );
}

#[test]
fn off_github_the_release_attests_its_own_build_provenance() {
    let local = ImageInputs {
        provenance: ProvenanceSource::Release,
        ..inputs()
    };
    let plan = plan(&local, &facts(&[])).unwrap();
    let text = plan.to_string();
    assert!(
        text.contains("attest the SLSA build provenance of the index (in-toto Statement v1, /src/target/release/provenance.json): ")
            && text.contains("cosign sign-blob --yes --key env://COSIGN_PRIVATE_KEY --tlog-upload=false --output-signature /src/target/release/provenance.sig /src/target/release/provenance.pae")
            && text.contains("cosign attach attestation --attestation /src/target/release/provenance.intoto.json ghcr.io/alto9/kube9-operator@<index-digest>"),
        "{text}"
    );
    let record = plan.steps.iter().find_map(|s| match s {
        Step::RecordImage(r) => Some(r),
        _ => None,
    });
    assert!(!record.unwrap().provenance_missing);
    // On GitHub the workflow's own step attests it, once.
    let github = plan_of(&inputs());
    assert!(!github.has("attest-provenance"));
    assert!(!github.to_string().contains("provenance.intoto.json"));
    let record = github.steps.iter().find_map(|s| match s {
        Step::RecordImage(r) => Some(r),
        _ => None,
    });
    assert!(record.unwrap().provenance_missing);
}

fn plan_of(inputs: &ImageInputs) -> Plan {
    plan(inputs, &facts(&[])).unwrap()
}

#[test]
fn a_version_without_v_gets_no_v_tag() {
    let mut plain = inputs();
    plain.build.release = ReleaseVersion::parse("1.2.3").unwrap();
    let text = plan_of(&plain).to_string();
    assert!(text.contains("tags       1.2.3 1.2 1 latest\n"), "{text}");
    assert!(!text.contains("v1.2.3"), "{text}");
}

#[test]
fn a_rerun_of_a_plain_version_published_under_the_old_rule_changes_nothing() {
    // `1.2.3` was once published as v1.2.3 and 1.2.3 (an invented v tag); a re-run now finds
    // it under its own tag and only verifies.
    let mut plain = inputs();
    plain.build.release = ReleaseVersion::parse("1.2.3").unwrap();
    let all = ["linux/amd64", "linux/arm64"];
    let facts = ImageFacts {
        tags: Some(
            ["v1.2.3", "1.2.3", "1.2", "1", "latest"]
                .map(String::from)
                .to_vec(),
        ),
        published: Some(published(true, &all, &all)),
        withdrawals: Default::default(),
    };
    let plan = plan(&plain, &facts).unwrap();
    assert_eq!(
        plan.kinds(),
        ["verify-image", "move-floating-tags", "record-image"]
    );
    assert!(plan
        .to_string()
        .contains("verify ghcr.io/alto9/kube9-operator:1.2.3:"));
}

fn with_vex() -> ImageInputs {
    let text = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex",
        "author": "maintainers", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": "CVE-2099-0003"},
          "products": [{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}],
          "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}"#;
    ImageInputs {
        vex: Some(VexInputs {
            source: "/src/security/vex.json".into(),
            doc: vex::parse("security/vex.json", text).unwrap(),
        }),
        ..inputs()
    }
}

#[test]
fn the_vex_statements_are_applied_by_the_gate_and_attested_before_the_provenance() {
    let local = ImageInputs {
        provenance: ProvenanceSource::Release,
        ..with_vex()
    };
    let plan = plan(&local, &facts(&[])).unwrap();
    let kinds = plan.kinds();
    let at = |kind: &str| kinds.iter().position(|k| k == kind).unwrap();
    assert!(at("check-size") < at("render-vex") && at("render-vex") < at("scan"));
    assert!(
        at("attest-vex") < at("attest-provenance"),
        "before the provenance: {kinds:?}"
    );
    let text = plan.to_string();
    assert!(
        text.contains("--vex /src/target/release/vex/gate-linux-arm64.json --show-suppressed"),
        "{text}"
    );
    assert!(
        text.contains("--type openvex ")
            && text.contains("--replace ghcr.io/alto9/kube9-operator@<index-digest>"),
        "{text}"
    );
    assert!(
        text.contains("vex        /src/security/vex.json: 1 statement(s)"),
        "{text}"
    );
    // Without a signer nothing is attested, but the gate still applies the statements.
    let unsigned = plan_of(&ImageInputs {
        signer: None,
        ..with_vex()
    });
    assert!(!unsigned.has("attest-vex") && unsigned.has("render-vex"));
}

#[test]
fn a_rerun_attests_the_vex_statements_only_when_the_index_lacks_them() {
    let all = ["linux/amd64", "linux/arm64"];
    let inputs = with_vex();
    let mut published = published(true, &all, &all);
    let facts_with = |published: &Published| ImageFacts {
        tags: Some(vec!["v1.2.3".into(), "1.2.3".into()]),
        published: Some(published.clone()),
        withdrawals: Default::default(),
    };
    let missing = plan(&inputs, &facts_with(&published)).unwrap();
    assert!(
        missing.has("render-vex") && missing.has("attest-vex"),
        "{:?}",
        missing.kinds()
    );
    let vex = inputs.vex.as_ref().unwrap();
    published.vex = inputs.vex_release().document(&vex.doc, &published.digest);
    let done = plan(&inputs, &facts_with(&published)).unwrap();
    assert!(
        !done.has("attest-vex") && !done.has("render-vex"),
        "{:?}",
        done.kinds()
    );
}

#[test]
fn a_withdrawn_release_is_absent_for_floating_tags_and_a_rerun_of_it_moves_none() {
    let statement = |version: &str| crate::withdrawal::Withdrawal {
        version: version.into(),
        reason: "leaks a debug flag".into(),
        replacement: None,
        withdrawn: true,
        time: "2026-12-07T01:00:00Z".into(),
    };
    let mut withdrawals = crate::withdrawal::Withdrawals::default();
    withdrawals
        .statements
        .insert(semver::Version::parse("1.2.4").unwrap(), statement("1.2.4"));
    // 1.2.4 is withdrawn: 1.2.3 is the highest release eligible for 1.2, 1 and latest.
    let facts = ImageFacts {
        tags: Some(vec!["v1.2.4".into(), "1.2.4".into()]),
        published: None,
        withdrawals: withdrawals.clone(),
    };
    let shown = plan(&inputs(), &facts).unwrap().to_string();
    assert!(
        shown.contains("tags       v1.2.3 1.2.3 1.2 1 latest"),
        "{shown}"
    );
    assert!(
        shown.contains("(withdrawn, absent for every floating tag: 1.2.4)"),
        "{shown}"
    );
    // A re-run of a withdrawn release takes no floating tag, and image.json records why.
    withdrawals
        .statements
        .insert(semver::Version::parse("1.2.3").unwrap(), statement("1.2.3"));
    let all = ["linux/amd64", "linux/arm64"];
    let rerun = plan(
        &inputs(),
        &ImageFacts {
            tags: Some(vec!["v1.2.3".into(), "1.2.3".into()]),
            published: Some(published(true, &all, &all)),
            withdrawals,
        },
    )
    .unwrap();
    assert_eq!(rerun.kinds(), ["verify-image", "record-image"]);
    assert!(rerun
        .to_string()
        .contains("(1.2.3 is withdrawn: no floating tag moves to it)"));
    let Some(Step::RecordImage(record)) = rerun.steps.last() else {
        panic!("no record")
    };
    assert_eq!(record.withdrawal, Some(statement("1.2.3")));
}

#[test]
fn a_github_prerelease_with_a_plain_version_never_holds_a_floating_tag() {
    // 1.3.0 was published as a GitHub pre-release (its index says so): it took no floating
    // tag then, and does not keep a later 1.2.3 from them now.
    let tags = Some(vec!["v1.3.0".into(), "1.3.0".into()]);
    let marked = ImageFacts {
        tags: tags.clone(),
        published: None,
        withdrawals: crate::withdrawal::Withdrawals {
            marked_prereleases: vec![semver::Version::parse("1.3.0").unwrap()],
            ..Default::default()
        },
    };
    let shown = plan(&inputs(), &marked).unwrap().to_string();
    assert!(
        shown.contains("tags       v1.2.3 1.2.3 1.2 1 latest"),
        "{shown}"
    );
    // The control: a 1.3.0 released as a release holds 1 and latest.
    let released = ImageFacts {
        tags,
        published: None,
        withdrawals: Default::default(),
    };
    let shown = plan(&inputs(), &released).unwrap().to_string();
    assert!(shown.contains("tags       v1.2.3 1.2.3 1.2"), "{shown}");
    assert!(
        shown.contains("not 1: held by the higher release 1.3.0"),
        "{shown}"
    );
}
