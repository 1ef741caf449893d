//! The workflows' own logic, executed before GitHub runs it: `release.yml` and `ci.yml` run
//! with act (host mode) against the local environment, every action served by a stand-in
//! (xtask/tests/fixtures/actions) that refuses what the real action refuses. Each job gets
//! what GitHub gives it and no more (its token's permissions, an OIDC identity only with
//! `id-token: write`), GHCR and GitHub's API are stood in for and refuse what they refuse.
//! Each scenario is checked in the registry, in what the API stand-in recorded, and in act's
//! log.

mod support;

use kube9_devenv::workflow_sim::{Event, RunOptions, Sim, SimRun};
use support::*;

/// A simulation of `revision` and the registry paths its workflows publish to ("GHCR").
fn simulation_at(name: &str, revision: &str) -> (Sim, String, String) {
    let sim = Sim::at(&temp_dir(name), &env(), revision).unwrap();
    let base = format!("{}/{}", sim.ghcr(), unique(name));
    (
        sim,
        format!("{base}/kube9-operator"),
        format!("oci://{base}/charts"),
    )
}

fn simulation(name: &str) -> (Sim, String, String) {
    simulation_at(name, "HEAD")
}

/// The repository variables pointing the workflows at the local "GHCR". The packages there
/// want a login even to pull, so the last check only warns.
fn vars<'a>(image: &'a str, charts: &'a str, db: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("IMAGE_REPOSITORY", image),
        ("CHART_REPOSITORY", charts),
        ("TRIVY_DB_REPOSITORY", db),
        ("PUBLIC_CHECK", "warn"),
    ]
}

/// The same, for a release of the fixture app: its images carry one build machine's binary,
/// not the operator, so the verify jobs do not run them (the named switch `RUN_CHECK=skip`).
fn fixture_vars<'a>(image: &'a str, charts: &'a str, db: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut vars = vars(image, charts, db);
    vars.push(("RUN_CHECK", "skip"));
    vars
}

/// The jobs of a whole release, in the order they finish but for the two builds of the tool
/// and the two verify legs, which each run at once.
fn release_jobs(run: &SimRun) -> Vec<String> {
    let mut jobs = run.jobs();
    for first in ["release tool", "verify"] {
        if let Some(at) = jobs.iter().position(|j| j.starts_with(first)) {
            let end = (at + 2).min(jobs.len());
            jobs[at..end].sort();
        }
    }
    jobs
}

/// The jobs that ran after the two unprivileged builds of the release tool, which come first.
fn after_the_tools(run: &SimRun) -> Vec<String> {
    let jobs = release_jobs(run);
    assert_eq!(
        jobs[..2],
        ["release tool", "release tool (arm64)"],
        "{jobs:?}"
    );
    jobs[2..].to_vec()
}

const RELEASE_JOBS: [&str; 7] = [
    "release tool",
    "release tool (arm64)",
    "image",
    "chart",
    "verify",
    "verify on arm64",
    "release page",
];

/// Tags and the digest each points to, read behind the GHCR stand-in with the registry's
/// own credential.
/// The registry behind the GHCR stand-in, with its own login.
fn behind_ghcr(sim: &Sim, repository: &str) -> kube9_release::registry::Registry {
    let env = env();
    kube9_release::registry::Registry::new(
        kube9_release::registry::Repository::parse(&sim.behind_ghcr(repository)).unwrap(),
        Some(&kube9_release::credentials::Credentials {
            username: env.auth_user.clone(),
            password: kube9_release::secret::Secret::new(env.auth_password()),
        }),
        Default::default(),
    )
}

/// The index listed under `digest`'s referrers tag (`sha256-<hex>`).
fn referrers_tag(sim: &Sim, repository: &str, digest: &str) -> serde_json::Value {
    let registry = behind_ghcr(sim, repository);
    let tag = registry.repository.tag(&digest.replace(':', "-"));
    let (bytes, _) = registry.manifest(&tag).unwrap().unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn registry_state(sim: &Sim, repository: &str) -> Vec<(String, String)> {
    let registry = behind_ghcr(sim, repository);
    let mut tags = registry.tags().unwrap();
    tags.sort();
    tags.into_iter()
        .map(|t| {
            let digest = registry.digest_of(&t).unwrap().unwrap_or_default();
            (t, digest)
        })
        .collect()
}

fn digest(state: &[(String, String)], tag: &str) -> String {
    state
        .iter()
        .find(|(t, _)| t == tag)
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| panic!("no tag {tag} in {state:?}"))
}

fn report(run: &SimRun) {
    eprintln!("{}", run.summary());
}

/// The body of the GitHub release of `tag`, as the release-page job left it.
fn release_body(sim: &Sim, tag: &str) -> String {
    sim.github()
        .releases()
        .iter()
        .find(|r| r["tag_name"] == tag)
        .and_then(|r| r["body"].as_str().map(String::from))
        .unwrap_or_default()
}

const RELEASE_STEP: &str = "Build, scan, publish and sign the image";

#[test]
fn the_release_workflow_runs_end_to_end_and_again_and_for_a_github_prerelease() {
    let env = env();
    let (sim, image, charts) = simulation("sim-release");
    let chart_repo = format!("{}/kube9-operator", charts.trim_start_matches("oci://"));
    let vars = vars(&image, &charts, &env.trivy_db_repository);

    // A published release of the real Dockerfile: image, then chart, then verify.
    sim.tag("v1.2.3").unwrap();
    let release = Event::Release {
        tag: "v1.2.3".into(),
        prerelease: false,
    };
    let all = RunOptions {
        vars: &vars,
        ..Default::default()
    };
    let first = sim.run(&release, &all).unwrap();
    report(&first);
    assert!(first.success, "the release failed");
    assert_eq!(release_jobs(&first), RELEASE_JOBS);
    assert!(first.succeeded("image", RELEASE_STEP));
    // Issue 26 item 1: no cargo ran where an OIDC token could be minted (the build canary
    // saw none), and each job that signs, pushes or writes ran the tool the unprivileged job
    // built, checked against the digest it stated.
    assert_eq!(first.outbox.oidc_seen_by_build, []);
    let moved: Vec<&str> = first
        .outbox
        .artifacts
        .iter()
        .map(|a| a.rsplit_once(' ').unwrap().0)
        .collect();
    for (job, name) in [
        ("image", "image"),
        ("chart", "chart"),
        ("verify", "verify"),
        ("notes", "release page"),
    ] {
        assert!(
            moved.contains(&format!("download {job} kube9-release-linux-x86_64").as_str()),
            "{moved:?}"
        );
        assert!(
            first.succeeded(name, "Check the release tool's sha256"),
            "{job}"
        );
    }
    assert!(
        moved.contains(&"download verify-arm64 kube9-release-linux-aarch64"),
        "{moved:?}"
    );
    assert!(
        moved.contains(&"upload tool kube9-release-linux-x86_64"),
        "{moved:?}"
    );
    // The job's token cannot read the administration settings: named, and no failure.
    assert!(first.succeeded("image", "Check the repository's protections (read-only)"));
    assert!(
        first.log.contains("not readable with this token"),
        "check-repo's report is in the log"
    );
    assert!(first.succeeded("image", "Log in for the build provenance"));
    assert!(first.succeeded("image", "Build provenance"));
    assert!(first.succeeded("image", "Log out"));
    assert!(first.succeeded("image", "Move the floating tags"));
    // On the attest step's own word (its `attestation-id` output), as on GitHub; the re-run
    // below, whose attest step does not run, finds the provenance in the registry instead.
    assert!(first
        .log
        .contains("the workflow's attest step reported the build provenance"));
    assert!(!first.ran("image", "Say when a scan report could not be uploaded"));
    let categories: Vec<&str> = first.outbox.sarif.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(categories, ["trivy-linux-amd64", "trivy-linux-arm64"]);
    assert_eq!(
        sim.github().analyses().len(),
        2,
        "both reached code scanning"
    );
    let state = registry_state(&sim, &image);
    let published = digest(&state, "v1.2.3");
    for tag in ["1.2.3", "1.2", "1", "latest"] {
        assert_eq!(digest(&state, tag), published, "{tag}");
    }
    // The digest the image job output is the one provenance was attested for (with GitHub,
    // and pushed to the registry), the one the chart pins, and what verify checked.
    assert_eq!(
        first.outbox.attestations,
        [(image.clone(), published.clone(), "true".into())]
    );
    assert_eq!(sim.github().attestations().len(), 1);
    // The attest step's Sigstore bundle, listed under the index's referrers tag as
    // @sigstore/oci lists it on GHCR, which has no referrers API.
    let listed = referrers_tag(&sim, &image, &published);
    assert!(
        listed["manifests"].as_array().unwrap().iter().any(|m| {
            m["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
                && m["annotations"]["dev.sigstore.bundle.predicateType"]
                    == "https://slsa.dev/provenance/v1"
        }),
        "{listed}"
    );
    assert!(
        first.log.contains("ok   build provenance of the index"),
        "verified"
    );
    let chart = registry_state(&sim, &chart_repo);
    assert!(chart.iter().any(|(t, _)| t == "1.2.3"), "{chart:?}");
    assert!(first.log.contains(&format!(
        "published chart {charts}/kube9-operator version 1.2.3 -> {image}:1.2.3@{published}"
    )));
    // Each verify leg pulled its platform by tag and ran it: amd64 natively, the arm64 leg
    // (on this x86_64 host) under QEMU, and it says so.
    assert!(
        first
            .log
            .contains("linux/amd64: kube9-operator 1.2.3 (commit")
            && first.log.contains("natively on this linux/amd64 machine"),
        "the amd64 image ran natively"
    );
    assert!(
        first
            .log
            .contains("linux/arm64) (under QEMU emulation on this linux/amd64 machine)"),
        "the arm64 leg said it emulated"
    );
    // The release page: its section, written by the last job with `contents: write` only.
    let page = release_body(&sim, "v1.2.3");
    for needle in [
        format!("`{image}:1.2.3@{published}`"),
        format!("helm install kube9-operator {charts}/kube9-operator --version 1.2.3"),
        // Here the environment's key stands in for the workflow's identity, so the page
        // names cosign with that key where GitHub's would name the keyless identity and
        // `gh attestation verify`: the provenance is the attest step's Sigstore bundle.
        "cosign verify-attestation --type slsaprovenance1 --output json --new-bundle-format"
            .to_string(),
        "cosign verify-attestation --type cyclonedx".to_string(),
        "trivy image --vex oci --show-suppressed".to_string(),
        "| linux/arm64 |".to_string(),
        "→ verified".to_string(),
    ] {
        assert!(
            page.contains(&needle),
            "{needle} in the release page:\n{page}"
        );
    }

    // The same release event again: nothing in the registry changes.
    let again = sim.run(&release, &all).unwrap();
    report(&again);
    assert!(again.success);
    assert!(
        !again.log.contains("docker buildx build"),
        "nothing was built again"
    );
    assert!(!again.ran("image", "Build provenance"), "attested once");
    assert!(!again
        .log
        .contains("the workflow's attest step reported the build provenance"));
    assert_eq!(
        registry_state(&sim, &image),
        state,
        "the image repository is unchanged"
    );
    assert_eq!(
        registry_state(&sim, &chart_repo),
        chart,
        "the chart repository is unchanged"
    );
    let page = release_body(&sim, "v1.2.3");
    assert_eq!(
        page.matches(kube9_release::notes::BEGIN).count(),
        1,
        "the re-run replaced its section: {page}"
    );

    // A GitHub pre-release with a plain version: its own tags only; and code scanning is down,
    // which must not stop its chart.
    sim.use_fixture_app(false).unwrap();
    sim.tag("v1.3.0").unwrap();
    let pre = Event::Release {
        tag: "v1.3.0".into(),
        prerelease: true,
    };
    let outage = [("KUBE9_SIM_SARIF_FAILS", "1")];
    let fixture = fixture_vars(&image, &charts, &env.trivy_db_repository);
    let run = sim
        .run(
            &pre,
            &RunOptions {
                env: &outage,
                vars: &fixture,
                ..all
            },
        )
        .unwrap();
    report(&run);
    assert!(run.success, "a failed SARIF upload never fails the release");
    assert!(run.failed("image", "Upload the linux/amd64 scan"));
    assert!(run.succeeded("image", "Say when a scan report could not be uploaded"));
    assert_eq!(release_jobs(&run), RELEASE_JOBS);
    let after = registry_state(&sim, &image);
    assert_ne!(digest(&after, "v1.3.0"), published);
    for tag in ["1.2", "1", "latest"] {
        assert_eq!(digest(&after, tag), published, "{tag} did not move");
    }
    assert!(after.iter().all(|(t, _)| t != "1.3"), "{after:?}");

    // withdraw.yml from main (issue 27): its jobs' permissions are enough to attest the
    // statement, move the tags and mark the GitHub release, and it runs the checked tool.
    let withdraw = Event::Withdraw {
        version: "v1.2.3".into(),
        reason: "a regression".into(),
        undo: false,
    };
    let run = sim.run(&withdraw, &all).unwrap();
    report(&run);
    assert!(run.success, "the withdrawal failed");
    assert_eq!(release_jobs(&run), ["release tool", "withdraw"]);
    assert!(run.succeeded("withdraw", "Check the release tool's sha256"));
    assert!(run.succeeded("withdraw", "Withdraw"));
    assert_eq!(run.outbox.oidc_seen_by_build, []);
    let state = registry_state(&sim, &image);
    assert_eq!(digest(&state, "v1.2.3"), published, "nothing is deleted");
    // 1.3.0 went out as a GitHub pre-release (its index says so): no floating tag steps
    // onto it, so each stays, and the plan says why.
    for tag in ["1.2", "1", "latest"] {
        assert!(
            run.log.contains(&format!(
                "{tag} stays on 1.2.3: no release is eligible for it"
            )),
            "the plan says why {tag} stays"
        );
        assert_eq!(digest(&state, tag), published, "{tag}");
    }
    let marked = sim
        .github()
        .releases()
        .iter()
        .find(|r| r["tag_name"] == "v1.2.3")
        .and_then(|r| r["name"].as_str().map(String::from))
        .unwrap_or_default();
    assert!(marked.starts_with("[WITHDRAWN] "), "{marked}");
}

#[test]
fn a_critical_finding_fails_the_image_job_keeps_both_reports_and_publishes_nothing() {
    let env = env();
    let (sim, image, charts) = simulation("sim-critical");
    sim.use_fixture_app(true).unwrap();
    sim.tag("v1.0.0").unwrap();
    let event = Event::Release {
        tag: "v1.0.0".into(),
        prerelease: false,
    };
    let vars = vars(&image, &charts, &env.trivy_db_repository);
    let options = RunOptions {
        vars: &vars,
        ..Default::default()
    };
    let run = sim.run(&event, &options).unwrap();
    report(&run);
    assert!(!run.success);
    assert!(run.failed("image", RELEASE_STEP));
    assert!(run.log.contains("CVE-2099-0003"));
    assert!(run.succeeded("image", "Upload the linux/amd64 scan"));
    assert!(run.succeeded("image", "Upload the linux/arm64 scan"));
    assert_eq!(run.outbox.sarif.len(), 2);
    assert!(!run.ran("image", "Build provenance"));
    assert_eq!(
        after_the_tools(&run),
        ["image"],
        "neither the chart nor the check ran"
    );
    assert_eq!(
        registry_state(&sim, &image),
        Vec::<(String, String)>::new(),
        "nothing was pushed"
    );
    let issues = sim.github().issues();
    assert_eq!(issues.len(), 1, "developers hear of it");
    assert!(issues[0]["body"]
        .as_str()
        .unwrap()
        .contains("CVE-2099-0003"));
}

#[test]
fn a_dispatch_with_an_invalid_version_is_refused_before_anything_is_built() {
    let env = env();
    let (sim, image, charts) = simulation("sim-dispatch");
    // Even with a tag of that name, `v1.2` is no release version.
    sim.tag("v1.2").unwrap();
    let event = Event::Dispatch {
        version: "v1.2".into(),
        git_ref: "refs/tags/v1.2".into(),
    };
    let vars = vars(&image, &charts, &env.trivy_db_repository);
    let options = RunOptions {
        vars: &vars,
        ..Default::default()
    };
    let run = sim.run(&event, &options).unwrap();
    report(&run);
    assert!(!run.success);
    assert!(run.failed("image", RELEASE_STEP));
    assert!(
        run.log.contains("`v1.2` is not a release version"),
        "the xtask said why"
    );
    assert!(
        !run.log.contains("docker buildx build"),
        "nothing was built"
    );
    assert_eq!(after_the_tools(&run), ["image"]);
    assert_eq!(registry_state(&sim, &image), Vec::<(String, String)>::new());
}

#[test]
fn a_dispatch_signs_only_from_its_tag_and_asks_github_whether_it_is_a_prerelease() {
    let env = env();
    let (sim, image, charts) = simulation("sim-dispatch-ref");
    sim.use_fixture_app(false).unwrap();
    sim.tag("v2.0.0").unwrap();
    let vars = fixture_vars(&image, &charts, &env.trivy_db_repository);
    let options = RunOptions {
        vars: &vars,
        ..Default::default()
    };
    // Started from main, it would sign as main's workflow: refused before anything is built.
    sim.github().publish_release("v2.0.0", true);
    let from_main = Event::Dispatch {
        version: "v2.0.0".into(),
        git_ref: "refs/heads/main".into(),
    };
    let run = sim.run(&from_main, &options).unwrap();
    report(&run);
    assert!(!run.success);
    assert!(run.failed("image", RELEASE_STEP));
    assert!(
        run.log
            .contains("gh workflow run release.yml --ref v2.0.0 -f version=v2.0.0"),
        "the fix is named"
    );
    assert!(!run.log.contains("docker buildx build"));
    assert_eq!(registry_state(&sim, &image), Vec::<(String, String)>::new());

    // From the tag it signs as the tag's workflow; the GitHub release says pre-release, so
    // no floating tag moves though nobody ticked a box.
    let from_tag = Event::Dispatch {
        version: "v2.0.0".into(),
        git_ref: "refs/tags/v2.0.0".into(),
    };
    let run = sim.run(&from_tag, &options).unwrap();
    report(&run);
    assert!(run.success, "the dispatch from the tag failed");
    assert!(run
        .log
        .contains("the GitHub release of v2.0.0 is a pre-release"));
    let state = registry_state(&sim, &image);
    assert!(state.iter().any(|(t, _)| t == "v2.0.0"), "{state:?}");
    assert!(
        state.iter().all(|(t, _)| t != "latest" && t != "2"),
        "{state:?}"
    );
}

#[test]
fn a_pull_request_builds_and_scans_without_pushing_or_a_signer() {
    let (sim, _, _) = simulation("sim-pr");
    sim.use_fixture_app(false).unwrap();
    let db = env().trivy_db_repository;
    let options = RunOptions {
        vars: &[("TRIVY_DB_REPOSITORY", &db)],
        job: Some("image"),
        ..Default::default()
    };
    let run = sim.run(&Event::PullRequest, &options).unwrap();
    report(&run);
    assert!(run.success);
    assert!(run.succeeded(
        "pull-request image (build and scan, no push)",
        "Build and scan"
    ));
    // Its checkout has no `ref`: the stand-in fetched the event's ref and commit, as the real
    // action does (act would otherwise copy the working directory and check nothing).
    assert!(
        run.log.contains("stand-in for actions/checkout: fetching")
            && run.log.contains("/repo at refs/pull/1/merge"),
        "the checkout stand-in ran"
    );
    assert!(run.log.contains("--no-push: nothing was published"));
    assert!(run.log.contains("Rust packages"), "it scanned");
    assert!(!run.log.contains("cosign"), "nothing was signed");
}

/// The simulation is as strict as GitHub: the workflows and release tool of 090486b, which
/// passed the earlier (kind) simulation, fail here exactly where GitHub failed them: the
/// pull-request image job (no signer in a job without `id-token: write`) and the release's
/// provenance step (no login in ~/.docker/config.json).
#[test]
fn the_workflows_of_090486b_fail_here_where_github_failed_them() {
    let env = env();
    let (sim, image, charts) = simulation_at("sim-strict", "090486b");
    sim.use_fixture_app(false).unwrap();
    let db = env.trivy_db_repository.clone();
    let pr = RunOptions {
        vars: &[("TRIVY_DB_REPOSITORY", &db)],
        job: Some("image"),
        ..Default::default()
    };
    let run = sim.run(&Event::PullRequest, &pr).unwrap();
    report(&run);
    assert!(!run.success, "the pull-request image job passed");
    assert!(run.failed(
        "pull-request image (build and scan, no push)",
        "Build and scan"
    ));
    assert!(run.log.contains("nothing to sign with"), "GitHub's failure");

    sim.tag("v1.0.0").unwrap();
    let vars = vars(&image, &charts, &db);
    let options = RunOptions {
        vars: &vars,
        ..Default::default()
    };
    let release = Event::Release {
        tag: "v1.0.0".into(),
        prerelease: false,
    };
    let run = sim.run(&release, &options).unwrap();
    report(&run);
    assert!(!run.success, "the release passed");
    assert!(run.succeeded("image", RELEASE_STEP));
    assert!(run.failed("image", "Build provenance"));
    assert!(
        run.log.contains("No credential file found at "),
        "GitHub's failure, in the action's words"
    );
    assert_eq!(run.jobs(), ["image"], "the chart never published");
    // And the release tool was built in the job that holds the signing identity: the build
    // canary (a `cargo` that stands in for a compromised build dependency) saw the job's OIDC
    // request token, which today's workflows never show it.
    assert!(
        run.outbox
            .oidc_seen_by_build
            .iter()
            .any(|(job, args)| job == "image" && args.starts_with("build")),
        "{:?}",
        run.outbox.oidc_seen_by_build
    );
}
