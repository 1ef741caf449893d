//! `cargo xtask release-image` end to end against the real docker buildx, trivy and registry,
//! with fast fixture Dockerfiles (the pipeline is under test here, not the operator).

mod support;

use support::fakes::Write;
use support::*;

#[test]
fn publishes_both_platforms_under_every_tag_with_labels() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "stable");
    let repo = env.repository("stable");
    ok_as_planned(|| release_image_cmd(&source, "v1.2.3", &repo));

    let record = image_record(&source);
    assert!(record.pushed);
    assert_eq!(record.tags, ["v1.2.3", "1.2.3", "1.2", "1", "latest"]);
    assert_eq!(
        release_tags(&repo),
        ["1", "1.2", "1.2.3", "latest", "v1.2.3"]
    );
    for tag in &record.tags {
        assert_eq!(digest_of(&format!("{repo}:{tag}")), record.digest, "{tag}");
    }
    assert_index_annotations_and_platforms(&repo);
    assert_a_node_pulls_only_its_platform(&repo, &record);
    assert_labels_after_a_pull(&repo, &source);
    assert_signed_with_an_sbom_per_platform(&repo, &record);
}

fn assert_index_annotations_and_platforms(repo: &str) {
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
}

fn assert_a_node_pulls_only_its_platform(repo: &str, record: &kube9_release::record::ImageRecord) {
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
}

fn assert_labels_after_a_pull(repo: &str, source: &std::path::Path) {
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
        .arg(source)
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

fn assert_signed_with_an_sbom_per_platform(
    repo: &str,
    record: &kube9_release::record::ImageRecord,
) {
    // Signed, with each platform's SBOM attached twice: as an OCI referrer of its manifest
    // (the referrers tag schema here) and as a signed CycloneDX attestation; the index digest
    // is what it was.
    let all = tags(repo);
    let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
    assert!(
        all.contains(&format!("sha256-{}.sig", hex(&record.digest))),
        "{all:?}"
    );
    let registry = kube9_release::registry::Registry::anonymous(
        &kube9_release::registry::Repository::parse(repo).unwrap(),
    );
    for p in &record.platforms {
        assert!(
            all.contains(&format!("sha256-{}.att", hex(&p.manifest))),
            "{all:?}"
        );
        // Each platform manifest's own signature, as cosign checks it (what a node that
        // pulls only its platform and enforces signatures relies on).
        cosign_check(None, &format!("{repo}@{}", p.manifest));
        let sboms = registry
            .referrers(&p.manifest, "application/vnd.cyclonedx+json")
            .unwrap();
        assert_eq!(sboms.len(), 1, "{}: {sboms:?}", p.platform);
        let (manifest, _) = registry
            .manifest(&registry.repository.digest(&sboms[0].digest))
            .unwrap()
            .unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(manifest["subject"]["digest"], p.manifest.as_str());
        let sbom: serde_json::Value = serde_json::from_slice(
            &registry
                .blob(manifest["layers"][0]["digest"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(sbom["bomFormat"], "CycloneDX");
        assert!(
            sbom.to_string().contains("fixture-libhigh"),
            "the SBOM lists the packages"
        );
        cosign_check(Some("cyclonedx"), &format!("{repo}@{}", p.manifest));
    }
    cosign_check(None, &format!("{repo}@{}", record.digest));
    assert_eq!(digest_of(&format!("{repo}:v1.2.3")), record.digest);
}

#[test]
fn a_node_that_enforces_signatures_pulls_each_platform_with_the_release_key_only() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "node-policy");
    let repo = env.repository("node-policy");
    ok(&mut release_image_cmd(&source, "v1.0.0", &repo));
    let record = image_record(&source);
    let other = other_key();
    let reference = format!("{repo}:v1.0.0");
    for p in &record.platforms {
        let arch = p.platform.trim_start_matches("linux/");
        let (out, pulled) =
            pull_as_a_node_that_enforces_signatures(&reference, arch, &env.cosign.public_key);
        assert!(out.status.success(), "{}: {}", p.platform, text(&out));
        assert_eq!(pulled, p.manifest, "{} got its own image", p.platform);
        let (out, _) = pull_as_a_node_that_enforces_signatures(&reference, arch, &other);
        assert!(!out.status.success(), "{} with another key", p.platform);
        assert!(
            text(&out).contains("cryptographic signature verification failed"),
            "{}",
            text(&out)
        );
    }

    // What the release used to publish: the index signed, its platforms not.
    let unsigned = fixture_image_repo("rootfs-high", "index-only");
    let index_only = env.repository("index-only");
    ok(release_image_cmd(&unsigned, "v1.0.0", &index_only).arg("--no-sign"));
    let digest = image_record(&unsigned).digest;
    ok(tool("cosign")
        .args([
            "sign",
            "--yes",
            "--key",
            "env://COSIGN_PRIVATE_KEY",
            "--tlog-upload=false",
        ])
        .args(["--allow-http-registry", "--allow-insecure-registry"])
        .arg(format!("{index_only}@{digest}"))
        .env("COSIGN_PRIVATE_KEY", env.cosign_key())
        .env("COSIGN_PASSWORD", env.cosign_password()));
    for arch in ["amd64", "arm64"] {
        let (out, _) = pull_as_a_node_that_enforces_signatures(
            &format!("{index_only}:v1.0.0"),
            arch,
            &env.cosign.public_key,
        );
        assert!(!out.status.success(), "{arch} of an index-only signature");
        assert!(
            text(&out).contains("A signature was required, but no signature exists"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn prerelease_gets_only_its_own_tags() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "beta");
    let repo = env.repository("beta");
    ok(&mut release_image_cmd(&source, "v1.0.0-beta.1", &repo));
    assert_eq!(release_tags(&repo), ["1.0.0-beta.1", "v1.0.0-beta.1"]);
}

#[test]
fn in_github_actions_it_sets_outputs_a_summary_and_log_groups() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "actions");
    let repo = env.repository("actions");
    let runner = temp_dir("runner");
    let (output, summary) = (runner.join("output"), runner.join("summary"));
    // As the release workflow's first run: the floating tags wait for the workflow's build
    // provenance (without it a run on GitHub fails closed, `registry_floating_tags.rs`).
    let out = ok(release_image_cmd(&source, "v1.4.0", &repo)
        .arg("--hold-floating-tags")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary));
    let record = image_record(&source);
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(
        outputs.contains(&format!("digest={}\n", record.digest)),
        "{outputs}"
    );
    assert!(outputs.contains("tags=v1.4.0,1.4.0\n"), "{outputs}");
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
    let served: Vec<String> = kube9_release::layout::index_platforms(raw.as_bytes())
        .unwrap()
        .into_iter()
        .map(|p| p.0)
        .collect();
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
    // Counted at the registry: not a blob, not a manifest by digest, not a tag.
    let registry = fakes::CountingRegistry::start(&env.registry.address());
    let name = unique("critical");
    let repo = format!("{}/test/{name}", registry.address);
    let out = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(!out.status.success());
    assert!(
        registry.requests() > 0,
        "the release went through the counting proxy"
    );
    assert_eq!(registry.writes(), [], "nothing reached the registry");
    let log = text(&out);
    assert!(
        log.contains("failed its checks, so nothing was pushed"),
        "{log}"
    );
    assert!(
        log.contains("CVE-2099-0001 (CRITICAL in fixture-libcritical 1.0.0-1, fixed in 1.0.1-1)"),
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
    assert!(record.scan.passed);
    assert_eq!(record.scan.platforms[0]["counts"]["HIGH"], 1);
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
fn rerunning_a_release_builds_nothing_and_another_commit_is_refused() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "rerun");
    // What reaches the registry is counted there, not read from the tool's own record.
    let registry = fakes::CountingRegistry::start(&env.registry.address());
    let repo = format!("{}/test/{}", registry.address, unique("rerun"));
    ok(&mut release_image_cmd(&source, "v1.0.0", &repo));
    let first = image_record(&source);
    assert!(first.blobs_uploaded > 0);
    let written = registry.writes();
    // The control: the proxy sees a release's writes (blobs, manifests, the tags).
    assert!(
        written.iter().filter(|w| w.is_blob()).count() >= 2,
        "{written:?}"
    );
    assert!(
        written.iter().any(|w| w.tag() == Some("v1.0.0")),
        "{written:?}"
    );
    let tags_before = tags(&repo);
    // A re-run (a newer BuildKit, a CVE published since: nothing of that matters) verifies
    // what is published and re-emits its record instead of building again.
    let again = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(again.status.success(), "{}", text(&again));
    let again = text(&again);
    assert!(
        again.contains("already holds this commit's build"),
        "{again}"
    );
    assert!(
        !again.contains("docker buildx build"),
        "nothing was built: {again}"
    );
    assert!(
        !again.contains("cosign sign"),
        "nothing was signed again: {again}"
    );
    let second = image_record(&source);
    assert_eq!(second.digest, first.digest);
    assert!(second.pushed);
    assert_eq!(second.tags, first.tags, "its outputs are emitted again");
    // And its record is no poorer than the first run's (issue 28 item 2): the platforms and
    // the scan at release are kept.
    assert_eq!(second.platforms, first.platforms);
    assert_eq!(second.scan, first.scan);
    assert!(!first.scan.gate.is_empty());
    // On a fresh runner (no record of the run that published): each platform and its size
    // read back from the registry, and the scan said to be unknown, not invented.
    std::fs::remove_file(source.join("target/release/image.json")).unwrap();
    let fresh = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(fresh.status.success(), "{}", text(&fresh));
    assert!(
        text(&fresh).contains("is not known to this run"),
        "{}",
        text(&fresh)
    );
    let third = image_record(&source);
    assert_eq!(
        third.platforms, first.platforms,
        "read back from the registry"
    );
    assert_eq!(third.scan, kube9_release::record::ScanRecord::default());
    assert_eq!(
        registry.writes()[written.len()..],
        [],
        "the re-run wrote nothing: no blob, no manifest, no tag"
    );
    assert_eq!(tags(&repo), tags_before, "the registry is unchanged");
    let written = registry.writes().len();

    std::fs::write(source.join("payload-arm64.txt"), "changed\n").unwrap();
    commit_all(&source, "change");
    let out = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(!out.status.success());
    let log = text(&out);
    assert!(
        log.contains("a released version is never overwritten"),
        "{log}"
    );
    assert!(
        !log.contains("--> [1/"),
        "refused before anything ran: {log}"
    );
    assert_eq!(
        registry.writes()[written..],
        [],
        "refused, it wrote nothing"
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
    // The build step's header is `--> [i/n] build: docker buildx build ...`; and no layout.
    assert!(!log.contains("] build: "), "nothing was built: {log}");
    assert!(
        !source.join("target/release/oci").exists(),
        "nothing was built: {log}"
    );
}

#[test]
fn a_rate_limiting_registry_is_retried_with_backoff() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "rate-limited");
    let proxy = rate_limiting_proxy(&env.registry.address(), 2);
    let repo = format!("{proxy}/test/{}", unique("rate-limited"));
    let out = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(log.contains("rate limited (test fake)"), "{log}");
    assert!(log.contains("(attempt 1 of 5), retrying in 500ms"), "{log}");
    assert!(image_record(&source).pushed);
}

#[test]
fn a_registry_whose_referrers_api_redirects_or_rate_limits_still_gets_every_sbom() {
    use kube9_release::registry::{Registry, Repository};
    let env = env();
    let source = fixture_image_repo("rootfs-high", "referrers");
    let proxy = fakes::ghcr_referrers_proxy(&env.registry.address());
    let path = format!("test/{}", unique("referrers"));
    let repo = format!("{}/{path}", proxy.address);
    let out = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(out.status.success(), "{}", text(&out));
    let out = text(&out);
    assert!(
        *proxy.refused.lock().unwrap() >= 2,
        "it was answered with a redirect and a 429"
    );
    assert!(out.contains("reading the referrers tag instead"), "{out}");
    // Every platform's SBOM is listed in the referrers tag schema, as on GHCR.
    let direct =
        Registry::anonymous(&Repository::parse(&format!("{}/{path}", env.registry)).unwrap());
    for p in &image_record(&source).platforms {
        let sboms = direct
            .referrers(&p.manifest, "application/vnd.cyclonedx+json")
            .unwrap();
        assert_eq!(sboms.len(), 1, "{}", p.platform);
    }
    // A re-run finds them through the same answers and attaches nothing again.
    let again = run(&mut release_image_cmd(&source, "v1.0.0", &repo));
    assert!(again.status.success(), "{}", text(&again));
    let again = text(&again);
    assert!(
        again.contains("already holds this commit's build"),
        "{again}"
    );
    assert!(!again.contains("as a referrer"), "{again}");
}

#[test]
fn authenticated_registry_works_with_credentials_only_and_never_shows_the_token() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "auth");
    let path = unique("auth");
    let repo = format!("{}/{path}/kube9-operator", env.auth_registry);

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

    // The login directory is made under TMPDIR: it must be gone when the run ends.
    let tmp = temp_dir("tmpdir");
    let watch = CmdlineWatch::start(&env.auth_password());
    let out = run(release_image_cmd(&source, "v1.0.0", &repo)
        .env("GITHUB_ACTOR", &env.auth_user)
        .env("GITHUB_TOKEN", env.auth_password())
        .env("TMPDIR", &tmp));
    let seen = watch.finish();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("cosign login"),
        "cosign logged in: {}",
        text(&out)
    );
    assert_kept_secret(
        &seen,
        &text(&out),
        &env.auth_user,
        &env.auth_password(),
        &[&source, &tmp],
    );
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the login directory was removed"
    );
    assert!(image_record(&source).pushed);

    // The last check of a release: a registry that refuses anonymous pulls fails it, and says
    // which settings page to change and that "Re-run failed jobs" finishes the release.
    let charts = format!("oci://{}/{path}/charts", env.auth_registry);
    ok(release_chart_cmd(&source, "v1.0.0", &repo, &charts)
        .env("REGISTRY_USERNAME", &env.auth_user)
        .env("REGISTRY_PASSWORD", env.auth_password()));
    let strict = run(verify_release_cmd(&source, "v1.0.0", &repo, &charts)
        .env("REGISTRY_USERNAME", &env.auth_user)
        .env("REGISTRY_PASSWORD", env.auth_password()));
    assert!(!strict.status.success());
    let log = text(&strict);
    assert!(log.contains("cannot be pulled without a login"), "{log}");
    assert!(log.contains("choose \"Re-run failed jobs\""), "{log}");
    // Only the anonymous pulls fail (the VEX check passes: none apply); every other check of
    // the report, whatever their number, passes with the run's login.
    let failed: Vec<&str> = log.lines().filter(|l| l.starts_with("  FAIL ")).collect();
    assert_eq!(failed.len(), 2, "{log}");
    assert!(
        failed.iter().all(|l| l.ends_with("without a login")),
        "{failed:?}"
    );
    assert!(log.contains("error: 2 of "), "{log}");
    let private = run(verify_release_cmd(&source, "v1.0.0", &repo, &charts)
        .env("REGISTRY_USERNAME", &env.auth_user)
        .env("REGISTRY_PASSWORD", env.auth_password())
        .args(["--public-check", "skip"]));
    assert!(private.status.success(), "{}", text(&private));

    // Withdrawn (issue 27), the same release still verifies in every check, and the report
    // says so with an exit code of its own, so an admin's automation can tell a withdrawn
    // release from a broken one.
    let mut withdraw = xtask();
    outside_actions(&mut withdraw);
    withdraw
        .args([
            "withdraw",
            "--version",
            "v1.0.0",
            "--reason",
            "a leaked debug flag",
        ])
        .args(["--repository", &repo, "--chart-repository", &charts])
        .arg("--out-dir")
        .arg(temp_dir("withdraw-out"))
        .env("REGISTRY_USERNAME", &env.auth_user)
        .env("REGISTRY_PASSWORD", env.auth_password());
    signing(&mut withdraw, &env);
    ok(&mut withdraw);
    let withdrawn = run(verify_release_cmd(&source, "v1.0.0", &repo, &charts)
        .env("REGISTRY_USERNAME", &env.auth_user)
        .env("REGISTRY_PASSWORD", env.auth_password())
        .args(["--public-check", "skip"]));
    let log = text(&withdrawn);
    assert_eq!(withdrawn.status.code(), Some(3), "{log}");
    assert!(log.contains("withdrawn: a leaked debug flag"), "{log}");
    assert!(!log.contains("  FAIL "), "every check passed: {log}");
}

#[test]
fn a_crate_advisory_in_the_binary_blocks_the_push_and_keeps_both_sarif_files() {
    let env = env();
    let source = fixture_app_repo();
    let repo = env.repository("crate-advisory");
    let out = run(&mut rust_release_image_cmd(&source, "v1.0.0", &repo));
    assert!(!out.status.success());
    let log = text(&out);
    assert!(
        log.contains("CVE-2099-0003 (CRITICAL in kube9-fixture-vulnerable 1.0.0, fixed in 1.0.1)"),
        "{log}"
    );
    assert!(log.contains("Rust packages"), "the counts are shown: {log}");
    assert_eq!(tags(&repo), Vec::<String>::new(), "nothing was pushed");
    for platform in ["linux-amd64", "linux-arm64"] {
        let sarif = std::fs::read_to_string(
            source.join(format!("target/release/scan/trivy-{platform}.sarif")),
        )
        .unwrap();
        assert!(sarif.contains("CVE-2099-0003"), "{platform}");
    }
    let issue = std::fs::read_to_string(source.join("target/release/issue-1.0.0.md")).unwrap();
    assert!(
        issue.contains("| CVE-2099-0003 | CRITICAL | kube9-fixture-vulnerable | 1.0.0 | 1.0.1 |"),
        "{issue}"
    );
}

/// The fixture database with its `UpdatedAt` moved `hours` into the past, served from a
/// repository of its own.
fn database_updated_hours_ago(env: &EnvState, hours: i64) -> String {
    use std::io::Read;
    let fixture = std::fs::read(fixtures().join("trivy-db-cargo/db.tar.gz")).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(fixture.as_slice()));
    let mut builder = tar::Builder::new(Vec::new());
    let updated = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if path.ends_with("metadata.json") {
            let mut meta: serde_json::Value = serde_json::from_slice(&data).unwrap();
            meta["UpdatedAt"] = updated.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into();
            data = serde_json::to_vec(&meta).unwrap();
        }
        let mut header = entry.header().clone();
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder
            .append_data(&mut header, &path, data.as_slice())
            .unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &builder.into_inner().unwrap()).unwrap();
    let repository = format!("{}/test/{}", env.registry, unique("old-trivy-db"));
    let parsed = kube9_release::registry::Repository::parse(&repository).unwrap();
    kube9_devenv::localenv::push_database(&parsed, "2", &gz.finish().unwrap()).unwrap();
    format!("{repository}:2")
}

#[test]
fn an_old_database_is_refused_unless_a_test_environment_allows_it() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "old-db");
    let repo = env.repository("old-db");
    let old = database_updated_hours_ago(&env, 100);
    let mut cmd = xtask();
    cmd.args([
        "release-image",
        "--version",
        "v1.0.0",
        "--repository",
        &repo,
    ])
    .args([
        "--no-rust-binary",
        "--skip-changelog",
        "--trivy-db-repository",
        &old,
        "--source",
    ])
    .arg(&source);
    outside_actions(&mut cmd);
    signing(&mut cmd, &env);
    let out = run(&mut cmd);
    assert!(!out.status.success());
    let log = text(&out);
    assert!(
        log.contains("(100 hours ago), more than the 72 hours --max-db-age allows"),
        "{log}"
    );
    assert!(!log.contains("--> [13/"), "no platform was scanned: {log}");
    assert_eq!(tags(&repo), Vec::<String>::new());
    // The explicit opt-out a test environment uses.
    ok(cmd.arg("--allow-stale-db"));
    assert!(tags(&repo).contains(&"v1.0.0".to_string()));
}

#[test]
fn a_release_after_a_local_release_does_not_scan_with_the_fixture_database() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "local-then-real");
    let env_dir = temp_dir("local-env");
    let mut local = xtask();
    local
        .args([
            "release",
            "--local",
            "--version",
            "v1.0.0",
            "--no-rust-binary",
            "--skip-changelog",
            "--source",
        ])
        .arg(&source)
        .env("KUBE9_LOCAL_ENV_DIR", &env_dir);
    outside_actions(&mut local);
    let out = run(&mut local);
    let _ = run(xtask()
        .args(["env", "down"])
        .env("KUBE9_LOCAL_ENV_DIR", &env_dir));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !source.join("target/trivy-cache").exists(),
        "the local environment kept its fixture database in its own cache"
    );
    // A real release from the same checkout must fetch a current database: from a mirror that
    // is unreachable here, it stops before scanning instead of judging with the fixture.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut real = xtask();
    real.args([
        "release-image",
        "--version",
        "v1.0.1",
        "--no-rust-binary",
        "--skip-changelog",
        "--source",
    ])
    .arg(&source)
    .args(["--repository", &env.repository("after-local")])
    .args([
        "--trivy-db-repository",
        &format!("127.0.0.1:{port}/aquasec/trivy-db:2"),
    ]);
    outside_actions(&mut real);
    signing(&mut real, &env);
    let out = run(&mut real);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("trivy could not fetch its vulnerability database"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_tag_list_paged_ten_at_a_time_is_read_to_its_end() {
    use kube9_release::registry::{Registry, Repository};
    let env = env();
    let path = format!("test/{}", unique("paged"));
    // 25 releases and latest in the registry; the highest, v9.0.0, is on the third page.
    let layout = temp_dir("paged-layout");
    layout_from_rootfs(
        &fixtures().join("trivy-db/rootfs-high"),
        &[("linux", "amd64"), ("linux", "arm64")],
        &layout,
    );
    let image = kube9_release::layout::Image::open(&layout).unwrap();
    let direct =
        Registry::anonymous(&Repository::parse(&format!("{}/{path}", env.registry)).unwrap());
    direct.push_content(&image).unwrap();
    let index = image.blob(&image.index.digest).unwrap();
    let mut tags: Vec<String> = (0..24).map(|i| format!("v1.0.{i}")).collect();
    tags.extend(["v9.0.0".to_string(), "latest".to_string()]);
    for tag in &tags {
        direct
            .push_version_tag(tag, &image.index.digest, &index)
            .unwrap();
    }
    let proxy = fakes::paging_proxy(&env.registry.address(), 10);
    let source = fixture_image_repo("rootfs-high", "paged");
    let out = ok(&mut release_image_cmd(
        &source,
        "v2.0.0",
        &format!("{}/{path}", proxy.address),
    ));
    assert!(
        out.contains("not latest: held by the higher release 9.0.0"),
        "{out}"
    );
    assert!(
        *proxy.tag_pages.lock().unwrap() >= 3,
        "the list was read page by page"
    );
    assert_eq!(
        digest_of(&format!("{}/{path}:latest", env.registry)),
        image.index.digest,
        "latest stays on 9.0.0"
    );
    assert_eq!(
        digest_of(&format!("{}/{path}:2", env.registry)),
        image_record(&source).digest
    );
}

#[test]
fn two_releases_at_once_always_leave_latest_on_the_higher() {
    let env = env();
    // The overlap is forced at the registry: the newer release's first version tag waits
    // until the older one writes `latest` (so the older one read the tags before 2.0.1 was
    // there and took `latest`), and that write waits until the newer release has moved
    // `latest` itself (so the older one's write lands last, and its second read finds
    // 2.0.1). Only the correction can then leave `latest` right.
    let registry = fakes::CountingRegistry::start(&env.registry.address());
    registry.hold("v2.0.1", |seen| seen.arrived("latest"));
    registry.hold("latest", |seen| seen.landed("latest"));
    let repo = format!("{}/test/{}", registry.address, unique("race"));
    let older = fixture_image_repo("rootfs-high", "older");
    let newer = fixture_image_repo("rootfs-high", "newer");
    let start = |cmd: &mut std::process::Command| {
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = start(&mut release_image_cmd(&older, "v1.9.1", &repo));
    let b = start(&mut release_image_cmd(&newer, "v2.0.1", &repo));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    let (one, two) = (image_record(&older).digest, image_record(&newer).digest);
    assert_eq!(digest_of(&format!("{repo}:latest")), two);
    assert_eq!(digest_of(&format!("{repo}:2")), two);
    assert_eq!(digest_of(&format!("{repo}:1")), one);
    assert_eq!(digest_of(&format!("{repo}:1.9")), one);
    // The correction ran: the older release wrote `latest`, then put it back.
    assert!(
        text(&a).contains(":latest back to 2.0.1, released meanwhile"),
        "{}",
        text(&a)
    );
    let latest_writes = registry
        .writes()
        .iter()
        .filter(|w| w.tag() == Some("latest"))
        .count();
    assert!(
        latest_writes == 3,
        "the newer release's, the older one's, its correction: {latest_writes}"
    );
}

#[test]
fn the_signing_key_and_its_password_reach_cosign_only() {
    let env = env();
    let source = fixture_image_repo("rootfs-high", "key-leak");
    let repo = env.repository("key-leak");
    // A line from the middle of the key's PEM text: its encrypted body.
    let key_line = env.cosign_key().lines().nth(2).unwrap().to_string();
    let tmp = temp_dir("tmpdir");
    let watch = CmdlineWatch::start_all(&[&key_line, &env.cosign_password()]);
    let out = run(release_image_cmd(&source, "v1.0.0", &repo).env("TMPDIR", &tmp));
    let seen = watch.finish_all();
    assert!(out.status.success(), "{}", text(&out));
    for (seen, secret) in seen
        .iter()
        .zip([key_line.as_str(), env.cosign_password().as_str()])
    {
        assert!(
            seen.environ_programs.iter().any(|p| p.ends_with("/cosign")),
            "the watch saw cosign hold it: {:?}",
            seen.environ_programs
        );
        assert_kept_secret_from(
            seen,
            &text(&out),
            ("cosign", secret),
            &[&source, &tmp],
            &["cosign"],
        );
    }
}

#[test]
fn a_wrong_key_password_stops_the_release_before_its_chart_and_a_rerun_finishes_it() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "wrong-key");
    let registry = fakes::CountingRegistry::start(&env.registry.address());
    let name = unique("wrong-key");
    let repo = format!("{}/test/{name}", registry.address);
    let charts = format!("oci://{}/{}", registry.address, unique("charts"));
    let chart_repo = format!("{}/kube9-operator", charts.trim_start_matches("oci://"));
    let out =
        run(release_cmd(&source, "v1.0.0", &repo, &charts)
            .env("COSIGN_PASSWORD", "not-the-password"));
    assert!(!out.status.success());
    let log = text(&out);
    assert!(log.contains("cosign could not sign the index"), "{log}");
    assert!(
        log.contains("no chart is published for an unsigned image"),
        "{log}"
    );
    assert_eq!(tags(&chart_repo), Vec::<String>::new(), "no chart");
    // Counted at the registry: the image's blobs and its manifests by digest, nothing else
    // (no tag, no signature, no SBOM, nothing of the chart).
    let first = registry.writes();
    assert!(first.iter().all(|w| w.status < 400), "{first:?}");
    assert!(
        first
            .iter()
            .all(|w| w.repository() == format!("test/{name}")),
        "{first:?}"
    );
    assert!(first.iter().any(Write::is_blob), "{first:?}");
    assert_eq!(first.iter().filter_map(Write::tag).count(), 0, "{first:?}");
    let manifests: std::collections::BTreeSet<String> = first
        .iter()
        .filter(|w| w.is_manifest())
        .map(|w| w.path.rsplit('/').next().unwrap().to_string())
        .collect();
    // The bytes are in the registry by digest, but no tag names them: nothing a user pulls
    // by tag is unsigned.
    assert_eq!(tags(&repo), Vec::<String>::new(), "the tags are unchanged");

    // A re-run builds the same bytes again (one commit, one digest), uploads none of them,
    // and finishes: signatures, then tags, then the chart.
    let again = run(&mut release_cmd(&source, "v1.0.0", &repo, &charts));
    assert!(again.status.success(), "{}", text(&again));
    let again = text(&again);
    assert!(again.contains("uploaded 0 blobs (0 bytes)"), "{again}");
    let record = image_record(&source);
    let mut pushed: std::collections::BTreeSet<String> = record
        .platforms
        .iter()
        .map(|p| p.manifest.clone())
        .collect();
    pushed.insert(record.digest.clone());
    assert_eq!(
        manifests, pushed,
        "the index and each platform by digest: {first:?}"
    );
    let image_blobs: Vec<&str> = first.iter().filter_map(Write::blob_digest).collect();
    let rerun = &registry.writes()[first.len()..];
    assert!(
        rerun
            .iter()
            .filter_map(Write::blob_digest)
            .all(|d| !image_blobs.contains(&d)),
        "the re-run uploads none of the image's blobs again: {rerun:?}"
    );
    assert!(
        tags(&repo).iter().any(|t| t.ends_with(".sig")),
        "signed now"
    );
    assert!(release_tags(&repo).contains(&"v1.0.0".to_string()));
    assert_eq!(release_tags(&chart_repo), ["1.0.0"]);

    // Checked against another key, the signatures do not verify, and the report says which.
    let other = other_key();
    let verify = run(&mut verify_release_with_key(
        &source, "v1.0.0", &repo, &charts, &other,
    ));
    assert!(!verify.status.success());
    let log = text(&verify);
    assert!(
        log.contains("signature of the index") && log.contains("does not verify"),
        "{log}"
    );
}
