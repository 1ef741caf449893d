use super::*;
use crate::buildx::{BuildPlan, Cache};
use crate::chart::HelmPlan;
use crate::notify::Notify;
use crate::plan::samples::{key, source};
use crate::scan::{ReportFiles, ReportFormat, ScanPlan, Severity, TrivyDb};
use crate::secret::Secret;
use crate::sign::{AttestationType, Cosign, Verifier};

fn repo() -> Repository {
    Repository::parse("ghcr.io/alto9/kube9-operator").unwrap()
}

fn charts() -> Repository {
    Repository::parse("ghcr.io/alto9/charts/kube9-operator").unwrap()
}

fn db() -> TrivyDb {
    TrivyDb {
        repository: None,
        cache_dir: "c".into(),
        max_age_hours: Some(72),
    }
}

fn scan_plan() -> ScanPlan {
    let image = crate::scan::ScannedImage {
        repository: crate::registry::Repository::parse("ghcr.io/alto9/kube9-operator").unwrap(),
        version: "1.2.3".into(),
    };
    ScanPlan::new("linux/arm64", "l".as_ref(), "r".as_ref(), &db(), &image)
}

fn helm() -> HelmPlan {
    HelmPlan {
        staged: "p/kube9-operator".into(),
        package_dir: "p".into(),
        version: "1.2.3".into(),
        repository: Repository::parse("oci://ghcr.io/alto9/charts").unwrap(),
        plain_http: false,
    }
}

fn cosign() -> Cosign {
    Cosign {
        logged_in: true,
        plain_http: false,
    }
}

fn notify() -> Notify {
    Notify {
        image: repo().to_string(),
        version: "1.2.3".into(),
        file: "out/issue.md".into(),
        github: None,
    }
}

fn reports() -> Vec<ReportFiles> {
    vec![scan_plan().report()]
}

fn release() -> ChartRelease {
    ChartRelease {
        version: "1.2.3".into(),
        prerelease: false,
        image: repo(),
        tag: "1.2.3".into(),
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        changes: None,
    }
}

fn platform() -> Bound {
    Bound::Platform("linux/arm64".into())
}

fn build_plan() -> BuildPlan {
    BuildPlan {
        dockerfile: "ctx/Dockerfile".into(),
        context: "ctx".into(),
        platforms: vec!["linux/amd64".into()],
        build_args: Vec::new(),
        build_contexts: Vec::new(),
        labels: Vec::new(),
        index_annotations: Vec::new(),
        cache: Cache::None,
        provenance: false,
        output: "oci".into(),
        docker_host: None,
        source_date_epoch: 0,
    }
}

/// One step of every kind, as a release or a verification plans it.
fn one_of_each() -> Vec<Step> {
    let image = Subject::new(&repo(), Bound::Index);
    vec![
        Step::FreshDir(FreshDir {
            path: "out/scan".into(),
        }),
        Step::ArchiveSource(ArchiveSource {
            source: source(),
            archive: "a.tar".into(),
        }),
        Step::UnpackSource(UnpackSource {
            archive: "a.tar".into(),
            dest: "ctx".into(),
        }),
        Step::Build(Build { plan: build_plan() }),
        Step::CheckBuild(CheckBuild {
            layout: "oci".into(),
            platforms: vec!["linux/amd64".into()],
        }),
        Step::CheckSize(CheckSize {
            budget: 200_000_000,
        }),
        Step::SameBuild(SameBuild {
            first: "one".into(),
            second: "two".into(),
        }),
        Step::FetchDatabase(FetchDatabase { db: db() }),
        Step::CheckDatabase(CheckDatabase {
            metadata: "m".into(),
            max_age_hours: Some(72),
        }),
        Step::SplitPlatform(SplitPlatform {
            platform: "linux/arm64".into(),
            dest: "l".into(),
        }),
        Step::Scan(Scan {
            scan: scan_plan(),
            version: None,
        }),
        Step::Convert(Convert {
            scan: scan_plan(),
            format: ReportFormat::Sarif,
        }),
        Step::Gate(Gate {
            severity: Severity::Critical,
            reports: reports(),
            require_rust: true,
            enforce: true,
            notify: notify(),
        }),
        Step::Rescanned(Rescanned {
            version: "1.2.3".into(),
            severity: Severity::High,
            reports: reports(),
            sarif_dir: "sarif".into(),
            notify: notify(),
        }),
        Step::PullPublished(PullPublished {
            subject: image.clone(),
            layout: "oci".into(),
        }),
        Step::PushContent(PushContent { repository: repo() }),
        Step::AttachSbom(AttachSbom {
            subject: Subject::new(&repo(), platform()),
            sbom: "sbom.json".into(),
            created: "2023-11-14T22:13:20Z".into(),
        }),
        Step::Login(Login {
            client: LoginClient::Cosign,
            host: "ghcr.io".into(),
            username: "octocat".into(),
            password: Secret::new("t0ken"),
        }),
        Step::Sign(Sign {
            cosign: cosign(),
            signer: key(),
            subjects: vec![image.clone()],
        }),
        Step::Attest(Attest {
            cosign: cosign(),
            signer: key(),
            kind: AttestationType::CycloneDx,
            predicate: "sbom.json".into(),
            subject: Subject::new(&repo(), platform()),
        }),
        Step::PushVersionTags(PushVersionTags {
            repository: repo(),
            tags: vec!["v1.2.3".into(), "1.2.3".into()],
        }),
        Step::MoveFloatingTags(MoveFloatingTags {
            repository: repo(),
            version: "1.2.3".into(),
            release_tag: "v1.2.3".into(),
            candidates: vec!["latest".into()],
            provenance: Some(ProvenanceWait {
                index: Bound::Index,
                seconds: 120,
            }),
        }),
        Step::VerifyImage(VerifyImage {
            repository: repo(),
            tag: "v1.2.3".into(),
            platforms: Vec::new(),
            version: "1.2.3".into(),
            commit: "c0ffee".into(),
            version_tags: Vec::new(),
        }),
        Step::RecordImage(RecordImage {
            path: "out/image.json".into(),
            repository: repo(),
            version: "1.2.3".into(),
            commit: "c0ffee".into(),
            pushed: true,
            provenance_missing: false,
            withdrawal: None,
        }),
        Step::WaitForImage(WaitForImage {
            repository: repo(),
            tag: "v1.2.3".into(),
            expected: None,
            platforms: Vec::new(),
            timeout_secs: 600,
            interval_secs: 10,
        }),
        Step::StageChart(StageChart {
            chart: "charts/kube9-operator".into(),
            dest: "p".into(),
            release: release(),
            epoch: 0,
        }),
        Step::LintChart(LintChart { helm: helm() }),
        Step::PackageChart(PackageChart {
            helm: helm(),
            epoch: 0,
        }),
        Step::PushChart(PushChart {
            repository: charts(),
            version: "1.2.3".into(),
            package: "p/c.tgz".into(),
            helm: helm(),
        }),
        Step::PullChart(PullChart {
            helm: helm(),
            dest: "pulled".into(),
        }),
        Step::CheckChart(CheckChart {
            pulled: "pulled/c.tgz".into(),
            package: "p/c.tgz".into(),
            release: release(),
        }),
        Step::RecordChart(RecordChart {
            path: "out/chart.json".into(),
            repository: charts(),
            release: release(),
        }),
        Step::DerivePublicKey(DerivePublicKey {
            key: Secret::new("k"),
            password: Secret::new("p"),
            out: "out/cosign.pub".into(),
        }),
        Step::CheckFloatingTags(CheckFloatingTags {
            repository: repo(),
            release: "v1.2.3".into(),
            prerelease: false,
        }),
        Step::ResolveRelease(ResolveRelease {
            repository: repo(),
            tags: vec!["v1.2.3".into()],
            platforms: Vec::new(),
            version: "1.2.3".into(),
        }),
        Step::VerifySignature(VerifySignature {
            cosign: cosign(),
            verifier: Verifier::Key {
                public_key: "cosign.pub".into(),
            },
            subject: image.clone(),
        }),
        Step::VerifyAttestation(VerifyAttestation {
            cosign: cosign(),
            verifier: Verifier::Key {
                public_key: "cosign.pub".into(),
            },
            kind: AttestationType::CycloneDx,
            subject: Subject::new(&repo(), platform()),
        }),
        Step::CheckSboms(CheckSboms {
            repository: repo(),
            platforms: Vec::new(),
        }),
        Step::ResolveChart(ResolveChart {
            repository: charts(),
            version: "1.2.3".into(),
            image: repo(),
            tag: "1.2.3".into(),
        }),
        Step::RenderChart(RenderChart {
            helm: crate::verifiers::Checker::Helm3,
            chart: charts(),
            version: "1.2.3".into(),
            image: repo(),
            tag: "1.2.3".into(),
        }),
        Step::AnonymousPull(AnonymousPull {
            repository: repo(),
            target: Pullable::Digest(Bound::Index),
            settings: "the settings page".into(),
            required: true,
        }),
        Step::RenderVex(RenderVex {
            source: "/src/security/vex.json".into(),
            index: Bound::Index,
            gates: vec![("linux/arm64".into(), "r/vex-gate-linux-arm64.json".into())],
            attest: Some((VexRelease::new(&repo(), "v1.2.3"), "out/vex.json".into())),
        }),
        Step::AttestVex(AttestVex {
            cosign: cosign(),
            signer: key(),
            predicate: "out/vex.json".into(),
            subject: Subject::new(&repo(), Bound::Index),
        }),
        Step::AttestProvenance(AttestProvenance {
            cosign: cosign(),
            signer: key(),
            predicate: serde_json::json!({}),
            dir: "out".into(),
            subject: Subject::new(&repo(), Bound::Index),
        }),
        Step::VerifyProvenance(VerifyProvenance {
            cosign: cosign(),
            verifier: Verifier::release_workflow("alto9/kube9-operator", "v1.2.3"),
            subject: Subject::new(&repo(), Bound::Index),
            bundle_root: None,
            github_repository: "alto9/kube9-operator".into(),
            source_ref: "refs/tags/v1.2.3".into(),
            token: Some(Secret::new("t0ken")),
        }),
        Step::VerifyVex(VerifyVex {
            cosign: cosign(),
            verifier: Verifier::release_workflow("alto9/kube9-operator", "v1.2.3"),
            subject: Subject::new(&repo(), Bound::Index),
            release: VexRelease::new(&repo(), "v1.2.3"),
            checkout: "/src".into(),
        }),
        Step::PushRepoMetadata(PushRepoMetadata {
            repository: repo(),
            file: "/src/artifacthub-repo.yml".into(),
        }),
        Step::RunImage(RunImage {
            repository: repo(),
            tag: "1.2.3".into(),
            platform: "linux/arm64".into(),
            version: "1.2.3".into(),
            logged_in: false,
            native_only: true,
            docker_host: None,
        }),
        Step::PullAsNode(PullAsNode {
            repository: repo(),
            tag: "1.2.3".into(),
            platform: "linux/arm64".into(),
            public_key: "cosign.pub".into(),
            logged_in: false,
        }),
        Step::RecordVerification(RecordVerification {
            path: "out/verify.json".into(),
            given: Default::default(),
            skipped: Vec::new(),
        }),
        Step::WriteReleaseNotes(WriteReleaseNotes {
            path: "out/release-notes.md".into(),
            version: "1.2.3".into(),
            image: repo(),
            chart: charts(),
            image_cosign: cosign(),
            chart_cosign: cosign(),
            verifier: Verifier::release_workflow("alto9/kube9-operator", "v1.2.3"),
            github_repository: "alto9/kube9-operator".into(),
            source_ref: "refs/tags/v1.2.3".into(),
            bundle_root: None,
            scan: None,
            changes: None,
        }),
        Step::AttestWithdrawal(AttestWithdrawal {
            cosign: cosign(),
            signer: key(),
            withdrawal: crate::withdrawal::Withdrawal {
                version: "1.2.3".into(),
                reason: "leaks a debug flag".into(),
                replacement: Some("1.2.4".into()),
                withdrawn: true,
                time: String::new(),
            },
            dir: "out/withdrawal".into(),
            subjects: vec![image.clone(), Subject::new(&charts(), Bound::Chart)],
        }),
        Step::MoveWithdrawnTags(MoveWithdrawnTags {
            repository: repo(),
            version: "1.2.3".into(),
            undo: false,
            tags: vec!["1.2".into(), "1".into(), "latest".into()],
        }),
        Step::CheckWithdrawal(CheckWithdrawal {
            cosign: cosign(),
            verifier: Verifier::withdraw_workflow("alto9/kube9-operator"),
            subject: image.clone(),
        }),
        Step::MarkGithubRelease(MarkGithubRelease {
            api_url: "https://api.github.com".into(),
            github_repository: "alto9/kube9-operator".into(),
            token: Secret::new("ghs_secret"),
            tag: "v1.2.3".into(),
            summary: Some("withdrawn: leaks a debug flag; use 1.2.4".into()),
        }),
    ]
}

/// Every kind's hint, exactly: an exhaustive match, so a new kind needs its line here.
fn expected_hint(step: &Step) -> &'static str {
    match step {
        Step::FreshDir(_) => "out/scan could not be made afresh: check that the output directory (--out-dir) is writable and has room",
        Step::AttestProvenance(_) => "the build provenance of the index could not be signed or attached: check COSIGN_PRIVATE_KEY and COSIGN_PASSWORD; no tag names the image yet, and re-running the release finishes it",
        Step::ArchiveSource(_) => "git could not archive commit c0ffee of /src; nothing was built",
        Step::UnpackSource(_) => "tar could not unpack the commit into ctx; nothing was built",
        Step::Build(_) => "the image build failed (its output is above); nothing was pushed",
        Step::CheckBuild(_) => "the build did not produce the image the release needs; nothing was pushed",
        Step::CheckSize(_) => "the image failed its checks, so nothing was pushed: make it smaller, or raise --size-budget-mb",
        Step::SameBuild(_) => "the image is not reproducible: compare the layouts in one and two (a timestamp or a path that reached a layer)",
        Step::FetchDatabase(_) => "trivy could not fetch its vulnerability database; nothing was pushed: point TRIVY_DB_REPOSITORY (or --trivy-db-repository) at a reachable mirror",
        Step::CheckDatabase(_) => "the vulnerability database cannot judge this release; nothing was scanned or pushed",
        Step::SplitPlatform(_) => "the linux/arm64 image could not be laid out for the scan; nothing was pushed",
        Step::Scan(_) => "trivy failed (scan linux/arm64); nothing was pushed",
        Step::Convert(_) => "trivy failed (report of linux/arm64); nothing was pushed",
        Step::Gate(_) => "the image failed its checks, so nothing was pushed (reports: r)",
        Step::Rescanned(_) => "the rescan of 1.2.3 could not be reported: its reports are in sarif",
        Step::PullPublished(_) => "ghcr.io/alto9/kube9-operator@<index-digest> could not be read back from ghcr.io; nothing further was published",
        Step::PushContent(_) => "the image could not be pushed to ghcr.io/alto9/kube9-operator; no tag was written, so nothing is published yet: re-running the release finishes it",
        Step::AttachSbom(_) => "the SBOM of the linux/arm64 image could not be attached; nothing further was published: re-running the release finishes it",
        Step::Login(_) => "ghcr.io refused the login: check the token and its `packages: write` permission; nothing further was published",
        Step::Sign(_) => "cosign could not sign the index: check COSIGN_PRIVATE_KEY and COSIGN_PASSWORD (or the job's `id-token: write`); nothing further was published, and no chart is published for an unsigned image. Re-running the release finishes it",
        Step::Attest(_) => "cosign could not attest the SBOM of the linux/arm64 image: check COSIGN_PRIVATE_KEY and COSIGN_PASSWORD (or the job's `id-token: write`); nothing further was published, and no chart is published for an unsigned image. Re-running the release finishes it",
        Step::PushVersionTags(_) => "the version tags of ghcr.io/alto9/kube9-operator could not be written; re-running the release finishes them",
        Step::MoveFloatingTags(_) => "the floating tags latest of ghcr.io/alto9/kube9-operator were not moved to 1.2.3 (each stays where it was; the version tags are published): finish with `gh workflow run release.yml --ref v1.2.3 -f version=v1.2.3` (or, off GitHub, the same release command again)",
        Step::VerifyImage(_) => "ghcr.io/alto9/kube9-operator:v1.2.3 is not the image this release built: nothing further was published",
        Step::RecordImage(_) => "out/image.json could not be written: the image is published, re-running the release writes it",
        Step::WaitForImage(_) => "the chart needs its image first; nothing was published",
        Step::StageChart(_) => "the chart in charts/kube9-operator could not be stamped (its .j2 templates); nothing was published",
        Step::LintChart(_) => "helm lint --strict refused the stamped chart (helm's message above names the file and field): fix charts/kube9-operator, or the CHANGELOG.md entry stamped into its annotations, and run the release again; no chart was published (and in `release`, which lints before pushing the image, nothing at all)",
        Step::PackageChart(_) => "helm could not package the chart; nothing was published",
        Step::PushChart(_) => "the chart could not be published to ghcr.io/alto9/charts/kube9-operator; re-running the release finishes it",
        Step::PullChart(_) => "the published chart could not be pulled back; re-running the release checks it again",
        Step::CheckChart(_) => "the published chart does not deploy the released image: do not install it; re-run the release after fixing the chart's templates",
        Step::RecordChart(_) => "out/chart.json could not be written: the chart is published, re-running the release writes it",
        Step::DerivePublicKey(_) => "cosign could not derive the public key from COSIGN_PRIVATE_KEY: check the key and COSIGN_PASSWORD; the release is published, `cargo xtask verify-release --key cosign.pub` checks it",
        Step::ResolveRelease(_) => "ghcr.io/alto9/kube9-operator does not serve release 1.2.3 as published: re-run the release (it finishes what a failed run left out)",
        Step::CheckFloatingTags(_) => "a floating tag of ghcr.io/alto9/kube9-operator does not name the highest release eligible for it: `gh workflow run release.yml --ref v1.2.3 -f version=v1.2.3` moves this release's (a higher release's tags are moved by a run of that release)",
        Step::VerifySignature(_) => "the signature of the index does not verify: the release is not what its signer published, or it is checked against the wrong key or identity",
        Step::VerifyAttestation(_) => "the SBOM attestation of the linux/arm64 image does not verify: re-run the release (it attests what a failed run left out), or check against the right key or identity",
        Step::VerifyProvenance(_) => "the index's build provenance does not verify: on GitHub, re-run the image job (it attests provenance when it is missing); elsewhere re-run the release",
        Step::CheckSboms(_) => "an SBOM referrer is missing: re-run the release (cargo xtask release-image finishes what a failed run left out)",
        Step::ResolveChart(_) => "the chart ghcr.io/alto9/charts/kube9-operator:1.2.3 does not deploy the released image: do not install it",
        Step::RenderChart(_) => "helm cannot render the published chart, or it deploys another image: re-run the release's chart job (a chart that pins another image is refused before it is pushed)",
        Step::AnonymousPull(_) => "make the package public once at the settings page, then open the workflow run and choose \"Re-run failed jobs\" (both verify jobs failed, and the release page waits for both; the release is otherwise complete); a private organisation sets the repository variable PUBLIC_CHECK=skip",
        Step::RenderVex(_) => "the VEX statements of /src/security/vex.json could not be written for the scan, or one of them failed OpenVEX's validator; nothing was pushed",
        Step::AttestVex(_) => "cosign could not attest the VEX statements of the index: check COSIGN_PRIVATE_KEY and COSIGN_PASSWORD (or the job's `id-token: write`); nothing further was published. Re-running the release finishes it",
        Step::VerifyVex(_) => "the VEX statements attached to the index are not the release's: re-run the release (it attests them again), or check against the right key or identity",
        Step::PushRepoMetadata(_) => "/src/artifacthub-repo.yml could not be pushed to ghcr.io/alto9/kube9-operator:artifacthub.io; the release is otherwise published, and re-running it pushes the metadata",
        Step::PullAsNode(_) => "a node that enforces the release key's signatures would refuse the linux/arm64 image: re-run the release (it signs each platform manifest a failed run left unsigned)",
        Step::RunImage(_) => "the linux/arm64 image does not run as this release: if the pull failed, make the package public (or pass --public-check warn with credentials); if it ran another build, re-run the release",
        Step::RecordVerification(_) => "out/verify.json could not be written; the checks above are the report",
        Step::WriteReleaseNotes(_) => "out/release-notes.md could not be written; the release itself is verified",
        Step::AttestWithdrawal(_) => "the withdrawal of 1.2.3 could not be signed or attached: check COSIGN_PRIVATE_KEY and COSIGN_PASSWORD (or `id-token: write` on GitHub) and the registry login; no floating tag moved, and running the same withdraw command again finishes it",
        Step::MoveWithdrawnTags(_) => "the statement about 1.2.3 is attached, but the floating tags 1.2, 1, latest were not all moved (each stays where it was or is already right): run the same withdraw command again",
        Step::MarkGithubRelease(_) => "the statement is attached and the floating tags are moved, but the GitHub release of v1.2.3 was not marked (the tag has no published GitHub release, or the token lacks `permissions: contents: write`): fix that and run the same withdraw command again",
        Step::CheckWithdrawal(_) => "a withdrawal statement is attached to the index but does not verify against the withdrawal's key or identity: do not trust the release's state until it does (run `withdraw` again to attach a signed one)",
    }
}

/// The variants of `Step`: the exhaustive matches make a new kind add its hint, and this makes
/// it add its instance to `one_of_each`.
fn declared_kinds() -> Vec<String> {
    Step::KINDS.iter().map(|k| k.to_string()).collect()
}

#[test]
fn every_kind_has_its_own_hint() {
    let steps = one_of_each();
    let mut kinds: Vec<String> = steps.iter().map(Step::kind).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds.len(), steps.len(), "one step of each kind");
    let declared = declared_kinds();
    assert!(declared.len() > 40, "{declared:?}");
    for kind in &declared {
        assert!(
            kinds.contains(kind),
            "one_of_each has no {kind}: add one, so its hint is checked"
        );
    }
    assert_eq!(kinds.len(), declared.len(), "{kinds:?}\n{declared:?}");
    for step in &steps {
        assert_eq!(step.hint(), expected_hint(step), "{}", step.kind());
    }
}

#[test]
fn every_kind_describes_itself_and_shows_no_secret() {
    for step in one_of_each() {
        let text = step.describe();
        assert!(!text.is_empty(), "{}", step.kind());
        for secret in ["t0ken", "k3y-s3cret", "pa55-s3cret"] {
            assert!(!text.contains(secret), "{}: {text}", step.kind());
        }
    }
}

#[test]
fn commands_show_placeholders_for_what_only_the_run_learns() {
    let steps = one_of_each();
    let shown = |kind: &str| steps.iter().find(|s| s.kind() == kind).unwrap().describe();
    assert_eq!(
        shown("login"),
        "login: DOCKER_CONFIG=<login-dir> cosign login ghcr.io --username octocat --password-stdin <<< ***"
    );
    assert!(
        shown("sign").ends_with("--tlog-upload=false ghcr.io/alto9/kube9-operator@<index-digest>")
    );
    assert!(shown("attest").ends_with("ghcr.io/alto9/kube9-operator@<linux/arm64-digest>"));
    assert_eq!(
        shown("push-chart"),
        "HELM_REGISTRY_CONFIG=<login-dir>/registry.json helm push p/kube9-operator-1.2.3.tgz oci://ghcr.io/alto9/charts (skipped when the same chart is there)"
    );
}

#[test]
fn a_command_runs_with_the_learnt_digest_and_the_runs_own_login_directory() {
    let sign = Sign {
        cosign: cosign(),
        signer: key(),
        subjects: vec![Subject::new(&repo(), Bound::Index)],
    };
    let mut cx = Cx::new(None, None);
    assert!(
        sign.command(&mut cx).is_err(),
        "nothing learnt the digest yet"
    );
    let digest = format!("sha256:{}", "a".repeat(64));
    cx.bindings.index = Some(digest.clone());
    let cmd = sign.command(&mut cx).unwrap();
    assert_eq!(cmd.args.last().unwrap(), &format!("{}@{digest}", repo()));
    let dir = cmd
        .env
        .iter()
        .find(|(k, _)| k == "DOCKER_CONFIG")
        .unwrap()
        .1
        .clone();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "only this user reads the logins");
    drop(cx);
    assert!(
        !std::path::Path::new(&dir).exists(),
        "removed when the run ends"
    );
}

#[test]
fn a_skipped_check_is_in_the_report_and_on_the_release_page_and_never_a_pass() {
    let dir = std::env::temp_dir().join(format!("kube9-skipped-{}", std::process::id()));
    let skipped = "each platform pulled by tag and run: SKIPPED (x)".to_string();
    let report = RecordVerification {
        path: dir.join("verify.json"),
        given: Default::default(),
        skipped: vec![skipped.clone()],
    };
    let Step::WriteReleaseNotes(mut page) = one_of_each()
        .into_iter()
        .find(|s| s.kind() == "write-release-notes")
        .unwrap()
    else {
        unreachable!()
    };
    page.path = dir.join("release-notes.md");
    let mut cx = Cx::new(None, None);
    let digest = format!("sha256:{}", "a".repeat(64));
    cx.bindings.index = Some(digest.clone());
    cx.bindings
        .platforms
        .insert("linux/amd64".into(), digest.clone());
    cx.bindings.chart = Some(ChartPublished {
        digest,
        pushed: false,
    });
    cx.pass("signature of the index", "ok");
    report.run(&mut cx).unwrap();
    page.run(&mut cx).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("verify.json")).unwrap()).unwrap();
    assert_eq!(json["passed"], true, "a skip fails nothing: {json}");
    assert_eq!(json["skipped"], serde_json::json!([skipped]));
    let statuses: Vec<(&str, &str)> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["what"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("signature of the index", "ok"),
            (skipped.as_str(), "skipped")
        ]
    );
    let notes = std::fs::read_to_string(dir.join("release-notes.md")).unwrap();
    assert!(
        notes.contains(&format!(
            "**Not checked by this release's verification:**\n\n- {skipped}\n"
        )),
        "{notes}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn github_provenance_check_gets_the_runs_registry_login() {
    // A first release's packages are private: gh reads the run's login as cosign does.
    let check = |logged_in| VerifyProvenance {
        cosign: Cosign {
            logged_in,
            plain_http: false,
        },
        verifier: Verifier::release_workflow("alto9/kube9-operator", "v1.2.3"),
        subject: Subject::new(&repo(), Bound::Index),
        bundle_root: None,
        github_repository: "alto9/kube9-operator".into(),
        source_ref: "refs/tags/v1.2.3".into(),
        token: Some(Secret::new("t0ken")),
    };
    let shown = check(true).describe();
    assert!(
        shown.contains("DOCKER_CONFIG=<login-dir> GH_TOKEN=*** gh attestation verify oci://"),
        "{shown}"
    );
    let shown = check(false).describe();
    assert!(!shown.contains("DOCKER_CONFIG"), "{shown}");
    assert!(
        shown.contains("GH_TOKEN=*** gh attestation verify"),
        "{shown}"
    );
}

#[test]
fn each_kind_is_named_as_the_plan_json_names_it() {
    for step in one_of_each() {
        let value = serde_json::to_value(&step).unwrap();
        assert_eq!(value["step"], step.kind());
    }
}
