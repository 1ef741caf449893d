//! A real local release of a pre-release (the fixture app, whose crate has the fixture
//! advisory CVE-2099-0003, with a VEX statement that lets it through), and every artefact it
//! publishes or keeps run through the validator its standard publishes
//! (`kube9_release::validate`), plus what issue 25 says each must state: the SBOM names the
//! image it describes, the provenance names this build, its commit and its pinned base
//! images, the index of a pre-release says so to Artifact Hub.
//!
//! Every check runs and every failure is collected, so that one run lists all of them.

mod support;

use std::path::{Path, PathBuf};

use kube9_release::registry::{Registry, Repository};
use kube9_release::validate::{self, Standard};
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
}

/// `cosign verify-attestation` of `reference` for `kind`: the DSSE envelopes it prints, each
/// with its statement decoded.
fn attestations(reference: &str, kind: &str) -> Vec<(String, serde_json::Value)> {
    use base64::Engine;
    let out = ok(tool("cosign")
        .args(["verify-attestation", "--type", kind])
        .args(["--insecure-ignore-tlog=true", "--allow-http-registry"])
        .args(["--allow-insecure-registry", "--key"])
        .arg(&env().cosign.public_key)
        .arg(reference));
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
