use super::*;
use crate::execute::{execute_with, Recorder};
use crate::plan::local::{into_local, LocalTarget};
use crate::plan::samples::{key, release_inputs};
use crate::plan::Mode;
use crate::step::Cx;

fn kinds_after(plan: &Plan, first: &str) -> Vec<String> {
    let kinds = plan.kinds();
    let at = kinds.iter().position(|k| k == first).unwrap();
    kinds[at..].to_vec()
}

#[test]
fn a_release_is_the_image_then_the_chart_then_what_a_user_checks() {
    let plan = plan(&release_inputs(), &ReleaseFacts::default()).unwrap();
    let kinds = plan.kinds();
    let record_image = kinds.iter().position(|k| k == "record-image").unwrap();
    let wait = kinds.iter().position(|k| k == "wait-for-image").unwrap();
    let record_chart = kinds.iter().position(|k| k == "record-chart").unwrap();
    assert!(record_image < wait && wait < record_chart, "{kinds:?}");
    // A chart helm refuses stops the release before the image is pushed.
    let at = |kind: &str| kinds.iter().position(|k| k == kind).unwrap();
    assert!(
        at("stage-chart") < at("lint-chart") && at("lint-chart") < at("push-content"),
        "{kinds:?}"
    );
    assert!(at("scan") < at("stage-chart"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "lint-chart").count(), 1);
    assert!(at("lint-chart") < at("package-chart"), "{kinds:?}");
    assert_eq!(
        kinds_after(&plan, "derive-public-key"),
        [
            "derive-public-key",
            "resolve-release",
            "check-floating-tags",
            "login",
            "login",
            "verify-signature",
            "verify-signature",
            "verify-signature",
            "verify-attestation",
            "verify-attestation",
            "verify-provenance",
            "verify-vex",
            "check-withdrawal",
            "resolve-chart",
            "render-chart",
            "render-chart",
            "verify-signature",
            "check-sboms",
            "anonymous-pull",
            "anonymous-pull",
            "run-image",
            "run-image",
            "pull-as-node",
            "pull-as-node",
            "record-verification",
            "write-release-notes"
        ]
    );
    assert_eq!(plan.mode, Mode::StopAtFirstFailure);
    let text = plan.to_string();
    assert!(
        text.contains("--key /src/target/release/cosign.pub --insecure-ignore-tlog=true"),
        "a key-signed release is checked with its own public key: {text}"
    );
}

#[test]
fn an_unsigned_release_checks_no_signature() {
    let mut inputs = release_inputs();
    inputs.image.signer = None;
    inputs.chart.signer = None;
    let plan = plan(&inputs, &ReleaseFacts::default()).unwrap();
    for absent in [
        "sign",
        "attest",
        "derive-public-key",
        "verify-signature",
        "verify-attestation",
        "verify-provenance",
    ] {
        assert!(!plan.has(absent), "{absent}: {:?}", plan.kinds());
    }
    assert!(plan.has("check-sboms") && plan.has("resolve-chart"));
}

#[test]
fn a_keyless_release_is_checked_as_the_release_workflow_of_its_repository() {
    let mut inputs = release_inputs();
    let keyless = Signer::Keyless {
        request_token: crate::secret::Secret::new("oidc"),
    };
    inputs.image.signer = Some(keyless.clone());
    inputs.chart.signer = Some(keyless);
    inputs.github_repository = "someone/fork".into();
    let plan = plan(&inputs, &ReleaseFacts::default()).unwrap();
    assert!(!plan.has("derive-public-key"));
    let text = plan.to_string();
    assert!(
        text.contains("--certificate-identity https://github.com/someone/fork/.github/workflows/release.yml@refs/tags/v1.2.3"),
        "{text}"
    );
}

fn local_target() -> LocalTarget {
    LocalTarget {
        registry: "127.0.0.1:41234".into(),
        trivy_db_repository: "127.0.0.1:41234/aquasec/trivy-db:2".into(),
        trivy_cache_dir: "/env/trivy-cache".into(),
        build_contexts: vec![
            "docker.io/library/rust:1=docker-image://127.0.0.1:41234/base/rust:1".into(),
        ],
        docker_host: Some("unix:///run/kube9-env/docker.sock".into()),
        signer: Some(Signer::Key {
            key: crate::secret::Secret::new("local-key"),
            password: crate::secret::Secret::new("local-password"),
            from: "/env/cosign.key".into(),
        }),
    }
}

#[test]
fn a_local_release_prints_the_local_registry_key_and_database() {
    let mut inputs = release_inputs();
    // A maintainer's environment may hold another key; the local release signs with its own.
    inputs.image.signer = Some(key());
    let local = into_local(&inputs, &local_target());
    let plan = plan(&local, &ReleaseFacts::default()).unwrap();
    let text = plan.to_string();
    for expected in [
        "Release v1.2.3 of 127.0.0.1:41234/alto9/kube9-operator",
        "database   127.0.0.1:41234/aquasec/trivy-db:2, any age (a local environment's fixture)",
        "signing    key pair from /env/cosign.key",
        "--build-context docker.io/library/rust:1=docker-image://127.0.0.1:41234/base/rust:1",
        "DOCKER_HOST=unix:///run/kube9-env/docker.sock",
        "helm push /src/target/release/chart/kube9-operator-1.2.3.tgz oci://127.0.0.1:41234/alto9/charts --plain-http",
        "127.0.0.1:41234/alto9/charts/kube9-operator:1.2.3 pins 127.0.0.1:41234/alto9/kube9-operator:1.2.3@<index-digest>",
        "--allow-http-registry",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("ghcr.io"), "{text}");
    assert!(!text.contains("keyless"), "{text}");
    // Each platform is pulled and run on the environment's engine, as it was built there
    // (a fresh shell has no DOCKER_HOST).
    let runs: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| s.kind() == "run-image")
        .map(Step::describe)
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        assert!(
            run.contains("DOCKER_HOST=unix:///run/kube9-env/docker.sock docker run"),
            "{run}"
        );
    }
}

#[test]
fn a_local_release_attests_and_verifies_its_vex_statements_about_the_local_image() {
    let text = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex",
        "author": "maintainers", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": "CVE-2099-0003"},
          "products": [{"@id": "pkg:oci/kube9-operator?repository_url=ghcr.io/alto9/kube9-operator",
            "subcomponents": [{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}]}],
          "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}"#;
    let mut inputs = release_inputs();
    inputs.image.signer = Some(key());
    inputs.image.vex = Some(crate::plan::image::VexInputs {
        source: "/src/security/vex.json".into(),
        doc: crate::vex::parse("security/vex.json", text).unwrap(),
    });
    let local = into_local(&inputs, &local_target());
    let plan = plan(&local, &ReleaseFacts::default()).unwrap();
    let local_image = "127.0.0.1:41234/alto9/kube9-operator";
    let mut seen = Vec::new();
    for step in &plan.steps {
        match step {
            Step::RenderVex(s) => {
                let (release, _) = s.attest.as_ref().expect("a signed release attests");
                seen.push(("render-vex", release.target.to_string()));
            }
            Step::VerifyVex(s) => seen.push(("verify-vex", s.release.target.to_string())),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        [
            ("render-vex", local_image.to_string()),
            ("verify-vex", local_image.to_string())
        ]
    );
}

#[test]
fn the_executor_runs_exactly_the_planned_steps_in_order() {
    let plans = [
        plan(&release_inputs(), &ReleaseFacts::default()).unwrap(),
        image::plan(&release_inputs().image, &ImageFacts::default()).unwrap(),
        chart::plan(&release_inputs().chart, &ChartFacts::default()).unwrap(),
    ];
    for plan in &plans {
        let mut recorder = Recorder::default();
        execute_with(plan, Cx::new(None, None), recorder.perform()).unwrap();
        assert_eq!(recorder.performed, plan.kinds(), "{}", plan.title);
    }
}

#[test]
fn a_release_stops_at_its_first_failure_and_a_verification_goes_on() {
    let release = plan(&release_inputs(), &ReleaseFacts::default()).unwrap();
    let mut recorder = Recorder {
        fail_at: Some(5),
        ..Default::default()
    };
    let err = execute_with(&release, Cx::new(None, None), recorder.perform()).unwrap_err();
    assert_eq!(recorder.performed, release.kinds()[..6]);
    // The error ends in the failed step's hint.
    assert!(
        format!("{err:#}").starts_with(&release.steps[5].hint()),
        "{err:#}"
    );

    let verify = verify::plan(&crate::plan::samples::verify_inputs()).unwrap();
    let mut recorder = Recorder {
        fail_at: Some(1),
        ..Default::default()
    };
    let err = execute_with(&verify, Cx::new(None, None), recorder.perform()).unwrap_err();
    assert_eq!(recorder.performed, verify.kinds(), "every check ran");
    assert_eq!(err.to_string(), "1 of 1 checks failed (see above)");
}

#[test]
fn a_release_without_a_binary_to_run_says_its_run_check_is_skipped() {
    let with = plan(&release_inputs(), &ReleaseFacts::default()).unwrap();
    assert!(!with.to_string().contains("SKIPPED"), "{with}");
    let mut inputs = release_inputs();
    inputs.image.require_rust = false;
    let plan = plan(&inputs, &ReleaseFacts::default()).unwrap();
    assert!(!plan.has("run-image"));
    let text = plan.to_string();
    assert!(
        text.contains("not run    each platform pulled by tag and run: SKIPPED"),
        "{text}"
    );
}
