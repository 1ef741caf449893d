//! `cargo xtask release-chart` and `cargo xtask release` end to end: the chart is published only
//! once its image is served, and it deploys exactly the published digest.

mod support;

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

    let digest = image_record(&source).digest;
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
    assert_kept_secret(
        &seen,
        &text(&out),
        &env.auth_user,
        &env.auth_password(),
        &[&source],
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
