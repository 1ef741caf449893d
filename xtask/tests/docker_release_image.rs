//! `cargo xtask release-image` end to end against the real docker buildx, trivy and registry,
//! with fast fixture Dockerfiles (the pipeline is under test here, not the operator).

mod support;

use support::*;

#[test]
fn publishes_both_platforms_under_every_tag_with_labels() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "stable");
    let repo = env.repository("stable");
    let out = run(&mut release_image_cmd(&source, "v1.2.3", &repo));
    assert!(out.status.success(), "{}", text(&out));

    let record = image_record(&source);
    assert!(record.pushed);
    assert_eq!(record.tags, ["v1.2.3", "1.2.3", "1.2", "1", "latest"]);
    assert_eq!(tags(&repo), ["1", "1.2", "1.2.3", "latest", "v1.2.3"]);
    for tag in &record.tags {
        assert_eq!(digest_of(&format!("{repo}:{tag}")), record.digest, "{tag}");
    }
    // The index carries the annotations GHCR shows, and both platforms.
    let raw = ok(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{repo}:v1.2.3")));
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        index["annotations"]["org.opencontainers.image.version"],
        "1.2.3"
    );
    assert_eq!(
        index["annotations"]["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        platforms,
        ["linux/amd64", "linux/arm64"],
        "no unknown/unknown attestation entries"
    );

    // A node's runtime fetches only its own platform.
    let content = ctr_pull_arm64(&format!("{repo}:1.2.3"));
    let arm64 = &record
        .platforms
        .iter()
        .find(|p| p.platform == "linux/arm64")
        .unwrap()
        .manifest;
    let amd64 = &record
        .platforms
        .iter()
        .find(|p| p.platform == "linux/amd64")
        .unwrap()
        .manifest;
    assert!(
        content.contains(arm64.as_str()) && !content.contains(amd64.as_str()),
        "{content}"
    );

    // Labels, as `docker inspect` shows them after a pull.
    ok(docker().args([
        "pull",
        "--platform",
        "linux/arm64",
        &format!("{repo}:v1.2.3"),
    ]));
    let labels = ok(docker().args([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &format!("{repo}:v1.2.3"),
    ]));
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    let commit = ok(std::process::Command::new("git")
        .arg("-C")
        .arg(&source)
        .args(["rev-parse", "HEAD"]));
    assert_eq!(labels["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(labels["org.opencontainers.image.revision"], commit.trim());
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/alto9/kube9-operator"
    );
    let _ = run(docker().args(["image", "rm", &format!("{repo}:v1.2.3")]));
}

#[test]
fn prerelease_gets_only_its_own_tags() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "beta");
    let repo = env.repository("beta");
    ok(&mut release_image_cmd(&source, "v1.0.0-beta.1", &repo));
    assert_eq!(tags(&repo), ["1.0.0-beta.1", "v1.0.0-beta.1"]);
}

#[test]
fn in_github_actions_it_sets_outputs_a_summary_and_log_groups() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "actions");
    let repo = env.repository("actions");
    let runner = temp_dir("runner");
    let (output, summary) = (runner.join("output"), runner.join("summary"));
    let out = ok(release_image_cmd(&source, "v1.4.0", &repo)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary));
    let record = image_record(&source);
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(
        outputs.contains(&format!("digest={}\n", record.digest)),
        "{outputs}"
    );
    assert!(
        outputs.contains("tags=v1.4.0,1.4.0,1.4,1,latest\n"),
        "{outputs}"
    );
    assert!(
        outputs.contains(&format!("image={repo}@{}\n", record.digest)),
        "{outputs}"
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("### Image 1.4.0") && summary.contains("| linux/arm64 |"),
        "{summary}"
    );
    assert!(
        out.contains("::group::docker buildx build") && out.contains("::endgroup::"),
        "{out}"
    );

    // A failure is annotated for the Actions log.
    let failed = run(release_image_cmd(&source, "v1.4", &repo).env("GITHUB_ACTIONS", "true"));
    assert!(!failed.status.success());
    assert!(
        text(&failed).contains("::error::`v1.4` is not a release version"),
        "{}",
        text(&failed)
    );
}

#[test]
fn provenance_on_request_is_published_with_the_index() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "provenance");
    let repo = env.repository("provenance");
    ok(release_image_cmd(&source, "v1.0.0", &repo).arg("--provenance"));
    let raw = ok(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{repo}:v1.0.0")));
    let served = xtask::layout::index_platforms(raw.as_bytes()).unwrap();
    assert!(
        served.contains(&"unknown/unknown".to_string()),
        "{served:?}"
    );
    assert!(served.contains(&"linux/arm64".to_string()), "{served:?}");
    assert_eq!(
        image_record(&source).platforms.len(),
        2,
        "attestations are not platforms"
    );
}

#[test]
fn backport_never_moves_latest_or_the_newer_major() {
    let env = env();
    let repo = env.repository("backport");
    let newer = fixture_image_repo("rootfs-high", "two");
    ok(&mut release_image_cmd(&newer, "v2.0.1", &repo));
    let two = image_record(&newer).digest;
    let older = fixture_image_repo("rootfs-high", "one");
    let out = ok(&mut release_image_cmd(&older, "v1.9.1", &repo));
    assert!(
        out.contains("not latest: held by the higher release 2.0.1"),
        "{out}"
    );
    let one = image_record(&older).digest;
    assert_ne!(one, two);
    assert_eq!(
        digest_of(&format!("{repo}:latest")),
        two,
        "latest stays on 2.0.1"
    );
    assert_eq!(digest_of(&format!("{repo}:2")), two);
    assert_eq!(
        digest_of(&format!("{repo}:1")),
        one,
        "1 moves to the highest 1.x"
    );
    assert_eq!(digest_of(&format!("{repo}:1.9")), one);
}

#[test]
fn critical_finding_blocks_the_push_and_keeps_the_reports() {
    let env = env();
    let source = fixture_image_repo("rootfs-critical", "critical");
    let repo = env.repository("critical");
    let out = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(!out.status.success());
    let log = text(&out);
    assert!(
        log.contains("failed its checks, so nothing was pushed"),
        "{log}"
    );
    assert!(
        log.contains("CVE-2099-0001 (CRITICAL in fixture-libcritical)"),
        "{log}"
    );
    assert!(
        log.contains("fixture-libhigh"),
        "the table in the log lists every finding"
    );
    assert_eq!(
        tags(&repo),
        Vec::<String>::new(),
        "the registry holds nothing"
    );
    for platform in ["linux-amd64", "linux-arm64"] {
        let sarif = std::fs::read_to_string(
            source.join(format!("target/release/scan/trivy-{platform}.sarif")),
        )
        .unwrap();
        assert!(
            sarif.contains("CVE-2099-0001") && sarif.contains("CVE-2099-0002"),
            "the SARIF report keeps all findings"
        );
    }
}

#[test]
fn high_only_image_is_published_and_its_sarif_lists_the_finding() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "high");
    let repo = env.repository("high");
    ok(&mut release_image_cmd(&source, "v3.0.0", &repo));
    assert!(tags(&repo).contains(&"v3.0.0".to_string()));
    let sarif = std::fs::read_to_string(source.join("target/release/scan/trivy-linux-amd64.sarif"))
        .unwrap();
    assert!(sarif.contains("CVE-2099-0002"));
    let record = image_record(&source);
    assert_eq!(record.scan["passed"], true);
    assert_eq!(record.scan["platforms"][0]["counts"]["HIGH"], 1);
}

#[test]
fn a_broken_dockerfile_pushes_nothing_and_shows_the_build_error() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "broken");
    std::fs::write(
        source.join("Dockerfile"),
        "FROM scratch\nCOPY does-not-exist /x\n",
    )
    .unwrap();
    commit_all(&source, "break the build");
    let repo = env.repository("broken");
    let out = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(!out.status.success());
    let log = text(&out);
    assert!(
        log.contains("does-not-exist"),
        "the build's own error is visible: {log}"
    );
    assert!(
        log.contains("the image build failed") && log.contains("nothing was pushed"),
        "{log}"
    );
    assert_eq!(tags(&repo), Vec::<String>::new());
    assert!(!source.join("target/release/image.json").exists());
}

#[test]
fn an_image_over_the_size_budget_is_not_pushed() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "big");
    // Random bytes do not compress: 2 MB stays 2 MB in the layer.
    let mut noise = vec![0u8; 2_000_000];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut noise))
        .unwrap();
    std::fs::write(source.join("payload-amd64.txt"), &noise).unwrap();
    commit_all(&source, "grow");
    let repo = env.repository("big");
    let out = run(release_image_cmd(&source, "v1.0.0", &repo).args(["--size-budget-mb", "1"]));
    assert!(!out.status.success());
    let log = text(&out);
    assert!(
        log.contains("linux/amd64 is 2.") && log.contains("over the 1 MB budget"),
        "{log}"
    );
    assert!(
        !log.contains("linux/arm64 is"),
        "arm64 is within the budget: {log}"
    );
    assert_eq!(tags(&repo), Vec::<String>::new());
}

#[test]
fn rerunning_a_release_uploads_nothing_and_another_build_is_refused() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "rerun");
    let repo = env.repository("rerun");
    ok(&mut release_image_cmd(&source, "v1.0.0", &repo));
    let first = image_record(&source);
    assert!(first.blobs_uploaded > 0);
    let again = ok(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(again.contains("already holds this build"), "{again}");
    let second = image_record(&source);
    assert_eq!(
        second.digest, first.digest,
        "the same commit builds the same digest"
    );
    assert_eq!(
        (second.blobs_uploaded, second.bytes_uploaded),
        (0, 0),
        "no blob is uploaded again"
    );

    std::fs::write(source.join("payload-arm64.txt"), "changed\n").unwrap();
    commit_all(&source, "change");
    let out = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("a released version is never overwritten"),
        "{}",
        text(&out)
    );
    assert_eq!(
        digest_of(&format!("{repo}:v1.0.0")),
        first.digest,
        "the version tag did not move"
    );
}

#[test]
fn two_builds_of_one_commit_give_one_digest() {
    let source = fixture_image_repo("rootfs-high", "reproducible");
    let out = ok(xtask()
        .args(["verify-reproducible", "--version", "v1.0.0", "--source"])
        .arg(&source));
    let digests: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|w| w.starts_with("sha256:"))
        .collect();
    assert_eq!(digests.len(), 2, "{out}");
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn dirty_tree_and_bad_versions_are_refused_before_building() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "dirty");
    let repo = env.repository("dirty");
    for bad in ["v1.2", "1.2.3.4", "latest", "v01.2.3"] {
        let out = run(&mut release_image_cmd(&source, bad, &repo));
        assert!(!out.status.success());
        assert!(
            text(&out).contains("strict semantic version"),
            "{bad}: {}",
            text(&out)
        );
    }
    std::fs::write(source.join("payload-amd64.txt"), "uncommitted\n").unwrap();
    let out = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(!out.status.success());
    assert!(text(&out).contains("uncommitted changes"), "{}", text(&out));
    assert!(
        !text(&out).contains("docker buildx build"),
        "nothing was built"
    );
    assert_eq!(tags(&repo), Vec::<String>::new());
}

#[test]
fn a_registry_that_is_down_fails_before_the_build_after_retries() {
    let source = fixture_image_repo("rootfs-high", "down");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&mut release_image_cmd(
        &source,
        "v1.0.0",
        &format!("127.0.0.1:{port}/down/x"),
    ));
    assert!(!out.status.success());
    let log = text(&out);
    assert!(
        log.contains("attempt 4 of 5"),
        "retried with backoff: {log}"
    );
    assert!(log.contains("may be down or rate-limiting"), "{log}");
    assert!(!log.contains("--> building"), "nothing was built: {log}");
}

#[test]
fn a_rate_limiting_registry_is_retried_with_backoff() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "rate-limited");
    let proxy = rate_limiting_proxy(&env.registry, 2);
    let repo = format!("{proxy}/test/{}", unique("rate-limited"));
    let out = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(log.contains("rate limited (test fake)"), "{log}");
    assert!(log.contains("(attempt 1 of 5), retrying in 500ms"), "{log}");
    assert!(image_record(&source).pushed);
}

#[test]
fn authenticated_registry_works_with_credentials_only_and_never_shows_the_token() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "auth");
    let repo = format!("{}/test/{}", env.auth_registry, unique("auth"));

    let anonymous = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(!anonymous.status.success());
    assert!(
        text(&anonymous).contains("needs a login: set GITHUB_ACTOR and GITHUB_TOKEN"),
        "{}",
        text(&anonymous)
    );

    let wrong = run(release_image_cmd(&source, "v1.0.0", &repo)
        .env("GITHUB_ACTOR", &env.auth_user)
        .env("GITHUB_TOKEN", "wrong-token"));
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("packages: write"), "{}", text(&wrong));

    let watch = CmdlineWatch::start(&env.auth_password);
    let out = run(release_image_cmd(&source, "v1.0.0", &repo)
        .env("GITHUB_ACTOR", &env.auth_user)
        .env("GITHUB_TOKEN", &env.auth_password)
        .args(["--public-check", "warn"]));
    let (cmdlines, samples) = watch.finish();
    assert!(out.status.success(), "{}", text(&out));
    assert!(samples > 10, "the command lines were watched throughout");
    assert_eq!(
        cmdlines,
        Vec::<String>::new(),
        "the token appeared on a command line"
    );
    assert!(
        !text(&out).contains(&env.auth_password),
        "the token appeared in the log"
    );
    assert_eq!(
        files_containing(&source, &env.auth_password),
        Vec::<std::path::PathBuf>::new()
    );
    assert!(
        text(&out).contains("cannot be pulled without a login: make the package public"),
        "{}",
        text(&out)
    );
    assert!(image_record(&source).pushed);

    // With the default check, a registry that refuses anonymous pulls fails the release.
    let strict = run(release_image_cmd(&source, "v1.0.0", &repo)
        .env("GITHUB_ACTOR", &env.auth_user)
        .env("GITHUB_TOKEN", &env.auth_password));
    assert!(!strict.status.success());
    assert!(
        text(&strict).contains("Change visibility > Public"),
        "{}",
        text(&strict)
    );
}
