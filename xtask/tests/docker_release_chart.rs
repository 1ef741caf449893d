//! `cargo xtask release-chart` and `cargo xtask release` end to end: the chart is published only
//! once its image is served, and it deploys exactly the published digest.

mod support;

use std::path::Path;

use support::*;

fn charts(env: &EnvState) -> (String, String) {
    let path = unique("charts");
    (
        format!("oci://{}/{path}", env.registry),
        format!("{}/{path}/kube9-operator", env.registry),
    )
}

#[test]
fn without_the_image_the_chart_step_waits_then_fails_and_publishes_nothing() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "no-image");
    let repo = env.repository("no-image");
    let (charts_url, chart_repo) = charts(&env);
    let out = run(
        release_chart_cmd(&source, "v1.0.0", &repo, &charts_url).args([
            "--wait-timeout",
            "3",
            "--poll-interval",
            "1",
        ]),
    );
    assert!(!out.status.success());
    let log = text(&out);
    assert!(log.contains("waiting for"), "it polled: {log}");
    assert!(
        log.contains("was not available with linux/amd64, linux/arm64 within 3s"),
        "{log}"
    );
    assert!(log.contains("nothing was published"), "{log}");
    assert_eq!(tags(&chart_repo), Vec::<String>::new());
}

#[test]
fn the_chart_follows_an_image_published_while_it_waits() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "follow");
    let repo = env.repository("follow");
    let (charts_url, chart_repo) = charts(&env);
    let chart_out = temp_dir("chart-out");
    let waiting = release_chart_cmd(&source, "v1.1.0", &repo, &charts_url)
        .args(["--wait-timeout", "300", "--poll-interval", "2", "--out-dir"])
        .arg(&chart_out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    ok(&mut release_image_cmd(&source, "v1.1.0", &repo));
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("waiting for"),
        "the chart step had to wait: {}",
        text(&out)
    );
    assert_eq!(release_tags(&chart_repo), ["1.1.0"]);
}

/// The release's own verification report: every signature checked and passed, the index's
/// and each platform's, and the run check it could not do named as skipped.
fn assert_verified(source: &Path, record: &kube9_release::record::ImageRecord) {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(source.join("target/release/verify.json")).unwrap())
            .unwrap();
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["index_digest"], record.digest.as_str());
    let status = |what: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["what"] == what)
            .map(|c| c["status"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no check `{what}` in {report:#}"))
    };
    assert_eq!(status("signature of the index"), "ok");
    assert_eq!(status("signature of the chart"), "ok");
    for p in &record.platforms {
        assert_eq!(report["platforms"][&p.platform], p.manifest.as_str());
        assert_eq!(
            status(&format!("signature of the {} image", p.platform)),
            "ok"
        );
        assert_eq!(
            status(&format!("SBOM attestation of the {} image", p.platform)),
            "ok"
        );
    }
    // Fixture images carry no operator binary: the run check is skipped, and says so.
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report:#}");
    assert!(
        status(skipped[0].as_str().unwrap()) == "skipped"
            && skipped[0]
                .as_str()
                .unwrap()
                .contains("pulled by tag and run: SKIPPED"),
        "{report:#}"
    );
}

#[test]
fn release_publishes_the_image_then_a_chart_pinned_to_its_digest() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "full");
    let repo = env.repository("full");
    let (charts_url, chart_repo) = charts(&env);
    let release = || release_cmd(&source, "v2.3.4", &repo, &charts_url);
    let first = ok_as_planned(release);
    let image_at = first.find("published 127.0.0.1").expect("image published");
    let chart_at = first
        .find("published chart oci://")
        .expect("chart published");
    assert!(
        image_at < chart_at,
        "the image is published before the chart"
    );

    let record = image_record(&source);
    let digest = record.digest.clone();
    assert_verified(&source, &record);
    // The printed report and the plan name it too, and the release page.
    assert!(
        first.contains("\n  SKIP each platform pulled by tag and run: SKIPPED"),
        "{first}"
    );
    let page = std::fs::read_to_string(source.join("target/release/release-notes.md")).unwrap();
    assert!(
        page.contains("**Not checked by this release's verification:**\n\n- each platform pulled by tag and run: SKIPPED"),
        "{page}"
    );
    let chart: serde_json::Value =
        serde_json::from_slice(&std::fs::read(source.join("target/release/chart.json")).unwrap())
            .unwrap();
    assert_eq!(chart["image"], format!("{repo}:2.3.4@{digest}"));
    assert_eq!(release_tags(&chart_repo), ["2.3.4"]);
    assert!(
        !release_tags(&repo).contains(&"2.3.4".to_string())
            || digest_of(&format!("{repo}:2.3.4")) == digest,
        "the chart never lands in the image's repository"
    );

    // What a user gets: pull the chart, render it, pull the image it names for arm64.
    let pulled = temp_dir("pulled-chart");
    ok(helm()
        .args([
            "pull",
            &format!("{charts_url}/kube9-operator"),
            "--version",
            "2.3.4",
            "--plain-http",
            "--destination",
        ])
        .arg(&pulled));
    let manifests = ok(helm()
        .args(["template", "kube9"])
        .arg(pulled.join("kube9-operator-2.3.4.tgz")));
    let image = format!("{repo}:2.3.4@{digest}");
    assert_eq!(
        kube9_release::chart::rendered_images(&manifests),
        std::slice::from_ref(&image)
    );
    assert!(manifests.contains("app.kubernetes.io/version: \"2.3.4\""));
    let content = ctr_pull_arm64(&image);
    assert!(!content.is_empty());

    // The same release again: a no-op that succeeds, with the same chart digest.
    let chart_digest = digest_of(&format!("{chart_repo}:2.3.4"));
    let again = ok(&mut release());
    assert!(
        again.contains("already holds this commit's build"),
        "{again}"
    );
    assert!(
        !again.contains("docker buildx build"),
        "nothing was built: {again}"
    );
    assert!(again.contains("already holds this chart"), "{again}");
    assert_eq!(digest_of(&format!("{chart_repo}:2.3.4")), chart_digest);

    // A different chart under the released version is refused.
    let values = source.join("charts/kube9-operator/values.yaml.j2");
    let changed = std::fs::read_to_string(&values)
        .unwrap()
        .replace("statusIntervalSeconds: 60", "statusIntervalSeconds: 30");
    std::fs::write(&values, changed).unwrap();
    commit_all(&source, "change the chart only");
    let out = run(&mut release_chart_cmd(
        &source,
        "v2.3.4",
        &repo,
        &charts_url,
    ));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("already holds a different chart"),
        "{}",
        text(&out)
    );
    assert_eq!(digest_of(&format!("{chart_repo}:2.3.4")), chart_digest);
}

#[test]
fn a_prerelease_publishes_a_prerelease_chart() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "pre");
    let repo = env.repository("pre");
    let (charts_url, chart_repo) = charts(&env);
    ok(&mut release_image_cmd(&source, "v1.0.0-rc.2", &repo));
    ok(&mut release_chart_cmd(
        &source,
        "v1.0.0-rc.2",
        &repo,
        &charts_url,
    ));
    assert_eq!(release_tags(&chart_repo), ["1.0.0-rc.2"]);
    let pulled = temp_dir("pulled-pre");
    ok(helm()
        .args([
            "pull",
            &format!("{charts_url}/kube9-operator"),
            "--version",
            "1.0.0-rc.2",
            "--plain-http",
            "--destination",
        ])
        .arg(&pulled));
    let shown = ok(helm()
        .args(["show", "chart"])
        .arg(pulled.join("kube9-operator-1.0.0-rc.2.tgz")));
    assert!(
        shown.contains("artifacthub.io/prerelease: \"true\""),
        "{shown}"
    );
}

#[test]
fn a_failed_image_step_leaves_no_chart() {
    let env = env();
    let source = fixture_release_repo("rootfs-critical", "failed");
    let repo = env.repository("failed");
    let (charts_url, chart_repo) = charts(&env);
    let out = run(&mut release_cmd(&source, "v1.0.0", &repo, &charts_url));
    assert!(!out.status.success());
    assert!(text(&out).contains("nothing was pushed"), "{}", text(&out));
    assert!(
        !text(&out).contains("waiting for"),
        "the chart step never started"
    );
    assert_eq!(tags(&repo), Vec::<String>::new());
    assert_eq!(tags(&chart_repo), Vec::<String>::new());
}

#[test]
fn a_chart_helm_refuses_stops_the_release_before_anything_is_published() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "lint");
    std::fs::write(
        source.join("charts/kube9-operator/templates/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nowhere.name }}\n",
    )
    .unwrap();
    commit_all(&source, "a template helm cannot render");
    let repo = env.repository("lint");
    let (charts_url, chart_repo) = charts(&env);
    let out = run(&mut release_cmd(&source, "v1.0.0", &repo, &charts_url));
    assert!(!out.status.success());
    let log = text(&out);
    // helm's own message, naming the file and the value, then the step's hint.
    assert!(
        log.contains("templates/broken.yaml") && log.contains("nowhere"),
        "{log}"
    );
    assert!(
        log.contains("helm lint --strict refused the stamped chart"),
        "{log}"
    );
    assert!(!log.contains("==> helm package"), "{log}");
    // Not even by digest: the image's repository does not exist.
    let listed = run(skopeo()
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{repo}")));
    assert!(!listed.status.success(), "{}", text(&listed));
    assert_eq!(tags(&chart_repo), Vec::<String>::new());
}

#[test]
fn the_chart_step_logs_in_with_the_token_on_stdin_only() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "chart-auth");
    let path = unique("auth");
    let repo = format!("{}/{path}/kube9-operator", env.auth_registry);
    let charts_url = format!("oci://{}/{path}/charts", env.auth_registry);
    ok(release_image_cmd(&source, "v1.0.0", &repo)
        .env("REGISTRY_USERNAME", &env.auth_user)
        .env("REGISTRY_PASSWORD", env.auth_password()));
    let tmp = temp_dir("tmpdir");
    let logins = LoginDirWatch::start(&tmp, &login_encoding(&env.auth_user, &env.auth_password()));
    let watch = CmdlineWatch::start(&env.auth_password());
    let out = run(release_chart_cmd(&source, "v1.0.0", &repo, &charts_url)
        .env("REGISTRY_USERNAME", &env.auth_user)
        .env("REGISTRY_PASSWORD", env.auth_password())
        .env("TMPDIR", &tmp));
    let seen = watch.finish();
    let dirs = logins.finish();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("==> helm registry login"),
        "it logged in: {}",
        text(&out)
    );
    // The source (with the run's outputs) and the run's TMPDIR; `$HOME`'s tool directories
    // are scanned by the assertion itself.
    assert_kept_secret(
        &seen,
        &text(&out),
        &env.auth_user,
        &env.auth_password(),
        &[&source, &tmp],
    );
    // helm and cosign wrote the login (base64 `user:token`) into a private directory only,
    // which is gone now.
    assert!(dirs.with_login, "the watch saw the login file: {dirs:?}");
    assert!(dirs.modes.iter().all(|m| m & 0o777 == 0o700), "{dirs:?}");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the login directory was removed"
    );
}

/// `cmd` as it was, but reading the source's changelog (the helpers skip it for fixtures).
fn with_changelog(cmd: &std::process::Command) -> std::process::Command {
    let mut again = std::process::Command::new(cmd.get_program());
    again.args(cmd.get_args().filter(|a| *a != "--skip-changelog"));
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => again.env(k, v),
            None => again.env_remove(k),
        };
    }
    again
}

/// What a registry holds under `repository:artifacthub.io`: the manifest's media types and
/// the file in its one layer.
fn artifacthub_metadata(repository: &str) -> (String, String, Vec<u8>) {
    use kube9_release::registry::{Registry, Repository};
    let registry = Registry::anonymous(&Repository::parse(repository).unwrap());
    let reference = registry.repository.tag("artifacthub.io");
    let (bytes, _) = registry
        .manifest(&reference)
        .unwrap()
        .unwrap_or_else(|| panic!("{repository}:artifacthub.io is missing"));
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let layer = &manifest["layers"][0];
    let file = registry.blob(layer["digest"].as_str().unwrap()).unwrap();
    (
        manifest["config"]["mediaType"]
            .as_str()
            .unwrap()
            .to_string(),
        layer["mediaType"].as_str().unwrap().to_string(),
        file,
    )
}

/// Chart.yaml's annotations, read out of a chart archive.
fn chart_annotations(archive: &Path) -> std::collections::BTreeMap<String, String> {
    use std::io::Read;
    let bytes = std::fs::read(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().ends_with("Chart.yaml") {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            #[derive(serde::Deserialize)]
            struct Chart {
                annotations: std::collections::BTreeMap<String, String>,
            }
            return serde_saphyr::from_str::<Chart>(&text).unwrap().annotations;
        }
    }
    panic!("{} holds no Chart.yaml", archive.display())
}

#[test]
fn artifact_hub_finds_the_chart_the_image_and_both_repositories_metadata() {
    let env = env();
    let source = fixture_release_repo("rootfs-high", "artifacthub");
    std::fs::copy(
        project_root().join("artifacthub-repo.yml"),
        source.join("artifacthub-repo.yml"),
    )
    .unwrap();
    std::fs::write(
        source.join("CHANGELOG.md"),
        "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-11-30\n\n### Added\n\n\
         - Artifact Hub metadata: the chart lists its image, licence, links and changes.\n\n\
         ### Security\n\n- Bump a crate: \"CVE-2099-0003\" # fixed.\n",
    )
    .unwrap();
    commit_all(&source, "changelog and Artifact Hub metadata");
    let repo = env.repository("artifacthub");
    let (charts_url, chart_repo) = charts(&env);
    let release = || with_changelog(&release_cmd(&source, "v1.0.0", &repo, &charts_url));
    let out = ok(&mut release());
    assert!(
        out.contains("changelog  1.0.0 (2026-11-30): 1 added, 1 security"),
        "{out}"
    );

    // The repository metadata, in both repositories, exactly the file, in the media types
    // Artifact Hub looks for.
    let yml = std::fs::read(source.join("artifacthub-repo.yml")).unwrap();
    for repository in [&repo, &chart_repo] {
        let (config, layer, file) = artifacthub_metadata(repository);
        assert_eq!(config, "application/vnd.cncf.artifacthub.config.v1+yaml");
        assert_eq!(
            layer,
            "application/vnd.cncf.artifacthub.repository-metadata.layer.v1.yaml"
        );
        assert_eq!(file, yml, "{repository}");
    }

    // The image index carries Artifact Hub's annotations with the OCI ones it requires.
    let digest = image_record(&source).digest;
    let registry = kube9_release::registry::Registry::anonymous(
        &kube9_release::registry::Repository::parse(&repo).unwrap(),
    );
    let (index, _) = registry
        .manifest(&registry.repository.digest(&digest))
        .unwrap()
        .unwrap();
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    let annotations = &index["annotations"];
    assert_eq!(
        annotations["io.artifacthub.package.readme-url"],
        "https://raw.githubusercontent.com/alto9/kube9-operator/v1.0.0/README.md"
    );
    assert_eq!(annotations["io.artifacthub.package.license"], "Apache-2.0");
    let maintainers: serde_json::Value = serde_json::from_str(
        annotations["io.artifacthub.package.maintainers"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(maintainers[0]["name"], "alto9");
    for required in ["created", "description"] {
        assert!(
            annotations[format!("org.opencontainers.image.{required}")].is_string(),
            "{required}: {annotations}"
        );
    }

    // The chart as published: the image by tag and digest, and this version's changes.
    let chart = source.join("target/release/chart-verify/kube9-operator-1.0.0.tgz");
    let a = chart_annotations(&chart);
    assert!(
        a["artifacthub.io/images"].contains(&format!("image: {repo}:1.0.0@{digest}")),
        "{a:?}"
    );
    assert_eq!(a["artifacthub.io/license"], "Apache-2.0");
    assert_eq!(a["artifacthub.io/prerelease"], "false");
    assert_eq!(a["artifacthub.io/containsSecurityUpdates"], "true");
    #[derive(serde::Deserialize, Debug)]
    struct Change {
        kind: String,
        description: String,
    }
    let changes: Vec<Change> = serde_saphyr::from_str(&a["artifacthub.io/changes"]).unwrap();
    assert_eq!(changes[0].kind, "added");
    assert_eq!(changes[1].kind, "security");
    assert_eq!(
        changes[1].description,
        "Bump a crate: \"CVE-2099-0003\" # fixed."
    );
    let links = &a["artifacthub.io/links"];
    assert!(
        links.contains("https://github.com/alto9/kube9-operator"),
        "{links}"
    );

    // Artifact Hub's own rules (ported from its tracker) find nothing to refuse, drop or
    // misread, and list a release with its changes and security flag.
    let seen = artifact_hub_reads(&repo, &chart_repo, "1.0.0");
    let violations: Vec<String> = seen
        .violations
        .iter()
        .flat_map(|(what, v)| v.iter().map(move |v| format!("{what}: {v}")))
        .collect();
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(!seen.image.prerelease && !seen.chart.prerelease);
    assert_eq!(seen.chart.changes, 2);
    assert!(seen.chart.contains_security_updates);
    assert_eq!(seen.chart.images[0].2, seen.image.platforms);

    // Again: the metadata is there, so nothing is pushed, and the `artifacthub.io` tag does
    // not confuse which release holds the floating tags.
    let again = ok(&mut release());
    assert!(
        again.contains(&format!(
            "{repo}:artifacthub.io already holds this metadata"
        )),
        "{again}"
    );
    assert_eq!(digest_of(&format!("{repo}:latest")), digest);
}
