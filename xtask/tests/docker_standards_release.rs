//! A real local release of a pre-release (the fixture app, whose crate has the fixture
//! advisory CVE-2099-0003, with a VEX statement that lets it through), and every artefact it
//! publishes or keeps run through the validator its standard publishes
//! (`kube9_release::validate`), plus what issue 25 says each must state: the SBOM names the
//! image it describes, the provenance names this build, its commit and its pinned base
//! images, the index of a pre-release says so to Artifact Hub. Artifact Hub publishes no
//! validator to install, so its rules are a port of its tracker's source
//! (`support::artifacthub_rules`), fed what the registry serves: the image tag, the chart tag
//! and the `artifacthub.io` tag of both repositories.
//!
//! Every check runs and every failure is collected, so that one run lists all of them.

mod support;

use std::path::{Path, PathBuf};

use kube9_release::registry::{Registry, Repository};
use kube9_release::validate::{self, Standard};
use support::artifacthub_rules::{self as ah, Effect, Violation};
use support::*;

const VERSION: &str = "v0.1.0-rc.1";

/// The fixture app with the project's chart and a statement that the image is not affected
/// by the fixture advisory (as `docker_vex.rs` releases it).
fn source() -> PathBuf {
    let source = fixture_app_repo();
    std::fs::create_dir_all(source.join("charts")).unwrap();
    copy_tree(
        &project_root().join("charts/kube9-operator"),
        &source.join("charts/kube9-operator"),
    );
    // The project's Artifact Hub repository metadata, which a release pushes as the
    // `artifacthub.io` tag of both repositories.
    std::fs::copy(
        project_root().join("artifacthub-repo.yml"),
        source.join("artifacthub-repo.yml"),
    )
    .unwrap();
    let vex = serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://github.com/alto9/kube9-operator/blob/main/security/vex.json",
        "author": "kube9 maintainers",
        "timestamp": "2026-11-30T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2099-0003"},
            "products": [{
                "@id": "pkg:oci/kube9-operator?repository_url=ghcr.io/alto9/kube9-operator",
                "subcomponents": [{"@id": "pkg:cargo/kube9-fixture-vulnerable@1.0.0"}],
            }],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
            "impact_statement": "the fixture never calls the vulnerable function",
        }],
    });
    std::fs::create_dir_all(source.join("security")).unwrap();
    std::fs::write(
        source.join("security/vex.json"),
        serde_json::to_string_pretty(&vex).unwrap(),
    )
    .unwrap();
    commit_all(&source, "VEX statements");
    source
}

/// What failed, each with what it was.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn validate(&mut self, standard: Standard, file: &Path, what: &str) {
        println!("validating {what} ({standard}): {}", file.display());
        if let Err(e) = validate::check(standard, file) {
            self.0.push(format!("{what}: {e:#}"));
        }
    }

    fn require(&mut self, holds: bool, what: impl Into<String>) {
        if !holds {
            self.0.push(what.into());
        }
    }

    fn artifact_hub(&mut self, what: &str, violations: Vec<Violation>) {
        println!(
            "Artifact Hub's rules on {what}: {} violation(s)",
            violations.len()
        );
        for v in violations {
            self.0.push(format!("{what}: Artifact Hub: {v}"));
        }
    }
}

/// Artifact Hub's rules on the image tag, the chart tag and both repositories' metadata, as
/// the registry serves them, and what the two listings must agree on.
fn check_artifact_hub(found: &mut Findings, image_repo: &str, chart_repo: &str, digest: &str) {
    let tag = VERSION.trim_start_matches('v');
    let seen = artifact_hub_reads(image_repo, chart_repo, tag);
    for (what, violations) in seen.violations {
        found.artifact_hub(&what, violations);
    }
    let (image, chart) = (seen.image, seen.chart);

    // The two listings describe one release: the chart's image is the published index, on
    // the platforms Artifact Hub reads from it; both are (or are not) pre-releases alike.
    println!("Artifact Hub lists the image as {image:?}\nand the chart as {chart:?}");
    found.require(
        chart
            .images
            .iter()
            .any(|(_, i, p)| i == &format!("{image_repo}:{tag}@{digest}") && *p == image.platforms),
        format!(
            "Artifact Hub: the chart's images {:?} do not name {image_repo}:{tag}@{digest} on the index's platforms {:?}",
            chart.images, image.platforms
        ),
    );
    found.require(
        image.prerelease == chart.prerelease,
        format!(
            "Artifact Hub lists the image with prerelease={} and the chart with prerelease={}",
            image.prerelease, chart.prerelease
        ),
    );
}

/// `cosign verify-attestation` of `reference` for `kind`: the DSSE envelopes it prints, each
/// with its statement decoded.
fn attestations(reference: &str, kind: &str) -> Vec<(String, serde_json::Value)> {
    use base64::Engine;
    let out = cosign_check(Some(kind), reference);
    out.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|line| {
            let envelope: serde_json::Value = serde_json::from_str(line).unwrap();
            let payload = base64::engine::general_purpose::STANDARD
                .decode(envelope["payload"].as_str().unwrap())
                .unwrap();
            (line.to_string(), serde_json::from_slice(&payload).unwrap())
        })
        .collect()
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, bytes).unwrap();
    file
}

/// The base images the Dockerfile pins by digest: `(image, sha256 hex)`.
fn pinned_base_images(dockerfile: &str) -> Vec<(String, String)> {
    dockerfile
        .lines()
        .filter(|l| l.trim_start().starts_with("FROM "))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|w| {
            let (image, digest) = w.split_once("@sha256:")?;
            Some((image.to_string(), digest.to_string()))
        })
        .collect()
}

fn timestamp(value: &serde_json::Value) -> Option<jiff::Timestamp> {
    value.as_str()?.parse().ok()
}

#[test]
fn every_artefact_of_a_real_release_passes_its_standards_validator() {
    let env = env();
    let started = jiff::Timestamp::now();
    let source = source();
    let repo = env.repository("standards");
    let charts = format!("oci://{}/{}", env.registry, unique("standards-charts"));
    ok(&mut rust_release_image_cmd(&source, VERSION, &repo));
    ok(&mut release_chart_cmd(&source, VERSION, &repo, &charts));
    let finished = jiff::Timestamp::now();
    let record = image_record(&source);
    let out = source.join("target/release");
    let work = temp_dir("standards-release");
    let mut found = Findings::default();

    // What the project keeps and the release writes before it publishes.
    // A project with nothing to say keeps no document (OpenVEX has no empty one).
    let kept = project_root().join("security/vex.json");
    if kept.exists() {
        found.validate(Standard::OpenVex, &kept, "the project's security/vex.json");
    }
    found.validate(
        Standard::OpenVex,
        &source.join("security/vex.json"),
        "the released source's security/vex.json",
    );
    found.validate(
        Standard::OpenVex,
        &out.join("vex.json"),
        "the release's VEX document",
    );
    // (target/release/provenance.json is cosign's input, the predicate alone: the statement
    // around it is validated below as the registry serves it.)
    for p in &record.platforms {
        let slug = p.platform.replace('/', "-");
        found.validate(
            Standard::OpenVex,
            &out.join(format!("vex/gate-{slug}.json")),
            &format!("the gate's VEX document for {}", p.platform),
        );
        found.validate(
            Standard::CycloneDx,
            &out.join(format!("scan/sbom-{slug}.cdx.json")),
            &format!("the local SBOM of {}", p.platform),
        );
        let sarif = out.join(format!("scan/trivy-{slug}.sarif"));
        found.validate(
            Standard::Sarif,
            &sarif,
            &format!("the SARIF of {}", p.platform),
        );
        let sarif: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
        let image_name = sarif["runs"][0]["properties"]["imageName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        found.require(
            !image_name.starts_with('/'),
            format!(
                "the SARIF of {} names the image by a build-machine path: imageName {image_name:?}",
                p.platform
            ),
        );
    }

    // What the registry serves.
    let repository = Repository::parse(&repo).unwrap();
    let registry = Registry::anonymous(&repository);
    let (index, _) = registry
        .manifest(&repository.digest(&record.digest))
        .unwrap()
        .expect("the index is published");
    found.validate(
        Standard::OciIndex,
        &write(&work, "index.json", &index),
        "the image index",
    );
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    let annotations = &index["annotations"];
    found.require(
        annotations["io.artifacthub.package.prerelease"] == "true",
        format!(
            "the index of pre-release {VERSION} has no io.artifacthub.package.prerelease=true: {annotations}"
        ),
    );
    if let Some(readme) = annotations["io.artifacthub.package.readme-url"].as_str() {
        found.require(
            readme.contains(VERSION) && !readme.contains("/main/"),
            format!("io.artifacthub.package.readme-url is not the released tag's: {readme}"),
        );
    }
    let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
    for p in &record.platforms {
        let slug = p.platform.replace('/', "-");
        let (manifest, _) = registry
            .manifest(&repository.digest(&p.manifest))
            .unwrap()
            .expect("the platform manifest is published");
        found.validate(
            Standard::OciManifest,
            &write(&work, &format!("manifest-{slug}.json"), &manifest),
            &format!("the {} manifest", p.platform),
        );
        if let Some((referrers, _)) = registry
            .manifest(&repository.tag(&format!("sha256-{}", hex(&p.manifest))))
            .unwrap()
        {
            found.validate(
                Standard::OciIndex,
                &write(&work, &format!("referrers-{slug}.json"), &referrers),
                &format!("the referrers index of {}", p.platform),
            );
        }
        let sboms = registry
            .referrers(&p.manifest, "application/vnd.cyclonedx+json")
            .unwrap();
        found.require(
            sboms.len() == 1,
            format!("{}: {} SBOM referrers", p.platform, sboms.len()),
        );
        for (i, descriptor) in sboms.iter().enumerate() {
            let (artefact, _) = registry
                .manifest(&repository.digest(&descriptor.digest))
                .unwrap()
                .expect("the referrer is published");
            found.validate(
                Standard::OciManifest,
                &write(&work, &format!("sbom-referrer-{slug}-{i}.json"), &artefact),
                &format!("the SBOM referrer manifest of {}", p.platform),
            );
            let artefact: serde_json::Value = serde_json::from_slice(&artefact).unwrap();
            let sbom = registry
                .blob(artefact["layers"][0]["digest"].as_str().unwrap())
                .unwrap();
            let file = write(&work, &format!("sbom-referrer-{slug}-{i}.cdx.json"), &sbom);
            found.validate(
                Standard::CycloneDx,
                &file,
                &format!("the SBOM attached to {} as a referrer", p.platform),
            );
            let sbom: serde_json::Value = serde_json::from_slice(&sbom).unwrap();
            check_sbom_identity(&mut found, &sbom, &repo, p, "referrer");
        }
        let attested = attestations(&format!("{repo}@{}", p.manifest), "cyclonedx");
        found.require(
            !attested.is_empty(),
            format!("{}: no CycloneDX attestation", p.platform),
        );
        for (i, (_, statement)) in attested.iter().enumerate() {
            let file = write(
                &work,
                &format!("sbom-attested-{slug}-{i}.cdx.json"),
                statement["predicate"].to_string(),
            );
            found.validate(
                Standard::CycloneDx,
                &file,
                &format!("the SBOM attested on {}", p.platform),
            );
            check_sbom_identity(&mut found, &statement["predicate"], &repo, p, "attestation");
        }
    }

    let chart_repo = format!("{}/kube9-operator", charts.trim_start_matches("oci://"));
    check_artifact_hub(&mut found, &repo, &chart_repo, &record.digest);

    let index_ref = format!("{repo}@{}", record.digest);
    let vex = attestations(&index_ref, "openvex");
    found.require(!vex.is_empty(), "no OpenVEX attestation on the index");
    for (i, (envelope, _)) in vex.iter().enumerate() {
        found.validate(
            Standard::OpenVex,
            &write(&work, &format!("vex-attested-{i}.json"), envelope),
            "the VEX document attested on the index",
        );
    }
    let provenance = attestations(&index_ref, "slsaprovenance1");
    found.require(
        !provenance.is_empty(),
        "no SLSA provenance attestation on the index",
    );
    let commit = record.commit.clone();
    let dockerfile = std::fs::read_to_string(source.join("Dockerfile")).unwrap();
    let pinned = pinned_base_images(&dockerfile);
    assert!(
        !pinned.is_empty(),
        "the fixture Dockerfile pins its base image"
    );
    for (i, (envelope, statement)) in provenance.iter().enumerate() {
        found.validate(
            Standard::InTotoProvenance,
            &write(&work, &format!("provenance-attested-{i}.json"), envelope),
            "the provenance attested on the index",
        );
        let predicate = &statement["predicate"];
        let metadata = &predicate["runDetails"]["metadata"];
        let (on, off) = (
            timestamp(&metadata["startedOn"]),
            timestamp(&metadata["finishedOn"]),
        );
        found.require(
            on.is_some_and(|t| t >= started.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap() && t <= finished),
            format!(
                "runDetails.metadata.startedOn {} is not within this build ({started} .. {finished})",
                metadata["startedOn"]
            ),
        );
        found.require(
            off.is_some_and(|t| on.is_some_and(|s| t >= s) && t <= finished),
            format!(
                "runDetails.metadata.finishedOn {} is not within this build ({started} .. {finished})",
                metadata["finishedOn"]
            ),
        );
        let deps = predicate["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        found.require(
            deps.iter()
                .any(|d| d["digest"]["gitCommit"] == commit.as_str()),
            format!("resolvedDependencies has no gitCommit {commit}: {deps:?}"),
        );
        // Each pinned base image, by its digest; where the local environment served it
        // from a stand-in (`--build-context`), the stand-in is what was used, and the entry
        // says which pinned image it substituted.
        for (image, digest) in &pinned {
            let pinned_ref = format!("{image}@sha256:{digest}");
            found.require(
                deps.iter().any(|d| {
                    d["name"] == pinned_ref.as_str()
                        && (d["digest"]["sha256"] == digest.as_str()
                            || (d["uri"]
                                .as_str()
                                .is_some_and(|u| u.starts_with("docker-image://"))
                                && d["annotations"]["substitutesDigest"]
                                    == format!("sha256:{digest}").as_str()))
                }),
                format!("resolvedDependencies lacks the base image {pinned_ref}: {deps:?}"),
            );
        }
    }

    assert!(
        found.0.is_empty(),
        "{} finding(s):\n\n{}",
        found.0.len(),
        found.0.join("\n\n")
    );
}

/// The SBOM says which image it describes: the repository, the version, and a `pkg:oci` purl
/// with the platform manifest's digest.
fn check_sbom_identity(
    found: &mut Findings,
    sbom: &serde_json::Value,
    repo: &str,
    platform: &kube9_release::record::PlatformRecord,
    which: &str,
) {
    let component = &sbom["metadata"]["component"];
    let what = format!("the SBOM {which} of {}", platform.platform);
    found.require(
        component["name"] == repo,
        format!(
            "{what}: metadata.component.name is {}, not {repo}",
            component["name"]
        ),
    );
    found.require(
        component["version"] == VERSION.trim_start_matches('v'),
        format!(
            "{what}: metadata.component.version is {}, not {}",
            component["version"],
            VERSION.trim_start_matches('v')
        ),
    );
    let purl = component["purl"].as_str().unwrap_or_default();
    let hex = platform.manifest.trim_start_matches("sha256:");
    found.require(
        purl.starts_with("pkg:oci/")
            && (purl.contains(&format!("@sha256%3A{hex}"))
                || purl.contains(&format!("@sha256:{hex}"))),
        format!(
            "{what}: metadata.component.purl {purl:?} is no pkg:oci purl of {}",
            platform.manifest
        ),
    );
}

/// A machine without the standards' validators: the release builds and scans, then stops at
/// the first document it must check, saying what to install, and the registry holds nothing
/// of it (no tag, no manifest).
#[test]
fn a_release_without_its_validators_stops_before_anything_is_published() {
    let env = env();
    let source = source();
    let repo = env.repository("no-validators");
    // A tools directory with trivy only (the scan still runs), and no validators' venv.
    let trivy = kube9_release::tools::which("trivy").expect("`cargo xtask setup` installs trivy");
    let tools = temp_dir("tools-without-validators");
    std::fs::create_dir_all(tools.join("tools/bin")).unwrap();
    std::os::unix::fs::symlink(&trivy, tools.join("tools/bin/trivy")).unwrap();
    let out = run(rust_release_image_cmd(&source, VERSION, &repo).env("KUBE9_TOOLS_DIR", &tools));
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("is missing; `cargo xtask setup` installs"),
        "says what to install: {log}"
    );
    assert!(
        log.contains("failed OpenVEX's validator; nothing was pushed"),
        "at the first document it checks, the gate's VEX: {log}"
    );
    let repository = Repository::parse(&repo).unwrap();
    assert!(
        Registry::anonymous(&repository)
            .tags()
            .unwrap_or_default()
            .is_empty(),
        "nothing of {repo} was published"
    );
}

// --- Each ported Artifact Hub rule catches what it should (no registry: the served bytes are
// made here, and the checker reads them as it reads the registry's). ---

/// Stand-in registry content: manifests and blobs by digest.
#[derive(Default)]
struct Blobs(std::collections::BTreeMap<String, Vec<u8>>);

impl Blobs {
    fn put(&mut self, bytes: impl Into<Vec<u8>>) -> (String, usize) {
        let bytes = bytes.into();
        let digest = kube9_release::layout::sha256(&bytes);
        let size = bytes.len();
        self.0.insert(digest.clone(), bytes);
        (digest, size)
    }

    fn get(&self, digest: &str) -> Option<Vec<u8>> {
        self.0.get(digest).cloned()
    }
}

const IMAGE_REPO: &str = "registry.example/alto9/kube9-operator";
const CHART_REPO: &str = "registry.example/alto9/charts/kube9-operator";
const GOOD_DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// An OCI index for linux/amd64 and linux/arm64 (and an attestation manifest Artifact Hub
/// skips) with `annotations`.
fn index_with(annotations: serde_json::Value) -> Vec<u8> {
    let child = |os: &str, arch: &str| {
        serde_json::json!({"mediaType": ah::OCI_MANIFEST, "digest": GOOD_DIGEST, "size": 1,
                           "platform": {"os": os, "architecture": arch}})
    };
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": ah::OCI_INDEX,
        "manifests": [child("linux", "amd64"), child("linux", "arm64"), child("unknown", "unknown")],
        "annotations": annotations,
    }))
    .unwrap()
}

fn good_image_annotations() -> serde_json::Value {
    serde_json::json!({
        "org.opencontainers.image.created": "2026-11-30T12:00:00Z",
        "org.opencontainers.image.description": "kube9 operator",
        "io.artifacthub.package.readme-url": "https://raw.githubusercontent.com/alto9/kube9-operator/v0.1.0-rc.1/README.md",
        "io.artifacthub.package.license": "Apache-2.0",
        "io.artifacthub.package.maintainers": r#"[{"name":"alto9","email":"alto9@users.noreply.github.com"}]"#,
        "io.artifacthub.package.keywords": "kubernetes,operator",
        "io.artifacthub.package.prerelease": "true",
    })
}

fn image_violations(tag: &str, content_type: &str, index: &[u8]) -> Vec<Violation> {
    let none = Blobs::default();
    ah::check_image(
        &ah::ServedImage {
            repository: IMAGE_REPO,
            tag,
            content_type,
            manifest: index,
        },
        &|d| none.get(d).map(|b| (ah::OCI_MANIFEST.to_string(), b)),
        &|d| none.get(d),
    )
    .1
}

/// The one violation `violations` holds, which says `says`, with `effect`.
fn only(violations: &[Violation], effect: Effect, says: &str) {
    assert!(
        violations.len() == 1
            && violations[0].effect == effect
            && violations[0].message.contains(says),
        "expected one {effect:?} saying {says:?}, got {violations:#?}"
    );
    println!("caught: {}", violations[0]);
}

fn image_with(
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> Vec<Violation> {
    let mut a = good_image_annotations();
    change(a.as_object_mut().unwrap());
    image_violations("0.1.0-rc.1", ah::OCI_INDEX, &index_with(a))
}

#[test]
fn artifact_hubs_image_rules_catch_each_bad_input() {
    let good = image_violations(
        "0.1.0-rc.1",
        ah::OCI_INDEX,
        &index_with(good_image_annotations()),
    );
    assert!(good.is_empty(), "{good:#?}");
    let (listing, _) = ah::check_image(
        &ah::ServedImage {
            repository: IMAGE_REPO,
            tag: "0.1.0-rc.1",
            content_type: ah::OCI_INDEX,
            manifest: &index_with(good_image_annotations()),
        },
        &|_| None,
        &|_| None,
    );
    assert_eq!(
        listing.platforms,
        ["linux/amd64", "linux/arm64"],
        "attestations skipped"
    );
    assert_eq!(listing.name, "kube9-operator");

    for key in ["created", "description"] {
        let v = image_with(|a| {
            a.remove(&format!("org.opencontainers.image.{key}"));
        });
        only(
            &v,
            Effect::Refused,
            &format!("required metadata field not provided: org.opencontainers.image.{key}"),
        );
    }
    only(
        &image_with(|a| {
            a.remove("io.artifacthub.package.readme-url");
        }),
        Effect::Refused,
        "required metadata field not provided: io.artifacthub.package.readme-url",
    );
    only(
        &image_with(|a| {
            a.insert(
                "org.opencontainers.image.created".into(),
                "2026-11-30 12:00:00Z".into(),
            );
        }),
        Effect::Refused,
        "parsing time",
    );
    only(
        &image_with(|a| {
            a.insert(
                "io.artifacthub.package.readme-url".into(),
                "README.md".into(),
            );
        }),
        Effect::Refused,
        "error getting readme file content",
    );
    only(
        &image_with(|a| {
            a.insert(
                "io.artifacthub.package.maintainers".into(),
                r#"{"name":"alto9"}"#.into(),
            );
        }),
        Effect::Refused,
        "invalid annotation: invalid maintainers value",
    );
    only(
        &image_with(|a| {
            a.insert(
                "io.artifacthub.package.maintainers".into(),
                r#"[{"name":"alto9"}]"#.into(),
            );
        }),
        Effect::Ignored,
        "has no email: Register drops it",
    );
    only(
        &image_with(|a| {
            a.insert(
                "io.artifacthub.package.maintainers".into(),
                r#"[{"email":"a@b.example"}]"#.into(),
            );
        }),
        Effect::Ignored,
        "has no name: Register shows its email instead",
    );
    for (key, name) in [
        ("prerelease", "prerelease"),
        ("contains-security-updates", "containsSecurityUpdates"),
        ("deprecated", "deprecated"),
    ] {
        let v = image_with(|a| {
            a.insert(format!("io.artifacthub.package.{key}"), "yes".into());
        });
        // (A prerelease that does not parse also leaves the pre-release listed as stable.)
        assert!(
            v.iter().any(|v| v.effect == Effect::Refused
                && v.message == format!("invalid annotation: invalid {name} value")),
            "{v:#?}"
        );
    }
    only(
        &image_with(|a| {
            a.insert("io.artifacthub.package.category".into(), "operators".into());
        }),
        Effect::Refused,
        "invalid category name",
    );
    only(
        &image_with(|a| {
            a.remove("io.artifacthub.package.prerelease");
        }),
        Effect::Misleads,
        "is a semver pre-release, but without io.artifacthub.package.prerelease \"true\"",
    );
    // Annotations on an index whose own mediaType field is missing are not read: Artifact Hub
    // falls back to the linux/amd64 image, which is not there.
    let mut bare: serde_json::Value =
        serde_json::from_slice(&index_with(good_image_annotations())).unwrap();
    bare.as_object_mut().unwrap().remove("mediaType");
    let v = image_violations(
        "0.1.0-rc.1",
        ah::OCI_INDEX,
        &serde_json::to_vec(&bare).unwrap(),
    );
    only(&v, Effect::Refused, "error getting metadata");
    // An index without metadata: Artifact Hub reads its first platform's image instead, the
    // manifest's annotations or else its config's labels.
    let mut blobs = Blobs::default();
    let labels = serde_json::json!({"config": {"Labels": good_image_annotations()}});
    let (config, size) = blobs.put(serde_json::to_vec(&labels).unwrap());
    let image = serde_json::json!({"schemaVersion": 2, "mediaType": ah::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": size},
        "layers": []});
    let (arm64, size) = blobs.put(serde_json::to_vec(&image).unwrap());
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": ah::OCI_INDEX, "manifests": [
        {"mediaType": ah::OCI_MANIFEST, "digest": arm64, "size": size,
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": ah::OCI_MANIFEST, "digest": GOOD_DIGEST, "size": 1,
         "platform": {"os": "linux", "architecture": "amd64"}}]});
    let (listing, v) = ah::check_image(
        &ah::ServedImage {
            repository: IMAGE_REPO,
            tag: "0.1.0-rc.1",
            content_type: ah::OCI_INDEX,
            manifest: &serde_json::to_vec(&index).unwrap(),
        },
        &|d| blobs.get(d).map(|b| (ah::OCI_MANIFEST.to_string(), b)),
        &|d| blobs.get(d),
    );
    assert!(
        v.is_empty() && listing.license == "Apache-2.0" && listing.prerelease,
        "{v:#?} {listing:?}"
    );
    // Served as a single image of an unsupported type (a Docker schema 1 manifest).
    let v = image_violations(
        "0.1.0-rc.1",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        br#"{"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#,
    );
    only(&v, Effect::Refused, "image media type not supported");
}

/// A chart archive holding `chart_yaml` as `kube9-operator/Chart.yaml`, and its OCI manifest.
fn chart_with(
    chart_yaml: &str,
    blobs: &mut Blobs,
    layer_type: &str,
    prov: Option<&str>,
) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(chart_yaml.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(
        &mut header,
        "kube9-operator/Chart.yaml",
        chart_yaml.as_bytes(),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
    let (digest, size) = blobs.put(gz.finish().unwrap());
    let (config, config_size) = blobs.put(b"{}".to_vec());
    let mut layers =
        vec![serde_json::json!({"mediaType": layer_type, "digest": digest, "size": size})];
    if let Some(prov) = prov {
        let (digest, size) = blobs.put(prov.as_bytes().to_vec());
        layers.push(
            serde_json::json!({"mediaType": ah::PROVENANCE_LAYER, "digest": digest, "size": size}),
        );
    }
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": config, "size": config_size},
        "layers": layers,
    }))
    .unwrap()
}

const GOOD_ANNOTATIONS: &str = r#"    artifacthub.io/images: |
      - name: kube9-operator
        image: registry.example/alto9/kube9-operator:0.1.0-rc.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        platforms:
          - linux/amd64
    artifacthub.io/license: "Apache-2.0"
    artifacthub.io/links: |
      - name: source
        url: https://github.com/alto9/kube9-operator
    artifacthub.io/prerelease: "true"
    artifacthub.io/changes: |
      - kind: added
        description: "Artifact Hub metadata: the chart lists its image"
    artifacthub.io/containsSecurityUpdates: "false"
"#;

fn chart_yaml(version: &str, annotations: &str) -> String {
    format!(
        "apiVersion: v2\nname: kube9-operator\nversion: {version}\nappVersion: {version}\n\
         maintainers:\n  - name: alto9\n    email: alto9@users.noreply.github.com\nannotations:\n{annotations}"
    )
}

fn chart_violations_with(
    tag: &str,
    chart_yaml: &str,
    layer_type: &str,
    prov: Option<&str>,
) -> (ah::Listing, Vec<Violation>) {
    let mut blobs = Blobs::default();
    let manifest = chart_with(chart_yaml, &mut blobs, layer_type, prov);
    ah::check_chart(
        &ah::ServedChart {
            repository: CHART_REPO,
            tag,
            manifest: &manifest,
        },
        &|d| blobs.get(d).map(|b| (ah::OCI_MANIFEST.to_string(), b)),
        &|d| blobs.get(d),
    )
}

fn chart_violations(annotations: &str) -> Vec<Violation> {
    chart_violations_with(
        "0.1.0-rc.1",
        &chart_yaml("0.1.0-rc.1", annotations),
        ah::CHART_LAYER,
        None,
    )
    .1
}

/// The good annotations with `key`'s value replaced by `value` (a block, indented 6), or
/// removed when `value` is `None`.
fn annotations_with(key: &str, value: Option<&str>) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in GOOD_ANNOTATIONS.lines() {
        if line.starts_with("    artifacthub.io/") {
            skipping = line.starts_with(&format!("    {key}:"));
            if skipping {
                if let Some(value) = value {
                    out.push_str(&format!("    {key}: {value}\n"));
                }
                continue;
            }
        } else if skipping {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn artifact_hubs_chart_rules_catch_each_bad_input() {
    let (listing, good) = chart_violations_with(
        "0.1.0-rc.1",
        &chart_yaml("0.1.0-rc.1", GOOD_ANNOTATIONS),
        ah::CHART_LAYER,
        None,
    );
    assert!(good.is_empty(), "{good:#?}");
    assert!(
        listing.prerelease && listing.changes == 1 && listing.images.len() == 1,
        "{listing:?}"
    );
    assert_eq!(
        listing.maintainers,
        [(
            "alto9".to_string(),
            "alto9@users.noreply.github.com".to_string()
        )]
    );
    // The legacy layer type is read too.
    let (_, legacy) = chart_violations_with(
        "0.1.0-rc.1",
        &chart_yaml("0.1.0-rc.1", GOOD_ANNOTATIONS),
        ah::LEGACY_CHART_LAYER,
        None,
    );
    assert!(legacy.is_empty(), "{legacy:#?}");

    only(
        &chart_violations(&annotations_with("artifacthub.io/prerelease", None)),
        Effect::Misleads,
        "is a semver pre-release, but without artifacthub.io/prerelease \"true\" Artifact Hub lists it as stable",
    );
    only(
        &chart_violations(&annotations_with(
            "artifacthub.io/prerelease",
            Some("\"yes\""),
        )),
        Effect::Refused,
        "invalid annotation: invalid prerelease value",
    );
    only(
        &chart_violations(&annotations_with(
            "artifacthub.io/containsSecurityUpdates",
            Some("\"maybe\""),
        )),
        Effect::Refused,
        "invalid annotation: invalid containsSecurityUpdates value",
    );
    only(
        &chart_violations(&annotations_with(
            "artifacthub.io/changes",
            Some("|\n      - kind: improved\n        description: faster"),
        )),
        Effect::Refused,
        "invalid change: invalid kind: improved",
    );
    only(
        &chart_violations(&annotations_with(
            "artifacthub.io/changes",
            Some("|\n      - kind: added"),
        )),
        Effect::Refused,
        "invalid change: description not provided",
    );
    only(
        &chart_violations(&annotations_with(
            "artifacthub.io/changes",
            Some("|\n      - kind: added\n        description: x\n        links:\n          - name: PR"),
        )),
        Effect::Refused,
        "invalid change: link url not provided",
    );
    // A plain list of descriptions is a form Artifact Hub accepts.
    let plain = chart_violations(&annotations_with(
        "artifacthub.io/changes",
        Some("|\n      - Added a thing\n      - Fixed another"),
    ));
    assert!(plain.is_empty(), "{plain:#?}");
    only(
        &chart_violations(&annotations_with(
            "artifacthub.io/changes",
            Some("|\n      - a\n      - kind: added\n        description: b"),
        )),
        Effect::Refused,
        "invalid changes annotation. Please use quotes",
    );
    only(
        &chart_violations(&annotations_with(
            "artifacthub.io/images",
            Some("|\n      - name: kube9-operator\n        image: Registry.Example/Alto9/Kube9:0.1.0"),
        )),
        Effect::Refused,
        "invalid annotation: invalid image reference: could not parse reference",
    );
    only(
        &chart_violations(&annotations_with(
            "artifacthub.io/images",
            Some("|\n      - name: kube9-operator\n        image: a/b:1\n        platforms: linux/amd64"),
        )),
        Effect::Refused,
        "invalid annotation: invalid images value",
    );
    only(
        &chart_violations(&annotations_with(
            "artifacthub.io/links",
            Some("|\n      name: source"),
        )),
        Effect::Refused,
        "invalid annotation: invalid links value",
    );
    only(
        &chart_violations(&format!(
            "{GOOD_ANNOTATIONS}    artifacthub.io/signKey: |\n      fingerprint: ABCD\n"
        )),
        Effect::Refused,
        "invalid annotation: sign key url not provided",
    );
    only(
        &chart_violations(&format!(
            "{GOOD_ANNOTATIONS}    artifacthub.io/category: operators\n"
        )),
        Effect::Refused,
        "invalid category name",
    );
    only(
        &chart_violations(&format!(
            "{GOOD_ANNOTATIONS}    artifacthub.io/operatorCapabilities: everything\n"
        )),
        Effect::Refused,
        "invalid annotation: invalid operator capabilities value",
    );
    only(
        &chart_violations(&format!(
            "{GOOD_ANNOTATIONS}    artifacthub.io/alternativeName: operator9\n"
        )),
        Effect::Refused,
        "invalid alternative name",
    );
    only(
        &chart_violations(&format!(
            "{GOOD_ANNOTATIONS}    artifacthub.io/maintainers: |\n      - name: Someone\n"
        )),
        Effect::Ignored,
        "has no email: Register drops it",
    );
    // Helm's loader: a Chart.yaml annotation that is no string does not load.
    only(
        &chart_violations(&annotations_with("artifacthub.io/prerelease", Some("true"))),
        Effect::Refused,
        "error loading chart",
    );
    // Helm's Chart.Validate, and the chart's own maintainers without an email.
    let (_, v) = chart_violations_with(
        "0.1.0-rc.1",
        &chart_yaml("0.1.0-rc.1", GOOD_ANNOTATIONS).replace("apiVersion: v2\n", ""),
        ah::CHART_LAYER,
        None,
    );
    only(
        &v,
        Effect::Refused,
        "invalid metadata: validation: chart.metadata.apiVersion is required",
    );
    let (_, v) = chart_violations_with(
        "0.1.0-rc.1",
        &chart_yaml("0.1.0-rc.1", GOOD_ANNOTATIONS)
            .replace("type: x", "")
            .replace("apiVersion: v2\n", "apiVersion: v2\ntype: operator\n"),
        ah::CHART_LAYER,
        None,
    );
    only(
        &v,
        Effect::Refused,
        "chart.metadata.type must be application or library",
    );
    let (_, v) = chart_violations_with(
        "0.1.0-rc.1",
        &chart_yaml("0.1.0-rc.1", GOOD_ANNOTATIONS)
            .replace("    email: alto9@users.noreply.github.com\n", ""),
        ah::CHART_LAYER,
        None,
    );
    only(
        &v,
        Effect::Ignored,
        "Chart.yaml maintainer 1 (alto9) has no email",
    );
    // The layer Artifact Hub pulls, and the provenance it checks.
    let (_, v) = chart_violations_with(
        "0.1.0-rc.1",
        &chart_yaml("0.1.0-rc.1", GOOD_ANNOTATIONS),
        "application/vnd.oci.image.layer.v1.tar+gzip",
        None,
    );
    only(&v, Effect::Refused, "layer not found");
    let (_, v) = chart_violations_with(
        "0.1.0-rc.1",
        &chart_yaml("0.1.0-rc.1", GOOD_ANNOTATIONS),
        ah::CHART_LAYER,
        Some("not signed"),
    );
    only(&v, Effect::Warned, "invalid provenance file");
    // Tags Artifact Hub never lists (not semver), and a tag with `_` for `+`.
    let (_, v) = chart_violations_with(
        "latest",
        &chart_yaml("0.1.0-rc.1", GOOD_ANNOTATIONS),
        ah::CHART_LAYER,
        None,
    );
    only(&v, Effect::Ignored, "tag latest is not semver");
    let (listing, v) = chart_violations_with(
        "1.0.0_build.1",
        &chart_yaml(
            "1.0.0+build.1",
            &annotations_with("artifacthub.io/prerelease", Some("\"false\"")),
        ),
        ah::CHART_LAYER,
        None,
    );
    assert!(v.is_empty(), "{v:#?}");
    assert_eq!(listing.version, "1.0.0+build.1");
    // A release marked as a pre-release.
    let (_, v) = chart_violations_with(
        "1.0.0",
        &chart_yaml("1.0.0", GOOD_ANNOTATIONS),
        ah::CHART_LAYER,
        None,
    );
    only(
        &v,
        Effect::Misleads,
        "is a release, but artifacthub.io/prerelease \"true\"",
    );
}

/// The `artifacthub.io` artefact as `oras push` makes it, with `yml` in a layer of `layer_type`.
fn metadata_artefact(yml: &str, layer_type: &str, blobs: &mut Blobs) -> Vec<u8> {
    let (digest, size) = blobs.put(yml.as_bytes().to_vec());
    let (config, _) = blobs.put(Vec::new());
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": ah::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.cncf.artifacthub.config.v1+yaml", "digest": config, "size": 0},
        "layers": [{"mediaType": layer_type, "digest": digest, "size": size}],
    }))
    .unwrap()
}

fn metadata_violations(yml: &str, layer_type: &str, package: (&str, &str)) -> Vec<Violation> {
    let mut blobs = Blobs::default();
    let manifest = metadata_artefact(yml, layer_type, &mut blobs);
    ah::check_repository_metadata(
        Some(&manifest),
        &|d| blobs.get(d).map(|b| (ah::OCI_MANIFEST.to_string(), b)),
        &|d| blobs.get(d),
        package,
    )
    .1
}

#[test]
fn artifact_hubs_repository_metadata_rules_catch_each_bad_input() {
    let project = std::fs::read_to_string(project_root().join("artifacthub-repo.yml")).unwrap();
    let pkg = ("kube9-operator", "0.1.0-rc.1");
    let good = metadata_violations(&project, ah::METADATA_LAYER, pkg);
    assert!(good.is_empty(), "{good:#?}");
    let with_id = "repositoryID: \"{6ba7b810-9dad-11d1-80b4-00c04fd430c8}\"\nowners:\n  - name: a\n    email: a@b.example\n";
    assert!(metadata_violations(with_id, ah::METADATA_LAYER, pkg).is_empty());

    only(
        &metadata_violations(&project, "application/vnd.oci.image.layer.v1.tar", pkg),
        Effect::Ignored,
        "metadata not found",
    );
    let none = Blobs::default();
    only(
        &ah::check_repository_metadata(None, &|_| None, &|d| none.get(d), pkg).1,
        Effect::Ignored,
        "metadata not found",
    );
    only(
        &metadata_violations("repositoryID: 1234\nowners: []\n", ah::METADATA_LAYER, pkg),
        Effect::Warned,
        "invalid metadata: invalid repository id",
    );
    only(
        &metadata_violations("owners:\n  name: alto9\n", ah::METADATA_LAYER, pkg),
        Effect::Warned,
        "error unmarshaling repository metadata file",
    );
    only(
        &metadata_violations("owners:\n  - name: alto9\n", ah::METADATA_LAYER, pkg),
        Effect::Ignored,
        "owner 1 has no email",
    );
    only(
        &metadata_violations(
            &format!("{project}ignore:\n  - name: kube9-operator\n    version: -rc\\.\n"),
            ah::METADATA_LAYER,
            pkg,
        ),
        Effect::Ignored,
        "the ignore entry for kube9-operator matches version 0.1.0-rc.1",
    );
    only(
        &metadata_violations(
            &format!("{project}ignore:\n  - name: kube9-operator\n"),
            ah::METADATA_LAYER,
            pkg,
        ),
        Effect::Ignored,
        "Artifact Hub does not index it",
    );
    let other = metadata_violations(
        &format!("{project}ignore:\n  - name: kube9-operator\n    version: ^1\\.\n"),
        ah::METADATA_LAYER,
        pkg,
    );
    assert!(other.is_empty(), "{other:#?}");
}

#[test]
fn go_containerregistrys_reference_grammar_as_artifact_hub_applies_it() {
    for good in [
        "kube9-operator",
        "ghcr.io/alto9/kube9-operator:0.1.0-rc.1",
        "127.0.0.1:5000/a/kube9-operator:0.1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "localhost:5000/a/b",
    ] {
        assert_eq!(ah::parse_reference(good), Ok(()), "{good}");
    }
    for bad in [
        "Ghcr.io/Alto9/Kube9",
        "ghcr.io/alto9/kube9:",
        "ghcr.io/alto9/kube9@sha256:0123",
        "ghcr.io/alto9/kube9@md5:0123",
        "a",
        "ghcr.io/a/b:tag with space",
    ] {
        assert!(ah::parse_reference(bad).is_err(), "{bad}");
    }
    for (v, listed) in [
        ("v1.2", "1.2.0"),
        ("0.1.0-rc.1", "0.1.0-rc.1"),
        ("1.0.0+b.1", "1.0.0+b.1"),
    ] {
        assert_eq!(ah::semver(v).as_deref(), Ok(listed));
    }
    for bad in ["latest", "01.2.3", "1.2.3-", "artifacthub.io"] {
        assert!(ah::semver(bad).is_err(), "{bad}");
    }
}
