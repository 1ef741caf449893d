//! The attest stand-in pushes build provenance as actions/attest-build-provenance v4.1.0 does
//! (actions/attest v4.1.0, src/attest.ts, with @sigstore/oci 0.6.0, src/image.ts and
//! registry.ts): a Sigstore bundle v0.3 as the one layer of an OCI manifest (config: the empty
//! descriptor; subject: the image index) pushed by digest, and, since GHCR has no referrers
//! API, listed with its artifactType and annotations in the index under the referrers tag
//! `sha256-<hex>`, beside what that index listed already. Through the simulation's GHCR
//! stand-in in front of the environment's registry; the release then finds that provenance
//! through the referrers tag, and cosign verifies the bundle with the key.

mod support;

use base64::Engine;
use kube9_devenv::workflow_sim::grants::Access;
use kube9_release::attached;
use kube9_release::layout::{self, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use kube9_release::registry::{Artifact, Registry};
use kube9_release::sign::{AttestationType, Cosign, Verifier, EMPTY_TRUSTED_ROOT};
use serde_json::{json, Value};
use support::standins::*;
use support::*;

const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// The job's docker login for `registry` in $HOME/.docker/config.json, where @sigstore/oci
/// reads it.
fn docker_login(job: &Job, registry: &str, token: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("github-actions:{token}"));
    let dir = job.home().join(".docker");
    std::fs::create_dir_all(&dir).unwrap();
    let config = json!({"auths": {registry: {"auth": auth}}});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
}

/// The manifest (or index) `reference` names, byte for byte, and parsed.
fn manifest(registry: &Registry, reference: &oci_client::Reference) -> (Vec<u8>, Value) {
    let (bytes, _) = registry.manifest(reference).unwrap().unwrap();
    let value = serde_json::from_slice(&bytes).unwrap();
    (bytes, value)
}

/// cosign's key hint of a key-signed bundle: base64 of the SHA-256 of the public key's DER.
fn key_hint(public_pem: &std::path::Path) -> String {
    let pem = std::fs::read_to_string(public_pem).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let hex = layout::sha256(&der);
    let bytes: Vec<u8> = (7..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The HTTP status of an authenticated GET through the stand-in.
fn status(url: &str, token: &str) -> String {
    ok(std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u"])
        .arg(format!("github-actions:{token}"))
        .arg(url))
}

#[test]
fn the_attest_stand_in_writes_its_bundle_as_a_referrer_under_the_fallback_tag_as_sigstore_oci_does()
{
    let env = env();
    let (github, address) = ghcr_standin();
    let name = format!("{address}/{}/kube9-operator", unique("attest"));
    let image = fixture_image("attest-layout");
    let index = image.index.digest.clone();
    let index_bytes = image.blob(&index).unwrap();
    let writer = github.token("image", &[("packages", Access::Write)]);
    let registry = as_job(&name, &writer);
    registry.push_content(&image).unwrap();
    let repository = registry.repository.clone();
    let referrers_tag = index.replace(':', "-");

    // GHCR has no referrers API: its stand-in answers 404, so the referrers tag is the list.
    let path = repository.path.clone();
    assert_eq!(
        status(
            &format!("http://{address}/v2/{path}/referrers/{index}"),
            &writer
        ),
        "404"
    );
    // Something else is listed under the index's referrers tag already (the release writes
    // its referrers there on such a registry); no provenance yet.
    let subject = index_subject(&index, index_bytes.len());
    registry
        .add_referrer(
            &subject,
            &Artifact {
                artifact_type: "application/vnd.example.note+json".into(),
                blob: br#"{"note":"not provenance"}"#.to_vec(),
                title: "note.json".into(),
                created: "2026-12-06T00:00:00Z".into(),
            },
        )
        .unwrap();
    let (_, before) = manifest(&registry, &repository.tag(&referrers_tag));
    assert_eq!(before["manifests"].as_array().unwrap().len(), 1);
    assert!(!attached::has_provenance(&registry, &index, &registry.tags().unwrap()).unwrap());

    // The job: the attestations and packages it needs, its login where @sigstore/oci reads it.
    let grant = grant(
        &github,
        &[
            ("id-token", Access::Write),
            ("attestations", Access::Write),
            ("packages", Access::Write),
        ],
    );
    let job = Job::new();
    docker_login(&job, &address, &grant.token);
    let out = accepted(&attest(&job, &github, &grant, true, &name, &index, true));
    assert_eq!(
        job.records("attestations"),
        [format!("provenance\t{name}\t{index}\ttrue")]
    );

    // No cosign tag: the referrers tag's index keeps what it listed and lists the bundle's
    // manifest, with the descriptor @sigstore/oci writes (mediaType, digest, size,
    // artifactType, annotations, in that order).
    let tags = registry.tags().unwrap();
    assert!(!tags.iter().any(|t| t.ends_with(".att")), "{tags:?}");
    let (tag_bytes, after) = manifest(&registry, &repository.tag(&referrers_tag));
    assert_eq!(after["mediaType"], INDEX_MEDIA_TYPE);
    let listed = after["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{after}");
    assert_eq!(
        listed[0], before["manifests"][0],
        "the earlier entry is kept"
    );
    let entry = &listed[1];
    let annotations = &entry["annotations"];
    let created = annotations["org.opencontainers.image.created"]
        .as_str()
        .unwrap();
    // JavaScript's Date.toISOString(): milliseconds, UTC.
    assert!(
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            .unwrap()
            .is_match(created),
        "{created}"
    );
    let manifest_digest = entry["digest"].as_str().unwrap();
    let annotations_json = format!(
        r#"{{"org.opencontainers.image.created":"{created}","dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://slsa.dev/provenance/v1"}}"#
    );
    let (manifest_bytes, bundle_manifest) =
        manifest(&registry, &repository.digest(manifest_digest));
    let expected_entry = format!(
        r#"{{"mediaType":"{MANIFEST_MEDIA_TYPE}","digest":"{manifest_digest}","size":{},"artifactType":"{BUNDLE_TYPE}","annotations":{annotations_json}}}"#,
        manifest_bytes.len()
    );
    assert!(
        String::from_utf8_lossy(&tag_bytes).contains(&expected_entry),
        "{}\nlacks\n{expected_entry}",
        String::from_utf8_lossy(&tag_bytes)
    );
    assert!(
        out.contains(&format!(
            "Attestation uploaded to registry\n{name}@{manifest_digest}"
        )),
        "{out}"
    );

    // The manifest, byte for byte as @sigstore/oci's JSON.stringify writes it: the bundle as
    // its one layer, the empty descriptor as config, the index (as the registry served its
    // HEAD) as subject.
    let layer = &bundle_manifest["layers"][0];
    let layer_digest = layer["digest"].as_str().unwrap();
    let bundle_bytes = registry.blob(layer_digest).unwrap();
    let expected_manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_MEDIA_TYPE}","artifactType":"{BUNDLE_TYPE}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"{BUNDLE_TYPE}","digest":"{layer_digest}","size":{}}}],"subject":{{"mediaType":"{INDEX_MEDIA_TYPE}","digest":"{index}","size":{}}},"annotations":{annotations_json}}}"#,
        layout::sha256(b"{}"),
        bundle_bytes.len(),
        index_bytes.len()
    );
    assert_eq!(String::from_utf8_lossy(&manifest_bytes), expected_manifest);

    // The bundle: v0.3, the key's hint where GitHub's would carry Fulcio's certificate, no log
    // entry or timestamp, a DSSE envelope of the in-toto statement with one signature and no
    // keyid; the very bundle GitHub's API stand-in stored.
    let bundle: Value = serde_json::from_slice(&bundle_bytes).unwrap();
    assert_eq!(bundle["mediaType"], BUNDLE_TYPE);
    assert_eq!(
        bundle["verificationMaterial"],
        json!({"publicKey": {"hint": key_hint(&signing_key().public)}, "timestampVerificationData": {}})
    );
    let envelope = &bundle["dsseEnvelope"];
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let signatures = envelope["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 1);
    assert_eq!(
        signatures[0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["sig"]
    );
    let stored = github.attestations();
    assert_eq!(stored.last().unwrap()["bundle"], bundle, "GitHub stored it");
    let statement = statement(stored.last().unwrap());
    assert_eq!(
        statement["subject"],
        json!([{"name": name, "digest": {"sha256": &index[7..]}}])
    );
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");

    // The release finds it through the referrers tag, whether the referrers API answers 404
    // (GHCR) or an empty index (a registry that has the API).
    let reader = github.token("verify", &[("packages", Access::Read)]);
    let tags = registry.tags().unwrap();
    assert!(attached::has_provenance(&as_job(&name, &reader), &index, &tags).unwrap());
    let proxy = fakes::empty_referrers_proxy(&address);
    let proxied = format!("{proxy}/{path}");
    assert_eq!(
        status(
            &format!("http://{proxy}/v2/{path}/referrers/{index}"),
            &reader
        ),
        "200"
    );
    assert!(attached::has_provenance(&as_job(&proxied, &reader), &index, &tags).unwrap());

    // cosign verifies the bundle with the key, as verify-release runs it; another key does
    // not verify it.
    let root = temp_dir("attest-root").join("trusted-root.json");
    std::fs::write(&root, EMPTY_TRUSTED_ROOT).unwrap();
    let reader_job = Job::new();
    docker_login(&reader_job, &address, &reader);
    let login = reader_job.home().join(".docker").display().to_string();
    let cosign = Cosign {
        logged_in: true,
        plain_http: true,
    };
    let verify = |public_key: &std::path::Path| {
        cosign
            .verify_bundle_attestation(
                &Verifier::Key {
                    public_key: public_key.to_path_buf(),
                },
                AttestationType::SlsaProvenance,
                &format!("{name}@{index}"),
                Some(&login),
                &root,
            )
            .read()
    };
    let printed = verify(&signing_key().public).unwrap();
    let verified: Vec<Value> = printed
        .lines()
        .filter_map(kube9_release::sign::dsse_statement)
        .collect();
    assert_eq!(verified, [statement]);
    let err = verify(&env.cosign.public_key).unwrap_err();
    assert!(
        format!("{err:#}").contains("accepted signatures do not match threshold"),
        "{err:#}"
    );
}

#[test]
fn the_attest_stand_in_refuses_what_sigstore_oci_refuses() {
    let (github, address) = ghcr_standin();
    let name = format!("{address}/{}/kube9-operator", unique("attest-refused"));
    let image = fixture_image("attest-refused-layout");
    let index = image.index.digest.clone();
    let writer = github.token("image", &[("packages", Access::Write)]);
    let registry = as_job(&name, &writer);
    registry.push_content(&image).unwrap();
    let repository = registry.repository.clone();
    let all = grant(
        &github,
        &[
            ("id-token", Access::Write),
            ("attestations", Access::Write),
            ("packages", Access::Write),
        ],
    );

    // The referrers tag holds something that is not an index: @sigstore/oci stops (its
    // OCIError, then the cause), after it pushed the bundle's manifest, and the tag stays.
    let platform = image.platforms[0].manifest.digest.clone();
    let platform_bytes = image.blob(&platform).unwrap();
    let platform_tag = platform.replace(':', "-");
    registry
        .put_manifest(
            &repository.tag(&platform_tag),
            &platform_bytes,
            MANIFEST_MEDIA_TYPE,
        )
        .unwrap();
    let job = Job::new();
    std::fs::create_dir_all(job.home()).unwrap();
    docker_login(&job, &address, &all.token);
    let out = refused(&attest(&job, &github, &all, true, &name, &platform, true));
    assert!(
        out.contains("Error uploading artifact to container registry"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Expected referrer manifest type {INDEX_MEDIA_TYPE}, got {MANIFEST_MEDIA_TYPE}"
        )),
        "{out}"
    );
    assert_eq!(
        registry.digest_of(&platform_tag).unwrap(),
        Some(platform.clone())
    );
    assert!(job.records("attestations").is_empty());

    // A subject the registry does not hold: its HEAD answers 404, nothing is listed.
    let absent = format!("sha256:{}", "a".repeat(64));
    let out = refused(&attest(&job, &github, &all, true, &name, &absent, true));
    assert!(
        out.contains("Error uploading artifact to container registry"),
        "{out}"
    );
    assert!(out.contains("expected 200, received 404"), "{out}");
    assert_eq!(registry.digest_of(&absent.replace(':', "-")).unwrap(), None);

    // A job token without `packages: write`: GHCR refuses the upload.
    let reading = grant(
        &github,
        &[
            ("id-token", Access::Write),
            ("attestations", Access::Write),
            ("packages", Access::Read),
        ],
    );
    docker_login(&job, &address, &reading.token);
    let out = refused(&attest(&job, &github, &reading, true, &name, &index, true));
    assert!(
        out.contains("Error uploading artifact to container registry"),
        "{out}"
    );
    assert_eq!(
        registry.digest_of(&index.replace(':', "-")).unwrap(),
        None,
        "nothing listed"
    );
    assert!(job.records("attestations").is_empty());
}
