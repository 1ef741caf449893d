//! Floating tags fail closed: on GitHub they move only once the index shows its build
//! provenance (a Sigstore bundle referrer, of any bundle version, found by the referrers API
//! and the referrers tag together), within a bounded wait; else the run fails and says which
//! tag stayed where. Against the local registry (which has no referrers API: the tag schema),
//! and a stand-in registry that answers the referrers API with an empty index, as a registry
//! with the API does for what a client wrote under the tag schema.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use kube9_release::attached;
use kube9_release::registry::{Artifact, Registry, Repository, Retry};
use kube9_release::step::{Action, Bound, CheckFloatingTags, Cx, MoveFloatingTags, ProvenanceWait};
use support::*;

/// A Sigstore bundle whose DSSE statement is SLSA provenance (unsigned: only its statement's
/// type is read here; `gh attestation verify` checks the signature).
fn provenance_bundle() -> Vec<u8> {
    use base64::Engine;
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {}
    });
    let payload = base64::engine::general_purpose::STANDARD.encode(statement.to_string());
    serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.4+json",
        "dsseEnvelope": {"payload": payload, "payloadType": "application/vnd.in-toto+json", "signatures": []}
    })
    .to_string()
    .into_bytes()
}

fn move_step(repository: &Repository, index: &str, seconds: u64) -> MoveFloatingTags {
    MoveFloatingTags {
        repository: repository.clone(),
        version: "1.2.3".into(),
        release_tag: "v1.2.3".into(),
        candidates: vec!["1.2".into(), "1".into(), "latest".into()],
        provenance: Some(ProvenanceWait {
            index: Bound::Given(index.into()),
            seconds,
        }),
    }
}

#[test]
fn floating_tags_wait_for_provenance_and_fail_closed_without_it() {
    let env = env();
    let layout = temp_dir("floating-layout");
    let digest = layout_from_rootfs(
        &fixtures().join("trivy-db/rootfs-high"),
        &[("linux", "amd64")],
        &layout,
    );
    let repo = env.repository("floating");
    let push = |layout: &std::path::Path, tag: &str| {
        ok(skopeo()
            .args(["copy", "--all", "--dest-tls-verify=false"])
            .arg(format!("oci:{}", layout.display()))
            .arg(format!("docker://{repo}:{tag}")));
    };
    // The release before, 1.2.2, holds every floating tag.
    let older_layout = temp_dir("floating-older");
    let older = layout_from_rootfs(
        &fixtures().join("trivy-db/rootfs-critical"),
        &[("linux", "amd64")],
        &older_layout,
    );
    assert_ne!(older, digest);
    for tag in ["v1.2.2", "1.2.2", "1.2", "1", "latest"] {
        push(&older_layout, tag);
    }
    for tag in ["v1.2.3", "1.2.3"] {
        push(&layout, tag);
    }
    let repository = Repository::parse(&repo).unwrap();
    let registry = Registry::new(repository.clone(), None, Retry::default());
    let check = CheckFloatingTags {
        repository: repository.clone(),
        release: "v1.2.3".into(),
        prerelease: false,
    };

    // No provenance: after the wait the run fails, each floating tag named, none moved.
    let mut cx = Cx::new(None, None);
    let started = std::time::Instant::now();
    let err = move_step(&repository, &digest, 2)
        .run(&mut cx)
        .expect_err("no provenance, no floating tag");
    let shown = format!("{err:#}");
    assert!(started.elapsed().as_secs() >= 2, "it waited");
    assert!(
        shown.contains(&format!(
            "the build provenance of {repo}@{digest} was not seen within 2 s"
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "1.2 stays on {older}, 1 stays on {older}, latest stays on {older}"
        )),
        "{shown}"
    );
    for tag in ["1.2", "1", "latest"] {
        assert_eq!(
            registry.digest_of(tag).unwrap(),
            Some(older.clone()),
            "{tag} moved"
        );
    }
    // verify-release catches the floating tags left behind.
    let err = check.run(&mut cx).expect_err("latest is left on 1.2.2");
    assert!(
        format!("{err:#}").contains(&format!("latest names {older}, not 1.2.3 ({digest})")),
        "{err:#}"
    );
    // A pre-release on GitHub takes none: nothing to check.
    let mut prerelease = check.clone();
    prerelease.prerelease = true;
    prerelease.run(&mut cx).unwrap();
    // Its hint names the command that finishes it.
    assert!(move_step(&repository, &digest, 2)
        .hint()
        .contains("gh workflow run release.yml --ref v1.2.3 -f version=v1.2.3"));

    // A provenance bundle of a bundle version this code never saw, with no annotation (its
    // statement says what it is), written under the referrers tag: found, and the tags move.
    let (index_bytes, _) = registry
        .manifest(&repository.digest(&digest))
        .unwrap()
        .unwrap();
    let subject = support::standins::index_subject(&digest, index_bytes.len());
    registry
        .add_referrer(
            &subject,
            &Artifact {
                artifact_type: "application/vnd.dev.sigstore.bundle.v0.4+json".into(),
                blob: provenance_bundle(),
                title: "provenance.sigstore.json".into(),
                created: "2026-12-06T00:00:00Z".into(),
            },
        )
        .unwrap();
    let tags = registry.tags().unwrap();
    assert!(tags.contains(&digest.replace(':', "-")), "{tags:?}");
    assert!(attached::has_provenance(&registry, &digest, &tags).unwrap());
    move_step(&repository, &digest, 2).run(&mut cx).unwrap();
    for tag in ["1.2", "1", "latest"] {
        assert_eq!(
            registry.digest_of(tag).unwrap(),
            Some(digest.clone()),
            "{tag}"
        );
    }
    check.run(&mut cx).unwrap();
    // The older release's own check: its tags are held by 1.2.3, and name it.
    CheckFloatingTags {
        release: "v1.2.2".into(),
        ..check.clone()
    }
    .run(&mut cx)
    .unwrap();
}

/// A stand-in registry (std only): `/v2/` answers, the referrers API answers an empty index
/// (as a registry with the API does for a referrer written under the tag schema), and the
/// referrers tag `sha256-<hex>` lists a provenance bundle with `@sigstore/oci`'s annotation.
/// A real registry with a referrers API cannot be started here (distribution 2.8 has none).
fn empty_referrers_standin(subject: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let tag = subject.replace(':', "-");
    let tag_index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", "d".repeat(64)),
            "size": 100,
            "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "annotations": {"dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1"}
        }]
    })
    .to_string();
    let empty = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            let mut length = 0usize;
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let head = request.starts_with("HEAD");
            let (status, body) = if path == "/v2/" {
                ("200 OK", "{}".to_string())
            } else if path.contains("/referrers/") {
                ("200 OK", empty.to_string())
            } else if path.ends_with(&format!("/manifests/{tag}")) {
                ("200 OK", tag_index.clone())
            } else {
                (
                    "404 Not Found",
                    r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
                        .to_string(),
                )
            };
            let digest = kube9_release::layout::sha256(body.as_bytes());
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\n\
                 Docker-Content-Digest: {digest}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                if head { "" } else { body.as_str() }
            );
        }
    });
    address
}

#[test]
fn a_registry_answering_referrers_with_an_empty_index_still_shows_the_provenance() {
    let subject = format!("sha256:{}", "e".repeat(64));
    let address = empty_referrers_standin(&subject);
    let repository = Repository::parse(&format!("{address}/alto9/kube9-operator")).unwrap();
    let registry = Registry::new(repository, None, Retry::default());
    assert!(attached::has_provenance(&registry, &subject, &[]).unwrap());
    // Nothing else makes it so: another subject has none.
    let other = format!("sha256:{}", "f".repeat(64));
    assert!(!attached::has_provenance(&registry, &other, &[]).unwrap());
}

/// A version published as a GitHub pre-release (its index says
/// `io.artifacthub.package.prerelease: "true"`, as every release writes it) never counts for a
/// floating tag: it does not hold a lower release back, and a run told to move tags onto it
/// (a dispatch after the box was unticked) takes none.
#[test]
fn a_github_prerelease_with_a_plain_version_neither_holds_nor_takes_a_floating_tag() {
    let env = env();
    let repo = env.repository("floating-prerelease");
    let push = |layout: &std::path::Path, tag: &str| {
        ok(skopeo()
            .args(["copy", "--all", "--dest-tls-verify=false"])
            .arg(format!("oci:{}", layout.display()))
            .arg(format!("docker://{repo}:{tag}")));
    };
    let repository = Repository::parse(&repo).unwrap();
    let registry = Registry::new(repository.clone(), None, Retry::default());
    let layout_of = |rootfs: &str, prefix: &str| {
        let layout = temp_dir(prefix);
        layout_from_rootfs(
            &fixtures().join("trivy-db").join(rootfs),
            &[("linux", "amd64")],
            &layout,
        );
        layout
    };
    // 1.2.2 holds every floating tag; 1.2.3 is published and has none yet.
    let older = layout_of("rootfs-critical", "prerelease-older");
    for tag in ["v1.2.2", "1.2.2", "1.2", "1", "latest"] {
        push(&older, tag);
    }
    let current = layout_of("rootfs-high", "prerelease-current");
    for tag in ["v1.2.3", "1.2.3"] {
        push(&current, tag);
    }
    let d123 = registry.digest_of("1.2.3").unwrap().unwrap();
    // 1.3.0, published as a GitHub pre-release: an index of its own marked so.
    let image = kube9_release::layout::Image::open(&current).unwrap();
    let mut index: serde_json::Value =
        serde_json::from_slice(&image.blob(&image.index.digest).unwrap()).unwrap();
    index["annotations"] = serde_json::json!({"io.artifacthub.package.prerelease": "true"});
    let bytes = serde_json::to_vec(&index).unwrap();
    let d130 = kube9_release::layout::sha256(&bytes);
    for tag in ["v1.3.0", "1.3.0"] {
        registry.push_version_tag(tag, &d130, &bytes).unwrap();
    }
    assert_eq!(registry.digest_of("1.3.0").unwrap(), Some(d130.clone()));
    let tags = registry.tags().unwrap();
    let marked = attached::withdrawals(&registry, &tags).unwrap();
    fn shown<T: ToString>(versions: &[T]) -> Vec<String> {
        versions.iter().map(ToString::to_string).collect()
    }
    assert_eq!(shown(&marked.marked_prereleases), ["1.3.0"]);
    let (eligible, _) = registry.eligible_versions().unwrap();
    assert_eq!(
        shown(&eligible),
        ["1.2.2", "1.2.3"],
        "1.3.0 is not eligible"
    );

    let step = |version: &str| MoveFloatingTags {
        repository: repository.clone(),
        version: version.into(),
        release_tag: format!("v{version}"),
        candidates: vec!["1.2".into(), "1".into(), "latest".into()],
        provenance: None,
    };
    let mut cx = Cx::new(None, None);
    step("1.2.3").run(&mut cx).unwrap();
    for tag in ["1.2", "1", "latest"] {
        assert_eq!(
            registry.digest_of(tag).unwrap(),
            Some(d123.clone()),
            "{tag}"
        );
    }
    step("1.3.0").run(&mut cx).unwrap();
    let moved = cx.bindings.floating.clone().unwrap();
    assert!(moved.prerelease && moved.taken.is_empty(), "{moved:?}");
    for tag in ["1", "latest"] {
        assert_eq!(
            registry.digest_of(tag).unwrap(),
            Some(d123.clone()),
            "{tag}"
        );
    }
}
