//! Every plan the planners produce is in order: each binding a step reads is written by an
//! earlier step (the planners return only checked plans, so building them is the test), and a
//! plan that is not is refused when it is built, naming both steps.

use super::chart::{self, ChartFacts};
use super::image::{self, ImageFacts, ImageInputs, ProvenanceSource, Published};
use super::release::{self, ReleaseFacts};
use super::samples::{chart_inputs, image_inputs, key, release_inputs, verify_inputs};
use super::verify::{self, PublicCheck, VerifyInputs};
use super::{build, check_order};
use crate::secret::Secret;
use crate::sign::{Signer, Verifier};
use crate::step::{Bound, Step, Subject};

fn keyless() -> Signer {
    Signer::Keyless {
        request_token: Secret::new("oidc"),
    }
}

fn published(complete: bool) -> Published {
    let platforms = ["linux/amd64", "linux/arm64"];
    let all = |on: bool| -> Vec<String> {
        if on {
            platforms.iter().map(|p| p.to_string()).collect()
        } else {
            Vec::new()
        }
    };
    Published {
        digest: format!("sha256:{}", "a".repeat(64)),
        platforms: platforms
            .iter()
            .map(|p| (p.to_string(), format!("sha256:{}", "b".repeat(64))))
            .collect(),
        revision: "c0ffee".into(),
        signed: complete,
        signed_platforms: all(complete),
        sboms: all(complete),
        attested: all(complete),
        provenance: complete,
        vex: None,
    }
}

/// A fresh release, a re-run of a complete one, and a re-run of one a failed run left half done.
fn image_facts() -> Vec<ImageFacts> {
    let tags = Some(vec!["v1.2.3".to_string(), "1.2.3".to_string()]);
    vec![
        ImageFacts::default(),
        ImageFacts {
            tags: tags.clone(),
            published: Some(published(true)),
            ..Default::default()
        },
        ImageFacts {
            tags,
            published: Some(published(false)),
            ..Default::default()
        },
    ]
}

fn image_variants() -> Vec<ImageInputs> {
    let mut all = Vec::new();
    for push in [true, false] {
        for prerelease in [false, true] {
            for signer in [None, Some(key()), Some(keyless())] {
                for provenance in [ProvenanceSource::Workflow, ProvenanceSource::Release] {
                    for hold_floating in [false, true] {
                        let mut inputs = image_inputs();
                        inputs.push = push;
                        inputs.build.prerelease = prerelease;
                        inputs.signer = signer.clone();
                        inputs.provenance = provenance;
                        inputs.hold_floating = hold_floating;
                        all.push(inputs);
                    }
                }
            }
        }
    }
    all
}

#[test]
fn every_image_chart_and_release_plan_is_in_order() {
    let mut planned = 0;
    for inputs in image_variants() {
        for facts in image_facts() {
            image::plan(&inputs, &facts).unwrap();
            let mut whole = release_inputs();
            whole.image = inputs.clone();
            let facts = ReleaseFacts {
                image: facts.clone(),
                chart: ChartFacts::default(),
            };
            release::plan(&whole, &facts).unwrap();
            planned += 2;
        }
    }
    for signed in [false, true] {
        for signer in [None, Some(key()), Some(keyless())] {
            for prerelease in [false, true] {
                let mut inputs = chart_inputs();
                inputs.signer = signer.clone();
                inputs.prerelease = prerelease;
                chart::plan(&inputs, &ChartFacts { signed }).unwrap();
                planned += 1;
            }
        }
    }
    build::reproducible(&image_inputs().build).unwrap();
    assert_eq!(planned, 300);
}

#[test]
fn every_verification_plan_is_in_order() {
    let base = || VerifyInputs {
        native_only: true,
        ..verify_inputs()
    };
    let verifiers = [
        Verifier::release_workflow("alto9/kube9-operator", "v1.2.3"),
        Verifier::Key {
            public_key: "cosign.pub".into(),
        },
    ];
    let mut planned = 0;
    for public_check in [PublicCheck::Require, PublicCheck::Warn, PublicCheck::Skip] {
        for verifier in &verifiers {
            for provenance in [ProvenanceSource::Workflow, ProvenanceSource::Release] {
                for run_platforms in [vec![], vec!["linux/arm64".to_string()]] {
                    for signatures in [true, false] {
                        let inputs = VerifyInputs {
                            public_check,
                            verifier: verifier.clone(),
                            provenance,
                            run_platforms: run_platforms.clone(),
                            signatures,
                            ..base()
                        };
                        verify::plan(&inputs).unwrap();
                        planned += 1;
                    }
                }
            }
        }
    }
    assert_eq!(planned, 48);
}

#[test]
fn a_step_that_reads_what_only_a_later_step_learns_is_refused_naming_both() {
    let plan = chart::plan(&chart_inputs(), &ChartFacts::default()).unwrap();
    let wait = plan
        .steps
        .iter()
        .position(|s| s.kind() == "wait-for-image")
        .unwrap();
    let stage = plan
        .steps
        .iter()
        .position(|s| s.kind() == "stage-chart")
        .unwrap();
    let mut steps = plan.steps.clone();
    steps.swap(wait, stage);
    let err = check_order(&steps).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "internal: the plan is out of order: step {} (stage-chart) reads the index digest, \
             which only step {} (wait-for-image) after it learns",
            wait + 1,
            stage + 1
        )
    );
    let mut plan = plan;
    plan.steps = steps;
    assert!(plan.checked().is_err(), "refused when built");
}

#[test]
fn a_step_whose_binding_no_step_learns_is_refused() {
    let repository = crate::registry::Repository::parse("ghcr.io/alto9/kube9-operator").unwrap();
    let steps = vec![Step::CheckSboms(crate::step::CheckSboms {
        repository: repository.clone(),
        platforms: vec!["linux/arm64".into()],
    })];
    let err = check_order(&steps).unwrap_err().to_string();
    assert!(
        err.contains(
            "step 1 (check-sboms) reads the platform digests, which no step of the plan learns"
        ),
        "{err}"
    );
    // A digest given when planning needs no earlier step.
    let given = Subject::new(&repository, Bound::Given("sha256:1".into()));
    let steps = vec![Step::VerifySignature(crate::step::VerifySignature {
        cosign: crate::sign::Cosign::for_repository(&repository, false),
        verifier: Verifier::Key {
            public_key: "k".into(),
        },
        subject: given,
    })];
    check_order(&steps).unwrap();
}

#[test]
fn the_sample_plans_are_in_order_and_need_every_program_a_step_can_name() {
    use crate::step::Tool;
    let tools = super::samples::tools();
    // Every program some step declares in some plan: `doctor` and `setup` serve these.
    let expected = [
        Tool::Git,
        Tool::Tar,
        Tool::Docker,
        Tool::Trivy,
        Tool::Helm,
        Tool::Helm3,
        Tool::Cosign,
        Tool::Gh,
        Tool::NodeSkopeo,
        Tool::Validators,
    ];
    assert_eq!(tools, expected.into_iter().collect(), "{tools:?}");
}
